//! `neuron export`: a model file as a standard ONNX model.

use std::path::PathBuf;

use anyhow::{Context, Result};

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The model file (safetensors, as `neuron train` writes it).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the ONNX model.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: &ExportArgs) -> Result<()> {
    neuron::io::onnx::export_model(&a.model, &a.out)
        .with_context(|| format!("exporting {} to {}", a.model.display(), a.out.display()))?;
    eprintln!(
        "wrote {} (ONNX, opset {})",
        a.out.display(),
        neuron::io::onnx::OPSET
    );
    Ok(())
}
