//! Reading an ONNX model as a neuron model: MLP-shaped graphs from any exporter (PyTorch's
//! `torch.onnx.export`, both paths; skl2onnx's MLPs with their `ai.onnx.ml` nodes; neuron's
//! own).
//!
//! A graph neuron wrote carries its whole description in the metadata property `neuron`; only
//! its weights are read from the `Gemm` nodes. Any other graph is walked from its input (see
//! [`walk`]): the layers become dense layers, the final `Softmax`/`LogSoftmax` a cross-entropy
//! model, a final `Sigmoid` a binary cross-entropy model, and anything else a regression on the
//! raw outputs. Such a model names no columns, so it reads tables by position
//! ([`Preprocessor::positional`]); a leading `Scaler` becomes its standardisation, and the class
//! labels are taken from the label lookup after the network (else `0`, `1`, …).

mod graph;
mod layers;
mod region;
mod walk;

use prost::Message;

use self::graph::{Graph, Values};
use self::walk::{End, Network, Piece};
use super::proto::{GraphProto, ModelProto};
use crate::cpu::Cpu;
use crate::data::preprocess::{ColumnEncoding, Preprocessor, TargetEncoding};
use crate::error::{NeuronError, Result};
use crate::io::model_file::{ModelMeta, FORMAT};
use crate::nn::init::Init;
use crate::nn::layer::LayerSpec;
use crate::nn::loss::Loss;
use crate::nn::sequential::{param_shapes, Sequential};

/// Whether `bytes` look like an ONNX model rather than a safetensors file (whose first eight
/// bytes are a header length followed by `{`).
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    bytes.get(8) != Some(&b'{') && ModelProto::decode(bytes).is_ok_and(|m| m.graph.is_some())
}

/// Parses ONNX bytes into a model on `cpu` and its description.
pub fn from_onnx_bytes(
    bytes: &[u8],
    source: &str,
    cpu: Cpu<f32>,
) -> Result<(Sequential<Cpu<f32>>, ModelMeta)> {
    let bad = |m: String| NeuronError::Model(format!("{source}: {m}"));
    let model =
        ModelProto::decode(bytes).map_err(|e| bad(format!("not a readable ONNX model ({e})")))?;
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| bad("the ONNX model has no graph".into()))?;
    let own = model.metadata_props.iter().find(|p| p.key() == "neuron");
    let (meta, weights) = match own {
        Some(p) => own_model(g, p.value()).map_err(bad)?,
        None => foreign_model(&model, g).map_err(bad)?,
    };
    if weights.iter().flatten().any(|x| !x.is_finite()) {
        return Err(bad("the weights hold non-finite values".into()));
    }
    let m = Sequential::from_specs(
        cpu,
        meta.input_dim,
        meta.layers.clone(),
        meta.loss,
        0,
        Some(&weights),
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok((m, meta))
}

/// A graph written by `neuron export`: the description from the metadata, the weights from the
/// `Gemm` nodes in order, checked against the description's shapes.
fn own_model(
    g: &GraphProto,
    json: &str,
) -> std::result::Result<(ModelMeta, Vec<Vec<f32>>), String> {
    let meta: ModelMeta = serde_json::from_str(json)
        .map_err(|e| format!("unreadable model description in the metadata: {e}"))?;
    if meta.format != FORMAT {
        return Err(format!("unsupported format '{}'", meta.format));
    }
    let index = Graph::new(g)?;
    let mut weights = Vec::new();
    for n in g.node.iter().filter(|n| n.op_type() == "Gemm") {
        for k in [1, 2] {
            let name = n.input.get(k).map(String::as_str).unwrap_or("");
            let c = index
                .constant(name)
                .ok_or_else(|| format!("missing initialiser '{name}'"))?;
            let v = c.floats().ok_or_else(|| format!("'{name}' holds text"))?;
            weights.push(v.into_iter().map(|x| x as f32).collect::<Vec<f32>>());
        }
    }
    let shapes = param_shapes(meta.input_dim, &meta.layers, &meta.loss)
        .map_err(|e| format!("invalid architecture: {e}"))?;
    let fits = shapes.len() == weights.len()
        && shapes
            .iter()
            .zip(&weights)
            .all(|(s, w)| s.shape.iter().product::<usize>() == w.len());
    if !fits {
        return Err("the graph's weights do not match the model description".into());
    }
    Ok((meta, weights))
}

/// A graph from another exporter, walked from its one data input.
fn foreign_model(
    model: &ModelProto,
    g: &GraphProto,
) -> std::result::Result<(ModelMeta, Vec<Vec<f32>>), String> {
    let index = Graph::new(g)?;
    let inits: std::collections::HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    let data: Vec<_> = g
        .input
        .iter()
        .filter(|v| !inits.contains(v.name()))
        .collect();
    let [input] = data[..] else {
        return Err(format!(
            "the graph has {} data inputs; neuron reads graphs with one",
            data.len()
        ));
    };
    let net = walk::walk(&index, input.name(), declared_width(input))?;
    let (specs, weights, scale) = layers_of(&net);
    let input_dim = net.pieces.iter().find_map(|p| match p {
        Piece::Dense { inputs, .. } => Some(*inputs),
        _ => None,
    });
    let input_dim = input_dim.unwrap_or_default();
    let outputs = specs.iter().rev().find_map(|s| match s {
        LayerSpec::Dense { outputs, .. } => Some(*outputs),
        _ => None,
    });
    let outputs = outputs.unwrap_or_default();
    let (loss, target) = task(&index, &net, outputs);
    let pre = Preprocessor {
        standardize: scale.is_some(),
        columns: columns(input_dim, scale),
        target,
        impute: None,
        image: None,
        positional: true,
        dropped: Vec::new(),
    };
    let producer = format!("{} {}", model.producer_name(), model.producer_version());
    let meta = ModelMeta {
        format: FORMAT.into(),
        input_dim,
        layers: specs,
        loss,
        preprocessing: Some(pre),
        provenance: serde_json::json!({
            "imported": {"format": "onnx", "producer": producer.trim(), "output": end_name(net.end)}
        }),
    };
    Ok((meta, weights))
}

/// The width the graph declares for its input, if it does.
fn declared_width(v: &super::proto::ValueInfoProto) -> Option<usize> {
    use super::proto::tensor_shape_proto::dimension::Value;
    use super::proto::type_proto::Value as T;
    let Some(T::TensorType(t)) = v.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    match t.shape.as_ref()?.dim.get(1)?.value {
        Some(Value::DimValue(w)) if w > 0 => usize::try_from(w).ok(),
        _ => None,
    }
}

fn end_name(end: End) -> &'static str {
    match end {
        End::Outputs => "outputs",
        End::Softmax => "softmax probabilities",
        End::LogSoftmax => "log-softmax log-probabilities",
        End::Sigmoid => "sigmoid probabilities",
    }
}

type Layers = (Vec<LayerSpec>, Vec<Vec<f32>>, Option<(Vec<f64>, Vec<f64>)>);

/// The layer specifications, their weights, and any leading scaling.
fn layers_of(net: &Network) -> Layers {
    let (mut specs, mut weights, mut scale) = (Vec::new(), Vec::new(), None);
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    for p in &net.pieces {
        match p {
            Piece::Scale { offset, scale: s } => scale = Some((offset.clone(), s.clone())),
            Piece::Dense {
                inputs,
                outputs,
                w,
                b,
            } => {
                specs.push(LayerSpec::Dense {
                    inputs: *inputs,
                    outputs: *outputs,
                    init: Init::Auto,
                });
                weights.push(f32s(w));
                weights.push(f32s(b));
            }
            Piece::Act(a) => specs.push(LayerSpec::Activation { activation: *a }),
        }
    }
    (specs, weights, scale)
}

/// Numeric columns `x0`, `x1`, …, standardised as the graph's `Scaler` did.
fn columns(n: usize, scale: Option<(Vec<f64>, Vec<f64>)>) -> Vec<ColumnEncoding> {
    (0..n)
        .map(|i| {
            let (mean, std) = scale
                .as_ref()
                .map_or((0.0, 1.0), |(o, s)| (o[i], 1.0 / s[i]));
            ColumnEncoding::Numeric {
                name: format!("x{i}"),
                mean,
                std,
                fill: None,
                clip: None,
                format: None,
            }
        })
        .collect()
}

/// The loss and target that the network's end implies.
fn task(g: &Graph, net: &Network, outputs: usize) -> (Loss, TargetEncoding) {
    let name = "target".to_string();
    let classes = match net.end {
        End::Outputs => {
            let target = TargetEncoding::Value {
                name,
                mean: 0.0,
                std: 1.0,
                format: None,
            };
            return (Loss::Mse, target);
        }
        End::Sigmoid if outputs == 1 => 2,
        _ => outputs,
    };
    let loss = match net.end {
        End::Sigmoid => Loss::BinaryCrossEntropy,
        _ => Loss::cross_entropy(),
    };
    let labels =
        labels(g, net, classes).unwrap_or_else(|| (0..classes).map(|i| i.to_string()).collect());
    (loss, TargetEncoding::Classes { name, labels })
}

/// The class labels from a lookup after the network (`ArrayFeatureExtractor` or `Gather` of a
/// constant, or `ZipMap`'s attribute), when one has `classes` of them.
fn labels(g: &Graph, net: &Network, classes: usize) -> Option<Vec<String>> {
    let text = |v: &Values| match v {
        Values::Text(s) => s.clone(),
        Values::Int(s) => s.iter().map(|x| x.to_string()).collect(),
        Values::Float(s) => s.iter().map(|x| x.to_string()).collect(),
    };
    for &i in &g.order {
        let n = &g.nodes[i];
        if net.used.contains(&i) {
            continue;
        }
        let found = match n.op_type() {
            "ArrayFeatureExtractor" | "Gather" => n
                .input
                .first()
                .and_then(|x| g.constant(x))
                .map(|c| text(&c.values)),
            "ZipMap" => n.attribute.iter().find_map(|a| match a.name() {
                "classlabels_int64s" => Some(a.ints.iter().map(|x| x.to_string()).collect()),
                "classlabels_strings" => Some(
                    a.strings
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect(),
                ),
                _ => None,
            }),
            _ => None,
        };
        if let Some(l) = found.filter(|l: &Vec<String>| l.len() == classes) {
            return Some(l);
        }
    }
    None
}

#[cfg(test)]
mod tests;
