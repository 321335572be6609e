//! Helpers shared by model files and checkpoints, which are both safetensors files: tensors to
//! little-endian bytes and back, serialising with one JSON metadata entry, and reading it back.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{NeuronError, Result};
use crate::float::Float;

/// A safetensors error as a model error.
pub(crate) fn st_err(e: safetensors::SafeTensorError) -> NeuronError {
    NeuronError::Model(format!("safetensors: {e}"))
}

/// Values as little-endian f32 bytes; a non-finite value is refused with
/// `refusing to {action}: {what} holds a non-finite value (…)`.
pub(crate) fn f32_bytes<E: Float>(v: &[E], action: &str, what: &str) -> Result<Vec<u8>> {
    if let Some(bad) = v.iter().find(|x| !x.f64().is_finite()) {
        return Err(NeuronError::Diverged(format!(
            "refusing to {action}: {what} holds a non-finite value ({bad})"
        )));
    }
    Ok(v.iter()
        .flat_map(|x| (x.f64() as f32).to_le_bytes())
        .collect())
}

/// Little-endian f32 bytes as values.
pub(crate) fn f32_from_bytes(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Serialises named tensors `(name, shape, dtype, bytes)` with the metadata entries given.
pub(crate) fn serialize(
    tensors: &[(String, Vec<usize>, Dtype, Vec<u8>)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let views = tensors
        .iter()
        .map(|(n, s, d, b)| {
            Ok((
                n.clone(),
                TensorView::new(*d, s.clone(), b).map_err(st_err)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(metadata)).map_err(st_err)
}

/// Parses safetensors bytes and returns them with the metadata entry `key`. `kind` names the
/// expected file in errors ("model file", "checkpoint"); `missing` is the message when the
/// entry is absent.
pub(crate) fn open<'a>(
    bytes: &'a [u8],
    key: &str,
    kind: &str,
    missing: &str,
) -> std::result::Result<(SafeTensors<'a>, String), String> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| format!("not a valid {kind} ({e})"))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| format!("not a valid {kind} ({e})"))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(key))
        .cloned()
        .ok_or_else(|| missing.to_string())?;
    Ok((st, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_refuse_non_finite_values() {
        let v = [1.5f64, -2.25, 0.0];
        let b = f32_bytes(&v, "save", "w").unwrap();
        assert_eq!(f32_from_bytes(&b), vec![1.5f32, -2.25, 0.0]);
        let e = f32_bytes(&[1.0f32, f32::NAN], "save", "parameter 0.weight").unwrap_err();
        assert!(e
            .to_string()
            .contains("refusing to save: parameter 0.weight holds a non-finite value (NaN)"));
        let bytes = serialize(
            &[("t".into(), vec![3], Dtype::F32, b)],
            HashMap::from([("k".to_string(), "{}".to_string())]),
        )
        .unwrap();
        let (st, json) = open(&bytes, "k", "file", "no k").unwrap();
        assert_eq!((st.len(), json.as_str()), (1, "{}"));
        assert_eq!(
            open(&bytes, "other", "file", "no other").unwrap_err(),
            "no other"
        );
        assert!(open(b"junk", "k", "checkpoint", "-")
            .unwrap_err()
            .starts_with("not a valid checkpoint"));
    }
}
