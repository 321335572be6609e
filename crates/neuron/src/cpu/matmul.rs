//! Matrix products on the CPU: one block per part of the output, the blocks shared out among the
//! threads, each computed single-threaded by the `faer` or `gemm` crate's kernels; and one sample
//! through a layer as dot products.
//!
//! Which crate computes a block depends on the CPU (`BENCHMARKS.md`, changes 10 and 12), measured
//! inside training runs with the choice flipped after every step:
//! - without AVX-512 (measured on an AMD Zen 3), `faer` was faster when the left operand's rows
//!   are contiguous (a layer's forward product `X·Wᵀ` and its input gradient `G·W`), and `gemm`
//!   when it is read transposed (the weight gradient `Gᵀ·X`); `f32` products follow that split;
//! - with AVX-512 on Intel (measured on a Xeon with two 512-bit FMA units per core), `gemm`'s
//!   AVX-512 kernels were faster for every product (steps 4–10 % shorter than with the split), so
//!   every product uses `gemm`;
//! - with AVX-512 on AMD (measured on a Zen 5), the split was faster again (steps 3–4 % shorter
//!   at batch 128 and on the wide model, 1–1.5 % longer at batch 1024), so AMD CPUs keep it.
//!
//! `f64` products (gradient checks) always take `gemm`, and so does everything when the `faer`
//! feature (on by default) is off. The choice is fixed for a given CPU, so results stay
//! bit-identical from run to run.

use super::{kernels, sub, Cpu, CpuBuf, Ptr, Team};
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
    /// Whether an `f32` block whose left operand has contiguous rows goes to `faer`.
    #[cfg_attr(not(feature = "faer"), allow(dead_code))]
    faer_rows: bool,
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
        #[cfg(feature = "faer")]
        if self.faer_rows
            && self.a_cs == 1
            && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        {
            // SAFETY: `T` is `f32` (checked just above), so the casts only rename the type;
            // the caller's promise covers the accesses.
            unsafe { self.run_faer_f32() };
            return;
        }
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

/// Whether `f32` products whose left operand has contiguous rows go to `faer` on this CPU: with
/// the `faer` feature, on AMD CPUs and on CPUs without AVX-512 (see the module documentation).
pub(super) fn faer_for_contiguous_rows() -> bool {
    #[cfg(all(feature = "faer", target_arch = "x86_64"))]
    {
        super::simd::level() < 2 || is_amd()
    }
    #[cfg(all(feature = "faer", not(target_arch = "x86_64")))]
    {
        true
    }
    #[cfg(not(feature = "faer"))]
    {
        false
    }
}

/// Whether the CPU's vendor string (CPUID leaf 0) is AMD's.
#[cfg(all(feature = "faer", target_arch = "x86_64"))]
fn is_amd() -> bool {
    // SAFETY: CPUID leaf 0 exists on every x86-64 CPU. (`__cpuid` is a safe function in newer
    // Rust releases than the oldest this crate supports, hence the `allow`.)
    #[allow(unused_unsafe)]
    let id = unsafe { std::arch::x86_64::__cpuid(0) };
    [id.ebx, id.edx, id.ecx]
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .eq(*b"AuthenticAMD")
}

#[cfg(feature = "faer")]
impl<T: Float> Gemm<T> {
    /// [`Gemm::run`] with `faer`'s kernels.
    ///
    /// # Safety
    /// As for [`Gemm::run`], and `T` must be `f32`.
    unsafe fn run_faer_f32(self) {
        let s = |x: usize| x as isize;
        // SAFETY: as the caller promises; the views cover exactly the product's operands.
        unsafe {
            let a = faer::MatRef::<f32>::from_raw_parts(
                self.a.0 as *const f32,
                self.m,
                self.k,
                s(self.a_rs),
                s(self.a_cs),
            );
            let b = faer::MatRef::<f32>::from_raw_parts(
                self.b.0 as *const f32,
                self.k,
                self.n,
                s(self.b_rs),
                s(self.b_cs),
            );
            let c = faer::MatMut::<f32>::from_raw_parts_mut(
                self.c.0 as *mut f32,
                self.m,
                self.n,
                s(self.ldc),
                1,
            );
            let beta = if self.accumulate {
                faer::Accum::Add
            } else {
                faer::Accum::Replace
            };
            faer::linalg::matmul::matmul(c, beta, a, b, 1.0f32, faer::Par::Seq);
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
        a: Operand<'_, CpuBuf<T>>,
        b: Operand<'_, CpuBuf<T>>,
        c: &mut CpuBuf<T>,
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
            faer_rows: self.faer_rows,
        };
        let macs = m * n * k;
        // Inside a part of a job (a slice of rows taken through the whole network), the team is
        // busy elsewhere: the product runs whole on this thread.
        let parts = if Team::nested() {
            1
        } else if macs >= BALANCED_MIN_MACS {
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

    /// The threaded (block-split) product equals a plain triple loop, for every transpose
    /// combination, both split directions, both element types and both kernel choices (so both
    /// kernel crates, whichever this CPU would pick), adding to `C` and overwriting it.
    #[test]
    fn split_products_match_the_definition() {
        check_products::<f64>(1e-9);
        check_products::<f32>(1e-3);
    }

    /// The CPUID vendor check agrees with the vendor Linux reports.
    #[cfg(all(feature = "faer", target_arch = "x86_64", target_os = "linux"))]
    #[test]
    fn vendor_matches_proc_cpuinfo() {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        if let Some(line) = info.lines().find(|l| l.starts_with("vendor_id")) {
            assert_eq!(is_amd(), line.ends_with("AuthenticAMD"), "{line}");
        }
    }

    fn check_products<T: Float>(tol: f64) {
        let mut r = Rng::new(1);
        for &(m, n, k) in &[
            (130, 300, 70),
            (300, 130, 70),
            (64, 1000, 33),
            (1, 700, 200),
            (1, 9, 5),
            (3, 2, 1),
            // ≥ BALANCED_MIN_MACS: two blocks per thread, claimed in turn.
            (520, 410, 320),
        ] {
            let a: Vec<f64> = (0..m * k).map(|_| r.normal()).collect();
            let b: Vec<f64> = (0..k * n).map(|_| r.normal()).collect();
            let to_t = |v: &[f64]| {
                CpuBuf::from_slice(&v.iter().map(|&x| T::of(x)).collect::<Vec<T>>()).unwrap()
            };
            let (a_t, b_t) = (to_t(&a), to_t(&b));
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let at = |i: usize, l: usize| if ta { a[l * m + i] } else { a[i * k + l] };
                let bt = |l: usize, j: usize| if tb { b[j * k + l] } else { b[l * n + j] };
                for (threads, faer_rows) in
                    [(1, false), (2, false), (3, false), (1, true), (2, true)]
                {
                    for accumulate in [true, false] {
                        let mut cpu = Cpu::<T>::with_threads(threads);
                        cpu.faer_rows = faer_rows && cfg!(feature = "faer");
                        let mut c = CpuBuf::from_slice(&vec![T::one(); m * n]).unwrap();
                        let (buf_a, buf_b) = (&a_t, &b_t);
                        cpu.matmul(
                            m,
                            n,
                            k,
                            Operand {
                                buf: buf_a,
                                transposed: ta,
                            },
                            Operand {
                                buf: buf_b,
                                transposed: tb,
                            },
                            &mut c,
                            accumulate,
                        );
                        let base = if accumulate { 1.0 } else { 0.0 };
                        for i in 0..m {
                            for j in 0..n {
                                let want = base + (0..k).map(|l| at(i, l) * bt(l, j)).sum::<f64>();
                                let got = c[i * n + j].f64();
                                assert!(
                                    (got - want).abs() < tol * (1.0 + want.abs()),
                                    "{} {m}×{n}×{k} {ta} {tb} t{threads} faer {faer_rows} acc {accumulate} ({i},{j}): {got} vs {want}",
                                    T::NAME
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
