//! The GPU backend: [`Gpu`] implements [`Backend`](crate::Backend) on any [`Runtime`] — the CUDA
//! driver with cuBLAS and NVRTC (the `cuda` module, behind the cargo feature `cuda`), or the CPU
//! emulation the tests use.
//!
//! Matrix products go to the runtime's `gemm` (cuBLAS); every other operation is a kernel from
//! `kernels.cu`. Buffers stay on the device; only uploads, downloads and the scalar reductions
//! wait for it. The operations that cannot fail in the [`Backend`](crate::Backend) interface (a kernel launch, a
//! product) record their first error; the next upload, download or allocation returns it.

mod gemm;
mod ops;
mod runtime;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{NeuronError, Result};

pub use gemm::gemm_config;
pub use runtime::{Arg, Elem, GemmCfg, GpuFloat, Runtime};

/// The CUDA C source of every kernel (compiled by NVRTC when a CUDA backend is created).
pub const KERNEL_SOURCE: &str = include_str!("kernels.cu");

/// Kernel names in `kernels.cu`, each defined for `_f32` and `_f64`.
pub const KERNELS: &[&str] = &[
    "fill",
    "bias_act",
    "act_forward",
    "act_backward",
    "softmax",
    "softmax_backward",
    "dropout",
    "mul",
    "scale",
    "gather_rows",
    "augment",
    "loss_mse",
    "loss_xent",
    "loss_bce",
    "reduce_acc",
    "stats",
    "sgd",
    "adam",
    "rmsprop",
];

/// Threads per block; also the width of the one-block reductions (`REDUCE_THREADS`).
const BLOCK: u32 = 256;

/// Computes in `T` (`f32` or `f64`) on the device behind runtime `R`. For NVIDIA GPUs use
/// `neuron::Cuda` (`Gpu<T, CudaRuntime>`, feature `cuda`).
pub struct Gpu<T: GpuFloat, R: Runtime> {
    s: Arc<Shared<T, R>>,
}

struct Shared<T: GpuFloat, R: Runtime> {
    rt: R,
    /// The first failure of an operation that cannot return one.
    error: Mutex<Option<String>>,
    /// Per-row partial results of the losses and reductions.
    partials: Mutex<R::Buf<f64>>,
    /// Ones, for column sums as products.
    ones: Mutex<R::Buf<T>>,
    /// Stands in for an absent optional pointer argument (never read).
    dummy: R::Buf<T>,
    /// Whether `f32` products use TF32 tensor cores (`set_tf32`).
    tf32: AtomicBool,
    _t: PhantomData<T>,
}

impl<T: GpuFloat, R: Runtime> Clone for Gpu<T, R> {
    fn clone(&self) -> Self {
        Gpu { s: self.s.clone() }
    }
}

impl<T: GpuFloat, R: Runtime> std::fmt::Debug for Gpu<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({}, {})", self.s.rt.name(), T::NAME)
    }
}

fn device_err(e: String) -> NeuronError {
    NeuronError::Device(e)
}

impl<T: GpuFloat, R: Runtime> Gpu<T, R> {
    /// The backend on an opened runtime.
    pub fn with_runtime(rt: R) -> Result<Self> {
        let partials = rt.alloc::<f64>(1024).map_err(device_err)?;
        let ones = rt.alloc::<T>(1).map_err(device_err)?;
        let dummy = rt.alloc::<T>(1).map_err(device_err)?;
        Ok(Gpu {
            s: Arc::new(Shared {
                rt,
                error: Mutex::new(None),
                partials: Mutex::new(partials),
                ones: Mutex::new(ones),
                dummy,
                tf32: AtomicBool::new(false),
                _t: PhantomData,
            }),
        })
    }

    /// The runtime.
    pub fn runtime(&self) -> &R {
        &self.s.rt
    }

    /// Lets the device use TF32 tensor cores for `f32` products (10-bit mantissa inputs, `f32`
    /// accumulation): several times faster on wide layers, at about 1e-3 relative error per
    /// product. Off by default.
    pub fn set_tf32(&self, on: bool) -> Result<()> {
        self.s.rt.set_tf32(on).map_err(device_err)?;
        self.s.tf32.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// The precision of the products, as names report it: `f64`, `f32` or `tf32`.
    fn precision(&self) -> &'static str {
        if T::NAME == "f32" && self.s.tf32.load(Ordering::Relaxed) {
            "tf32"
        } else {
            T::NAME
        }
    }

    /// Waits until all queued work has finished; returns the first error recorded so far.
    pub fn synchronize(&self) -> Result<()> {
        self.s.rt.synchronize().map_err(device_err)?;
        self.check()
    }

    fn record_error(&self, msg: impl Into<String>) {
        let mut e = self.s.error.lock().unwrap_or_else(|p| p.into_inner());
        if e.is_none() {
            *e = Some(msg.into());
        }
    }

    fn record(&self, r: std::result::Result<(), String>, what: &str) {
        if let Err(e) = r {
            self.record_error(format!("{what}: {e}"));
        }
    }

    /// The first recorded failure, if any.
    fn check(&self) -> Result<()> {
        match &*self.s.error.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(NeuronError::Device(format!("GPU operation failed: {e}"))),
            None => Ok(()),
        }
    }

    /// Whether every buffer holds at least `need` elements. Otherwise records an error and the
    /// caller skips the operation: a kernel writing past a buffer would corrupt another.
    fn fits(&self, op: &str, need: usize, bufs: &[&R::Buf<T>]) -> bool {
        match bufs.iter().map(|b| R::len(b)).min() {
            Some(have) if have < need => {
                self.record_error(format!("{op}: a buffer of {have} elements, {need} needed"));
                false
            }
            _ => true,
        }
    }

    /// Queues kernel `name` for `T` over `threads` elements (blocks of 256 threads, grid-stride
    /// loops cover any excess), or as one block of 256 for the reductions (`None`).
    fn launch(&self, name: &str, threads: Option<usize>, args: &[Arg<'_, R::Raw>]) {
        let grid = threads.map_or(1, |n| n.div_ceil(BLOCK as usize).clamp(1, 1 << 16) as u32);
        let r = self
            .s
            .rt
            .launch(&format!("{name}_{}", T::SUFFIX), grid, BLOCK, args);
        self.record(r, name);
    }

    /// A scalar kernel argument of type `T`.
    fn t(v: T) -> Arg<'static, R::Raw> {
        if T::SUFFIX == "f32" {
            Arg::F32(v.f64() as f32)
        } else {
            Arg::F64(v.f64())
        }
    }

    /// `T::of(v)` as a kernel argument.
    fn tf(v: f64) -> Arg<'static, R::Raw> {
        Self::t(T::of(v))
    }

    fn buf<X: Elem>(b: &R::Buf<X>) -> Arg<'_, R::Raw> {
        Arg::Buf(R::raw(b))
    }

    /// A device buffer of at least `n` doubles for per-row partial results.
    fn partials(&self, n: usize) -> Result<MutexGuard<'_, R::Buf<f64>>> {
        let mut p = self.s.partials.lock().unwrap_or_else(|p| p.into_inner());
        if R::len(&*p) < n {
            *p = self
                .s
                .rt
                .alloc::<f64>(n.next_power_of_two())
                .map_err(device_err)?;
        }
        Ok(p)
    }

    /// A device buffer of at least `n` ones.
    fn ones(&self, n: usize) -> Result<MutexGuard<'_, R::Buf<T>>> {
        let mut o = self.s.ones.lock().unwrap_or_else(|p| p.into_inner());
        if R::len(&*o) < n {
            let len = n.next_power_of_two();
            let mut buf = self.s.rt.alloc::<T>(len).map_err(device_err)?;
            self.s
                .rt
                .htod(&vec![T::one(); len], &mut buf)
                .map_err(device_err)?;
            *o = buf;
        }
        Ok(o)
    }

    /// `[Σ x², number of non-finite elements]` over the first `n` elements (waits for the device).
    fn stats(&self, n: usize, x: &R::Buf<T>) -> Result<[f64; 2]> {
        if !self.fits("stats", n, &[x]) {
            return self.check().map(|_| [f64::NAN; 2]);
        }
        let part = self.partials(2)?;
        self.launch(
            "stats",
            None,
            &[Arg::I64(n as i64), Self::buf(x), Self::buf(&*part)],
        );
        let mut host = [0.0f64; 2];
        self.s.rt.dtoh(&*part, &mut host).map_err(device_err)?;
        self.check()?;
        Ok(host)
    }
}

/// Row indices on the device, with the largest one (checked against the source before gathering).
pub struct GpuIdx<R: Runtime> {
    buf: R::Buf<i64>,
    len: usize,
    max: Option<usize>,
}
