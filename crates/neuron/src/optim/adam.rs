//! Adam and AdamW.
//!
//! With gradient `g` (scaled by the clipping factor), step `t` (from 1), moments `m`, `v`:
//!
//! ```text
//! Adam:   g ← g + λw                     (L2 decay, coupled)
//! AdamW:  w ← w·(1 − α·λ)                (decoupled decay)
//! m ← β1·m + (1 − β1)·g
//! v ← β2·v + (1 − β2)·g²
//! w ← w − α·(m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
//! ```
//!
//! as `torch.optim.Adam` / `torch.optim.AdamW` compute it.

/// Hyper-parameters of one Adam or AdamW update.
#[derive(Clone, Copy, Debug)]
pub struct AdamHyper {
    /// Learning rate α.
    pub lr: f64,
    /// First-moment decay β1.
    pub beta1: f64,
    /// Second-moment decay β2.
    pub beta2: f64,
    /// ε added to the denominator.
    pub eps: f64,
    /// Weight decay λ.
    pub weight_decay: f64,
    /// Decoupled decay (AdamW) rather than L2 added to the gradient (Adam).
    pub decoupled: bool,
    /// Step number t, starting at 1.
    pub step: u64,
    /// Factor applied to the gradient first (gradient-norm clipping); 1 when not clipping.
    pub grad_scale: f64,
}
