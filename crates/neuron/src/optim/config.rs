//! Optimizer configuration: the update rule with its hyper-parameters, the learning rate and its
//! schedule, weight decay and gradient clipping.

use serde::{Deserialize, Serialize};

use crate::error::{NeuronError, Result};
use crate::optim::schedule::LrSchedule;

/// Which update rule, with its own hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent.
    Sgd,
    /// SGD with (heavy-ball) momentum.
    Momentum {
        /// Momentum μ in `[0, 1)`.
        momentum: f64,
    },
    /// SGD with Nesterov momentum.
    Nesterov {
        /// Momentum μ in `[0, 1)`.
        momentum: f64,
    },
    /// Adam (L2 weight decay added to the gradient).
    Adam {
        /// β1.
        beta1: f64,
        /// β2.
        beta2: f64,
        /// ε.
        eps: f64,
    },
    /// AdamW (decoupled weight decay).
    AdamW {
        /// β1.
        beta1: f64,
        /// β2.
        beta2: f64,
        /// ε.
        eps: f64,
    },
    /// RMSprop.
    RmsProp {
        /// Decay ρ of the mean square.
        rho: f64,
        /// ε.
        eps: f64,
    },
}

impl OptimizerKind {
    /// Number of state buffers kept per parameter.
    pub(super) fn slots(&self) -> usize {
        match self {
            OptimizerKind::Sgd => 0,
            OptimizerKind::Momentum { .. }
            | OptimizerKind::Nesterov { .. }
            | OptimizerKind::RmsProp { .. } => 1,
            OptimizerKind::Adam { .. } | OptimizerKind::AdamW { .. } => 2,
        }
    }

    /// The command-line name: `sgd`, `momentum`, `nesterov`, `adam`, `adamw` or `rmsprop`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum { .. } => "momentum",
            OptimizerKind::Nesterov { .. } => "nesterov",
            OptimizerKind::Adam { .. } => "adam",
            OptimizerKind::AdamW { .. } => "adamw",
            OptimizerKind::RmsProp { .. } => "rmsprop",
        }
    }

    /// Adam with PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8).
    pub const ADAM: OptimizerKind = OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    /// AdamW with PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8).
    pub const ADAMW: OptimizerKind = OptimizerKind::AdamW {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    /// RMSprop with PyTorch's defaults (ρ = 0.99, ε = 1e-8).
    pub const RMSPROP: OptimizerKind = OptimizerKind::RmsProp {
        rho: 0.99,
        eps: 1e-8,
    };

    /// Parses a command-line name, with PyTorch's default hyper-parameters (momentum 0.9).
    pub fn parse(s: &str) -> Option<OptimizerKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "sgd" => OptimizerKind::Sgd,
            "momentum" => OptimizerKind::Momentum { momentum: 0.9 },
            "nesterov" => OptimizerKind::Nesterov { momentum: 0.9 },
            "adam" => Self::ADAM,
            "adamw" => Self::ADAMW,
            "rmsprop" => Self::RMSPROP,
            _ => return None,
        })
    }
}

/// Everything that defines an optimizer run.
///
/// ```
/// use neuron::{LrSchedule, OptimizerConfig};
/// let cfg = OptimizerConfig::adamw(1e-3, 1e-4)
///     .clip_norm(5.0)
///     .schedule(LrSchedule::Cosine { warmup: 1.0, min_lr: 0.0 });
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// Weight decay λ (L2 for SGD, Adam, RMSprop; decoupled for AdamW).
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip gradients to this global L2 norm.
    #[serde(default)]
    pub clip_norm: Option<f64>,
    /// Learning-rate schedule.
    #[serde(default)]
    pub schedule: LrSchedule,
}

impl OptimizerConfig {
    /// A configuration with the given rule and learning rate.
    pub fn new(kind: OptimizerKind, lr: f64) -> Self {
        OptimizerConfig {
            kind,
            lr,
            weight_decay: 0.0,
            clip_norm: None,
            schedule: LrSchedule::Constant,
        }
    }
    /// Plain SGD.
    pub fn sgd(lr: f64) -> Self {
        Self::new(OptimizerKind::Sgd, lr)
    }
    /// SGD with momentum μ.
    pub fn momentum(lr: f64, momentum: f64) -> Self {
        Self::new(OptimizerKind::Momentum { momentum }, lr)
    }
    /// SGD with Nesterov momentum μ.
    pub fn nesterov(lr: f64, momentum: f64) -> Self {
        Self::new(OptimizerKind::Nesterov { momentum }, lr)
    }
    /// Adam with PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8).
    pub fn adam(lr: f64) -> Self {
        Self::new(OptimizerKind::ADAM, lr)
    }
    /// AdamW with PyTorch's β and ε, and decoupled weight decay λ.
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Self::new(OptimizerKind::ADAMW, lr).weight_decay(weight_decay)
    }
    /// RMSprop with PyTorch's defaults (ρ = 0.99, ε = 1e-8).
    pub fn rmsprop(lr: f64) -> Self {
        Self::new(OptimizerKind::RMSPROP, lr)
    }
    /// Sets the weight decay.
    pub fn weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = wd;
        self
    }
    /// Clips gradients to a global L2 norm.
    pub fn clip_norm(mut self, max_norm: f64) -> Self {
        self.clip_norm = Some(max_norm);
        self
    }
    /// Sets the learning-rate schedule.
    pub fn schedule(mut self, s: LrSchedule) -> Self {
        self.schedule = s;
        self
    }

    /// Checks every hyper-parameter's range.
    pub fn validate(&self) -> Result<()> {
        // "momentum must be in [0, 1), got 1.5"
        let bad = |name: &str, range: &str, v: f64| {
            NeuronError::arg(format!("{name} must be {range}, got {v}"))
        };
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(NeuronError::arg(format!(
                "learning rate must be positive and finite, got {}",
                self.lr
            )));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(NeuronError::arg(format!(
                "weight decay must be ≥ 0, got {}",
                self.weight_decay
            )));
        }
        if let Some(c) = self.clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(NeuronError::arg(format!(
                    "clip norm must be positive, got {c}"
                )));
            }
        }
        let unit = |x: f64| (0.0..1.0).contains(&x);
        match self.kind {
            OptimizerKind::Sgd => {}
            OptimizerKind::Momentum { momentum } | OptimizerKind::Nesterov { momentum } => {
                if !unit(momentum) {
                    return Err(bad("momentum", "in [0, 1)", momentum));
                }
            }
            OptimizerKind::Adam { beta1, beta2, eps }
            | OptimizerKind::AdamW { beta1, beta2, eps } => {
                if !unit(beta1) || !unit(beta2) {
                    return Err(NeuronError::arg(format!(
                        "Adam betas must be in [0, 1), got {beta1}, {beta2}"
                    )));
                }
                if !(eps > 0.0) {
                    return Err(bad("epsilon", "positive", eps));
                }
            }
            OptimizerKind::RmsProp { rho, eps } => {
                if !unit(rho) {
                    return Err(bad("rho", "in [0, 1)", rho));
                }
                if !(eps > 0.0) {
                    return Err(bad("epsilon", "positive", eps));
                }
            }
        }
        match self.schedule {
            LrSchedule::Step { every, gamma } if every == 0 || !(gamma > 0.0) => {
                Err(NeuronError::arg(format!(
                    "step schedule needs every ≥ 1 and gamma > 0, got every {every}, gamma {gamma}"
                )))
            }
            LrSchedule::Exponential { gamma } if !(gamma > 0.0) => Err(bad(
                "exponential schedule's gamma",
                "positive",
                gamma,
            )),
            LrSchedule::Cosine { warmup, min_lr } if !(warmup >= 0.0 && min_lr >= 0.0) => {
                Err(NeuronError::arg(format!(
                    "cosine schedule needs warmup ≥ 0 and min_lr ≥ 0, got warmup {warmup}, min_lr {min_lr}"
                )))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(cfg: OptimizerConfig) -> String {
        cfg.validate().unwrap_err().to_string()
    }

    #[test]
    fn every_invalid_value_is_named_with_its_range_and_value() {
        let cases = [
            (
                OptimizerConfig::momentum(0.1, 1.5),
                "momentum must be in [0, 1), got 1.5",
            ),
            (
                OptimizerConfig::nesterov(0.1, -0.1),
                "momentum must be in [0, 1), got -0.1",
            ),
            (
                OptimizerConfig::new(
                    OptimizerKind::Adam {
                        beta1: 1.0,
                        beta2: 0.9,
                        eps: 1e-8,
                    },
                    0.1,
                ),
                "Adam betas must be in [0, 1), got 1, 0.9",
            ),
            (
                OptimizerConfig::new(
                    OptimizerKind::AdamW {
                        beta1: 0.9,
                        beta2: 0.9,
                        eps: 0.0,
                    },
                    0.1,
                ),
                "epsilon must be positive, got 0",
            ),
            (
                OptimizerConfig::new(
                    OptimizerKind::RmsProp {
                        rho: 2.0,
                        eps: 1e-8,
                    },
                    0.1,
                ),
                "rho must be in [0, 1), got 2",
            ),
            (
                OptimizerConfig::new(
                    OptimizerKind::RmsProp {
                        rho: 0.9,
                        eps: -1.0,
                    },
                    0.1,
                ),
                "epsilon must be positive, got -1",
            ),
            (
                OptimizerConfig::sgd(0.0),
                "learning rate must be positive and finite, got 0",
            ),
            (
                OptimizerConfig::sgd(f64::NAN),
                "learning rate must be positive and finite, got NaN",
            ),
            (
                OptimizerConfig::adamw(0.1, -1.0),
                "weight decay must be ≥ 0, got -1",
            ),
            (
                OptimizerConfig::sgd(0.1).clip_norm(0.0),
                "clip norm must be positive, got 0",
            ),
            (
                OptimizerConfig::sgd(0.1).schedule(LrSchedule::Exponential { gamma: 0.0 }),
                "exponential schedule's gamma must be positive, got 0",
            ),
            (
                OptimizerConfig::sgd(0.1).schedule(LrSchedule::Step {
                    every: 0,
                    gamma: 0.1,
                }),
                "step schedule needs every ≥ 1 and gamma > 0, got every 0, gamma 0.1",
            ),
            (
                OptimizerConfig::sgd(0.1).schedule(LrSchedule::Cosine {
                    warmup: -1.0,
                    min_lr: 0.0,
                }),
                "cosine schedule needs warmup ≥ 0 and min_lr ≥ 0, got warmup -1, min_lr 0",
            ),
        ];
        for (cfg, want) in cases {
            let got = message(cfg);
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
            assert!(!got.contains("got must"), "{got}");
        }
    }

    #[test]
    fn constructors_use_pytorchs_defaults() {
        assert_eq!(
            OptimizerConfig::adam(1e-3).kind,
            OptimizerKind::parse("adam").unwrap()
        );
        assert_eq!(
            OptimizerConfig::adamw(1e-3, 0.01).kind,
            OptimizerKind::ADAMW
        );
        assert_eq!(OptimizerConfig::adamw(1e-3, 0.01).weight_decay, 0.01);
        assert_eq!(
            OptimizerConfig::rmsprop(1e-3).kind,
            OptimizerKind::RmsProp {
                rho: 0.99,
                eps: 1e-8
            }
        );
        for name in ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"] {
            let k = OptimizerKind::parse(name).unwrap();
            assert_eq!(k.name(), name);
            assert!(OptimizerConfig::new(k, 0.1).validate().is_ok());
        }
        assert_eq!(OptimizerKind::parse("lbfgs"), None);
    }
}
