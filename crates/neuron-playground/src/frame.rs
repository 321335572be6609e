//! A frame: what the page draws after some training, computed from the engine's own state (the
//! weights, the last step's gradients, and every neuron's output over the plane).

use base64::Engine as _;
use neuron::{classes_from_outputs, LayerSpec, LayerTrace, Matrix, Sequential};
use serde::Serialize;

use crate::error::ApiError;
use crate::network::{Be, Prepared, GRID};

/// Cells per side of each neuron's small heatmap (every second cell of the output grid).
pub const SMALL: usize = GRID / 2;

/// The numbers of a frame.
#[derive(Serialize)]
pub struct Frame {
    /// Which set-up of the session this frame belongs to.
    pub generation: u64,
    /// Training steps done.
    pub step: u64,
    /// Epochs started.
    pub epoch: u64,
    /// Whether training is running.
    pub playing: bool,
    /// Steps per second over the last second of training.
    pub steps_per_s: f64,
    /// Mean loss on the training and test points.
    pub loss: [f64; 2],
    /// Accuracy on the training and test points (classification).
    pub accuracy: Option<[f64; 2]>,
    /// Why training stopped, when it failed (a diverged loss).
    pub error: Option<String>,
    /// Each dense layer's weights `[outputs][inputs]`, biases and last gradients.
    pub layers: Vec<DenseFrame>,
    /// Each layer's neurons' outputs over the plane (hidden layers, then the output layer).
    pub neurons: Vec<Vec<Heat>>,
    /// The output heatmap: per cell the predicted class and its probability (two bytes), or the
    /// predicted value (one byte, between `lo` and `hi`).
    pub output: Heat,
}

/// One dense layer's parameters and the gradients the last step used.
#[derive(Serialize)]
pub struct DenseFrame {
    /// `w[j][k]`: neuron j's weight on input k.
    pub w: Vec<Vec<f64>>,
    /// Neuron j's bias.
    pub b: Vec<f64>,
    /// ∂L/∂w of the last step.
    pub gw: Vec<Vec<f64>>,
    /// ∂L/∂b of the last step.
    pub gb: Vec<f64>,
}

/// A heatmap as bytes (base64): `lo + byte / 255 · (hi − lo)` per cell, row by row from the top.
#[derive(Serialize)]
pub struct Heat {
    /// The value byte 0 stands for.
    pub lo: f64,
    /// The value byte 255 stands for.
    pub hi: f64,
    /// The bytes, base64.
    pub px: String,
}

fn heat(values: impl Iterator<Item = f64> + Clone) -> Heat {
    let (lo, hi) = values
        .clone()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-12);
    let bytes: Vec<u8> = values
        .map(|v| ((v - lo) / span * 255.0).round() as u8)
        .collect();
    Heat {
        lo,
        hi,
        px: base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

/// Rows of `m` as vectors.
fn rows(v: &[f64], cols: usize) -> Vec<Vec<f64>> {
    v.chunks(cols.max(1)).map(|r| r.to_vec()).collect()
}

/// The parameters and gradients of every dense layer of `model`.
pub fn dense_layers(model: &Sequential<Be>) -> Result<Vec<DenseFrame>, ApiError> {
    let info = model.param_info();
    let mut out = Vec::new();
    for i in (0..info.len()).step_by(2) {
        let cols = info[i].shape[1];
        out.push(DenseFrame {
            w: rows(&model.param(i)?, cols),
            b: model.param(i + 1)?,
            gw: rows(&model.grad(i)?, cols),
            gb: model.grad(i + 1)?,
        });
    }
    Ok(out)
}

/// For each dense layer, the trace entry whose output is that layer's neurons' outputs (after
/// its activation, or the softmax that follows the last one).
pub fn neuron_outputs<'a>(
    specs: &[LayerSpec],
    trace: &'a [LayerTrace<f64>],
) -> Vec<&'a Matrix<f64>> {
    let dense_of = |index: usize| {
        specs[..=index]
            .iter()
            .filter(|s| matches!(s, LayerSpec::Dense { .. }))
            .count()
            - 1
    };
    let mut out: Vec<&Matrix<f64>> = Vec::new();
    for t in trace {
        let d = dense_of(t.index);
        if d < out.len() {
            out[d] = &t.output;
        } else {
            out.push(&t.output);
        }
    }
    out
}

/// The heatmaps of every neuron and of the output, from the view model's pass over the grid.
pub fn pictures(
    view: &mut Sequential<Be>,
    prep: &Prepared,
    classes: bool,
) -> Result<(Vec<Vec<Heat>>, Heat), ApiError> {
    let specs = view.specs().to_vec();
    let trace = view.trace(&prep.grid)?;
    let layers = neuron_outputs(&specs, &trace);
    let small = |m: &Matrix<f64>, j: usize| {
        let cells =
            (0..SMALL * SMALL).map(move |c| m.get((c / SMALL * 2) * GRID + (c % SMALL) * 2, j));
        heat(cells)
    };
    let neurons = layers
        .iter()
        .map(|m| (0..m.cols()).map(|j| small(m, j)).collect())
        .collect();
    let last = trace
        .last()
        .map(|t| &t.output)
        .ok_or_else(|| ApiError::bad("the network has no layers".into()))?;
    let probs = match view.loss() {
        neuron::Loss::CrossEntropy { .. } => view.predict_proba(&prep.grid)?,
        _ => last.clone(),
    };
    let output = if classes {
        let k = classes_from_outputs(&probs);
        let mut bytes = Vec::with_capacity(k.len() * 2);
        for (r, &c) in k.iter().enumerate() {
            bytes.push(c as u8);
            bytes.push((probs.get(r, c).clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        Heat {
            lo: 0.0,
            hi: 1.0,
            px: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    } else {
        heat((0..probs.rows()).map(|r| prep.pre.unscale_value(probs.get(r, 0))))
    };
    Ok((neurons, output))
}

/// Mean loss and, for classes, accuracy of the view model on one set.
pub fn score(
    view: &mut Sequential<Be>,
    data: &neuron::Dataset<f64>,
    labels: Option<&[usize]>,
) -> Result<(f64, Option<f64>), ApiError> {
    let loss = view.evaluate(data)?.loss;
    let acc = match labels {
        Some(l) => {
            let k = classes_from_outputs(&view.predict(&data.x)?);
            let right = k.iter().zip(l).filter(|(a, b)| a == b).count();
            Some(right as f64 / l.len().max(1) as f64)
        }
        None => None,
    };
    Ok((loss, acc))
}
