//! `neuron eval`: metrics of a saved model on labelled data.

use std::path::PathBuf;

use anyhow::Result;

use crate::data;
use crate::model::load;
use crate::report::{compute, print, to_json};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The model file (from `neuron train`).
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled data: a CSV file, an IDX directory (its test files), fashion-mnist, or builtin:NAME.
    #[arg(long)]
    pub data: String,
    /// The CSV delimiter: one character, or `tab` (default: detected among ',', ';', tab, '|').
    #[arg(long, value_parser = crate::data::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
    /// Threads to use (default: all cores; also NEURON_THREADS).
    #[arg(long, env = "NEURON_THREADS")]
    pub threads: Option<usize>,
}

pub fn run(a: &EvalArgs) -> Result<()> {
    let threads = crate::init_threads(a.threads)?;
    let (mut model, _, pre) = load(&a.model, threads)?;
    if pre.labels().is_none() && model.output_dim() > 1 {
        anyhow::bail!(
            "{}: the model predicts {} values per row; eval scores one target column (use neuron predict)",
            a.model.display(),
            model.output_dim()
        );
    }
    let raw = data::load(&a.data, false, a.delimiter)?;
    let e = data::encode(&raw, &pre, true)?;
    data::warn(&e);
    let r = compute(&mut model, &pre, &e)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&r))?);
    } else {
        print(&r);
    }
    Ok(())
}
