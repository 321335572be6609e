//! The CPU backend: 64-byte-aligned [`CpuBuf`] buffers, the `gemm` and `faer` crates for matrix
//! products, plain loops (vectorised for the CPU at run time) for everything else.

mod buffer;
mod infer;
mod kernels;
mod loss;
mod matmul;
#[cfg(target_arch = "x86_64")]
mod packed;
mod pages;
mod same_type;
pub(crate) mod simd;
mod team;
mod update;
mod vmath;

use std::marker::PhantomData;

pub use buffer::CpuBuf;
use team::Team;

use crate::backend::{Backend, Operand};
use crate::data::augment::Augment;
use crate::error::Result;
use crate::float::Float;
use crate::nn::activation::Activation;
use crate::nn::loss::Loss;
use crate::optim::adam::AdamHyper;
use crate::optim::rmsprop::RmsPropHyper;
use crate::optim::sgd::SgdHyper;

/// Element-wise passes over fewer elements than this run on one thread.
const PARALLEL_MIN_ELEMS: usize = 1 << 15;

/// A raw pointer that may cross threads (each thread touches a disjoint part).
#[derive(Clone, Copy)]
struct Ptr<T>(*mut T);
// SAFETY: `Ptr` is only used for disjoint blocks of buffers that outlive the threads using them.
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}

/// The elements `s..e` of the buffer at `p`.
///
/// # Safety
/// `s..e` must lie inside the buffer, and no other live reference may overlap it.
unsafe fn sub<'a, T>(p: Ptr<T>, s: usize, e: usize) -> &'a mut [T] {
    unsafe { std::slice::from_raw_parts_mut(p.0.add(s), e - s) }
}

/// Computes on the CPU in `T` (`f32` or `f64`), using up to `threads` threads for large products.
///
/// ```
/// use neuron::{Backend, Cpu};
/// let cpu = Cpu::<f32>::new();
/// let buf = cpu.upload(&[1.0, 2.0]).unwrap();
/// let mut out = [0.0; 2];
/// cpu.download(&buf, &mut out).unwrap();
/// assert_eq!(out, [1.0, 2.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Cpu<T> {
    threads: usize,
    team: Team,
    /// Whether `f32` products whose left operand has contiguous rows use `faer`'s kernels (see
    /// `matmul.rs`).
    faer_rows: bool,
    _t: PhantomData<T>,
}

impl<T> Default for Cpu<T> {
    fn default() -> Self {
        Self::with_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

impl<T> Cpu<T> {
    /// A CPU backend using every available core.
    pub fn new() -> Self {
        Self::default()
    }

    /// A CPU backend using at most `threads` threads (at least 1) for matrix products.
    pub fn with_threads(threads: usize) -> Self {
        let threads = threads.max(1);
        Cpu {
            threads,
            team: Team::get(threads),
            faer_rows: matmul::faer_for_contiguous_rows(),
            _t: PhantomData,
        }
    }

    /// The number of threads used for large products.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Elements per parallel chunk for a pass over `n` elements: all of them when the pass is
    /// small or there is one thread, else an even share per thread, a multiple of `align`.
    fn chunk(&self, n: usize, align: usize) -> usize {
        if self.threads <= 1 || n < PARALLEL_MIN_ELEMS {
            n.max(1)
        } else {
            n.div_ceil(self.threads).next_multiple_of(align.max(1))
        }
    }

    /// Calls `f(start, end)` for consecutive ranges of `chunk` elements covering `0..n`, in
    /// parallel, the threads taking ranges in turn.
    fn split(&self, n: usize, chunk: usize, f: impl Fn(usize, usize) + Sync) {
        let chunk = chunk.max(1);
        // One part runs on the calling thread without involving the team.
        self.team.run(n.div_ceil(chunk), &|i| {
            f(i * chunk, ((i + 1) * chunk).min(n))
        });
    }

    /// Rows per parallel chunk for a pass over `rows × cols`.
    fn row_chunk(&self, rows: usize, cols: usize) -> usize {
        (self.chunk(rows * cols, cols.max(1)) / cols.max(1)).max(1)
    }
}

/// Copies of at least this many elements are shared among the threads.
const COPY_PARALLEL_MIN: usize = 1 << 17;

impl<T: Float> Backend for Cpu<T> {
    type E = T;
    type Buf = CpuBuf<T>;
    type Idx = Vec<usize>;

    fn name(&self) -> String {
        format!(
            "cpu ({} thread{}, {})",
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            T::NAME
        )
    }

    fn concurrency(&self) -> usize {
        self.team.size()
    }

    fn run_parts(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        self.team.run(parts, f)
    }

    fn alloc(&self, len: usize) -> Result<CpuBuf<T>> {
        CpuBuf::zeroed(len)
    }

    fn upload(&self, data: &[T]) -> Result<CpuBuf<T>> {
        pages::copy_of(data)
    }

    fn with_host(
        &self,
        data: &[T],
        _scratch: &mut CpuBuf<T>,
        f: &mut dyn FnMut(&CpuBuf<T>),
    ) -> Result<()> {
        CpuBuf::lend(data, |buf| f(buf));
        Ok(())
    }

    fn write(&self, data: &[T], buf: &mut CpuBuf<T>) -> Result<()> {
        if buf.len() < data.len() {
            return Err(crate::NeuronError::shape(
                "write",
                format!("at most {} elements", buf.len()),
                data.len(),
            ));
        }
        // Large inputs (a batch of images) are copied by every thread, each its own part.
        let n = data.len();
        if n < COPY_PARALLEL_MIN {
            buf[..n].copy_from_slice(data);
            return Ok(());
        }
        let dst = Ptr(buf[..n].as_mut_ptr());
        self.split(n, self.chunk(n, 1 << 10), |s, e| {
            // SAFETY: `split` hands out disjoint ranges inside the buffer.
            unsafe { sub(dst, s, e) }.copy_from_slice(&data[s..e]);
        });
        Ok(())
    }

    fn download(&self, buf: &CpuBuf<T>, out: &mut [T]) -> Result<()> {
        if buf.len() < out.len() {
            return Err(crate::NeuronError::shape(
                "download",
                format!("at least {} elements", out.len()),
                buf.len(),
            ));
        }
        out.copy_from_slice(&buf[..out.len()]);
        Ok(())
    }

    fn copy(&self, len: usize, src: &CpuBuf<T>, dst: &mut CpuBuf<T>) {
        dst[..len].copy_from_slice(&src[..len]);
    }

    fn fill(&self, len: usize, v: T, buf: &mut CpuBuf<T>) {
        buf[..len].fill(v);
    }

    fn matmul(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand<'_, CpuBuf<T>>,
        b: Operand<'_, CpuBuf<T>>,
        c: &mut CpuBuf<T>,
        accumulate: bool,
    ) {
        self.product(m, n, k, a, b, c, accumulate)
    }

    fn bias_act(
        &self,
        act: Activation,
        rows: usize,
        cols: usize,
        bias: Option<&CpuBuf<T>>,
        z: &mut CpuBuf<T>,
        y: &mut CpuBuf<T>,
    ) {
        let bias = bias.map(|b| &b[..cols]);
        let (zp, yp) = (
            Ptr(z[..rows * cols].as_mut_ptr()),
            Ptr(y[..rows * cols].as_mut_ptr()),
        );
        self.split(rows * cols, self.row_chunk(rows, cols) * cols, |s, e| {
            // SAFETY: `split` hands out disjoint ranges inside the buffers.
            let (z, y) = unsafe { (sub(zp, s, e), sub(yp, s, e)) };
            kernels::bias_act(act, (e - s) / cols, cols, bias, z, y)
        });
    }

    fn inference_weights(&self, outputs: usize, inputs: usize, w: &CpuBuf<T>) -> Result<CpuBuf<T>> {
        Cpu::inference_weights(self, outputs, inputs, w)
    }

    fn dense_infer(
        &self,
        act: Activation,
        shape: (usize, usize, usize),
        x: &CpuBuf<T>,
        wb: (&CpuBuf<T>, &CpuBuf<T>),
        z: &mut CpuBuf<T>,
        y: &mut CpuBuf<T>,
    ) {
        Cpu::dense_infer(self, act, shape, x, wb, z, y)
    }

    fn infers_any_width(&self) -> bool {
        self.packs_weights()
    }

    fn act_forward(&self, act: Activation, n: usize, x: &CpuBuf<T>, y: &mut CpuBuf<T>) {
        let (x, yp) = (&x[..n], Ptr(y[..n].as_mut_ptr()));
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            kernels::act_forward(act, &x[s..e], unsafe { sub(yp, s, e) })
        });
    }

    fn act_backward(
        &self,
        act: Activation,
        n: usize,
        z: &CpuBuf<T>,
        y: &CpuBuf<T>,
        gy: &CpuBuf<T>,
        gz: &mut CpuBuf<T>,
    ) {
        let (z, y, gy, gp) = (&z[..n], &y[..n], &gy[..n], Ptr(gz[..n].as_mut_ptr()));
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            kernels::act_backward(act, &z[s..e], &y[s..e], &gy[s..e], unsafe { sub(gp, s, e) })
        });
    }

    fn col_sum(&self, rows: usize, cols: usize, g: &CpuBuf<T>, out: &mut CpuBuf<T>) {
        let (g, op) = (&g[..rows * cols], Ptr(out[..cols].as_mut_ptr()));
        // Split by columns: each thread sums whole columns, so the result does not depend on
        // the number of threads.
        let chunk = if self.threads <= 1 || rows * cols < PARALLEL_MIN_ELEMS {
            cols
        } else {
            cols.div_ceil(self.threads).next_multiple_of(16)
        };
        self.split(cols, chunk, |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            kernels::col_sum(rows, cols, s, g, unsafe { sub(op, s, e) })
        });
    }

    fn softmax(&self, rows: usize, cols: usize, x: &CpuBuf<T>, y: &mut CpuBuf<T>) {
        let (x, yp) = (&x[..rows * cols], Ptr(y[..rows * cols].as_mut_ptr()));
        self.split(rows * cols, self.row_chunk(rows, cols) * cols, |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            kernels::softmax((e - s) / cols, cols, &x[s..e], unsafe { sub(yp, s, e) })
        });
    }

    fn softmax_backward(
        &self,
        rows: usize,
        cols: usize,
        y: &CpuBuf<T>,
        gy: &CpuBuf<T>,
        gx: &mut CpuBuf<T>,
    ) {
        let n = rows * cols;
        let (y, gy, gp) = (&y[..n], &gy[..n], Ptr(gx[..n].as_mut_ptr()));
        self.split(n, self.row_chunk(rows, cols) * cols, |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            kernels::softmax_backward((e - s) / cols, cols, &y[s..e], &gy[s..e], unsafe {
                sub(gp, s, e)
            })
        });
    }

    fn dropout(
        &self,
        n: usize,
        p: f64,
        seed: u64,
        first: u64,
        x: &CpuBuf<T>,
        mask: &mut CpuBuf<T>,
        y: &mut CpuBuf<T>,
    ) {
        let (x, mp, yp) = (
            &x[..n],
            Ptr(mask[..n].as_mut_ptr()),
            Ptr(y[..n].as_mut_ptr()),
        );
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            let (m, y) = unsafe { (sub(mp, s, e), sub(yp, s, e)) };
            kernels::dropout(p, seed, first + s as u64, &x[s..e], m, y)
        });
    }

    fn mul(&self, n: usize, a: &CpuBuf<T>, b: &CpuBuf<T>, out: &mut CpuBuf<T>) {
        let (a, b, op) = (&a[..n], &b[..n], Ptr(out[..n].as_mut_ptr()));
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            let o = unsafe { sub(op, s, e) };
            for ((o, &x), &y) in o.iter_mut().zip(&a[s..e]).zip(&b[s..e]) {
                *o = x * y;
            }
        });
    }

    fn upload_indices(&self, idx: &[usize]) -> Result<Vec<usize>> {
        Ok(idx.to_vec())
    }

    fn gather_rows(
        &self,
        cols: usize,
        src: &CpuBuf<T>,
        idx: &Vec<usize>,
        start: usize,
        rows: usize,
        dst: &mut CpuBuf<T>,
    ) {
        let idx = &idx[start..start + rows];
        let dp = Ptr(dst[..rows * cols].as_mut_ptr());
        self.split(rows, self.row_chunk(rows, cols), |s, e| {
            // SAFETY: disjoint row ranges (see `split`).
            let d = unsafe { sub(dp, s * cols, e * cols) };
            for (d, &i) in d.chunks_exact_mut(cols).zip(&idx[s..e]) {
                d.copy_from_slice(&src[i * cols..(i + 1) * cols]);
            }
        });
    }

    fn augment_images(
        &self,
        aug: &Augment,
        rows: usize,
        seed: u64,
        first: usize,
        src: &CpuBuf<T>,
        dst: &mut CpuBuf<T>,
    ) {
        let px = aug.height * aug.width;
        let dp = Ptr(dst[..rows * px].as_mut_ptr());
        let src = &src[..rows * px];
        self.split(rows, self.row_chunk(rows, px), |s, e| {
            // SAFETY: disjoint row ranges (see `split`).
            let d = unsafe { sub(dp, s * px, e * px) };
            for (i, r) in (s..e).enumerate() {
                aug.apply(
                    seed,
                    first + r,
                    &src[r * px..(r + 1) * px],
                    &mut d[i * px..(i + 1) * px],
                );
            }
        });
    }

    fn loss(
        &self,
        loss: &Loss,
        rows: usize,
        cols: usize,
        output: &CpuBuf<T>,
        target: &CpuBuf<T>,
        grad: &mut CpuBuf<T>,
        acc: &mut CpuBuf<T>,
    ) {
        let (sum, correct) = self.loss_sums(loss, rows, cols, output, target, grad);
        acc[0] += T::of(sum);
        acc[1] += T::of(correct);
    }

    fn sum_squares(&self, n: usize, x: &CpuBuf<T>) -> f64 {
        x[..n].iter().map(|&v| v.f64() * v.f64()).sum()
    }

    fn all_finite(&self, n: usize, x: &CpuBuf<T>) -> bool {
        x[..n].iter().all(|v| v.is_finite())
    }

    fn scale(&self, n: usize, s: T, x: &mut CpuBuf<T>) {
        x[..n].iter_mut().for_each(|v| *v *= s);
    }

    fn sgd_update(
        &self,
        n: usize,
        h: &SgdHyper,
        w: &mut CpuBuf<T>,
        g: &CpuBuf<T>,
        vel: Option<&mut CpuBuf<T>>,
    ) {
        let (g, wp) = (&g[..n], Ptr(w[..n].as_mut_ptr()));
        let vp = vel.map(|v| Ptr(v[..n].as_mut_ptr()));
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            let (w, v) = unsafe { (sub(wp, s, e), vp.map(|vp| sub(vp, s, e))) };
            update::sgd(h, w, &g[s..e], v)
        });
    }

    fn adam_update(
        &self,
        n: usize,
        h: &AdamHyper,
        w: &mut CpuBuf<T>,
        g: &CpuBuf<T>,
        m: &mut CpuBuf<T>,
        v: &mut CpuBuf<T>,
    ) {
        let (g, wp, mp, vp) = (
            &g[..n],
            Ptr(w[..n].as_mut_ptr()),
            Ptr(m[..n].as_mut_ptr()),
            Ptr(v[..n].as_mut_ptr()),
        );
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            let (w, m, v) = unsafe { (sub(wp, s, e), sub(mp, s, e), sub(vp, s, e)) };
            update::adam(h, w, &g[s..e], m, v)
        });
    }

    fn rmsprop_update(
        &self,
        n: usize,
        h: &RmsPropHyper,
        w: &mut CpuBuf<T>,
        g: &CpuBuf<T>,
        sq: &mut CpuBuf<T>,
    ) {
        let (g, wp, sp) = (&g[..n], Ptr(w[..n].as_mut_ptr()), Ptr(sq[..n].as_mut_ptr()));
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            let (w, sq) = unsafe { (sub(wp, s, e), sub(sp, s, e)) };
            update::rmsprop(h, w, &g[s..e], sq)
        });
    }
}
