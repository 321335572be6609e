//! Values against PyTorch for the same weights and inputs: outputs, loss, every parameter gradient,
//! and the weights after 3 steps of each optimizer. Reference values come from
//! `scripts/pytorch_reference.py` (committed as `tests/data/pytorch_reference.json`).

mod common;

use neuron::{Backend, Cpu, LayerSpec, Loss, Matrix, Optimizer, OptimizerConfig, Sequential};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    layers: Vec<LayerSpec>,
    loss: Loss,
    x: Vec<Vec<f32>>,
    y: Vec<Vec<f32>>,
    param_names: Vec<String>,
    params: Vec<Vec<f32>>,
    output: Vec<Vec<f32>>,
    loss_value: f64,
    grads: Vec<Vec<f32>>,
    optimizers: Vec<OptCase>,
}

#[derive(Deserialize)]
struct OptCase {
    name: String,
    config: OptimizerConfig,
    after_3_steps: Vec<Vec<f32>>,
}

const TOL: f64 = 1e-5;

fn close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w as f64).abs() / (w as f64).abs().max(1.0);
        assert!(
            err <= TOL,
            "{what}[{i}]: neuron {g} vs PyTorch {w} (error {err:e})"
        );
    }
}

fn load() -> Reference {
    serde_json::from_str(include_str!("data/pytorch_reference.json")).unwrap()
}

fn build<B: Backend<E = f32>>(c: &Case, be: &B) -> Sequential<B> {
    let input = c.x[0].len();
    Sequential::from_specs(
        be.clone(),
        input,
        c.layers.clone(),
        c.loss,
        0,
        Some(&c.params),
    )
    .unwrap()
}

fn matrix(rows: &[Vec<f32>]) -> Matrix<f32> {
    Matrix::from_rows(rows).unwrap()
}

#[test]
fn outputs_losses_and_gradients_match_pytorch() {
    outputs_losses_and_gradients(&Cpu::new());
}

#[test]
fn three_optimizer_steps_match_pytorch() {
    three_optimizer_steps(&Cpu::new());
}

/// The same reference values, computed by the GPU backend on the emulated device.
#[test]
fn pytorch_values_on_the_emulated_gpu() {
    if let Some(g) = common::emu::emulated::<f32>() {
        outputs_losses_and_gradients(&g);
        three_optimizer_steps(&g);
    }
}

/// The same reference values, computed on the GPU (`--features cuda`).
#[cfg(feature = "cuda")]
#[test]
fn pytorch_values_on_the_gpu() {
    if let Some(g) = common::gpu_f32() {
        outputs_losses_and_gradients(&g);
        three_optimizer_steps(&g);
    }
}

fn outputs_losses_and_gradients<B: Backend<E = f32>>(be: &B) {
    let r = load();
    assert_eq!(r.cases.len(), 5);
    for c in &r.cases {
        let mut m = build(c, be);
        let names: Vec<String> = m.param_info().into_iter().map(|p| p.name).collect();
        assert_eq!(names, c.param_names, "{}: parameter names", c.name);
        let (x, y) = (matrix(&c.x), matrix(&c.y));
        let out = m.forward(&x, false).unwrap();
        close(
            &format!("{} output", c.name),
            out.as_slice(),
            matrix(&c.output).as_slice(),
        );
        let loss = m.forward_backward(&x, &y).unwrap();
        assert!(
            (loss - c.loss_value).abs() <= TOL * c.loss_value.abs().max(1.0),
            "{} loss: {loss} vs {}",
            c.name,
            c.loss_value
        );
        for (i, g) in c.grads.iter().enumerate() {
            close(
                &format!("{} grad {}", c.name, c.param_names[i]),
                &m.grad(i).unwrap(),
                g,
            );
        }
    }
}

fn three_optimizer_steps<B: Backend<E = f32>>(be: &B) {
    let r = load();
    for c in &r.cases {
        assert_eq!(c.optimizers.len(), 6);
        for o in &c.optimizers {
            let mut m = build(c, be);
            let mut opt = Optimizer::new(o.config.clone()).unwrap();
            let (x, y) = (matrix(&c.x), matrix(&c.y));
            for _ in 0..3 {
                m.forward_backward(&x, &y).unwrap();
                m.step(&mut opt, o.config.lr).unwrap();
            }
            for (i, want) in o.after_3_steps.iter().enumerate() {
                close(
                    &format!("{} {} {}", c.name, o.name, c.param_names[i]),
                    &m.param(i).unwrap(),
                    want,
                );
            }
        }
    }
}
