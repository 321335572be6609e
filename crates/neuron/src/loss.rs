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

    /// A short name: `mse`, `cross-entropy` or `bce`.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy { .. } => "cross-entropy",
            Loss::BinaryCrossEntropy => "bce",
        }
    }
}
