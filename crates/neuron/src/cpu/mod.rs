//! The CPU backend: `Vec<T>` buffers, `gemm` for matrix products, plain loops (auto-vectorised)
//! for everything else.

mod kernels;
pub(crate) mod simd;
mod team;
mod update;

use std::marker::PhantomData;

use team::Team;

use crate::activation::Activation;
use crate::adam::AdamHyper;
use crate::augment::Augment;
use crate::backend::{Backend, Operand};
use crate::error::Result;
use crate::float::Float;
use crate::loss::Loss;
use crate::rmsprop::RmsPropHyper;
use crate::sgd::SgdHyper;

/// Products with fewer multiply-adds than this run on one thread: splitting small products
/// between threads costs more than it saves.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// Products with at least this many multiply-adds are cut into two blocks per thread, which the
/// threads claim in turn: when the machine delays one thread, the other takes over a block
/// instead of waiting (about 6 % at batch 1024 on a shared 2-core machine). Smaller products keep
/// one block per thread, where a block's fixed cost would outweigh the balance.
const BALANCED_MIN_MACS: usize = 1 << 26;

/// One sample through a layer with at least this many weights is split across threads: besides
/// the arithmetic, each core then streams only its share of the weights, which can stay in its
/// own cache from one call to the next.
const GEMV_PARALLEL_MIN: usize = 1 << 14;

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

/// One row-major product `C[m×n] (+)= A[m×k]·B[k×n]` with explicit strides (in elements).
#[derive(Clone, Copy)]
struct Gemm<T> {
    m: usize,
    n: usize,
    k: usize,
    a: Ptr<T>,
    a_rs: usize,
    a_cs: usize,
    b: Ptr<T>,
    b_rs: usize,
    b_cs: usize,
    c: Ptr<T>,
    /// Row stride of C (the full product's `n`, also for column blocks).
    ldc: usize,
    accumulate: bool,
}

impl<T: Float> Gemm<T> {
    /// The block of output columns `[j, j + size)`.
    fn columns(mut self, j: usize, size: usize) -> Self {
        // SAFETY (pointer offsets): j < n, so both stay inside their buffers.
        self.b = Ptr(unsafe { self.b.0.add(j * self.b_cs) });
        self.c = Ptr(unsafe { self.c.0.add(j) });
        self.n = size;
        self
    }

    /// The block of output rows `[i, i + size)`.
    fn rows(mut self, i: usize, size: usize) -> Self {
        // SAFETY (pointer offsets): i < m, so both stay inside their buffers.
        self.a = Ptr(unsafe { self.a.0.add(i * self.a_rs) });
        self.c = Ptr(unsafe { self.c.0.add(i * self.ldc) });
        self.m = size;
        self
    }

    /// # Safety
    /// Every strided access must lie inside live buffers, and the output must not be aliased.
    unsafe fn run(self) {
        unsafe {
            gemm::gemm(
                self.m,
                self.n,
                self.k,
                self.c.0,
                1,
                self.ldc as isize,
                self.accumulate,
                self.a.0,
                self.a_cs as isize,
                self.a_rs as isize,
                self.b.0,
                self.b_cs as isize,
                self.b_rs as isize,
                T::one(),
                T::one(),
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }
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

    /// Calls `f(start, end)` for consecutive ranges of `chunk` elements covering `0..n`, one
    /// range per thread, in parallel.
    fn split(&self, n: usize, chunk: usize, f: impl Fn(usize, usize) + Sync) {
        let chunk = chunk.max(1);
        let parts = n.div_ceil(chunk);
        if parts <= 1 {
            f(0, n);
            return;
        }
        self.team
            .run(parts, &|i| f(i * chunk, ((i + 1) * chunk).min(n)));
    }

    /// Rows per parallel chunk for a pass over `rows × cols`.
    fn row_chunk(&self, rows: usize, cols: usize) -> usize {
        (self.chunk(rows * cols, cols.max(1)) / cols.max(1)).max(1)
    }
}

impl<T: Float> Backend for Cpu<T> {
    type E = T;
    type Buf = Vec<T>;
    type Idx = Vec<usize>;

    fn name(&self) -> String {
        format!(
            "cpu ({} thread{}, {})",
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            T::NAME
        )
    }

    fn alloc(&self, len: usize) -> Result<Vec<T>> {
        Ok(vec![T::zero(); len])
    }

    fn upload(&self, data: &[T]) -> Result<Vec<T>> {
        Ok(data.to_vec())
    }

    fn write(&self, data: &[T], buf: &mut Vec<T>) -> Result<()> {
        if buf.len() < data.len() {
            return Err(crate::NeuronError::shape(
                "write",
                format!("at most {} elements", buf.len()),
                data.len(),
            ));
        }
        buf[..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn download(&self, buf: &Vec<T>, out: &mut [T]) -> Result<()> {
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

    fn copy(&self, len: usize, src: &Vec<T>, dst: &mut Vec<T>) {
        dst[..len].copy_from_slice(&src[..len]);
    }

    fn fill(&self, len: usize, v: T, buf: &mut Vec<T>) {
        buf[..len].fill(v);
    }

    fn matmul(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand<'_, Vec<T>>,
        b: Operand<'_, Vec<T>>,
        c: &mut Vec<T>,
        accumulate: bool,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        assert!(a.buf.len() >= m * k && b.buf.len() >= k * n && c.len() >= m * n);
        if k == 0 {
            if !accumulate {
                c[..m * n].fill(T::zero());
            }
            return;
        }
        if m == 1 && !a.transposed && b.transposed {
            // One sample through a dense layer: dot products with W's rows, split across threads.
            let (x, w, cp) = (&a.buf[..k], &b.buf[..n * k], Ptr(c.as_mut_ptr()));
            let chunk = if n * k >= GEMV_PARALLEL_MIN {
                n.div_ceil(self.threads).next_multiple_of(8)
            } else {
                n
            };
            let parts = n.div_ceil(chunk);
            let f = |i: usize| {
                let (s, e) = (i * chunk, ((i + 1) * chunk).min(n));
                // SAFETY: disjoint ranges of `c`, one per part.
                kernels::vec_mat_t(x, &w[s * k..e * k], k, unsafe { sub(cp, s, e) }, accumulate)
            };
            if parts <= 1 {
                f(0);
            } else {
                self.team.run_pinned(parts, &f);
            }
            return;
        }
        // Row-major strides; a transposed operand is the stored matrix read column-wise.
        let (a_rs, a_cs) = if a.transposed { (1, m) } else { (k, 1) };
        let (b_rs, b_cs) = if b.transposed { (1, k) } else { (n, 1) };
        let full = Gemm {
            m,
            n,
            k,
            a: Ptr(a.buf.as_ptr() as *mut T),
            a_rs,
            a_cs,
            b: Ptr(b.buf.as_ptr() as *mut T),
            b_rs,
            b_cs,
            c: Ptr(c.as_mut_ptr()),
            ldc: n,
            accumulate,
        };
        let macs = m * n * k;
        let parts = if macs >= BALANCED_MIN_MACS {
            self.threads * 2
        } else if macs >= PARALLEL_MIN_MACS {
            self.threads
        } else {
            1
        };
        if parts <= 1 {
            // SAFETY: the asserts above keep every access inside the buffers; `c` is exclusive.
            unsafe { full.run() };
            return;
        }
        // Split the output into `parts` blocks along its longer side; each block is computed
        // single-threaded by whichever thread claims it. The partition is fixed, so results do
        // not depend on scheduling.
        let along_n = n >= m;
        let len = if along_n { n } else { m };
        let step = len.div_ceil(parts).next_multiple_of(16).min(len);
        self.split(len, step, |start, end| {
            let part = if along_n {
                full.columns(start, end - start)
            } else {
                full.rows(start, end - start)
            };
            // SAFETY: the blocks are disjoint parts of `c`, and their operands lie inside `a` and
            // `b`, which outlive the call.
            unsafe { part.run() }
        });
    }

    fn bias_act(
        &self,
        act: Activation,
        rows: usize,
        cols: usize,
        bias: Option<&Vec<T>>,
        z: &mut Vec<T>,
        y: &mut Vec<T>,
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

    fn act_forward(&self, act: Activation, n: usize, x: &Vec<T>, y: &mut Vec<T>) {
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
        z: &Vec<T>,
        y: &Vec<T>,
        gy: &Vec<T>,
        gz: &mut Vec<T>,
    ) {
        let (z, y, gy, gp) = (&z[..n], &y[..n], &gy[..n], Ptr(gz[..n].as_mut_ptr()));
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            kernels::act_backward(act, &z[s..e], &y[s..e], &gy[s..e], unsafe { sub(gp, s, e) })
        });
    }

    fn col_sum(&self, rows: usize, cols: usize, g: &Vec<T>, out: &mut Vec<T>) {
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

    fn softmax(&self, rows: usize, cols: usize, x: &Vec<T>, y: &mut Vec<T>) {
        let (x, yp) = (&x[..rows * cols], Ptr(y[..rows * cols].as_mut_ptr()));
        self.split(rows * cols, self.row_chunk(rows, cols) * cols, |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            kernels::softmax((e - s) / cols, cols, &x[s..e], unsafe { sub(yp, s, e) })
        });
    }

    fn softmax_backward(&self, rows: usize, cols: usize, y: &Vec<T>, gy: &Vec<T>, gx: &mut Vec<T>) {
        let n = rows * cols;
        let (y, gy, gp) = (&y[..n], &gy[..n], Ptr(gx[..n].as_mut_ptr()));
        self.split(n, self.row_chunk(rows, cols) * cols, |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            kernels::softmax_backward((e - s) / cols, cols, &y[s..e], &gy[s..e], unsafe {
                sub(gp, s, e)
            })
        });
    }

    fn dropout(&self, n: usize, p: f64, seed: u64, x: &Vec<T>, mask: &mut Vec<T>, y: &mut Vec<T>) {
        let (x, mp, yp) = (
            &x[..n],
            Ptr(mask[..n].as_mut_ptr()),
            Ptr(y[..n].as_mut_ptr()),
        );
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            let (m, y) = unsafe { (sub(mp, s, e), sub(yp, s, e)) };
            kernels::dropout(p, seed, s as u64, &x[s..e], m, y)
        });
    }

    fn mul(&self, n: usize, a: &Vec<T>, b: &Vec<T>, out: &mut Vec<T>) {
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
        src: &Vec<T>,
        idx: &Vec<usize>,
        start: usize,
        rows: usize,
        dst: &mut Vec<T>,
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
        src: &Vec<T>,
        dst: &mut Vec<T>,
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
                    r,
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
        output: &Vec<T>,
        target: &Vec<T>,
        grad: &mut Vec<T>,
        acc: &mut Vec<T>,
    ) {
        let (sum, correct) = match *loss {
            Loss::Mse => kernels::mse(rows, cols, output, target, grad),
            Loss::CrossEntropy { label_smoothing } => {
                kernels::softmax_xent(rows, cols, label_smoothing, output, target, grad)
            }
            Loss::BinaryCrossEntropy => kernels::bce_logits(rows, cols, output, target, grad),
        };
        acc[0] += T::of(sum);
        acc[1] += T::of(correct);
    }

    fn sum_squares(&self, n: usize, x: &Vec<T>) -> f64 {
        x[..n].iter().map(|&v| v.f64() * v.f64()).sum()
    }

    fn all_finite(&self, n: usize, x: &Vec<T>) -> bool {
        x[..n].iter().all(|v| v.is_finite())
    }

    fn scale(&self, n: usize, s: T, x: &mut Vec<T>) {
        x[..n].iter_mut().for_each(|v| *v *= s);
    }

    fn sgd_update(
        &self,
        n: usize,
        h: &SgdHyper,
        w: &mut Vec<T>,
        g: &Vec<T>,
        vel: Option<&mut Vec<T>>,
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
        w: &mut Vec<T>,
        g: &Vec<T>,
        m: &mut Vec<T>,
        v: &mut Vec<T>,
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
        w: &mut Vec<T>,
        g: &Vec<T>,
        sq: &mut Vec<T>,
    ) {
        let (g, wp, sp) = (&g[..n], Ptr(w[..n].as_mut_ptr()), Ptr(sq[..n].as_mut_ptr()));
        self.split(n, self.chunk(n, 64), |s, e| {
            // SAFETY: disjoint ranges (see `split`).
            let (w, sq) = unsafe { (sub(wp, s, e), sub(sp, s, e)) };
            update::rmsprop(h, w, &g[s..e], sq)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The threaded (block-split) product equals a plain triple loop, for every transpose combination
    /// and both split directions.
    #[test]
    fn split_products_match_the_definition() {
        let mut r = Rng::new(1);
        for &(m, n, k) in &[
            (130, 300, 70),
            (300, 130, 70),
            (64, 1000, 33),
            (1, 700, 200),
            (1, 9, 5),
            // ≥ BALANCED_MIN_MACS: two blocks per thread, claimed in turn.
            (520, 410, 320),
        ] {
            let a: Vec<f64> = (0..m * k).map(|_| r.normal()).collect();
            let b: Vec<f64> = (0..k * n).map(|_| r.normal()).collect();
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let at = |i: usize, l: usize| if ta { a[l * m + i] } else { a[i * k + l] };
                let bt = |l: usize, j: usize| if tb { b[j * k + l] } else { b[l * n + j] };
                for threads in [1, 2, 3] {
                    let cpu = Cpu::<f64>::with_threads(threads);
                    let mut c = vec![1.0; m * n];
                    cpu.matmul(
                        m,
                        n,
                        k,
                        Operand {
                            buf: &a,
                            transposed: ta,
                        },
                        Operand {
                            buf: &b,
                            transposed: tb,
                        },
                        &mut c,
                        true,
                    );
                    for i in 0..m {
                        for j in 0..n {
                            let want = 1.0 + (0..k).map(|l| at(i, l) * bt(l, j)).sum::<f64>();
                            assert!(
                                (c[i * n + j] - want).abs() < 1e-9,
                                "{m}×{n}×{k} {ta} {tb} t{threads} ({i},{j})"
                            );
                        }
                    }
                }
            }
        }
    }
}
