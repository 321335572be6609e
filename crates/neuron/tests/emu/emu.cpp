// A shared library exposing every kernel of src/cuda/kernels.cu through one entry point with
// cuLaunchKernel's calling convention (an array of pointers to the arguments).
#include "emu.h"

#include "../../src/gpu/kernels.cu"

#include <cstring>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <utility>

template <class... A, std::size_t... I>
void emu_call(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<std::remove_reference_t<A>*>(args[I])...);
}
template <class... A> void emu_call(void (*f)(A...), void** args) {
    emu_call(f, args, std::index_sequence_for<A...>{});
}

// Kernels that use __syncthreads (the one-block reductions) run their threads concurrently.
#define EMU_KERNEL(name, barrier)                                                     \
    if (std::strcmp(kernel, #name "_f32") == 0) {                                     \
        emu_run(grid, block, barrier, [&] { emu_call(name##_f32, args); });           \
        return 0;                                                                     \
    }                                                                                 \
    if (std::strcmp(kernel, #name "_f64") == 0) {                                     \
        emu_run(grid, block, barrier, [&] { emu_call(name##_f64, args); });           \
        return 0;                                                                     \
    }

extern "C" int emu_launch(const char* kernel, unsigned grid, unsigned block, void** args) {
    // One launch at a time, as on one stream (and the emulated shared memory is one per kernel).
    static std::mutex one_at_a_time;
    std::lock_guard<std::mutex> lock(one_at_a_time);
    EMU_KERNEL(fill, false)
    EMU_KERNEL(bias_act, false)
    EMU_KERNEL(act_forward, false)
    EMU_KERNEL(act_backward, false)
    EMU_KERNEL(softmax, false)
    EMU_KERNEL(softmax_backward, false)
    EMU_KERNEL(dropout, false)
    EMU_KERNEL(mul, false)
    EMU_KERNEL(scale, false)
    EMU_KERNEL(gather_rows, false)
    EMU_KERNEL(augment, false)
    EMU_KERNEL(loss_mse, false)
    EMU_KERNEL(loss_xent, false)
    EMU_KERNEL(loss_bce, false)
    EMU_KERNEL(reduce_acc, true)
    EMU_KERNEL(stats, true)
    EMU_KERNEL(sgd, false)
    EMU_KERNEL(adam, false)
    EMU_KERNEL(rmsprop, false)
    return 1;
}
