//! Loading a saved model for the commands that use one, with its checks.

use std::path::PathBuf;

use anyhow::{Context, Result};
use neuron::data::preprocess::Preprocessor;
use neuron::io::model_file::{load_model_on, ModelMeta};
use neuron::{Cpu, Sequential};

/// Loads a model and checks it carries preprocessing (every CLI-trained model does).
pub fn load(
    path: &PathBuf,
    threads: usize,
) -> Result<(Sequential<Cpu<f32>>, ModelMeta, Preprocessor)> {
    let (model, meta) = load_model_on(path, Cpu::with_threads(threads))?;
    let pre = meta.preprocessing.clone().with_context(|| {
        format!(
            "{}: the model has no preprocessing description",
            path.display()
        )
    })?;
    Ok((model, meta, pre))
}
