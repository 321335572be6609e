//! Shared by the tests that run the GPU backend: the real GPU (feature `cuda`, skipped without
//! one unless `NEURON_REQUIRE_CUDA=1`) and the emulated one (always).
#![allow(dead_code)]

pub mod emu;

#[cfg(feature = "cuda")]
use neuron::{gpu::GpuFloat, Cuda};

/// Whether a missing GPU must fail the tests (`NEURON_REQUIRE_CUDA=1`).
pub fn required() -> bool {
    std::env::var("NEURON_REQUIRE_CUDA").is_ok_and(|v| v == "1")
}

/// The first GPU, or `None` (with a note) where there is none and none is required.
#[cfg(feature = "cuda")]
pub fn gpu<T: GpuFloat>() -> Option<Cuda<T>> {
    match Cuda::<T>::new(0) {
        Ok(g) => Some(g),
        Err(e) if !required() => {
            eprintln!("skipped (no usable GPU): {e}");
            None
        }
        Err(e) => panic!("NEURON_REQUIRE_CUDA=1 but the GPU cannot be used: {e}"),
    }
}

/// The first GPU in `f32`, opened once per test binary.
#[cfg(feature = "cuda")]
pub fn gpu_f32() -> Option<Cuda<f32>> {
    static GPU: std::sync::OnceLock<Option<Cuda<f32>>> = std::sync::OnceLock::new();
    GPU.get_or_init(gpu::<f32>).clone()
}

/// The first GPU in `f64`, opened once per test binary.
#[cfg(feature = "cuda")]
pub fn gpu_f64() -> Option<Cuda<f64>> {
    static GPU: std::sync::OnceLock<Option<Cuda<f64>>> = std::sync::OnceLock::new();
    GPU.get_or_init(gpu::<f64>).clone()
}
