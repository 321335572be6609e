// neuron's CUDA kernels, compiled at run time by NVRTC for float (suffix _f32) and double (_f64).
// Each kernel mirrors the CPU kernel of the same name in src/cpu: same formulas, same order of
// per-element work, so results agree within floating-point rounding. Sizes are 64-bit.
// Reductions write per-row partial results that one block then sums in a fixed order, so every
// run gives bit-identical results.

typedef long long i64;
typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// SplitMix64 finaliser and the counter-based uniform of src/rng.rs (`hash_uniform`).
__device__ __forceinline__ u64 mix(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
__device__ __forceinline__ float hash_uniform(u64 seed, u64 index) {
    u64 h = mix(seed ^ mix(index + 0x9E3779B97F4A7C15ull));
    return (float)(h >> 40) * (1.0f / 16777216.0f);
}

// Activation codes (src/cuda/mod.rs `act_code`): 0 identity, 1 ReLU, 2 leaky ReLU (alpha),
// 3 sigmoid, 4 tanh, 5 GELU (exact, erf-based).
template <typename T> __device__ __forceinline__ T act_apply(int act, T alpha, T z) {
    switch (act) {
    case 1: return z > T(0) ? z : T(0);
    case 2: return z > T(0) ? z : alpha * z;
    case 3: return T(1) / (T(1) + exp(-z));
    case 4: return tanh(z);
    case 5: return T(0.5) * z * (T(1) + erf(z * T(0.70710678118654752440)));
    default: return z;
    }
}
template <typename T> __device__ __forceinline__ T act_grad(int act, T alpha, T z, T y, T d) {
    switch (act) {
    case 1: return z > T(0) ? d : T(0);
    case 2: return z > T(0) ? d : alpha * d;
    case 3: return d * y * (T(1) - y);
    case 4: return d * (T(1) - y * y);
    case 5: {
        T cdf = T(0.5) * (T(1) + erf(z * T(0.70710678118654752440)));
        T pdf = exp(T(-0.5) * z * z) * T(0.39894228040143267794);
        return d * (cdf + z * pdf);
    }
    default: return d;
    }
}

template <typename T> __device__ void fill_k(i64 n, T v, T* x) {
    GRID_STRIDE(i, n) x[i] = v;
}
template <typename T>
__device__ void bias_act_k(int act, T alpha, i64 rows, i64 cols, const T* bias, int has_bias, T* z, T* y) {
    GRID_STRIDE(i, rows * cols) {
        T v = z[i];
        if (has_bias) { v += bias[i % cols]; z[i] = v; }
        y[i] = act_apply(act, alpha, v);
    }
}
template <typename T> __device__ void act_forward_k(int act, T alpha, i64 n, const T* x, T* y) {
    GRID_STRIDE(i, n) y[i] = act_apply(act, alpha, x[i]);
}
template <typename T>
__device__ void act_backward_k(int act, T alpha, i64 n, const T* z, const T* y, const T* gy, T* gz) {
    GRID_STRIDE(i, n) gz[i] = act_grad(act, alpha, z[i], y[i], gy[i]);
}
// One thread per row: rows of a network's output are short (classes), so a thread walks its row.
template <typename T> __device__ void softmax_k(i64 rows, i64 cols, const T* x, T* y) {
    GRID_STRIDE(r, rows) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        T m = xr[0];
        for (i64 j = 1; j < cols; j++) m = fmax(m, xr[j]);
        T s = T(0);
        for (i64 j = 0; j < cols; j++) { T e = exp(xr[j] - m); yr[j] = e; s += e; }
        T inv = T(1) / s;
        for (i64 j = 0; j < cols; j++) yr[j] *= inv;
    }
}
template <typename T> __device__ void softmax_backward_k(i64 rows, i64 cols, const T* y, const T* gy, T* gx) {
    GRID_STRIDE(r, rows) {
        const T* yr = y + r * cols;
        const T* gr = gy + r * cols;
        T dot = T(0);
        for (i64 j = 0; j < cols; j++) dot += yr[j] * gr[j];
        for (i64 j = 0; j < cols; j++) gx[r * cols + j] = yr[j] * (gr[j] - dot);
    }
}
template <typename T>
__device__ void dropout_k(i64 n, float p, T keep, u64 seed, u64 first, const T* x, T* mask, T* y) {
    GRID_STRIDE(i, n) {
        T m = hash_uniform(seed, first + (u64)i) < p ? T(0) : keep;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}
template <typename T> __device__ void mul_k(i64 n, const T* a, const T* b, T* out) {
    GRID_STRIDE(i, n) out[i] = a[i] * b[i];
}
template <typename T> __device__ void scale_k(i64 n, T s, T* x) {
    GRID_STRIDE(i, n) x[i] *= s;
}
template <typename T>
__device__ void gather_rows_k(i64 rows, i64 cols, const T* src, const i64* idx, i64 start, T* dst) {
    GRID_STRIDE(i, rows * cols) {
        i64 r = i / cols;
        dst[i] = src[idx[start + r] * cols + (i - r * cols)];
    }
}
// src/augment.rs: shift by (dx, dy) in [-s, s], mirror when flipped, zeros outside the image.
template <typename T>
__device__ void augment_k(i64 rows, i64 h, i64 w, i64 s, int flip, u64 seed, i64 first, const T* src, T* dst) {
    GRID_STRIDE(i, rows * h * w) {
        i64 px = h * w;
        i64 r = i / px, p = i - r * px, y = p / w, x = p - y * w;
        u64 key = 3 * (u64)(first + r);
        float span = (float)(2 * s + 1);
        i64 dx = (i64)(hash_uniform(seed, key) * span);
        i64 dy = (i64)(hash_uniform(seed, key + 1) * span);
        dx = (dx < 2 * s ? dx : 2 * s) - s;
        dy = (dy < 2 * s ? dy : 2 * s) - s;
        bool flipped = flip && hash_uniform(seed, key + 2) < 0.5f;
        i64 xf = flipped ? w - 1 - x : x;
        i64 sx = xf - dx, sy = y - dy;
        dst[i] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? src[r * px + sy * w + sx] : T(0);
    }
}

// Losses: one thread per row writes ∂(mean loss)/∂output and the row's loss and correct count
// (in double) to `part`; `reduce_acc_k` then adds their totals to acc[0] and acc[1].
template <typename T>
__device__ void loss_mse_k(i64 rows, i64 cols, const T* out, const T* t, T* grad, double* part) {
    T scale = T(2.0 / (double)(rows * cols));
    GRID_STRIDE(r, rows) {
        double sum = 0.0;
        for (i64 j = r * cols; j < (r + 1) * cols; j++) {
            T d = out[j] - t[j];
            sum += (double)d * (double)d;
            grad[j] = scale * d;
        }
        part[r] = sum;
        part[rows + r] = 0.0;
    }
}
template <typename T>
__device__ void loss_xent_k(i64 rows, i64 cols, double smoothing, const T* logits, const T* labels, T* grad,
                            double* part) {
    T inv_n = T(1.0 / (double)rows);
    T off = T(smoothing / (double)cols);
    T on = T(1) - T(smoothing) + off;
    GRID_STRIDE(r, rows) {
        const T* x = logits + r * cols;
        T* g = grad + r * cols;
        T l = labels[r];
        i64 label = l >= T(0) ? (i64)l : 0;
        if (label > cols - 1) label = cols - 1;
        T m = x[0];
        for (i64 j = 1; j < cols; j++) m = fmax(m, x[j]);
        T s = T(0);
        for (i64 j = 0; j < cols; j++) { T e = exp(x[j] - m); g[j] = e; s += e; }
        T inv = T(1) / s;
        T mean_x = T(0);
        if (smoothing > 0.0) {
            for (i64 j = 0; j < cols; j++) mean_x += x[j];
            mean_x *= off;
        }
        T loss = m + log(s) - (on - off) * x[label] - mean_x;
        i64 best = 0;
        for (i64 j = 1; j < cols; j++) if (x[j] > x[best]) best = j;
        for (i64 j = 0; j < cols; j++) g[j] = (g[j] * inv - off) * inv_n;
        g[label] -= (on - off) * inv_n;
        part[r] = (double)loss;
        part[rows + r] = best == label ? 1.0 : 0.0;
    }
}
template <typename T>
__device__ void loss_bce_k(i64 rows, i64 cols, const T* out, const T* t, T* grad, double* part) {
    T inv = T(1.0 / (double)(rows * cols));
    GRID_STRIDE(r, rows) {
        double sum = 0.0, correct = 0.0;
        for (i64 j = r * cols; j < (r + 1) * cols; j++) {
            T x = out[j], tt = t[j];
            T l = fmax(x, T(0)) - x * tt + log(T(1) + exp(-fabs(x)));
            sum += (double)l;
            if ((x > T(0)) == (tt > T(0.5))) correct += 1.0;
            grad[j] = (T(1) / (T(1) + exp(-x)) - tt) * inv;
        }
        part[r] = sum;
        part[rows + r] = correct;
    }
}

// One block of REDUCE_THREADS threads; each sums a fixed strided subset, then a fixed tree.
#define REDUCE_THREADS 256
__device__ void block_sum2(double a, double b, double* out_a, double* out_b) {
    __shared__ double sa[REDUCE_THREADS], sb[REDUCE_THREADS];
    sa[threadIdx.x] = a;
    sb[threadIdx.x] = b;
    __syncthreads();
    for (int k = REDUCE_THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) { sa[threadIdx.x] += sa[threadIdx.x + k]; sb[threadIdx.x] += sb[threadIdx.x + k]; }
        __syncthreads();
    }
    if (threadIdx.x == 0) { *out_a = sa[0]; *out_b = sb[0]; }
}
template <typename T> __device__ void reduce_acc_k(i64 rows, const double* part, double scale, T* acc) {
    double a = 0.0, b = 0.0;
    for (i64 r = threadIdx.x; r < rows; r += REDUCE_THREADS) { a += part[r]; b += part[rows + r]; }
    double sa, sb;
    block_sum2(a, b, &sa, &sb);
    if (threadIdx.x == 0) { acc[0] += T(sa * scale); acc[1] += T(sb * scale); }
}
// out[0] = Σ x², out[1] = number of non-finite elements.
template <typename T> __device__ void stats_k(i64 n, const T* x, double* out) {
    double a = 0.0, b = 0.0;
    for (i64 i = threadIdx.x; i < n; i += REDUCE_THREADS) {
        double v = (double)x[i];
        a += v * v;
        if (!isfinite(v)) b += 1.0;
    }
    block_sum2(a, b, &out[0], &out[1]);
}

// Optimizer updates (src/cpu/update.rs); the step-dependent scalars are computed on the host.
template <typename T>
__device__ void sgd_k(i64 n, T lr, T wd, T s, T mu, int nesterov, int has_vel, T* w, const T* g, T* vel) {
    GRID_STRIDE(i, n) {
        T gi = g[i] * s + wd * w[i];
        if (has_vel) {
            T v = mu * vel[i] + gi;
            vel[i] = v;
            w[i] -= lr * (nesterov ? gi + mu * v : v);
        } else {
            w[i] -= lr * gi;
        }
    }
}
template <typename T>
__device__ void adam_k(i64 n, T step, T inv_sqrt_bc2, T b1, T b2, T eps, T s, T l2, T shrink, T* w, const T* g,
                       T* m, T* v) {
    GRID_STRIDE(i, n) {
        T wi = w[i];
        T gi = g[i] * s + l2 * wi;
        wi *= shrink;
        T mi = b1 * m[i] + (T(1) - b1) * gi;
        T vi = b2 * v[i] + (T(1) - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - step * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);
    }
}
template <typename T>
__device__ void rmsprop_k(i64 n, T lr, T rho, T eps, T wd, T s, T* w, const T* g, T* sq) {
    GRID_STRIDE(i, n) {
        T gi = g[i] * s + wd * w[i];
        T r = rho * sq[i] + (T(1) - rho) * gi * gi;
        sq[i] = r;
        w[i] -= lr * gi / (sqrt(r) + eps);
    }
}

#define KERNELS(T, S)                                                                                       \
    extern "C" __global__ void fill_##S(i64 n, T v, T* x) { fill_k<T>(n, v, x); }                           \
    extern "C" __global__ void bias_act_##S(int act, T alpha, i64 rows, i64 cols, const T* bias, int has_bias, \
                                            T* z, T* y) {                                                   \
        bias_act_k<T>(act, alpha, rows, cols, bias, has_bias, z, y);                                        \
    }                                                                                                       \
    extern "C" __global__ void act_forward_##S(int act, T alpha, i64 n, const T* x, T* y) {                 \
        act_forward_k<T>(act, alpha, n, x, y);                                                              \
    }                                                                                                       \
    extern "C" __global__ void act_backward_##S(int act, T alpha, i64 n, const T* z, const T* y, const T* gy, \
                                                T* gz) {                                                    \
        act_backward_k<T>(act, alpha, n, z, y, gy, gz);                                                     \
    }                                                                                                       \
    extern "C" __global__ void softmax_##S(i64 rows, i64 cols, const T* x, T* y) {                          \
        softmax_k<T>(rows, cols, x, y);                                                                     \
    }                                                                                                       \
    extern "C" __global__ void softmax_backward_##S(i64 rows, i64 cols, const T* y, const T* gy, T* gx) {   \
        softmax_backward_k<T>(rows, cols, y, gy, gx);                                                       \
    }                                                                                                       \
    extern "C" __global__ void dropout_##S(i64 n, float p, T keep, u64 seed, u64 first, const T* x, T* mask, \
                                           T* y) {                                                          \
        dropout_k<T>(n, p, keep, seed, first, x, mask, y);                                                  \
    }                                                                                                       \
    extern "C" __global__ void mul_##S(i64 n, const T* a, const T* b, T* out) { mul_k<T>(n, a, b, out); }   \
    extern "C" __global__ void scale_##S(i64 n, T s, T* x) { scale_k<T>(n, s, x); }                         \
    extern "C" __global__ void gather_rows_##S(i64 rows, i64 cols, const T* src, const i64* idx, i64 start, \
                                               T* dst) {                                                    \
        gather_rows_k<T>(rows, cols, src, idx, start, dst);                                                 \
    }                                                                                                       \
    extern "C" __global__ void augment_##S(i64 rows, i64 h, i64 w, i64 s, int flip, u64 seed, i64 first,     \
                                           const T* src, T* dst) {                                          \
        augment_k<T>(rows, h, w, s, flip, seed, first, src, dst);                                           \
    }                                                                                                       \
    extern "C" __global__ void loss_mse_##S(i64 rows, i64 cols, const T* out, const T* t, T* grad,          \
                                            double* part) {                                                 \
        loss_mse_k<T>(rows, cols, out, t, grad, part);                                                      \
    }                                                                                                       \
    extern "C" __global__ void loss_xent_##S(i64 rows, i64 cols, double smoothing, const T* x, const T* l,  \
                                             T* grad, double* part) {                                       \
        loss_xent_k<T>(rows, cols, smoothing, x, l, grad, part);                                            \
    }                                                                                                       \
    extern "C" __global__ void loss_bce_##S(i64 rows, i64 cols, const T* out, const T* t, T* grad,          \
                                            double* part) {                                                 \
        loss_bce_k<T>(rows, cols, out, t, grad, part);                                                      \
    }                                                                                                       \
    extern "C" __global__ void reduce_acc_##S(i64 rows, const double* part, double scale, T* acc) {         \
        reduce_acc_k<T>(rows, part, scale, acc);                                                            \
    }                                                                                                       \
    extern "C" __global__ void stats_##S(i64 n, const T* x, double* out) { stats_k<T>(n, x, out); }         \
    extern "C" __global__ void sgd_##S(i64 n, T lr, T wd, T s, T mu, int nesterov, int has_vel, T* w,       \
                                       const T* g, T* vel) {                                                \
        sgd_k<T>(n, lr, wd, s, mu, nesterov, has_vel, w, g, vel);                                           \
    }                                                                                                       \
    extern "C" __global__ void adam_##S(i64 n, T step, T inv_sqrt_bc2, T b1, T b2, T eps, T s, T l2,         \
                                        T shrink, T* w, const T* g, T* m, T* v) {                           \
        adam_k<T>(n, step, inv_sqrt_bc2, b1, b2, eps, s, l2, shrink, w, g, m, v);                           \
    }                                                                                                       \
    extern "C" __global__ void rmsprop_##S(i64 n, T lr, T rho, T eps, T wd, T s, T* w, const T* g, T* sq) { \
        rmsprop_k<T>(n, lr, rho, eps, wd, s, w, g, sq);                                                     \
    }

KERNELS(float, f32)
KERNELS(double, f64)
