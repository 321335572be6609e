//! Files: model files and checkpoints (safetensors), their shared helpers, atomic writes, and
//! ONNX export.

pub mod atomic;
pub mod checkpoint;
pub mod model_file;
pub mod onnx;
mod st;
