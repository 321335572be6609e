//! Checkpoint files: everything needed to continue a training run exactly — weights, optimizer
//! state, training state (epoch, batch, generator, early stopping, history), the best weights, and
//! the caller's own options — in one safetensors file, written atomically.
//!
//! Tensors: `model.<name>` (f32 weights, PyTorch names), `best.<name>` (the best weights so far,
//! when early stopping is on), `opt.<param>.<slot>` (f64 optimizer state). Metadata key
//! `neuron_checkpoint`: JSON with the model description, optimizer configuration and step, the
//! [`TrainState`], and free-form `extra` JSON.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::io::atomic::atomic_write;
use crate::io::model_file::ModelMeta;
use crate::io::st::{f32_bytes, f32_from_bytes, open, serialize};
use crate::nn::sequential::{param_shapes, Sequential};
use crate::optim::{Optimizer, OptimizerConfig, OptimizerState};
use crate::train::TrainState;

/// The format tag of checkpoint files.
pub const FORMAT: &str = "neuron-checkpoint/1";

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    model: ModelMeta,
    optimizer: OptimizerConfig,
    optimizer_step: u64,
    state: TrainState,
    extra: serde_json::Value,
}

/// A loaded checkpoint.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The model's description.
    pub model: ModelMeta,
    /// The model's weights, in parameter order.
    pub weights: Vec<Vec<f32>>,
    /// The optimizer's complete state.
    pub optimizer: OptimizerState,
    /// Where training stands.
    pub state: TrainState,
    /// The best weights so far (early stopping).
    pub best_weights: Option<Vec<Vec<f32>>>,
    /// The caller's own data (e.g. command-line options).
    pub extra: serde_json::Value,
}

/// Writes a checkpoint to `path` atomically.
pub fn save_checkpoint<B: Backend>(
    path: impl AsRef<Path>,
    model: &Sequential<B>,
    meta: &ModelMeta,
    opt: &Optimizer<B>,
    state: &TrainState,
    best_weights: Option<&[Vec<B::E>]>,
    extra: &serde_json::Value,
) -> Result<()> {
    let info = model.param_info();
    let weights = model.params()?;
    let ostate = opt.state(model.backend())?;
    let mut tensors: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
    for (p, w) in info.iter().zip(&weights) {
        tensors.push((
            format!("model.{}", p.name),
            p.shape.clone(),
            Dtype::F32,
            f32_bytes(w, "checkpoint", &p.name)?,
        ));
    }
    if let Some(best) = best_weights {
        for (p, w) in info.iter().zip(best) {
            tensors.push((
                format!("best.{}", p.name),
                p.shape.clone(),
                Dtype::F32,
                f32_bytes(w, "checkpoint", &format!("the best weights' {}", p.name))?,
            ));
        }
    }
    for (i, slots) in ostate.slots.iter().enumerate() {
        for (j, v) in slots.iter().enumerate() {
            if v.iter().any(|x| !x.is_finite()) {
                return Err(NeuronError::Diverged(
                    "refusing to checkpoint a non-finite optimizer state".into(),
                ));
            }
            tensors.push((
                format!("opt.{i}.{j}"),
                vec![v.len()],
                Dtype::F64,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ));
        }
    }
    let header = Header {
        format: FORMAT.into(),
        model: meta.clone(),
        optimizer: ostate.config.clone(),
        optimizer_step: ostate.step,
        state: state.clone(),
        extra: extra.clone(),
    };
    let json = serde_json::to_string(&header).map_err(|e| NeuronError::Model(e.to_string()))?;
    let bytes = serialize(
        &tensors,
        HashMap::from([("neuron_checkpoint".to_string(), json)]),
    )?;
    atomic_write(path, &bytes)
}

/// Reads and validates a checkpoint.
pub fn load_checkpoint(path: impl AsRef<Path>) -> Result<Checkpoint> {
    let path = path.as_ref();
    let source = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| NeuronError::io(path, e))?;
    let bad = |m: String| NeuronError::Model(format!("{source}: {m}"));
    let (st, json) = open(
        &bytes,
        "neuron_checkpoint",
        "checkpoint",
        "not a neuron checkpoint",
    )
    .map_err(bad)?;
    let h: Header = serde_json::from_str(&json)
        .map_err(|e| bad(format!("unreadable checkpoint description: {e}")))?;
    if h.format != FORMAT {
        return Err(bad(format!("unsupported checkpoint format '{}'", h.format)));
    }
    let info = param_shapes(h.model.input_dim, &h.model.layers, &h.model.loss)
        .map_err(|e| bad(e.to_string()))?;
    let read_f32 = |name: &str, shape: &[usize]| -> Result<Option<Vec<f32>>> {
        let Ok(t) = st.tensor(name) else {
            return Ok(None);
        };
        if t.dtype() != Dtype::F32 || t.shape() != shape {
            return Err(bad(format!("tensor '{name}' has the wrong type or shape")));
        }
        Ok(Some(f32_from_bytes(t.data())))
    };
    let mut weights = Vec::new();
    let mut best = Vec::new();
    for p in &info {
        weights.push(
            read_f32(&format!("model.{}", p.name), &p.shape)?
                .ok_or_else(|| bad(format!("missing tensor 'model.{}'", p.name)))?,
        );
        if let Some(b) = read_f32(&format!("best.{}", p.name), &p.shape)? {
            best.push(b);
        }
    }
    if !best.is_empty() && best.len() != info.len() {
        return Err(bad("incomplete best weights".into()));
    }
    let mut slots = Vec::new();
    for i in 0.. {
        let mut per = Vec::new();
        for j in 0.. {
            let Ok(t) = st.tensor(&format!("opt.{i}.{j}")) else {
                break;
            };
            if t.dtype() != Dtype::F64 || t.shape().len() != 1 {
                return Err(bad(format!(
                    "tensor 'opt.{i}.{j}' has the wrong type or shape"
                )));
            }
            per.push(
                t.data()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
            );
        }
        if per.is_empty() {
            break;
        }
        slots.push(per);
    }
    Ok(Checkpoint {
        model: h.model,
        weights,
        optimizer: OptimizerState {
            config: h.optimizer,
            step: h.optimizer_step,
            slots,
        },
        state: h.state,
        best_weights: (!best.is_empty()).then_some(best),
        extra: h.extra,
    })
}
