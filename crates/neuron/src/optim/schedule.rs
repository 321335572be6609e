//! Learning-rate schedules, as a function of training progress measured in epochs (fractional
//! within an epoch, so schedules move smoothly step by step).

use serde::{Deserialize, Serialize};

/// How the learning rate evolves from its base value `α₀`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    /// `α = α₀`.
    #[default]
    Constant,
    /// `α = α₀ · γ^⌊epoch / every⌋`.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Decay factor γ.
        gamma: f64,
    },
    /// `α = α₀ · γ^epoch` (decayed once per epoch).
    Exponential {
        /// Decay factor γ per epoch.
        gamma: f64,
    },
    /// Linear warm-up from 0 over `warmup` epochs, then cosine decay from `α₀` to `min_lr` at the
    /// end of training.
    Cosine {
        /// Warm-up length in epochs (may be fractional; 0 for none).
        warmup: f64,
        /// Final learning rate.
        min_lr: f64,
    },
}

impl LrSchedule {
    /// The learning rate at `progress` epochs (e.g. 2.5 = halfway through the third epoch) of a
    /// run of `total` epochs.
    pub fn lr_at(&self, base: f64, progress: f64, total: usize) -> f64 {
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::Step { every, gamma } => {
                base * gamma.powi((progress.floor() as usize / every.max(1)) as i32)
            }
            LrSchedule::Exponential { gamma } => base * gamma.powi(progress.floor() as i32),
            LrSchedule::Cosine { warmup, min_lr } => {
                if progress < warmup {
                    return base * progress / warmup;
                }
                let span = (total as f64 - warmup).max(1e-12);
                let t = ((progress - warmup) / span).clamp(0.0, 1.0);
                min_lr + 0.5 * (base - min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        assert_eq!(LrSchedule::Constant.lr_at(0.1, 7.3, 10), 0.1);
        let s = LrSchedule::Step {
            every: 2,
            gamma: 0.5,
        };
        assert_eq!(s.lr_at(1.0, 1.9, 10), 1.0);
        assert_eq!(s.lr_at(1.0, 2.0, 10), 0.5);
        assert_eq!(s.lr_at(1.0, 5.5, 10), 0.25);
        let e = LrSchedule::Exponential { gamma: 0.9 };
        assert!((e.lr_at(1.0, 2.2, 10) - 0.81).abs() < 1e-12);
        let c = LrSchedule::Cosine {
            warmup: 1.0,
            min_lr: 0.0,
        };
        assert!((c.lr_at(1.0, 0.5, 11) - 0.5).abs() < 1e-12);
        assert!((c.lr_at(1.0, 1.0, 11) - 1.0).abs() < 1e-12);
        assert!((c.lr_at(1.0, 6.0, 11) - 0.5).abs() < 1e-12);
        assert!(c.lr_at(1.0, 11.0, 11).abs() < 1e-12);
    }
}
