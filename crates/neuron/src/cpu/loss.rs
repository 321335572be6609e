//! A loss and its gradient over a batch, the rows shared out among the threads.

use super::{kernels, sub, Cpu, CpuBuf, Ptr};
use crate::float::Float;
use crate::nn::loss::Loss;

/// Rows per part of a loss (and its gradient) over a larger batch, and the most parts.
const LOSS_ROWS: usize = 256;
const LOSS_MAX_PARTS: usize = 64;

impl<T: Float> Cpu<T> {
    /// [`crate::Backend::loss`]'s sums (Σ per-row loss, correct count), with ∂(mean loss)/∂output
    /// written into `grad`.
    pub(super) fn loss_sums(
        &self,
        loss: &Loss,
        rows: usize,
        cols: usize,
        output: &CpuBuf<T>,
        target: &CpuBuf<T>,
        grad: &mut CpuBuf<T>,
    ) -> (f64, f64) {
        // Rows are cut into parts whose size depends only on `rows`, so the sums do not depend
        // on the thread count; a batch of up to `LOSS_ROWS` rows is one part.
        let parts = rows.div_ceil(LOSS_ROWS).clamp(1, LOSS_MAX_PARTS);
        let step = rows.div_ceil(parts);
        let mut partial = [(0.0f64, 0.0f64); LOSS_MAX_PARTS];
        let (pp, gp) = (Ptr(partial.as_mut_ptr()), Ptr(grad.as_mut_ptr()));
        assert!(output.len() >= rows * cols && grad.len() >= rows * cols);
        self.split(rows, step, |r0, r1| {
            let (n, out) = (r1 - r0, &output[r0 * cols..r1 * cols]);
            // SAFETY: each part writes its own rows of `grad` and its own slot of `partial`.
            let g = unsafe { sub(gp, r0 * cols, r1 * cols) };
            let cells = || &target[r0 * cols..r1 * cols];
            let r = match *loss {
                Loss::Mse => kernels::mse(n, cols, rows, out, cells(), g),
                Loss::CrossEntropy { label_smoothing } => {
                    kernels::softmax_xent(n, cols, rows, label_smoothing, out, &target[r0..r1], g)
                }
                Loss::BinaryCrossEntropy => kernels::bce_logits(n, cols, rows, out, cells(), g),
            };
            let i = r0 / step;
            // SAFETY: as above.
            unsafe { sub(pp, i, i + 1)[0] = r };
        });
        partial[..parts]
            .iter()
            .fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::rng::Rng;

    /// A loss over more rows than one part: the same bits for every thread count, the same
    /// gradient as one pass over all rows, and the same sums up to rounding.
    #[test]
    fn losses_split_into_parts_match_one_pass() {
        let (rows, cols) = (700, 10);
        let mut r = Rng::new(5);
        let out: Vec<f64> = (0..rows * cols).map(|_| 3.0 * r.normal()).collect();
        let labels: Vec<f64> = (0..rows).map(|_| r.below(cols) as f64).collect();
        let cells: Vec<f64> = (0..rows * cols).map(|_| r.uniform()).collect();
        for loss in [
            Loss::Mse,
            Loss::cross_entropy(),
            Loss::CrossEntropy {
                label_smoothing: 0.1,
            },
            Loss::BinaryCrossEntropy,
        ] {
            let target = if matches!(loss, Loss::CrossEntropy { .. }) {
                &labels
            } else {
                &cells
            };
            let mut results = Vec::new();
            for threads in [1, 2, 3] {
                let cpu = Cpu::<f64>::with_threads(threads);
                let (o, t) = (cpu.upload(&out).unwrap(), cpu.upload(target).unwrap());
                let (mut g, mut acc) = (cpu.alloc(rows * cols).unwrap(), cpu.alloc(2).unwrap());
                cpu.loss(&loss, rows, cols, &o, &t, &mut g, &mut acc);
                results.push((g.to_vec(), acc.to_vec()));
            }
            assert!(results.windows(2).all(|w| w[0] == w[1]), "{loss:?}");
            let mut g = vec![0.0; rows * cols];
            let (sum, correct) = match loss {
                Loss::Mse => kernels::mse(rows, cols, rows, &out, target, &mut g),
                Loss::CrossEntropy { label_smoothing } => {
                    kernels::softmax_xent(rows, cols, rows, label_smoothing, &out, target, &mut g)
                }
                Loss::BinaryCrossEntropy => {
                    kernels::bce_logits(rows, cols, rows, &out, target, &mut g)
                }
            };
            let (split_g, acc) = &results[0];
            assert_eq!(split_g, &g, "{loss:?}");
            assert!((acc[0] - sum).abs() <= 1e-12 * sum.abs(), "{loss:?}");
            assert_eq!(acc[1], correct, "{loss:?}");
        }
    }
}
