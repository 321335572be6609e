//! A model as a standard ONNX graph (opset 17, dynamic batch dimension).
//!
//! ```text
//! input [N, columns] ─ fill, (x − mean) / std, clip ─ Gemm ─ activation ─ … ─ Gemm ─ logits
//! logits ─ Softmax (or Sigmoid) ─ probabilities;  ArgMax ─ Gather(labels) ─ label
//! logits ─ × std + mean ─ prediction (regression, in the target's units)
//! ```
//!
//! When every input column is numeric, the graph takes the raw columns and applies the stored
//! imputation, scaling and clipping. With text (one-hot) columns it takes the encoded network
//! input instead, and the metadata property `neuron.inputs` says which input is which column or
//! category. The class labels (`neuron.labels`) and the whole model description (`neuron`) travel
//! as metadata properties.

use std::path::Path;

use prost::Message;

use super::proto::attribute_proto::AttributeType;
use super::proto::tensor_proto::DataType;
use super::proto::tensor_shape_proto::{dimension, Dimension};
use super::proto::type_proto::{self, Tensor};
use super::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::backend::Backend;
use crate::data::preprocess::{ColumnEncoding, Preprocessor, TargetEncoding};
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::io::atomic::atomic_write;
use crate::io::model_file::{load_model, ModelMeta};
use crate::nn::activation::Activation;
use crate::nn::layer::LayerSpec;
use crate::nn::loss::Loss;
use crate::nn::sequential::Sequential;

/// The ONNX operator set the graphs use.
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
const IR_VERSION: i64 = 8;

/// Nodes and initialisers under construction, with fresh names.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    count: usize,
}

fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

impl Graph {
    fn fresh(&mut self, hint: &str) -> String {
        self.count += 1;
        format!("{hint}_{}", self.count)
    }

    /// Adds a node and returns the name of its output.
    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.node_to(op, inputs, attrs, &out);
        out
    }

    fn node_to(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, out: &str) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name: Some(format!("{op}_{}", self.nodes.len())),
            op_type: Some(op.into()),
            attribute: attrs,
            ..Default::default()
        });
    }

    fn floats(&mut self, hint: &str, dims: &[i64], data: Vec<f32>) -> String {
        let name = self.fresh(hint);
        self.inits.push(TensorProto {
            name: Some(name.clone()),
            dims: dims.to_vec(),
            data_type: Some(DataType::Float as i32),
            float_data: data,
            ..Default::default()
        });
        name
    }

    fn strings(&mut self, hint: &str, data: &[String]) -> String {
        let name = self.fresh(hint);
        self.inits.push(TensorProto {
            name: Some(name.clone()),
            dims: vec![data.len() as i64],
            data_type: Some(DataType::String as i32),
            string_data: data.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Default::default()
        });
        name
    }
}

/// A tensor value `[N, width]` (or `[N]` when `width` is `None`) of `elem` type.
fn value(name: &str, elem: DataType, width: Option<usize>) -> ValueInfoProto {
    let mut dim = vec![Dimension {
        value: Some(dimension::Value::DimParam("N".into())),
        ..Default::default()
    }];
    if let Some(w) = width {
        dim.push(Dimension {
            value: Some(dimension::Value::DimValue(w as i64)),
            ..Default::default()
        });
    }
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The raw numeric columns through imputation, scaling and clipping; `None` when the inputs
/// need no transformation or are not all numeric.
fn scaling(g: &mut Graph, pre: &Preprocessor, x: &str) -> Option<String> {
    let mut fill = Vec::new();
    let (mut mean, mut std, mut clip) = (Vec::new(), Vec::new(), Vec::new());
    for c in &pre.columns {
        let ColumnEncoding::Numeric {
            mean: m,
            std: s,
            fill: f,
            clip: k,
            ..
        } = c
        else {
            return None;
        };
        fill.push(f.map_or(f32::NAN, |v| v as f32));
        mean.push(*m as f32);
        std.push(*s as f32);
        clip.push(k.map_or(f32::INFINITY, |v| v as f32));
    }
    let w = [pre.columns.len() as i64];
    let mut cur = x.to_string();
    if fill.iter().any(|v| !v.is_nan()) {
        let f = g.floats("fill", &w, fill);
        let nan = g.node("IsNaN", &[&cur], vec![]);
        cur = g.node("Where", &[&nan, &f, &cur], vec![]);
    }
    if mean.iter().any(|&m| m != 0.0) || std.iter().any(|&s| s != 1.0) {
        let (m, s) = (g.floats("mean", &w, mean), g.floats("std", &w, std));
        let centred = g.node("Sub", &[&cur, &m], vec![]);
        cur = g.node("Div", &[&centred, &s], vec![]);
    }
    if clip.iter().any(|c| c.is_finite()) {
        // Beyond ±c values grow as ±(c + ln(1 + |z| − c)); within, they are kept.
        let c = g.floats("clip", &w, clip);
        let one = g.floats("one", &[], vec![1.0]);
        let a = g.node("Abs", &[&cur], vec![]);
        let over = g.node("Sub", &[&a, &c], vec![]);
        let grown = g.node("Add", &[&over, &one], vec![]);
        let log = g.node("Log", &[&grown], vec![]);
        let mag = g.node("Add", &[&log, &c], vec![]);
        let sign = g.node("Sign", &[&cur], vec![]);
        let clipped = g.node("Mul", &[&sign, &mag], vec![]);
        let beyond = g.node("Greater", &[&a, &c], vec![]);
        cur = g.node("Where", &[&beyond, &clipped, &cur], vec![]);
    }
    Some(cur)
}

/// The layers: `Gemm` per dense layer (weights `[out, in]`, `transB = 1`), activations, softmax.
fn network<E: Float>(g: &mut Graph, specs: &[LayerSpec], params: &[Vec<E>], x: String) -> String {
    let mut cur = x;
    let mut p = params.iter();
    let to_f32 = |v: &Vec<E>| v.iter().map(|x| x.f64() as f32).collect::<Vec<f32>>();
    for spec in specs {
        cur = match spec {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => {
                let (w, b) = (p.next(), p.next());
                let w = g.floats(
                    "weight",
                    &[*outputs as i64, *inputs as i64],
                    w.map(to_f32).unwrap_or_default(),
                );
                let b = g.floats(
                    "bias",
                    &[*outputs as i64],
                    b.map(to_f32).unwrap_or_default(),
                );
                g.node("Gemm", &[&cur, &w, &b], vec![attr_int("transB", 1)])
            }
            LayerSpec::Activation { activation } => activation_node(g, *activation, &cur),
            LayerSpec::Softmax => g.node("Softmax", &[&cur], vec![attr_int("axis", 1)]),
            LayerSpec::Dropout { .. } => cur,
        };
    }
    cur
}

fn activation_node(g: &mut Graph, act: Activation, x: &str) -> String {
    match act {
        Activation::Identity => x.to_string(),
        Activation::Sigmoid => g.node("Sigmoid", &[x], vec![]),
        Activation::Tanh => g.node("Tanh", &[x], vec![]),
        Activation::Relu => g.node("Relu", &[x], vec![]),
        Activation::LeakyRelu { alpha } => {
            g.node("LeakyRelu", &[x], vec![attr_float("alpha", alpha as f32)])
        }
        Activation::Gelu => {
            // GELU(x) = x · ½ (1 + erf(x / √2)): opset 17 has Erf, not Gelu.
            let r = g.floats("inv_sqrt2", &[], vec![std::f32::consts::FRAC_1_SQRT_2]);
            let (one, half) = (
                g.floats("one", &[], vec![1.0]),
                g.floats("half", &[], vec![0.5]),
            );
            let s = g.node("Mul", &[x, &r], vec![]);
            let e = g.node("Erf", &[&s], vec![]);
            let e1 = g.node("Add", &[&e, &one], vec![]);
            let h = g.node("Mul", &[&e1, &half], vec![]);
            g.node("Mul", &[x, &h], vec![])
        }
    }
}

/// The outputs: probabilities and label for classifiers, the prediction for regressors.
fn outputs(
    g: &mut Graph,
    logits: &str,
    loss: Loss,
    pre: Option<&Preprocessor>,
    width: usize,
) -> Vec<ValueInfoProto> {
    let labels = pre.and_then(|p| match &p.target {
        TargetEncoding::Classes { labels, .. } => Some(labels.clone()),
        _ => None,
    });
    match loss {
        Loss::Mse => {
            let mut cur = logits.to_string();
            if let Some(TargetEncoding::Value { mean, std, .. }) = pre.map(|p| &p.target) {
                let (s, m) = (
                    g.floats("target_std", &[], vec![*std as f32]),
                    g.floats("target_mean", &[], vec![*mean as f32]),
                );
                let scaled = g.node("Mul", &[&cur, &s], vec![]);
                cur = g.node("Add", &[&scaled, &m], vec![]);
            }
            g.node_to("Identity", &[&cur], vec![], "prediction");
            vec![value("prediction", DataType::Float, Some(width))]
        }
        Loss::CrossEntropy { .. } => {
            g.node_to(
                "Softmax",
                &[logits],
                vec![attr_int("axis", 1)],
                "probabilities",
            );
            let index = g.node(
                "ArgMax",
                &[logits],
                vec![attr_int("axis", 1), attr_int("keepdims", 0)],
            );
            let mut out = vec![value("probabilities", DataType::Float, Some(width))];
            out.extend(label_output(g, &index, labels));
            out
        }
        Loss::BinaryCrossEntropy => {
            let p = g.node("Sigmoid", &[logits], vec![]);
            if width != 1 {
                g.node_to("Identity", &[&p], vec![], "probabilities");
                return vec![value("probabilities", DataType::Float, Some(width))];
            }
            // One logit: the two classes' probabilities, as for softmax models.
            let one = g.floats("one", &[], vec![1.0]);
            let q = g.node("Sub", &[&one, &p], vec![]);
            g.node_to(
                "Concat",
                &[&q, &p],
                vec![attr_int("axis", 1)],
                "probabilities",
            );
            let index = g.node(
                "ArgMax",
                &["probabilities"],
                vec![attr_int("axis", 1), attr_int("keepdims", 0)],
            );
            let mut out = vec![value("probabilities", DataType::Float, Some(2))];
            out.extend(label_output(g, &index, labels));
            out
        }
    }
}

/// `label`: the class label (string) when the labels are known, else the class index.
fn label_output(g: &mut Graph, index: &str, labels: Option<Vec<String>>) -> Vec<ValueInfoProto> {
    match labels {
        Some(l) => {
            let t = g.strings("labels", &l);
            g.node_to("Gather", &[&t, index], vec![attr_int("axis", 0)], "label");
            vec![value("label", DataType::String, None)]
        }
        None => {
            g.node_to("Identity", &[index], vec![], "label");
            vec![value("label", DataType::Int64, None)]
        }
    }
}

/// The ONNX model of `model` and its description, serialised.
pub fn to_onnx_bytes<B: Backend>(model: &Sequential<B>, meta: &ModelMeta) -> Result<Vec<u8>> {
    let mut g = Graph::default();
    let pre = meta.preprocessing.as_ref();
    let scaled = pre.and_then(|p| scaling(&mut g, p, "input"));
    let raw = pre.is_some_and(|p| {
        p.columns
            .iter()
            .all(|c| matches!(c, ColumnEncoding::Numeric { .. }))
    });
    let width = if raw {
        pre.map_or(model.input_dim(), |p| p.columns.len())
    } else {
        model.input_dim()
    };
    let x = scaled.unwrap_or_else(|| "input".to_string());
    let logits = network(&mut g, model.specs(), &model.params()?, x);
    let outs = outputs(&mut g, &logits, model.loss(), pre, model.output_dim());
    let inputs_doc = inputs_description(pre, raw, model.input_dim());
    let description = serde_json::to_string(meta).map_err(|e| NeuronError::Model(e.to_string()))?;
    let mut props = vec![("neuron", description), ("neuron.inputs", inputs_doc)];
    if let Some(TargetEncoding::Classes { labels, .. }) = pre.map(|p| &p.target) {
        props.push((
            "neuron.labels",
            serde_json::to_string(labels).unwrap_or_default(),
        ));
    }
    let graph = GraphProto {
        node: g.nodes,
        name: Some("neuron".into()),
        initializer: g.inits,
        input: vec![value("input", DataType::Float, Some(width))],
        output: outs,
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some("neuron".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(graph),
        metadata_props: props
            .into_iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v),
            })
            .collect(),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

/// JSON: what each graph input is (raw columns, or the encoded inputs with their categories).
fn inputs_description(pre: Option<&Preprocessor>, raw: bool, width: usize) -> String {
    let names: Vec<String> = match pre {
        Some(p) if raw => p.columns.iter().map(|c| c.name().to_string()).collect(),
        Some(p) => p
            .columns
            .iter()
            .flat_map(|c| match c {
                ColumnEncoding::Numeric { name, .. } => vec![format!("{name} (scaled)")],
                ColumnEncoding::Date { name, time, .. } => {
                    let mut v = vec![format!("{name}: year (scaled)")];
                    for part in ["month", "weekday"].iter().chain(if *time {
                        &["time of day"][..]
                    } else {
                        &[][..]
                    }) {
                        v.push(format!("{name}: {part} (sine)"));
                        v.push(format!("{name}: {part} (cosine)"));
                    }
                    v
                }
                ColumnEncoding::Categorical {
                    name,
                    categories,
                    other,
                    ..
                } => categories
                    .iter()
                    .map(|k| format!("{name} = {k}"))
                    .chain(other.then(|| format!("{name} = (any other)")))
                    .collect(),
            })
            .collect(),
        None => (0..width).map(|i| format!("x{i}")).collect(),
    };
    serde_json::json!({ "raw_columns": raw, "inputs": names }).to_string()
}

/// Reads the model file `input` and writes it as ONNX to `output` (atomically).
pub fn export_model(input: impl AsRef<Path>, output: impl AsRef<Path>) -> Result<()> {
    let (model, meta) = load_model(input)?;
    atomic_write(output, &to_onnx_bytes(&model, &meta)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;

    fn model(loss: Loss, outputs: usize) -> Sequential<Cpu<f32>> {
        Sequential::builder(3)
            .dense(4)
            .gelu()
            .dropout(0.1)
            .dense(outputs)
            .loss(loss)
            .seed(1)
            .build(Cpu::with_threads(1))
            .unwrap()
    }

    fn meta(m: &Sequential<Cpu<f32>>, pre: Option<Preprocessor>) -> ModelMeta {
        ModelMeta {
            format: crate::io::model_file::FORMAT.into(),
            input_dim: m.input_dim(),
            layers: m.specs().to_vec(),
            loss: m.loss(),
            preprocessing: pre,
            provenance: serde_json::Value::Null,
        }
    }

    fn ops(bytes: &[u8]) -> (ModelProto, Vec<String>) {
        let m = ModelProto::decode(bytes).unwrap();
        let ops = m
            .graph
            .as_ref()
            .unwrap()
            .node
            .iter()
            .map(|n| n.op_type().to_string())
            .collect();
        (m, ops)
    }

    #[test]
    fn a_classifier_is_gemms_activations_softmax_and_a_label() {
        let m = model(Loss::cross_entropy(), 3);
        let pre = Preprocessor::for_images(1, 3, vec!["a".into(), "b".into(), "c".into()]);
        let (proto, ops) = ops(&to_onnx_bytes(&m, &meta(&m, Some(pre))).unwrap());
        assert_eq!(
            ops,
            ["Gemm", "Mul", "Erf", "Add", "Mul", "Mul", "Gemm", "Softmax", "ArgMax", "Gather"]
        );
        let g = proto.graph.unwrap();
        let outs: Vec<&str> = g.output.iter().map(|o| o.name()).collect();
        assert_eq!(outs, ["probabilities", "label"]);
        assert_eq!(
            g.initializer[0].dims,
            [4, 3],
            "weights stay [out, in] with transB"
        );
        assert_eq!(proto.opset_import[0].version(), OPSET);
        let keys: Vec<&str> = proto.metadata_props.iter().map(|p| p.key()).collect();
        assert_eq!(keys, ["neuron", "neuron.inputs", "neuron.labels"]);
    }

    #[test]
    fn a_regressor_restores_the_target_units_and_scaling_enters_the_graph() {
        let m = model(Loss::Mse, 1);
        let mut pre = Preprocessor::for_images(1, 3, vec![]);
        pre.image = None;
        pre.target = TargetEncoding::Value {
            name: "y".into(),
            mean: 5.0,
            std: 2.0,
            format: None,
        };
        if let ColumnEncoding::Numeric { mean, clip, .. } = &mut pre.columns[0] {
            (*mean, *clip) = (1.0, Some(3.0));
        }
        let (_, ops) = ops(&to_onnx_bytes(&m, &meta(&m, Some(pre))).unwrap());
        assert_eq!(&ops[..2], ["Sub", "Div"]);
        assert!(ops.contains(&"Where".to_string()) && ops.contains(&"Log".to_string()));
        assert_eq!(&ops[ops.len() - 3..], ["Mul", "Add", "Identity"]);
    }
}
