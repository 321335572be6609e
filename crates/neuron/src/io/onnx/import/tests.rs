//! Graphs built by hand: what is read, and every kind of bad graph refused with a clear message.

use prost::Message;

use super::from_onnx_bytes;
use crate::cpu::Cpu;
use crate::io::onnx::proto::attribute_proto::AttributeType;
use crate::io::onnx::proto::tensor_proto::{DataLocation, DataType};
use crate::io::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto,
};
use crate::matrix::Matrix;
use crate::nn::loss::Loss;

fn node(op: &str, inputs: &[&str], out: &str) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        name: Some(format!("{op}_{out}")),
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        float_data: v.to_vec(),
        ..Default::default()
    }
}

fn scalar(name: &str, v: f32) -> TensorProto {
    tensor(name, &[], &[v])
}

fn io(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        ..Default::default()
    }
}

/// x [n, 2] → MatMul W [2, 3] + b → (activation nodes) → Gemm [1, 3]ᵀ → out.
fn graph(activation: Vec<NodeProto>, act_out: &str) -> GraphProto {
    let mut nodes = vec![
        node("MatMul", &["x", "w1"], "m"),
        node("Add", &["m", "b1"], "h"),
    ];
    nodes.extend(activation);
    let mut gemm = node("Gemm", &[act_out, "w2", "b2"], "out");
    gemm.attribute.push(AttributeProto {
        name: Some("transB".into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(1),
        ..Default::default()
    });
    nodes.push(gemm);
    GraphProto {
        node: nodes,
        initializer: vec![
            tensor("w1", &[2, 3], &[1.0, -2.0, 0.5, 0.25, 1.5, -1.0]),
            tensor("b1", &[3], &[0.1, 0.2, -0.3]),
            tensor("w2", &[1, 3], &[0.5, -1.0, 2.0]),
            tensor("b2", &[1], &[0.05]),
            scalar("sqrt2", std::f32::consts::SQRT_2),
            scalar("one", 1.0),
            scalar("half", 0.5),
        ],
        input: vec![io("x")],
        output: vec![io("out")],
        ..Default::default()
    }
}

fn bytes(g: GraphProto) -> Vec<u8> {
    ModelProto {
        graph: Some(g),
        ..Default::default()
    }
    .encode_to_vec()
}

fn err(g: GraphProto) -> String {
    match from_onnx_bytes(&bytes(g), "g.onnx", Cpu::with_threads(1)) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

/// The GELU of PyTorch's opset-17 export: x · ((erf(x / √2) + 1) · ½).
fn written_gelu() -> Vec<NodeProto> {
    vec![
        node("Div", &["h", "sqrt2"], "d"),
        node("Erf", &["d"], "e"),
        node("Add", &["e", "one"], "e1"),
        node("Mul", &["h", "e1"], "p"),
        node("Mul", &["p", "half"], "g"),
    ]
}

#[test]
fn a_written_out_gelu_is_read_and_computes_the_same() {
    let (mut m, meta) = from_onnx_bytes(
        &bytes(graph(written_gelu(), "g")),
        "g.onnx",
        Cpu::with_threads(1),
    )
    .unwrap();
    assert_eq!(meta.loss, Loss::Mse);
    assert_eq!(meta.layers.len(), 3);
    let x = [0.3f32, -1.2];
    let h: Vec<f64> = (0..3)
        .map(|j| {
            let w = [[1.0, -2.0, 0.5], [0.25, 1.5, -1.0]];
            let z = x[0] as f64 * w[0][j] + x[1] as f64 * w[1][j] + [0.1, 0.2, -0.3][j];
            0.5 * z * (1.0 + libm::erf(z / std::f64::consts::SQRT_2))
        })
        .collect();
    let want = 0.5 * h[0] - h[1] + 2.0 * h[2] + 0.05;
    let got = m
        .predict(&Matrix::from_vec(1, 2, x.to_vec()).unwrap())
        .unwrap();
    assert!((got.as_slice()[0] as f64 - want).abs() < 1e-5);
}

#[test]
fn element_wise_nodes_that_are_no_activation_are_named() {
    // x · sigmoid(x) (SiLU): neuron has no such activation.
    let silu = vec![node("Sigmoid", &["h"], "s"), node("Mul", &["h", "s"], "g")];
    let e = err(graph(silu, "g"));
    assert!(
        e.contains("unsupported operator") && e.contains("Sigmoid, Mul"),
        "{e}"
    );
}

#[test]
fn unsupported_operators_are_named_with_their_node() {
    let e = err(graph(vec![node("Softplus", &["h"], "g")], "g"));
    assert!(
        e.contains("unsupported operator Softplus at node 2 'Softplus_g'"),
        "{e}"
    );
}

#[test]
fn bad_graphs_are_refused() {
    let mut cyc = graph(vec![node("Relu", &["h"], "g")], "g");
    cyc.node[0].input[0] = "g".into();
    assert!(err(cyc).contains("cycle"));
    let mut missing = graph(vec![node("Relu", &["h"], "g")], "g");
    missing.initializer.remove(1);
    let e = err(missing);
    assert!(
        e.contains("reads 'b1'") && e.contains("no node, input or initialiser"),
        "{e}"
    );
    let mut shape = graph(vec![node("Relu", &["h"], "g")], "g");
    shape.initializer[2] = tensor("w2", &[1, 4], &[0.0; 4]);
    assert!(err(shape).contains("takes 4 inputs but receives 3"));
    let mut short = graph(vec![node("Relu", &["h"], "g")], "g");
    short.initializer[0].float_data.pop();
    assert!(err(short).contains("holds 5 values for shape [2, 3]"));
    let mut external = graph(vec![node("Relu", &["h"], "g")], "g");
    external.initializer[0].data_location = Some(DataLocation::External as i32);
    assert!(err(external).contains("external file"));
    let mut bias = graph(vec![node("Relu", &["h"], "g")], "g");
    bias.initializer[1] = tensor("b1", &[2], &[0.0; 2]);
    assert!(err(bias).contains("a bias of 2 values for a layer of 3 outputs"));
    let mut two = graph(vec![node("Relu", &["h"], "g")], "g");
    two.input.push(io("y"));
    assert!(err(two).contains("2 data inputs"));
    let mut nan = graph(vec![node("Relu", &["h"], "g")], "g");
    nan.initializer[3] = tensor("b2", &[1], &[f32::NAN]);
    assert!(err(nan).contains("non-finite"));
    let e = from_onnx_bytes(b"\x08\x07\x12garbage", "g.onnx", Cpu::with_threads(1));
    assert!(e.is_err());
}
