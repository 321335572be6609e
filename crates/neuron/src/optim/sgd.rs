//! Stochastic gradient descent, plain, with momentum, or with Nesterov momentum.
//!
//! With gradient `g` (after L2 decay `g += λw` and clipping scale `s`), velocity `v`, momentum `μ`:
//!
//! ```text
//! plain:     w ← w − α·g
//! momentum:  v ← μ·v + g;  w ← w − α·v
//! nesterov:  v ← μ·v + g;  w ← w − α·(g + μ·v)
//! ```
//!
//! This is PyTorch's `torch.optim.SGD` (dampening 0) exactly. Note the tutorial's bias rule is
//! misprinted as `b ← w − α ∂L/∂b`; biases are updated like every parameter: `b ← b − α ∂L/∂b`.

/// Hyper-parameters of one SGD update.
#[derive(Clone, Copy, Debug)]
pub struct SgdHyper {
    /// Learning rate α.
    pub lr: f64,
    /// Momentum μ (0 for plain SGD).
    pub momentum: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 weight decay λ (added to the gradient).
    pub weight_decay: f64,
    /// Factor applied to the gradient first (gradient-norm clipping); 1 when not clipping.
    pub grad_scale: f64,
}
