//! The model download: a neuron model file (safetensors, PyTorch's tensor names) with the
//! playground's preprocessing, so `neuron predict` takes a CSV with the feature columns.

use neuron::io::model_file::{to_bytes, ModelMeta, FORMAT};
use neuron::Sequential;
use serde_json::json;

use crate::error::ApiError;
use crate::network::Be;
use crate::session::Session;

/// The bytes of the model file of `m`, trained in session `s`.
pub fn model_file(m: &Sequential<Be>, s: &Session) -> Result<Vec<u8>, ApiError> {
    let st = s.state.lock().unwrap_or_else(|e| e.into_inner());
    let meta = ModelMeta {
        format: FORMAT.into(),
        input_dim: m.input_dim(),
        layers: m.specs().to_vec(),
        loss: m.loss(),
        preprocessing: Some(st.prep.pre.clone()),
        provenance: json!({ "made_by": "neuron playground", "playground": st.cfg }),
    };
    Ok(to_bytes(m, &meta)?)
}
