// Runs neuron's CUDA kernels (src/cuda/kernels.cu) on the CPU, for tests on machines without a
// GPU. Each block runs as `blockDim.x` real threads with a barrier for __syncthreads(), blocks one
// after another, so shared memory, barriers and grid-stride loops behave as on a GPU (there are no
// warp-level intrinsics in the kernels).
#pragma once
#include <barrier>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
inline void __syncthreads() {
    if (!emu_block_barrier) {
        std::fprintf(stderr, "a kernel calls __syncthreads but is not marked as synchronising in emu.cpp\n");
        std::abort();
    }
    emu_block_barrier->arrive_and_wait();
}

using std::erf;
using std::exp;
using std::fabs;
using std::fmax;
using std::isfinite;
using std::log;
using std::sqrt;
using std::tanh;

// Runs a kernel over the grid. Kernels that synchronise their block (`barrier`) run each block as
// real threads; the others, which only compute per thread, run thread after thread.

// Threads for kernels that synchronise their block, started once: spawning 256 threads for each
// launch would dominate the tests' time.
class EmuPool {
  public:
    template <class F> void run(unsigned grid, unsigned block, F& f) {
        grow(block);
        for (unsigned b = 0; b < grid; b++) {
            std::barrier<> bar(block);
            std::function<void(unsigned)> task = [&, b](unsigned t) {
                blockIdx = {b, 0, 0};
                threadIdx = {t, 0, 0};
                emu_block_barrier = &bar;
                f();
            };
            {
                std::lock_guard<std::mutex> l(m_);
                task_ = &task;
                active_ = block;
                pending_ = block;
                generation_++;
            }
            cv_.notify_all();
            std::unique_lock<std::mutex> l(m_);
            done_.wait(l, [&] { return pending_ == 0; });
            task_ = nullptr;
        }
    }

  private:
    void grow(unsigned n) {
        while (threads_.size() < n) {
            unsigned id = threads_.size();
            threads_.emplace_back([this, id] { work(id); });
            threads_.back().detach();
        }
    }
    void work(unsigned id) {
        unsigned long seen = 0;
        for (;;) {
            std::function<void(unsigned)>* task;
            {
                std::unique_lock<std::mutex> l(m_);
                cv_.wait(l, [&] { return generation_ != seen && id < active_; });
                seen = generation_;
                task = task_;
            }
            (*task)(id);
            std::lock_guard<std::mutex> l(m_);
            if (--pending_ == 0) done_.notify_one();
        }
    }
    std::vector<std::thread> threads_;
    std::mutex m_;
    std::condition_variable cv_, done_;
    std::function<void(unsigned)>* task_ = nullptr;
    unsigned active_ = 0, pending_ = 0;
    unsigned long generation_ = 0;
};

inline EmuPool& emu_pool() {
    static EmuPool* pool = new EmuPool();  // never destroyed: its threads live as long as the process
    return *pool;
}

template <class F> void emu_run(unsigned grid, unsigned block, bool barrier, F f) {
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    if (!barrier) {
        for (unsigned b = 0; b < grid; b++) {
            for (unsigned t = 0; t < block; t++) {
                blockIdx = {b, 0, 0};
                threadIdx = {t, 0, 0};
                emu_block_barrier = nullptr;
                f();
            }
        }
        return;
    }
    emu_pool().run(grid, block, f);
}
