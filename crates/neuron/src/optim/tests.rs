//! Each optimizer's update on a 2-element vector, against values computed by hand.

use super::{Optimizer, OptimizerConfig};
use crate::backend::Backend;
use crate::cpu::Cpu;
use crate::nn::layer::Param;

const W: [f64; 2] = [1.0, -2.0];
const G: [f64; 2] = [0.5, 0.25];

/// The weights after `steps` updates with the constant gradient `G`, starting from `W`.
fn after(cfg: OptimizerConfig, steps: usize) -> Vec<f64> {
    let be = Cpu::<f64>::new();
    let mut w = be.upload(&W).unwrap();
    let g = be.upload(&G).unwrap();
    let lr = cfg.lr;
    let mut opt = Optimizer::new(cfg).unwrap();
    for _ in 0..steps {
        let mut p = [Param {
            value: &mut w,
            grad: &g,
            len: 2,
        }];
        opt.update(&be, &mut p, lr).unwrap();
    }
    let mut out = vec![0.0; 2];
    be.download(&w, &mut out).unwrap();
    out
}

fn close(got: &[f64], want: [f64; 2]) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "got {got:?}, want {want:?}");
    }
}

#[test]
fn sgd_steps_against_the_gradient() {
    // w − lr·g = (1 − 0.05, −2 − 0.025).
    close(&after(OptimizerConfig::sgd(0.1), 1), [0.95, -2.025]);
    // With L2 weight decay 0.1: g + 0.1·w = (0.6, 0.05).
    close(
        &after(OptimizerConfig::sgd(0.1).weight_decay(0.1), 1),
        [0.94, -2.005],
    );
}

#[test]
fn momentum_and_nesterov_accumulate_velocity() {
    // PyTorch's rule: v ← μv + g, w ← w − lr·v. Step 1: v = g; step 2: v = 1.9·g.
    close(
        &after(OptimizerConfig::momentum(0.1, 0.9), 2),
        [1.0 - 0.1 * 0.5 * 2.9, -2.0 - 0.1 * 0.25 * 2.9],
    );
    // Nesterov: w ← w − lr·(g + μv); step 1: v = g, so the step is 1.9·g.
    close(
        &after(OptimizerConfig::nesterov(0.1, 0.9), 1),
        [1.0 - 0.1 * 0.5 * 1.9, -2.0 - 0.1 * 0.25 * 1.9],
    );
}

#[test]
fn adam_and_adamw_first_steps() {
    // Step 1 after bias correction: m̂ = g, v̂ = g², so w ← w − lr·g/(|g| + ε).
    let step = |g: f64| 0.1 * g / (g.abs() + 1e-8);
    close(
        &after(OptimizerConfig::adam(0.1), 1),
        [1.0 - step(0.5), -2.0 - step(0.25)],
    );
    // AdamW decays first: w ← w(1 − lr·λ), then the Adam step.
    close(
        &after(OptimizerConfig::adamw(0.1, 0.1), 1),
        [0.99 - step(0.5), -1.98 - step(0.25)],
    );
    // A constant gradient keeps m̂ = g and v̂ = g²: the second step is the same size.
    close(
        &after(OptimizerConfig::adam(0.1), 2),
        [1.0 - 2.0 * step(0.5), -2.0 - 2.0 * step(0.25)],
    );
}

#[test]
fn rmsprop_first_step() {
    // v = (1 − ρ)·g² = 0.01·g², so w ← w − lr·g/(0.1·|g| + ε).
    let step = |g: f64| 0.01 * g / ((0.01 * g * g).sqrt() + 1e-8);
    close(
        &after(OptimizerConfig::rmsprop(0.01), 1),
        [1.0 - step(0.5), -2.0 - step(0.25)],
    );
}
