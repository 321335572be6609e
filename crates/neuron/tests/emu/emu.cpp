// A shared library exposing every kernel of src/cuda/kernels.cu through one entry point with
// cuLaunchKernel's calling convention (an array of pointers to the arguments).
#include "emu.h"

#include "../../src/cuda/kernels.cu"

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

#define EMU_KERNEL(name)                                                              \
    if (std::strcmp(kernel, #name "_f32") == 0) {                                     \
        emu_run(grid, block, [&] { emu_call(name##_f32, args); });                    \
        return 0;                                                                     \
    }                                                                                 \
    if (std::strcmp(kernel, #name "_f64") == 0) {                                     \
        emu_run(grid, block, [&] { emu_call(name##_f64, args); });                    \
        return 0;                                                                     \
    }

extern "C" int emu_launch(const char* kernel, unsigned grid, unsigned block, void** args) {
    // One launch at a time, as on one stream (and the emulated shared memory is one per kernel).
    static std::mutex one_at_a_time;
    std::lock_guard<std::mutex> lock(one_at_a_time);
    EMU_KERNEL(fill)
    EMU_KERNEL(bias_act)
    EMU_KERNEL(act_forward)
    EMU_KERNEL(act_backward)
    EMU_KERNEL(softmax)
    EMU_KERNEL(softmax_backward)
    EMU_KERNEL(dropout)
    EMU_KERNEL(mul)
    EMU_KERNEL(scale)
    EMU_KERNEL(gather_rows)
    EMU_KERNEL(augment)
    EMU_KERNEL(loss_mse)
    EMU_KERNEL(loss_xent)
    EMU_KERNEL(loss_bce)
    EMU_KERNEL(reduce_acc)
    EMU_KERNEL(stats)
    EMU_KERNEL(sgd)
    EMU_KERNEL(adam)
    EMU_KERNEL(rmsprop)
    return 1;
}
