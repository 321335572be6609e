//! NVIDIA GPUs (cargo feature `cuda`): [`CudaRuntime`] runs the GPU backend ([`crate::gpu`]) with
//! the CUDA driver, cuBLAS and NVRTC, through `cudarc`. [`Cuda`] is that backend.
//!
//! The libraries are loaded dynamically when a backend is created, so a build with this feature
//! needs no CUDA installed, and [`Cuda::new`] returns an error (never panics) on a machine without
//! them. The kernels (`gpu/kernels.cu`) are compiled by NVRTC at start-up; all work is queued on
//! one stream.

use std::collections::HashMap;
use std::fmt::Display;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use cudarc::cublas::sys::cublasOperation_t::{CUBLAS_OP_N, CUBLAS_OP_T};
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};

use crate::error::{NeuronError, Result};
use crate::gpu::{Arg, Elem, GemmCfg, Gpu, GpuFloat, Runtime, KERNELS, KERNEL_SOURCE};

/// The GPU backend on an NVIDIA GPU, in `T` (`f32` or `f64`).
///
/// ```no_run
/// use neuron::{Backend, Cuda};
/// let gpu = Cuda::<f32>::new(0)?; // an error, not a panic, where there is no GPU
/// let buf = gpu.upload(&[1.0, 2.0])?;
/// let mut out = [0.0; 2];
/// gpu.download(&buf, &mut out)?;
/// assert_eq!(out, [1.0, 2.0]);
/// # Ok::<(), neuron::NeuronError>(())
/// ```
pub type Cuda<T> = Gpu<T, CudaRuntime>;

impl<T: GpuFloat> Gpu<T, CudaRuntime> {
    /// The GPU with index `ordinal` (0 for the first). Fails with [`NeuronError::Device`] when
    /// the driver, cuBLAS or NVRTC cannot be loaded, or there is no such device.
    pub fn new(ordinal: usize) -> Result<Self> {
        Gpu::with_runtime(CudaRuntime::open(ordinal)?)
    }
}

/// cuBLAS workspace, set once so products never allocate (32 MiB, as NVIDIA advises for Hopper).
const BLAS_WORKSPACE: usize = 32 << 20;

fn device_err(what: &str, e: impl Display) -> NeuronError {
    NeuronError::Device(format!("{what}: {e}"))
}

thread_local! {
    /// Set while this thread is inside [`quietly`].
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic inside the CUDA libraries' loaders into an error. The panic message is
/// not printed: a panic hook, installed once around whatever hook was there, stays silent for the
/// threads inside `quietly` and defers to the previous hook everywhere else.
fn quietly<R>(what: &str, f: impl FnOnce() -> Result<R>) -> Result<R> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic while the thread's locals are being destroyed still prints.
            if !QUIET.try_with(|q| q.get()).unwrap_or(false) {
                previous(info)
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
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

/// Compiles the kernels to PTX with NVRTC. Needs only the NVRTC library, no GPU: this is how the
/// kernels are checked on machines without one.
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

/// A device buffer: untyped device memory of `len` elements of `X`.
pub struct CudaBuf<X> {
    raw: CudaSlice<u8>,
    len: usize,
    _x: PhantomData<X>,
}

impl<X> Drop for CudaBuf<X> {
    fn drop(&mut self) {
        // The slice frees itself on its stream, which needs the GPU's context on this thread
        // (buffers may be dropped on any thread). A failure is recorded by the context and
        // reported by its next call.
        let _ = self.raw.context().bind_to_thread();
    }
}

/// The bytes of a slice of plain values.
fn bytes<X: Elem>(v: &[X]) -> &[u8] {
    // SAFETY: `Elem` types are plain numbers without padding; any byte view of them is valid.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

fn bytes_mut<X: Elem>(v: &mut [X]) -> &mut [u8] {
    // SAFETY: as above, and every byte pattern is a valid `f32`, `f64` or `i64`.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut u8, std::mem::size_of_val(v)) }
}

/// One NVIDIA GPU: context, stream, cuBLAS handle and the compiled kernels.
pub struct CudaRuntime {
    name: String,
    stream: Arc<CudaStream>,
    /// Dropped by hand (see `Drop`): destroying the handle panics inside `cudarc` when the
    /// context is broken, and a broken GPU must give errors, not a panic while unwinding.
    blas: ManuallyDrop<Mutex<CudaBlas>>,
    funcs: HashMap<String, CudaFunction>,
    _workspace: CudaSlice<u8>,
    ctx: Arc<CudaContext>,
}

impl CudaRuntime {
    /// Opens GPU `ordinal`: loads the libraries, compiles and loads the kernels, starts cuBLAS.
    pub fn open(ordinal: usize) -> Result<Self> {
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
        let module = ctx.load_module(compile()?).map_err(|e| {
            device_err(
                "loading the CUDA kernels (a driver older than the CUDA toolkit whose NVRTC \
                 compiled them cannot load them)",
                e,
            )
        })?;
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
        let rt = CudaRuntime {
            name,
            stream,
            blas: ManuallyDrop::new(Mutex::new(blas)),
            funcs,
            _workspace: workspace,
            ctx,
        };
        rt.warm_up()
            .map_err(|e| device_err("a first kernel and product on the GPU", e))?;
        Ok(rt)
    }

    /// One kernel, one product and one copy back, so that the driver and cuBLAS load everything
    /// they load lazily (and fail, if they fail) here, inside [`quietly`].
    fn warm_up(&self) -> std::result::Result<(), String> {
        let mut x = self.alloc::<f32>(1)?;
        let args = [Arg::I64(1), Arg::F32(2.0), Arg::Buf(&x.raw)];
        self.launch("fill_f32", 1, 1, &args)?;
        let mut out = [0.0f32];
        self.dtoh(&x, &mut out)?;
        if out[0] != 2.0 {
            return Err(format!("a kernel filling 2 gave {}", out[0]));
        }
        let (a, b) = (self.alloc::<f32>(1)?, self.alloc::<f32>(1)?);
        let cfg = GemmCfg {
            trans_a: false,
            trans_b: false,
            m: 1,
            n: 1,
            k: 1,
            alpha: 1.0f32,
            lda: 1,
            ldb: 1,
            beta: 0.0,
            ldc: 1,
        };
        self.gemm(&cfg, &a, &b, &mut x)?;
        self.dtoh(&x, &mut out)?;
        if out[0] != 0.0 {
            return Err(format!("the product 0 × 0 gave {}", out[0]));
        }
        Ok(())
    }

    fn view<X: Elem, Y>(
        buf: &CudaBuf<X>,
    ) -> std::result::Result<cudarc::driver::CudaView<'_, Y>, String> {
        // SAFETY: `Y` is the element type the buffer was allocated for (`gemm` is only called
        // with `T` buffers).
        unsafe { buf.raw.transmute::<Y>(buf.len) }.ok_or_else(|| "buffer type mismatch".into())
    }
}

impl Drop for CudaRuntime {
    fn drop(&mut self) {
        // Let queued work finish before the handle, buffers and stream go. If the context is
        // unusable, leak the cuBLAS handle rather than panic in its destructor.
        let healthy = self.ctx.bind_to_thread().is_ok() && self.stream.synchronize().is_ok();
        if healthy {
            // SAFETY: `blas` is not used again; `drop` runs once.
            unsafe { ManuallyDrop::drop(&mut self.blas) };
        }
    }
}

impl Runtime for CudaRuntime {
    type Raw = CudaSlice<u8>;
    type Buf<X: Elem> = CudaBuf<X>;

    fn name(&self) -> String {
        format!("cuda: {}", self.name)
    }

    fn alloc<X: Elem>(&self, len: usize) -> std::result::Result<CudaBuf<X>, String> {
        let len = len.max(1);
        let bytes = len
            .checked_mul(std::mem::size_of::<X>())
            .ok_or_else(|| format!("a buffer of {len} elements is too large"))?;
        let raw = self
            .stream
            .alloc_zeros::<u8>(bytes)
            .map_err(|e| e.to_string())?;
        Ok(CudaBuf {
            raw,
            len,
            _x: PhantomData,
        })
    }

    fn len<X: Elem>(buf: &CudaBuf<X>) -> usize {
        buf.len
    }

    fn raw<X: Elem>(buf: &CudaBuf<X>) -> &CudaSlice<u8> {
        &buf.raw
    }

    fn htod<X: Elem>(&self, src: &[X], dst: &mut CudaBuf<X>) -> std::result::Result<(), String> {
        if src.len() > dst.len {
            return Err(format!("copying {} elements into {}", src.len(), dst.len));
        }
        let b = bytes(src);
        let mut view = dst.raw.slice_mut(..b.len());
        self.stream
            .memcpy_htod(b, &mut view)
            .map_err(|e| format!("copying to the GPU: {e}"))?;
        // The source may be a temporary the caller frees next, and a copy from pageable memory
        // may still be reading it: wait. Copies to the GPU happen once per data set or epoch.
        self.synchronize()
    }

    fn dtoh<X: Elem>(&self, src: &CudaBuf<X>, dst: &mut [X]) -> std::result::Result<(), String> {
        if dst.len() > src.len {
            return Err(format!("copying {} elements out of {}", dst.len(), src.len));
        }
        let b = bytes_mut(dst);
        let view = src.raw.slice(..b.len());
        self.stream
            .memcpy_dtoh(&view, b)
            .map_err(|e| format!("copying from the GPU: {e}"))?;
        // `memcpy_dtoh` into a plain slice does not wait for the copy to land.
        self.synchronize()
    }

    fn dtod<X: Elem>(
        &self,
        len: usize,
        src: &CudaBuf<X>,
        dst: &mut CudaBuf<X>,
    ) -> std::result::Result<(), String> {
        if len > src.len || len > dst.len {
            return Err(format!(
                "copying {len} elements between {} and {}",
                src.len, dst.len
            ));
        }
        let n = len * std::mem::size_of::<X>();
        let s = src.raw.slice(..n);
        let mut d = dst.raw.slice_mut(..n);
        self.stream
            .memcpy_dtod(&s, &mut d)
            .map_err(|e| format!("copying on the GPU: {e}"))
    }

    fn launch(
        &self,
        name: &str,
        grid: u32,
        block: u32,
        args: &[Arg<'_, CudaSlice<u8>>],
    ) -> std::result::Result<(), String> {
        let f = self
            .funcs
            .get(name)
            .ok_or_else(|| format!("kernel {name} is missing"))?;
        let mut b = self.stream.launch_builder(f);
        // The builder keeps pointers to the values: they live in `args` until the launch.
        for a in args {
            match a {
                Arg::I32(v) => b.arg(v),
                Arg::I64(v) => b.arg(v),
                Arg::U64(v) => b.arg(v),
                Arg::F32(v) => b.arg(v),
                Arg::F64(v) => b.arg(v),
                Arg::Buf(raw) => b.arg(*raw),
            };
        }
        let cfg = LaunchConfig {
            grid_dim: (grid, 1, 1),
            block_dim: (block, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: the backend passes each kernel its parameters in order and of the declared types
        // (tested against the kernels under the CPU emulator), and every kernel bounds its
        // accesses by the sizes passed.
        unsafe { b.launch(cfg) }
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn gemm<T: GpuFloat>(
        &self,
        cfg: &GemmCfg<T>,
        a: &CudaBuf<T>,
        b: &CudaBuf<T>,
        c: &mut CudaBuf<T>,
    ) -> std::result::Result<(), String> {
        self.ctx.bind_to_thread().map_err(|e| e.to_string())?;
        let op = |t: bool| if t { CUBLAS_OP_T } else { CUBLAS_OP_N };
        let blas = self.blas.lock().unwrap_or_else(|p| p.into_inner());
        let c_len = c.len;
        macro_rules! run {
            ($ty:ty) => {{
                let g = GemmConfig::<$ty> {
                    transa: op(cfg.trans_a),
                    transb: op(cfg.trans_b),
                    m: cfg.m,
                    n: cfg.n,
                    k: cfg.k,
                    alpha: cfg.alpha.f64() as $ty,
                    lda: cfg.lda,
                    ldb: cfg.ldb,
                    beta: cfg.beta.f64() as $ty,
                    ldc: cfg.ldc,
                };
                let (av, bv) = (Self::view::<T, $ty>(a)?, Self::view::<T, $ty>(b)?);
                // SAFETY: as `view`; the backend checked every buffer against the dimensions.
                let mut cv = unsafe { c.raw.transmute_mut::<$ty>(c_len) }
                    .ok_or_else(|| "buffer type mismatch".to_string())?;
                // SAFETY: the dimensions and leading dimensions fit the buffers (checked by the
                // backend before calling).
                unsafe { blas.gemm(g, &av, &bv, &mut cv) }.map_err(|e| e.to_string())
            }};
        }
        if T::SUFFIX == "f32" {
            run!(f32)
        } else {
            run!(f64)
        }
    }

    fn synchronize(&self) -> std::result::Result<(), String> {
        self.stream.synchronize().map_err(|e| e.to_string())
    }

    fn set_tf32(&self, on: bool) -> std::result::Result<(), String> {
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
            .map_err(|e| format!("setting the cuBLAS math mode: {e}"))
    }
}
