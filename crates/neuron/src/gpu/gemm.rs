//! Row-major products on a column-major BLAS (cuBLAS).

use super::{GemmCfg, GpuFloat};

/// The column-major product for row-major `C[m×n] (+)= op(A)·op(B)`: a row-major matrix reads
/// column-major as its transpose, so the device computes `Cᵀ = op(B)ᵀ·op(A)ᵀ`, with B's storage
/// passed first. `None` when a size exceeds the 32-bit dimensions of cuBLAS.
pub fn gemm_config<T: GpuFloat>(
    m: usize,
    n: usize,
    k: usize,
    a_transposed: bool,
    b_transposed: bool,
    accumulate: bool,
) -> Option<GemmCfg<T>> {
    let fits = |v: usize| i32::try_from(v).ok();
    let (mi, ni, ki) = (fits(m)?, fits(n)?, fits(k)?);
    // B stored [k×n] reads column-major as [n×k] = op(B)ᵀ already; stored [n×k] it needs a
    // transpose. Likewise A.
    Some(GemmCfg {
        trans_a: b_transposed,
        trans_b: a_transposed,
        m: ni,
        n: mi,
        k: ki,
        alpha: T::one(),
        lda: if b_transposed { ki } else { ni },
        ldb: if a_transposed { mi } else { ki },
        beta: if accumulate { T::one() } else { T::zero() },
        ldc: ni,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cuBLAS's `gemm` semantics (column-major), written out: `C = α·op(A)·op(B) + β·C`.
    fn reference_gemm(cfg: &GemmCfg<f64>, a: &[f64], b: &[f64], c: &mut [f64]) {
        let (m, n, k) = (cfg.m as usize, cfg.n as usize, cfg.k as usize);
        let (lda, ldb, ldc) = (cfg.lda as usize, cfg.ldb as usize, cfg.ldc as usize);
        let op_a = |i: usize, l: usize| {
            if cfg.trans_a {
                a[l + i * lda]
            } else {
                a[i + l * lda]
            }
        };
        let op_b = |l: usize, j: usize| {
            if cfg.trans_b {
                b[j + l * ldb]
            } else {
                b[l + j * ldb]
            }
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
