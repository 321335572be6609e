//! ONNX: the protobuf types of the ONNX project's own schema (`proto/onnx.proto`, generated at
//! build time by prost; nothing is hand-encoded), exporting a model as an ONNX graph, and
//! reading MLP-shaped ONNX graphs as models.

pub mod export;
pub mod import;

/// The ONNX protobuf messages (`onnx.ModelProto`, `GraphProto`, `NodeProto`, ...).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

pub use export::{export_model, to_onnx_bytes, OPSET};
pub use import::{from_onnx_bytes, looks_like_onnx};
