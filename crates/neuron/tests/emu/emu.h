// Runs neuron's CUDA kernels (src/cuda/kernels.cu) on the CPU, for tests on machines without a
// GPU. Each block runs as `blockDim.x` real threads with a barrier for __syncthreads(), blocks one
// after another, so shared memory, barriers and grid-stride loops behave as on a GPU (there are no
// warp-level intrinsics in the kernels).
#pragma once
#include <barrier>
#include <cmath>
#include <thread>
#include <vector>

struct emu_dim3 {
    unsigned x, y, z;
};
inline thread_local emu_dim3 threadIdx, blockIdx;
inline emu_dim3 blockDim, gridDim;
inline thread_local std::barrier<>* emu_block_barrier;

#define __global__
#define __device__
#define __forceinline__ inline
// One block runs at a time, so a function-local static is exactly one block's shared memory.
#define __shared__ static
inline void __syncthreads() { emu_block_barrier->arrive_and_wait(); }

using std::erf;
using std::exp;
using std::fabs;
using std::fmax;
using std::isfinite;
using std::log;
using std::sqrt;
using std::tanh;

template <class F> void emu_run(unsigned grid, unsigned block, F f) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    for (unsigned b = 0; b < grid; b++) {
        std::barrier<> bar(block);
        std::vector<std::thread> threads;
        threads.reserve(block);
        for (unsigned t = 0; t < block; t++) {
            threads.emplace_back([&, b, t] {
                blockIdx = {b, 0, 0};
                threadIdx = {t, 0, 0};
                emu_block_barrier = &bar;
                f();
            });
        }
        for (auto& th : threads) th.join();
    }
}
