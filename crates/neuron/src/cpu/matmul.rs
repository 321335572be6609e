//! Matrix products on the CPU: the `gemm` crate's kernels, one block per part of the output,
//! the blocks shared out among the threads; and one sample through a layer as dot products.

use super::{kernels, sub, Cpu, Ptr};
use crate::backend::Operand;
use crate::float::Float;

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

impl<T: Float> Cpu<T> {
    /// [`crate::Backend::matmul`]: small products on the calling thread, larger ones cut into blocks
    /// computed by the team, one sample through a layer by [`kernels::vec_mat_t`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn product(
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
            let f = |i: usize| {
                let (s, e) = (i * chunk, ((i + 1) * chunk).min(n));
                // SAFETY: disjoint ranges of `c`, one per part.
                kernels::vec_mat_t(x, &w[s * k..e * k], k, unsafe { sub(cp, s, e) }, accumulate)
            };
            self.team.run_pinned(n.div_ceil(chunk), &f);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
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
