// One sample through a 784->256 dense layer (y = W·x, W row-major 256×784), four rows at a time
// with AVX2 and with AVX-512 loads, from a weight matrix that starts 0, 16, 32 or 48 bytes after
// a cache-line boundary. Shows why neuron's CPU buffers are 64-byte aligned (cpu/buffer.rs).
//
//   gcc -O3 bench/gemv_alignment.c -o /tmp/gemv_alignment && /tmp/gemv_alignment
//
// Prints the best of 7 runs of 20,000 calls (one thread), in µs per call.
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { N = 256, K = 784 };
static float y[N];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx2,fma"))) static void gemv_avx2(const float *x, const float *w) {
    for (int j = 0; j < N; j += 4) {
        __m256 a[8];
        for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();
        for (int o = 0; o < K; o += 16) {
            __m256 x0 = _mm256_loadu_ps(x + o), x1 = _mm256_loadu_ps(x + o + 8);
            for (int q = 0; q < 4; q++) {
                const float *r = w + (j + q) * K + o;
                a[2 * q] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(r), a[2 * q]);
                a[2 * q + 1] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(r + 8), a[2 * q + 1]);
            }
        }
        for (int q = 0; q < 4; q++) {
            float t[8];
            _mm256_storeu_ps(t, _mm256_add_ps(a[2 * q], a[2 * q + 1]));
            y[j + q] = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
        }
    }
}

__attribute__((target("avx512f"))) static void gemv_avx512(const float *x, const float *w) {
    for (int j = 0; j < N; j += 4) {
        __m512 a[4];
        for (int i = 0; i < 4; i++) a[i] = _mm512_setzero_ps();
        for (int o = 0; o < K; o += 16) {
            __m512 xv = _mm512_loadu_ps(x + o);
            for (int q = 0; q < 4; q++)
                a[q] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(w + (j + q) * K + o), a[q]);
        }
        for (int q = 0; q < 4; q++) y[j + q] = _mm512_reduce_add_ps(a[q]);
    }
}

int main(void) {
    if (!__builtin_cpu_supports("avx512f")) {
        printf("this CPU has no AVX-512\n");
        return 0;
    }
    float *base = aligned_alloc(64, N * K * 4 + 64), *x = aligned_alloc(64, K * 4);
    for (int i = 0; i < K; i++) x[i] = 1.0f / (i + 1);
    for (int off = 0; off < 64; off += 16) {
        const float *w = base + off / 4;
        for (int i = 0; i < N * K; i++) ((float *)w)[i] = (float)(i % 7);
        for (int v = 0; v < 2; v++) {
            double best = 1e9;
            for (int r = 0; r < 7; r++) {
                double t = now();
                for (int i = 0; i < 20000; i++) {
                    v ? gemv_avx512(x, w) : gemv_avx2(x, w);
                    __asm__ volatile("" : : "r"(y) : "memory"); // keep every call
                }
                double dt = (now() - t) / 20000;
                if (dt < best) best = dt;
            }
            printf("W %2d bytes past a line, %-7s: %5.2f µs\n", off, v ? "AVX-512" : "AVX2", best * 1e6);
        }
    }
    printf("(checksum %g)\n", y[0] + y[N - 1]);
    return 0;
}
