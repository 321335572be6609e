//! Opening a GPU: loading the libraries, compiling the kernels, and the scratch buffers and error
//! slot that the [`super::Cuda`] backend shares between its clones.

use std::collections::HashMap;
use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};

use super::CudaFloat;
use crate::error::{NeuronError, Result};

/// The CUDA C source of every kernel (compiled by NVRTC when a backend is created).
pub const KERNEL_SOURCE: &str = include_str!("kernels.cu");

/// Kernel names in `kernels.cu`, each defined for `_f32` and `_f64`.
const KERNELS: &[&str] = &[
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

/// cuBLAS workspace, set once so products never allocate (32 MiB, as NVIDIA advises for Hopper).
const BLAS_WORKSPACE: usize = 32 << 20;

fn device_err(what: &str, e: impl Display) -> NeuronError {
    NeuronError::Device(format!("{what}: {e}"))
}

/// Runs `f`, turning a panic inside the CUDA libraries' loaders into an error (without printing
/// the panic message).
fn quietly<R>(what: &str, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    match r {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".into());
            Err(NeuronError::Device(format!("{what}: {msg}")))
        }
    }
}

/// Compiles [`KERNEL_SOURCE`] to PTX with NVRTC. Needs only the NVRTC library, no GPU: this is
/// how the kernels are checked on machines without one.
pub fn compile_kernels() -> Result<String> {
    quietly("compiling the CUDA kernels", || {
        // SAFETY: only opens the shared library to see whether it exists.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            return Err(NeuronError::Device(
                "NVRTC (libnvrtc.so) was not found: install the CUDA toolkit and add its lib64 \
                 folder to LD_LIBRARY_PATH"
                    .into(),
            ));
        }
        compile().map(|p| p.to_src())
    })
}

fn compile() -> Result<Ptx> {
    let opts = CompileOptions {
        options: vec!["--std=c++17".into()],
        ..Default::default()
    };
    compile_ptx_with_opts(KERNEL_SOURCE, opts).map_err(|e| match e {
        cudarc::nvrtc::CompileError::CompileError { log, .. } => NeuronError::Device(format!(
            "compiling the CUDA kernels: {}",
            log.to_string_lossy()
        )),
        e => device_err("compiling the CUDA kernels", e),
    })
}

pub(super) struct Device<T> {
    pub(super) name: String,
    pub(super) stream: Arc<CudaStream>,
    blas: Mutex<CudaBlas>,
    funcs: HashMap<String, CudaFunction>,
    /// The first failure of an operation that cannot return one (sticky, like CUDA's own).
    error: Mutex<Option<String>>,
    partials: Mutex<CudaSlice<f64>>,
    ones: Mutex<CudaSlice<T>>,
    pub(super) dummy: CudaSlice<T>,
    _workspace: CudaSlice<u8>,
    ctx: Arc<CudaContext>,
}

impl<T: CudaFloat> Device<T> {
    pub(super) fn open(ordinal: usize) -> Result<Self> {
        quietly("opening the GPU", || Self::open_inner(ordinal))
    }

    fn open_inner(ordinal: usize) -> Result<Self> {
        // SAFETY: these only open the shared libraries to see whether they exist.
        let (driver, blas, nvrtc) = unsafe {
            (
                cudarc::driver::sys::is_culib_present(),
                cudarc::cublas::sys::is_culib_present(),
                cudarc::nvrtc::sys::is_culib_present(),
            )
        };
        if !driver {
            return Err(NeuronError::Device(
                "no NVIDIA driver (libcuda.so) was found on this machine".into(),
            ));
        }
        for (present, lib) in [
            (blas, "cuBLAS (libcublas.so)"),
            (nvrtc, "NVRTC (libnvrtc.so)"),
        ] {
            if !present {
                return Err(NeuronError::Device(format!(
                    "{lib} was not found: install the CUDA toolkit and add its lib64 folder \
                     (e.g. /usr/local/cuda/lib64) to LD_LIBRARY_PATH"
                )));
            }
        }
        let count = CudaContext::device_count().map_err(|e| device_err("counting GPUs", e))?;
        if ordinal >= count.max(0) as usize {
            return Err(NeuronError::Device(format!(
                "there is no GPU {ordinal} (this machine has {count})"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| device_err("opening the GPU", e))?;
        // One stream orders everything; per-buffer events would only cost time.
        // SAFETY: called before any buffer exists.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx
            .new_stream()
            .map_err(|e| device_err("creating a stream", e))?;
        let name = ctx
            .name()
            .map_err(|e| device_err("reading the GPU's name", e))?;
        let module = ctx
            .load_module(compile()?)
            .map_err(|e| device_err("loading the CUDA kernels", e))?;
        let mut funcs = HashMap::new();
        for base in KERNELS {
            for suffix in ["f32", "f64"] {
                let full = format!("{base}_{suffix}");
                let f = module
                    .load_function(&full)
                    .map_err(|e| device_err(&format!("loading kernel {full}"), e))?;
                funcs.insert(full, f);
            }
        }
        let blas = CudaBlas::new(stream.clone()).map_err(|e| device_err("starting cuBLAS", e))?;
        let workspace = stream
            .alloc_zeros::<u8>(BLAS_WORKSPACE)
            .map_err(|e| device_err("allocating the cuBLAS workspace", e))?;
        {
            use cudarc::driver::DevicePtr;
            let (ptr, _guard) = workspace.device_ptr(&stream);
            // SAFETY: the workspace outlives the handle (both live in this struct).
            unsafe {
                cudarc::cublas::sys::cublasSetWorkspace_v2(
                    *blas.handle(),
                    ptr as *mut std::ffi::c_void,
                    BLAS_WORKSPACE,
                )
            }
            .result()
            .map_err(|e| device_err("setting the cuBLAS workspace", e))?;
        }
        let alloc_err = |e| device_err("allocating scratch memory", e);
        Ok(Device {
            name,
            partials: Mutex::new(stream.alloc_zeros::<f64>(1024).map_err(alloc_err)?),
            ones: Mutex::new(stream.alloc_zeros::<T>(1).map_err(alloc_err)?),
            dummy: stream.alloc_zeros::<T>(1).map_err(alloc_err)?,
            blas: Mutex::new(blas),
            funcs,
            error: Mutex::new(None),
            _workspace: workspace,
            stream,
            ctx,
        })
    }

    pub(super) fn func(
        &self,
        base: &str,
        suffix: &str,
    ) -> std::result::Result<&CudaFunction, String> {
        self.funcs
            .get(&format!("{base}_{suffix}"))
            .ok_or_else(|| format!("kernel {base}_{suffix} is missing"))
    }

    pub(super) fn record_error(&self, msg: impl Into<String>) {
        let mut e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if e.is_none() {
            *e = Some(msg.into());
        }
    }

    pub(super) fn record<E: Display>(&self, r: std::result::Result<(), E>, what: &str) {
        if let Err(e) = r {
            self.record_error(format!("{what}: {e}"));
        }
    }

    /// The first recorded failure, if any.
    pub(super) fn check(&self) -> Result<()> {
        match &*self.error.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(NeuronError::Device(format!("GPU operation failed: {e}"))),
            None => Ok(()),
        }
    }

    pub(super) fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| device_err("waiting for the GPU", e))?;
        self.check()
    }

    pub(super) fn set_tf32(&self, on: bool) -> Result<()> {
        use cudarc::cublas::sys::cublasMath_t::{CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH};
        let blas = self.blas.lock().unwrap_or_else(|p| p.into_inner());
        let mode = if on {
            CUBLAS_TF32_TENSOR_OP_MATH
        } else {
            CUBLAS_DEFAULT_MATH
        };
        // SAFETY: the handle is alive; setting the math mode has no other precondition.
        unsafe { cudarc::cublas::sys::cublasSetMathMode(*blas.handle(), mode) }
            .result()
            .map_err(|e| device_err("setting the cuBLAS math mode", e))
    }

    /// Runs `f` with the cuBLAS handle, the GPU's context made current on this thread first
    /// (cuBLAS, unlike the driver calls, does not do that itself).
    pub(super) fn with_blas<R>(
        &self,
        f: impl FnOnce(&CudaBlas) -> std::result::Result<R, cudarc::cublas::result::CublasError>,
    ) -> std::result::Result<R, String> {
        self.ctx.bind_to_thread().map_err(|e| e.to_string())?;
        f(&self.blas.lock().unwrap_or_else(|p| p.into_inner())).map_err(|e| e.to_string())
    }

    /// A device buffer of at least `n` doubles for per-row partial results.
    pub(super) fn partials(
        &self,
        n: usize,
    ) -> std::result::Result<MutexGuard<'_, CudaSlice<f64>>, String> {
        let mut p = self.partials.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() < n {
            *p = self
                .stream
                .alloc_zeros::<f64>(n.next_power_of_two())
                .map_err(|e| format!("allocating scratch memory: {e}"))?;
        }
        Ok(p)
    }

    /// A device buffer of at least `n` ones.
    pub(super) fn ones(
        &self,
        n: usize,
    ) -> std::result::Result<MutexGuard<'_, CudaSlice<T>>, String> {
        let mut o = self.ones.lock().unwrap_or_else(|p| p.into_inner());
        if o.len() < n {
            let len = n.next_power_of_two();
            let mut buf = self
                .stream
                .alloc_zeros::<T>(len)
                .map_err(|e| format!("allocating scratch memory: {e}"))?;
            self.stream
                .memcpy_htod(&vec![T::one(); len], &mut buf)
                .map_err(|e| format!("copying to the GPU: {e}"))?;
            *o = buf;
        }
        Ok(o)
    }
}
