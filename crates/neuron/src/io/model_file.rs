//! Model files: safetensors whose tensors are named and shaped exactly as PyTorch's
//! `nn.Sequential` of the same layers (`0.weight` `[out, in]`, `0.bias`, `2.weight`, …; activation
//! layers take an index too), so `model.load_state_dict(safetensors.torch.load_file(path))` works.
//! Everything else (architecture, loss, preprocessing, class labels, provenance) is JSON in the
//! file's metadata under the key `neuron`.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::Dtype;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::cpu::Cpu;
use crate::data::preprocess::Preprocessor;
use crate::error::{NeuronError, Result};
use crate::io::atomic::atomic_write;
use crate::io::st::{f32_bytes, f32_from_bytes, open, serialize};
use crate::nn::layer::LayerSpec;
use crate::nn::loss::Loss;
use crate::nn::sequential::Sequential;

/// The format tag written in every model file.
pub const FORMAT: &str = "neuron-mlp/1";

/// Everything in a model file besides the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Number of network inputs.
    pub input_dim: usize,
    /// The layers, one per `nn.Sequential` index.
    pub layers: Vec<LayerSpec>,
    /// The training loss (decides how outputs become probabilities).
    pub loss: Loss,
    /// How raw data becomes inputs, and outputs become labels or values.
    pub preprocessing: Option<Preprocessor>,
    /// How the model was made: free-form JSON (options, data, history summary, versions).
    #[serde(default)]
    pub provenance: serde_json::Value,
}

/// Serialises a model and its metadata into safetensors bytes (weights stored as f32).
pub fn to_bytes<B: Backend>(model: &Sequential<B>, meta: &ModelMeta) -> Result<Vec<u8>> {
    let info = model.param_info();
    let mut tensors = Vec::with_capacity(info.len());
    for (i, p) in info.iter().enumerate() {
        let bytes = f32_bytes(&model.param(i)?, "save", &format!("parameter {}", p.name))?;
        tensors.push((p.name.clone(), p.shape.clone(), Dtype::F32, bytes));
    }
    let json = serde_json::to_string(meta).map_err(|e| NeuronError::Model(e.to_string()))?;
    let info = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("neuron".to_string(), json),
    ]);
    serialize(&tensors, info)
}

/// Saves atomically (temporary file, then rename).
pub fn save_model<B: Backend>(
    path: impl AsRef<Path>,
    model: &Sequential<B>,
    meta: &ModelMeta,
) -> Result<()> {
    let bytes = to_bytes(model, meta)?;
    atomic_write(path, &bytes)
}

/// Parses and validates model-file bytes into a CPU model using every core.
pub fn from_bytes(bytes: &[u8], source: &str) -> Result<(Sequential<Cpu<f32>>, ModelMeta)> {
    from_bytes_on(bytes, source, Cpu::new())
}

/// Parses and validates model-file bytes (safetensors, or an ONNX graph: see
/// [`crate::io::onnx::import`]) into a model on the given CPU backend.
pub fn from_bytes_on(
    bytes: &[u8],
    source: &str,
    cpu: Cpu<f32>,
) -> Result<(Sequential<Cpu<f32>>, ModelMeta)> {
    if crate::io::onnx::looks_like_onnx(bytes) {
        return crate::io::onnx::from_onnx_bytes(bytes, source, cpu);
    }
    let bad = |m: String| NeuronError::Model(format!("{source}: {m}"));
    let (st, json) = open(
        bytes,
        "neuron",
        "safetensors file",
        "not a neuron model (no 'neuron' metadata; was it saved by another tool?)",
    )
    .map_err(bad)?;
    let meta: ModelMeta = serde_json::from_str(&json)
        .map_err(|e| bad(format!("unreadable model description: {e}")))?;
    if meta.format != FORMAT {
        return Err(bad(format!(
            "unsupported format '{}' (this neuron reads {FORMAT})",
            meta.format
        )));
    }
    if let Some(p) = &meta.preprocessing {
        if p.input_width() != meta.input_dim {
            return Err(bad(format!(
                "preprocessing produces {} inputs but the network takes {}",
                p.input_width(),
                meta.input_dim
            )));
        }
    }
    // The expected names and shapes, computed without allocating anything of the claimed size.
    let info = crate::nn::sequential::param_shapes(meta.input_dim, &meta.layers, &meta.loss)
        .map_err(|e| bad(format!("invalid architecture: {e}")))?;
    if st.len() != info.len() {
        return Err(bad(format!(
            "expected {} tensors, found {}",
            info.len(),
            st.len()
        )));
    }
    let mut weights = Vec::with_capacity(info.len());
    for p in &info {
        let t = st
            .tensor(&p.name)
            .map_err(|_| bad(format!("missing tensor '{}'", p.name)))?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor '{}' is {:?}, expected F32",
                p.name,
                t.dtype()
            )));
        }
        if t.shape() != p.shape.as_slice() {
            return Err(bad(format!(
                "tensor '{}' has shape {:?}, expected {:?}",
                p.name,
                t.shape(),
                p.shape
            )));
        }
        let v = f32_from_bytes(t.data());
        if v.iter().any(|x| !x.is_finite()) {
            return Err(bad(format!("tensor '{}' holds non-finite values", p.name)));
        }
        weights.push(v);
    }
    let model = Sequential::from_specs(
        cpu,
        meta.input_dim,
        meta.layers.clone(),
        meta.loss,
        0,
        Some(&weights),
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok((model, meta))
}

/// Loads and validates a model file (computing on every core).
pub fn load_model(path: impl AsRef<Path>) -> Result<(Sequential<Cpu<f32>>, ModelMeta)> {
    load_model_on(path, Cpu::new())
}

/// Loads and validates a model file onto the given CPU backend.
pub fn load_model_on(
    path: impl AsRef<Path>,
    cpu: Cpu<f32>,
) -> Result<(Sequential<Cpu<f32>>, ModelMeta)> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| NeuronError::io(path, e))?;
    from_bytes_on(&bytes, &path.display().to_string(), cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    fn meta(m: &Sequential<Cpu<f32>>) -> ModelMeta {
        ModelMeta {
            format: FORMAT.into(),
            input_dim: m.input_dim(),
            layers: m.specs().to_vec(),
            loss: m.loss(),
            preprocessing: None,
            provenance: serde_json::json!({"test": true}),
        }
    }

    #[test]
    fn round_trip_is_exact_and_bad_files_are_refused() {
        let mut m = Sequential::builder(3)
            .dense(4)
            .relu()
            .dense(2)
            .loss(Loss::cross_entropy())
            .seed(2)
            .build(Cpu::<f32>::new())
            .unwrap();
        let bytes = to_bytes(&m, &meta(&m)).unwrap();
        let (mut back, meta2) = from_bytes(&bytes, "m").unwrap();
        assert_eq!(meta2, meta(&m));
        assert_eq!(back.params().unwrap(), m.params().unwrap());
        let x = Matrix::from_vec(1, 3, vec![0.1, 0.2, 0.3]).unwrap();
        assert_eq!(back.predict(&x).unwrap(), m.predict(&x).unwrap());
        assert!(from_bytes(&bytes[..bytes.len() - 3], "m").is_err());
        assert!(from_bytes(b"garbage", "m")
            .unwrap_err()
            .to_string()
            .contains("not a valid safetensors"));
        let foreign = safetensors::serialize(
            Vec::<(String, safetensors::tensor::TensorView)>::new(),
            None,
        )
        .unwrap();
        assert!(from_bytes(&foreign, "m")
            .unwrap_err()
            .to_string()
            .contains("not a neuron model"));
        m.set_param(0, &[f32::NAN; 12]).unwrap();
        assert!(to_bytes(&m, &meta(&m)).is_err());
    }
}
