//! Files: model files and checkpoints (safetensors), their shared helpers, and atomic writes.

pub mod atomic;
pub mod checkpoint;
pub mod model_file;
mod st;
