//! Loss functions. Each computes the loss and its gradient with respect to the network's output in
//! one pass (the kernels live in the backend; the formulas are here).
//!
//! With `n` rows, `c` output columns, output `Y` (logits for the classification losses):
//!
//! | loss | value | gradient ∂L/∂Y |
//! | --- | --- | --- |
//! | [`Loss::Mse`] | `Σ (Y − T)² / (n·c)` (PyTorch `MSELoss`) | `2 (Y − T) / (n·c)` |
//! | [`Loss::CrossEntropy`] | `Σ_i [lse(Y_i) − Σ_j q_ij Y_ij] / n` | `(softmax(Y) − q) / n` |
//! | [`Loss::BinaryCrossEntropy`] | `Σ [max(y,0) − y·t + ln(1 + e^−│y│)] / (n·c)` | `(σ(Y) − T) / (n·c)` |
//!
//! where `lse` is the stable log-sum-exp and `q = (1 − ε)·onehot(label) + ε / c` the (optionally
//! label-smoothed) target distribution. Cross-entropy targets are class indices, one per row.

use serde::{Deserialize, Serialize};

use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::matrix::Matrix;

/// A training objective.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Loss {
    /// Mean squared error over all elements.
    Mse,
    /// Softmax cross-entropy from logits, targets are class indices.
    CrossEntropy {
        /// Label smoothing ε in `[0, 1)`; 0 disables it.
        #[serde(default)]
        label_smoothing: f64,
    },
    /// Sigmoid binary cross-entropy from logits, targets are 0 or 1 per output.
    BinaryCrossEntropy,
}

impl Loss {
    /// Softmax cross-entropy without label smoothing.
    pub fn cross_entropy() -> Loss {
        Loss::CrossEntropy {
            label_smoothing: 0.0,
        }
    }

    /// Number of target columns for a network with `outputs` outputs.
    pub fn target_cols(&self, outputs: usize) -> usize {
        match self {
            Loss::CrossEntropy { .. } => 1,
            _ => outputs,
        }
    }

    /// Whether the loss is a classification loss (accuracy is meaningful).
    pub fn is_classification(&self) -> bool {
        !matches!(self, Loss::Mse)
    }

    /// Probabilities from a model's outputs `[n, c]`: the softmax of each row for
    /// [`Loss::CrossEntropy`], the sigmoid of each output for [`Loss::BinaryCrossEntropy`]. A
    /// regression loss has none (an error).
    ///
    /// ```
    /// use neuron::{Loss, Matrix};
    /// let logits = Matrix::from_vec(1, 2, vec![0.0f64, 0.0])?;
    /// let p = Loss::cross_entropy().probabilities(&logits)?;
    /// assert_eq!(p.as_slice(), &[0.5, 0.5]);
    /// # Ok::<(), neuron::NeuronError>(())
    /// ```
    pub fn probabilities<E: Float>(&self, out: &Matrix<E>) -> Result<Matrix<E>> {
        let mut p = out.clone();
        self.probabilities_in_place(p.as_mut_slice(), out.cols())?;
        Ok(p)
    }

    /// [`Loss::probabilities`] in place, on rows of `cols` outputs stored one after another.
    pub fn probabilities_in_place<E: Float>(&self, out: &mut [E], cols: usize) -> Result<()> {
        match self {
            Loss::CrossEntropy { .. } => {
                for row in out.chunks_mut(cols.max(1)) {
                    let m = row.iter().copied().fold(E::neg_infinity(), E::max);
                    let mut s = E::zero();
                    for v in row.iter_mut() {
                        *v = (*v - m).exp();
                        s += *v;
                    }
                    row.iter_mut().for_each(|v| *v = *v / s);
                }
            }
            Loss::BinaryCrossEntropy => {
                for v in out {
                    *v = E::one() / (E::one() + (-*v).exp());
                }
            }
            Loss::Mse => {
                return Err(NeuronError::arg(
                    "a regression model (MSE loss) has no class probabilities",
                ))
            }
        }
        Ok(())
    }

    /// The loss of each row of outputs `out` (`[rows, cols]`, logits for the classification
    /// losses) against targets `t` (class indices for cross-entropy, else `[rows, cols]`), on the
    /// host, in f64: the terms whose sum the backend's loss kernel accumulates. Used to weigh rows
    /// (sample weights).
    pub fn row_losses<E: Float>(&self, out: &[E], t: &[E], rows: usize, cols: usize) -> Vec<f64> {
        let row = |r: usize| out[r * cols..(r + 1) * cols].iter().map(|v| v.f64());
        (0..rows)
            .map(|r| match *self {
                Loss::Mse => {
                    let ts = t[r * cols..(r + 1) * cols].iter().map(|v| v.f64());
                    row(r).zip(ts).map(|(y, t)| (y - t) * (y - t)).sum::<f64>() / cols as f64
                }
                Loss::CrossEntropy { label_smoothing } => {
                    let m = row(r).fold(f64::NEG_INFINITY, f64::max);
                    let lse = m + row(r).map(|y| (y - m).exp()).sum::<f64>().ln();
                    let label = (t[r].f64() as usize).min(cols - 1);
                    let (eps, x) = (label_smoothing, out[r * cols + label].f64());
                    lse - (1.0 - eps) * x - eps * row(r).sum::<f64>() / cols as f64
                }
                Loss::BinaryCrossEntropy => {
                    let ts = t[r * cols..(r + 1) * cols].iter().map(|v| v.f64());
                    row(r)
                        .zip(ts)
                        .map(|(y, t)| y.max(0.0) - y * t + (-y.abs()).exp().ln_1p())
                        .sum::<f64>()
                        / cols as f64
                }
            })
            .collect()
    }

    /// A short name: `mse`, `cross-entropy` or `bce`.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy { .. } => "cross-entropy",
            Loss::BinaryCrossEntropy => "bce",
        }
    }
}
