//! The CUDA backend (cargo feature `cuda`): [`Cuda`] implements [`Backend`] on an NVIDIA GPU.
//!
//! Matrix products go to cuBLAS; every other kernel is in `kernels.cu`, compiled at start-up by
//! NVRTC for `f32` and `f64`. The driver, cuBLAS and NVRTC are loaded dynamically when a backend
//! is created, so a build with this feature needs no CUDA installed, and [`Cuda::new`] returns an
//! error (never panics) on a machine without them. All work is queued on one stream; buffers stay
//! on the device, and only uploads, downloads and the scalar reductions wait for the GPU.
//!
//! The operations that cannot fail in the [`Backend`] interface (a kernel launch, a product)
//! record their first error; the next upload, download or allocation returns it.

mod device;

use std::marker::PhantomData;
use std::sync::Arc;

use cudarc::cublas::result::CublasError;
use cudarc::cublas::sys::cublasOperation_t::{CUBLAS_OP_N, CUBLAS_OP_T};
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaSlice, DeviceRepr, LaunchConfig, PushKernelArg, ValidAsZeroBits};

use crate::activation::Activation;
use crate::adam::AdamHyper;
use crate::augment::Augment;
use crate::backend::{Backend, Operand};
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::loss::Loss;
use crate::rmsprop::RmsPropHyper;
use crate::sgd::SgdHyper;

use device::Device;
pub use device::{compile_kernels, KERNEL_SOURCE};

/// Element types the CUDA backend computes in: `f32` and `f64`.
pub trait CudaFloat: Float + DeviceRepr + ValidAsZeroBits + Unpin {
    /// Suffix of this type's kernels in `kernels.cu`.
    const SUFFIX: &'static str;
    /// `C = α·op(A)·op(B) + β·C` by cuBLAS (column-major, as cuBLAS sees it).
    ///
    /// # Safety
    /// The dimensions and leading dimensions must fit the buffers.
    #[doc(hidden)]
    unsafe fn gemm(
        blas: &CudaBlas,
        cfg: GemmConfig<Self>,
        a: &CudaSlice<Self>,
        b: &CudaSlice<Self>,
        c: &mut CudaSlice<Self>,
    ) -> std::result::Result<(), CublasError>;
}

impl CudaFloat for f32 {
    const SUFFIX: &'static str = "f32";
    unsafe fn gemm(
        blas: &CudaBlas,
        cfg: GemmConfig<f32>,
        a: &CudaSlice<f32>,
        b: &CudaSlice<f32>,
        c: &mut CudaSlice<f32>,
    ) -> std::result::Result<(), CublasError> {
        unsafe { blas.gemm(cfg, a, b, c) }
    }
}

impl CudaFloat for f64 {
    const SUFFIX: &'static str = "f64";
    unsafe fn gemm(
        blas: &CudaBlas,
        cfg: GemmConfig<f64>,
        a: &CudaSlice<f64>,
        b: &CudaSlice<f64>,
        c: &mut CudaSlice<f64>,
    ) -> std::result::Result<(), CublasError> {
        unsafe { blas.gemm(cfg, a, b, c) }
    }
}

/// Computes on an NVIDIA GPU in `T` (`f32` or `f64`).
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
pub struct Cuda<T> {
    dev: Arc<Device<T>>,
    _t: PhantomData<T>,
}

impl<T> Clone for Cuda<T> {
    fn clone(&self) -> Self {
        Cuda {
            dev: self.dev.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Cuda<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cuda({})", self.dev.name)
    }
}

impl<T: CudaFloat> Cuda<T> {
    /// The GPU with index `ordinal` (0 for the first). Fails with [`NeuronError::Device`] when
    /// the driver, cuBLAS or NVRTC cannot be loaded, or there is no such device.
    pub fn new(ordinal: usize) -> Result<Self> {
        Ok(Cuda {
            dev: Arc::new(Device::open(ordinal)?),
            _t: PhantomData,
        })
    }

    /// Lets cuBLAS use TF32 tensor cores for `f32` products (10-bit mantissa inputs, `f32`
    /// accumulation): several times faster on wide layers, at about 1e-3 relative error per
    /// product. Off by default.
    pub fn set_tf32(&self, on: bool) -> Result<()> {
        self.dev.set_tf32(on)
    }

    /// The device's name, e.g. `"NVIDIA H200"`.
    pub fn device_name(&self) -> &str {
        &self.dev.name
    }

    /// Waits until all queued work has finished; returns the first error recorded so far.
    pub fn synchronize(&self) -> Result<()> {
        self.dev.synchronize()
    }

    /// Blocks of 256 threads covering `n` elements (grid-stride loops cover any excess).
    fn cfg(n: usize) -> LaunchConfig {
        LaunchConfig {
            grid_dim: (n.div_ceil(256).clamp(1, 1 << 16) as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    /// One block of the reduction width used by `reduce_acc` and `stats`.
    fn one_block() -> LaunchConfig {
        LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        }
    }
}

/// Launches kernel `$name` (type suffix added) with `$cfg` and the given argument references.
/// Every argument must be a reference to a value that lives until the launch returns.
macro_rules! launch {
    ($self:expr, $name:expr, $cfg:expr, $($arg:expr),+ $(,)?) => {{
        let dev = &$self.dev;
        match dev.func($name, T::SUFFIX) {
            Ok(f) => {
                let mut b = dev.stream.launch_builder(f);
                $( b.arg($arg); )+
                // SAFETY: the argument list matches the kernel's signature in kernels.cu (same
                // order, same types: i64 sizes, i32 flags, T scalars, device pointers), and every
                // kernel bounds its accesses by the sizes passed.
                let r = unsafe { b.launch($cfg) };
                dev.record(r.map(|_| ()), $name);
            }
            Err(e) => dev.record_error(e),
        }
    }};
}

/// The cuBLAS call for row-major `C[m×n] (+)= op(A)·op(B)`: cuBLAS is column-major, where a
/// row-major matrix reads as its transpose, so it computes `Cᵀ = op(B)ᵀ·op(A)ᵀ` with B passed
/// first. `None` when a size exceeds cuBLAS's 32-bit dimensions.
fn gemm_config<T: CudaFloat>(
    m: usize,
    n: usize,
    k: usize,
    a_transposed: bool,
    b_transposed: bool,
    accumulate: bool,
) -> Option<GemmConfig<T>> {
    let fits = |v: usize| i32::try_from(v).ok();
    let (mi, ni, ki) = (fits(m)?, fits(n)?, fits(k)?);
    // B stored [k×n] reads column-major as [n×k] = op(B)ᵀ already; stored [n×k] it needs a transpose.
    let (transa, lda) = if b_transposed {
        (CUBLAS_OP_T, ki)
    } else {
        (CUBLAS_OP_N, ni)
    };
    let (transb, ldb) = if a_transposed {
        (CUBLAS_OP_T, mi)
    } else {
        (CUBLAS_OP_N, ki)
    };
    Some(GemmConfig {
        transa,
        transb,
        m: ni,
        n: mi,
        k: ki,
        alpha: T::one(),
        lda,
        ldb,
        beta: if accumulate { T::one() } else { T::zero() },
        ldc: ni,
    })
}

fn act_code(act: Activation) -> (i32, f64) {
    match act {
        Activation::Identity => (0, 0.0),
        Activation::Relu => (1, 0.0),
        Activation::LeakyRelu { alpha } => (2, alpha),
        Activation::Sigmoid => (3, 0.0),
        Activation::Tanh => (4, 0.0),
        Activation::Gelu => (5, 0.0),
    }
}

impl<T: CudaFloat> Backend for Cuda<T> {
    type E = T;
    type Buf = CudaSlice<T>;
    type Idx = CudaSlice<i64>;

    fn name(&self) -> String {
        format!("cuda ({}, {})", self.dev.name, T::NAME)
    }

    /// The loss is read back every 32 steps: reading it waits for the GPU, which would otherwise
    /// idle while the host queues the next step.
    fn steps_between_checks(&self) -> usize {
        32
    }

    fn alloc(&self, len: usize) -> Result<CudaSlice<T>> {
        self.dev.check()?;
        self.dev
            .stream
            .alloc_zeros::<T>(len.max(1))
            .map_err(|e| NeuronError::Device(format!("allocating {len} elements: {e}")))
    }

    fn upload(&self, data: &[T]) -> Result<CudaSlice<T>> {
        let mut buf = self.alloc(data.len())?;
        self.write(data, &mut buf)?;
        Ok(buf)
    }

    fn write(&self, data: &[T], buf: &mut CudaSlice<T>) -> Result<()> {
        self.dev.check()?;
        if buf.len() < data.len() {
            return Err(NeuronError::shape(
                "write",
                format!("at most {} elements", buf.len()),
                data.len(),
            ));
        }
        if data.is_empty() {
            return Ok(());
        }
        self.dev
            .stream
            .memcpy_htod(data, buf)
            .map_err(|e| NeuronError::Device(format!("copying to the GPU: {e}")))
    }

    fn download(&self, buf: &CudaSlice<T>, out: &mut [T]) -> Result<()> {
        self.dev.check()?;
        if buf.len() < out.len() {
            return Err(NeuronError::shape(
                "download",
                format!("at least {} elements", out.len()),
                buf.len(),
            ));
        }
        if out.is_empty() {
            return Ok(());
        }
        self.dev
            .stream
            .memcpy_dtoh(&buf.slice(..out.len()), out)
            .map_err(|e| NeuronError::Device(format!("copying from the GPU: {e}")))?;
        self.dev.check()
    }

    fn copy(&self, len: usize, src: &CudaSlice<T>, dst: &mut CudaSlice<T>) {
        if len == 0 {
            return;
        }
        match (src.try_slice(..len), dst.try_slice_mut(..len)) {
            (Some(s), Some(mut d)) => {
                let r = self.dev.stream.memcpy_dtod(&s, &mut d);
                self.dev.record(r, "copy");
            }
            _ => self.dev.record_error(format!(
                "copy of {len} elements between buffers of {} and {}",
                src.len(),
                dst.len()
            )),
        }
    }

    fn fill(&self, len: usize, v: T, buf: &mut CudaSlice<T>) {
        let n = len as i64;
        launch!(self, "fill", Self::cfg(len), &n, &v, buf);
    }

    fn matmul(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand<'_, CudaSlice<T>>,
        b: Operand<'_, CudaSlice<T>>,
        c: &mut CudaSlice<T>,
        accumulate: bool,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if !accumulate {
                self.fill(m * n, T::zero(), c);
            }
            return;
        }
        if a.buf.len() < m * k || b.buf.len() < k * n || c.len() < m * n {
            self.dev
                .record_error(format!("product {m}×{k} · {k}×{n}: a buffer is too short"));
            return;
        }
        let Some(cfg) = gemm_config(m, n, k, a.transposed, b.transposed, accumulate) else {
            self.dev
                .record_error(format!("product {m}×{k} · {k}×{n} is too large for cuBLAS"));
            return;
        };
        let r = self.dev.with_blas(|blas| {
            // SAFETY: the length checks above cover every element cuBLAS reads or writes.
            unsafe { T::gemm(blas, cfg, b.buf, a.buf, c) }
        });
        self.dev.record(r, "matmul");
    }

    fn bias_act(
        &self,
        act: Activation,
        rows: usize,
        cols: usize,
        bias: Option<&CudaSlice<T>>,
        z: &mut CudaSlice<T>,
        y: &mut CudaSlice<T>,
    ) {
        let (code, alpha) = act_code(act);
        let (alpha, r, c) = (T::of(alpha), rows as i64, cols as i64);
        let has_bias = i32::from(bias.is_some());
        // Without a bias the kernel never reads the pointer; a one-element buffer stands in.
        let b = bias.unwrap_or(&self.dev.dummy);
        let cfg = Self::cfg(rows * cols);
        launch!(self, "bias_act", cfg, &code, &alpha, &r, &c, b, &has_bias, z, y);
    }

    fn act_forward(&self, act: Activation, n: usize, x: &CudaSlice<T>, y: &mut CudaSlice<T>) {
        let (code, alpha) = act_code(act);
        let (alpha, len) = (T::of(alpha), n as i64);
        launch!(self, "act_forward", Self::cfg(n), &code, &alpha, &len, x, y);
    }

    fn act_backward(
        &self,
        act: Activation,
        n: usize,
        z: &CudaSlice<T>,
        y: &CudaSlice<T>,
        gy: &CudaSlice<T>,
        gz: &mut CudaSlice<T>,
    ) {
        let (code, alpha) = act_code(act);
        let (alpha, len) = (T::of(alpha), n as i64);
        launch!(
            self,
            "act_backward",
            Self::cfg(n),
            &code,
            &alpha,
            &len,
            z,
            y,
            gy,
            gz
        );
    }

    fn col_sum(&self, rows: usize, cols: usize, g: &CudaSlice<T>, out: &mut CudaSlice<T>) {
        // out[1×cols] = 1[1×rows] · G[rows×cols]: one cuBLAS product, deterministic.
        match self.dev.ones(rows) {
            Ok(ones) => {
                let a = Operand {
                    buf: &*ones,
                    transposed: false,
                };
                let b = Operand {
                    buf: g,
                    transposed: false,
                };
                self.matmul(1, cols, rows, a, b, out, false);
            }
            Err(e) => self.dev.record_error(e),
        }
    }

    fn softmax(&self, rows: usize, cols: usize, x: &CudaSlice<T>, y: &mut CudaSlice<T>) {
        let (r, c) = (rows as i64, cols as i64);
        launch!(self, "softmax", Self::cfg(rows), &r, &c, x, y);
    }

    fn softmax_backward(
        &self,
        rows: usize,
        cols: usize,
        y: &CudaSlice<T>,
        gy: &CudaSlice<T>,
        gx: &mut CudaSlice<T>,
    ) {
        let (r, c) = (rows as i64, cols as i64);
        launch!(self, "softmax_backward", Self::cfg(rows), &r, &c, y, gy, gx);
    }

    fn dropout(
        &self,
        n: usize,
        p: f64,
        seed: u64,
        x: &CudaSlice<T>,
        mask: &mut CudaSlice<T>,
        y: &mut CudaSlice<T>,
    ) {
        let (len, pf, keep) = (n as i64, p as f32, T::of(1.0 / (1.0 - p)));
        launch!(
            self,
            "dropout",
            Self::cfg(n),
            &len,
            &pf,
            &keep,
            &seed,
            x,
            mask,
            y
        );
    }

    fn mul(&self, n: usize, a: &CudaSlice<T>, b: &CudaSlice<T>, out: &mut CudaSlice<T>) {
        let len = n as i64;
        launch!(self, "mul", Self::cfg(n), &len, a, b, out);
    }

    fn upload_indices(&self, idx: &[usize]) -> Result<CudaSlice<i64>> {
        self.dev.check()?;
        let host: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
        let mut buf = self
            .dev
            .stream
            .alloc_zeros::<i64>(host.len().max(1))
            .map_err(|e| NeuronError::Device(format!("allocating {} indices: {e}", idx.len())))?;
        if !host.is_empty() {
            self.dev
                .stream
                .memcpy_htod(&host, &mut buf)
                .map_err(|e| NeuronError::Device(format!("copying to the GPU: {e}")))?;
        }
        Ok(buf)
    }

    fn gather_rows(
        &self,
        cols: usize,
        src: &CudaSlice<T>,
        idx: &CudaSlice<i64>,
        start: usize,
        rows: usize,
        dst: &mut CudaSlice<T>,
    ) {
        if rows == 0 {
            return;
        }
        if start + rows > idx.len() || dst.len() < rows * cols {
            return self.dev.record_error(format!(
                "gathering rows {start}..{} of {} indices",
                start + rows,
                idx.len()
            ));
        }
        let (r, c, s0) = (rows as i64, cols as i64, start as i64);
        launch!(
            self,
            "gather_rows",
            Self::cfg(rows * cols),
            &r,
            &c,
            src,
            idx,
            &s0,
            dst
        );
    }

    fn augment_images(
        &self,
        aug: &Augment,
        rows: usize,
        seed: u64,
        src: &CudaSlice<T>,
        dst: &mut CudaSlice<T>,
    ) {
        let (r, h, w, s) = (
            rows as i64,
            aug.height as i64,
            aug.width as i64,
            aug.max_shift as i64,
        );
        let flip = i32::from(aug.flip);
        let n = rows * aug.height * aug.width;
        launch!(
            self,
            "augment",
            Self::cfg(n),
            &r,
            &h,
            &w,
            &s,
            &flip,
            &seed,
            src,
            dst
        );
    }

    fn loss(
        &self,
        loss: &Loss,
        rows: usize,
        cols: usize,
        output: &CudaSlice<T>,
        target: &CudaSlice<T>,
        grad: &mut CudaSlice<T>,
        acc: &mut CudaSlice<T>,
    ) {
        let mut part = match self.dev.partials(2 * rows) {
            Ok(p) => p,
            Err(e) => return self.dev.record_error(e),
        };
        let part = &mut *part;
        let (r, c) = (rows as i64, cols as i64);
        let cfg = Self::cfg(rows);
        let scale = match *loss {
            Loss::Mse => {
                launch!(self, "loss_mse", cfg, &r, &c, output, target, grad, &mut *part);
                1.0 / cols as f64
            }
            Loss::CrossEntropy { label_smoothing } => {
                launch!(
                    self,
                    "loss_xent",
                    cfg,
                    &r,
                    &c,
                    &label_smoothing,
                    output,
                    target,
                    grad,
                    &mut *part
                );
                1.0
            }
            Loss::BinaryCrossEntropy => {
                launch!(self, "loss_bce", cfg, &r, &c, output, target, grad, &mut *part);
                1.0 / cols as f64
            }
        };
        launch!(
            self,
            "reduce_acc",
            Self::one_block(),
            &r,
            &*part,
            &scale,
            acc
        );
    }

    fn sum_squares(&self, n: usize, x: &CudaSlice<T>) -> f64 {
        self.stats(n, x).map_or(f64::NAN, |s| s[0])
    }

    fn all_finite(&self, n: usize, x: &CudaSlice<T>) -> bool {
        self.stats(n, x).is_ok_and(|s| s[1] == 0.0)
    }

    fn scale(&self, n: usize, s: T, x: &mut CudaSlice<T>) {
        let len = n as i64;
        launch!(self, "scale", Self::cfg(n), &len, &s, x);
    }

    fn sgd_update(
        &self,
        n: usize,
        h: &SgdHyper,
        w: &mut CudaSlice<T>,
        g: &CudaSlice<T>,
        velocity: Option<&mut CudaSlice<T>>,
    ) {
        let len = n as i64;
        let (lr, wd, s, mu) = (
            T::of(h.lr),
            T::of(h.weight_decay),
            T::of(h.grad_scale),
            T::of(h.momentum),
        );
        let nesterov = i32::from(h.nesterov);
        match velocity {
            Some(v) => {
                let has = 1i32;
                launch!(
                    self,
                    "sgd",
                    Self::cfg(n),
                    &len,
                    &lr,
                    &wd,
                    &s,
                    &mu,
                    &nesterov,
                    &has,
                    w,
                    g,
                    v
                );
            }
            None => {
                let has = 0i32;
                // Without velocity the kernel never reads its last pointer; `g` stands in.
                launch!(
                    self,
                    "sgd",
                    Self::cfg(n),
                    &len,
                    &lr,
                    &wd,
                    &s,
                    &mu,
                    &nesterov,
                    &has,
                    w,
                    g,
                    g
                );
            }
        }
    }

    fn adam_update(
        &self,
        n: usize,
        h: &AdamHyper,
        w: &mut CudaSlice<T>,
        g: &CudaSlice<T>,
        m: &mut CudaSlice<T>,
        v: &mut CudaSlice<T>,
    ) {
        // The same scalars as the CPU kernel (src/cpu/update.rs).
        let t = h.step.max(1) as i32;
        let bc1 = 1.0 - h.beta1.powi(t);
        let bc2 = 1.0 - h.beta2.powi(t);
        let step = T::of(h.lr / bc1);
        let inv_sqrt_bc2 = T::of(1.0 / bc2.sqrt());
        let (b1, b2, eps, s) = (
            T::of(h.beta1),
            T::of(h.beta2),
            T::of(h.eps),
            T::of(h.grad_scale),
        );
        let (l2, shrink) = if h.decoupled {
            (T::zero(), T::of(1.0 - h.lr * h.weight_decay))
        } else {
            (T::of(h.weight_decay), T::one())
        };
        let len = n as i64;
        launch!(
            self,
            "adam",
            Self::cfg(n),
            &len,
            &step,
            &inv_sqrt_bc2,
            &b1,
            &b2,
            &eps,
            &s,
            &l2,
            &shrink,
            w,
            g,
            m,
            v
        );
    }

    fn rmsprop_update(
        &self,
        n: usize,
        h: &RmsPropHyper,
        w: &mut CudaSlice<T>,
        g: &CudaSlice<T>,
        sq: &mut CudaSlice<T>,
    ) {
        let len = n as i64;
        let (lr, rho, eps, wd, s) = (
            T::of(h.lr),
            T::of(h.rho),
            T::of(h.eps),
            T::of(h.weight_decay),
            T::of(h.grad_scale),
        );
        launch!(
            self,
            "rmsprop",
            Self::cfg(n),
            &len,
            &lr,
            &rho,
            &eps,
            &wd,
            &s,
            w,
            g,
            sq
        );
    }
}

impl<T: CudaFloat> Cuda<T> {
    /// `[Σ x², number of non-finite elements]` over the first `n` elements (waits for the GPU).
    fn stats(&self, n: usize, x: &CudaSlice<T>) -> Result<[f64; 2]> {
        let mut part = self.dev.partials(2).map_err(NeuronError::Device)?;
        let len = n as i64;
        let out = &mut *part;
        launch!(self, "stats", Self::one_block(), &len, x, &mut *out);
        let mut host = [0.0f64; 2];
        self.dev
            .stream
            .memcpy_dtoh(&out.slice(..2), &mut host)
            .map_err(|e| NeuronError::Device(format!("copying from the GPU: {e}")))?;
        self.dev.check()?;
        Ok(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cuBLAS's `gemm` semantics (column-major), written out: `C = α·op(A)·op(B) + β·C`.
    fn reference_gemm(cfg: &GemmConfig<f64>, a: &[f64], b: &[f64], c: &mut [f64]) {
        let (m, n, k) = (cfg.m as usize, cfg.n as usize, cfg.k as usize);
        let (lda, ldb, ldc) = (cfg.lda as usize, cfg.ldb as usize, cfg.ldc as usize);
        let op_a = |i: usize, l: usize| match cfg.transa {
            CUBLAS_OP_N => a[i + l * lda],
            _ => a[l + i * lda],
        };
        let op_b = |l: usize, j: usize| match cfg.transb {
            CUBLAS_OP_N => b[l + j * ldb],
            _ => b[j + l * ldb],
        };
        for j in 0..n {
            for i in 0..m {
                let s: f64 = (0..k).map(|l| op_a(i, l) * op_b(l, j)).sum();
                c[i + j * ldc] = cfg.alpha * s + cfg.beta * c[i + j * ldc];
            }
        }
    }

    #[test]
    fn row_major_products_map_onto_column_major_cublas() {
        let (m, n, k) = (5, 3, 4);
        let a: Vec<f64> = (0..m * k).map(|v| v as f64 * 0.5 - 3.0).collect();
        let b: Vec<f64> = (0..k * n).map(|v| (v as f64).sin()).collect();
        for (at, bt) in [(false, false), (true, false), (false, true), (true, true)] {
            for acc in [false, true] {
                // Row-major operands as stored: A is [m×k], or [k×m] when transposed; B likewise.
                let get_a = |i: usize, l: usize| if at { a[l * m + i] } else { a[i * k + l] };
                let get_b = |l: usize, j: usize| if bt { b[j * k + l] } else { b[l * n + j] };
                let c0: Vec<f64> = (0..m * n).map(|v| v as f64).collect();
                let mut want = c0.clone();
                for i in 0..m {
                    for j in 0..n {
                        let s: f64 = (0..k).map(|l| get_a(i, l) * get_b(l, j)).sum();
                        want[i * n + j] = s + if acc { c0[i * n + j] } else { 0.0 };
                    }
                }
                let cfg = gemm_config::<f64>(m, n, k, at, bt, acc).unwrap();
                let mut got = c0.clone();
                // As `matmul` calls it: B's storage first, then A's.
                reference_gemm(&cfg, &b, &a, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() < 1e-12,
                        "at={at} bt={bt} acc={acc}: {got:?} vs {want:?}"
                    );
                }
            }
        }
        assert!(gemm_config::<f32>(1 << 31, 1, 1, false, false, false).is_none());
    }
}
