//! RMSprop.
//!
//! ```text
//! g ← s·g + λw
//! r ← ρ·r + (1 − ρ)·g²
//! w ← w − α·g / (√r + ε)
//! ```
//!
//! as `torch.optim.RMSprop` without momentum or centring (ρ is PyTorch's `alpha`, default 0.99).

/// Hyper-parameters of one RMSprop update.
#[derive(Clone, Copy, Debug)]
pub struct RmsPropHyper {
    /// Learning rate α.
    pub lr: f64,
    /// Decay ρ of the running mean of squared gradients.
    pub rho: f64,
    /// ε added to the denominator.
    pub eps: f64,
    /// L2 weight decay λ.
    pub weight_decay: f64,
    /// Factor applied to the gradient first (gradient-norm clipping); 1 when not clipping.
    pub grad_scale: f64,
}
