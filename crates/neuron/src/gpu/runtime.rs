//! What the GPU backend needs from a device: memory, copies, kernel launches, products.
//!
//! [`crate::cuda::CudaRuntime`] implements it with the CUDA driver, NVRTC and cuBLAS. The tests
//! implement it on the CPU (the kernels through an emulator), so that every line of the backend
//! above this interface also runs on machines without a GPU.

use crate::float::Float;

/// Element types of device buffers: plain values that may be copied byte for byte.
pub trait Elem: Copy + Default + Send + Sync + 'static {}
impl Elem for f32 {}
impl Elem for f64 {}
impl Elem for i64 {}

/// Element types the GPU backend computes in: `f32` and `f64`.
pub trait GpuFloat: Float + Elem {
    /// Suffix of this type's kernels in `kernels.cu` (`"f32"` or `"f64"`).
    const SUFFIX: &'static str;
}
impl GpuFloat for f32 {
    const SUFFIX: &'static str = "f32";
}
impl GpuFloat for f64 {
    const SUFFIX: &'static str = "f64";
}

/// One kernel argument, in the kernel's parameter order.
pub enum Arg<'a, Raw> {
    /// `int`.
    I32(i32),
    /// `long long`.
    I64(i64),
    /// `unsigned long long`.
    U64(u64),
    /// `float`.
    F32(f32),
    /// `double`.
    F64(f64),
    /// A pointer to a device buffer.
    Buf(&'a Raw),
}

/// A product in cuBLAS's terms (column-major): `C[m×n] = α·op(A)·op(B) + β·C`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GemmCfg<T> {
    /// Whether `op(A) = Aᵀ`.
    pub trans_a: bool,
    /// Whether `op(B) = Bᵀ`.
    pub trans_b: bool,
    /// Rows of `op(A)` and `C`.
    pub m: i32,
    /// Columns of `op(B)` and `C`.
    pub n: i32,
    /// Columns of `op(A)`, rows of `op(B)`.
    pub k: i32,
    /// Scale of the product.
    pub alpha: T,
    /// Leading dimension of `A`.
    pub lda: i32,
    /// Leading dimension of `B`.
    pub ldb: i32,
    /// Scale of the existing `C`.
    pub beta: T,
    /// Leading dimension of `C`.
    pub ldc: i32,
}

/// A device the GPU backend runs on. Work is ordered as issued (one stream); errors are strings,
/// turned into [`crate::NeuronError::Device`] by the backend.
pub trait Runtime: Send + Sync + 'static {
    /// The untyped device memory a kernel argument points to.
    type Raw: Send + Sync;
    /// A device buffer of `X`.
    type Buf<X: Elem>: Send + Sync;

    /// The device, for messages (e.g. `"cuda: NVIDIA H200"`).
    fn name(&self) -> String;
    /// A zero-filled buffer of `len` elements (at least one).
    fn alloc<X: Elem>(&self, len: usize) -> Result<Self::Buf<X>, String>;
    /// The buffer's length in elements.
    fn len<X: Elem>(buf: &Self::Buf<X>) -> usize;
    /// The memory a kernel argument for `buf` points to.
    fn raw<X: Elem>(buf: &Self::Buf<X>) -> &Self::Raw;
    /// Copies `src` into the start of `dst` (which is at least as long).
    fn htod<X: Elem>(&self, src: &[X], dst: &mut Self::Buf<X>) -> Result<(), String>;
    /// Copies the start of `src` into `dst`, waiting for the work before it.
    fn dtoh<X: Elem>(&self, src: &Self::Buf<X>, dst: &mut [X]) -> Result<(), String>;
    /// Copies the first `len` elements of `src` into `dst`.
    fn dtod<X: Elem>(
        &self,
        len: usize,
        src: &Self::Buf<X>,
        dst: &mut Self::Buf<X>,
    ) -> Result<(), String>;
    /// Queues kernel `name` on `grid` blocks of `block` threads.
    fn launch(
        &self,
        name: &str,
        grid: u32,
        block: u32,
        args: &[Arg<'_, Self::Raw>],
    ) -> Result<(), String>;
    /// Queues the product `cfg` (buffers as cuBLAS sees them).
    fn gemm<T: GpuFloat>(
        &self,
        cfg: &GemmCfg<T>,
        a: &Self::Buf<T>,
        b: &Self::Buf<T>,
        c: &mut Self::Buf<T>,
    ) -> Result<(), String>;
    /// Waits for all queued work.
    fn synchronize(&self) -> Result<(), String>;
    /// Lets `f32` products use TF32 tensor cores.
    fn set_tf32(&self, _on: bool) -> Result<(), String> {
        Err("TF32 is not available on this device".into())
    }
}
