//! `neuron predict`: predictions of a saved model, as CSV.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use neuron::data::preprocess::Task;

use crate::data::{self, probabilities};
use neuron::classes_from_outputs;

#[derive(clap::Args)]
pub struct PredictArgs {
    /// The model file (from `neuron train`).
    #[arg(long)]
    pub model: PathBuf,
    /// Data to predict: a CSV file (the target column may be absent), an IDX directory, or builtin:NAME.
    #[arg(long)]
    pub data: String,
    /// The CSV delimiter: one character, or `tab` (default: detected among ',', ';', tab, '|').
    #[arg(long, value_parser = crate::data::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Add one `p_<label>` probability column per class.
    #[arg(long)]
    pub proba: bool,
    /// Write the CSV here (atomically) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads to use (default: all cores; also NEURON_THREADS).
    #[arg(long, env = "NEURON_THREADS")]
    pub threads: Option<usize>,
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn run(a: &PredictArgs) -> Result<()> {
    let threads = crate::init_threads(a.threads)?;
    let (mut model, meta, pre) = crate::model::load(&a.model, threads)?;
    let raw = data::load(&a.data, false, a.delimiter)?;
    let e = data::encode(&raw, &pre, false)?;
    data::warn(&e);
    let out = model.predict(&e.x)?;
    let mut csv = String::new();
    match (pre.task(), pre.labels()) {
        (Task::Classify, Some(labels)) => {
            let classes = classes_from_outputs(&out);
            let probs = a.proba.then(|| probabilities(&out, meta.loss));
            csv.push_str("prediction");
            if a.proba {
                for l in labels {
                    csv.push(',');
                    csv.push_str(&quote(&format!("p_{l}")));
                }
            }
            csv.push('\n');
            for (r, &c) in classes.iter().enumerate() {
                csv.push_str(&quote(&labels[c]));
                if let Some(p) = &probs {
                    for v in p.row(r) {
                        let _ = write!(csv, ",{v:.6}");
                    }
                }
                csv.push('\n');
            }
        }
        _ => {
            if a.proba {
                anyhow::bail!(
                    "--proba needs a classification model; this one is a regression model"
                );
            }
            // One column per output (models imported from ONNX may have several).
            let k = out.cols();
            let header: Vec<String> = match k {
                1 => vec!["prediction".into()],
                _ => (0..k).map(|j| format!("prediction_{j}")).collect(),
            };
            csv.push_str(&header.join(","));
            csv.push('\n');
            for r in 0..out.rows() {
                let row: Vec<String> = out
                    .row(r)
                    .iter()
                    .map(|&v| pre.unscale_value(v as f64).to_string())
                    .collect();
                csv.push_str(&row.join(","));
                csv.push('\n');
            }
        }
    }
    match &a.out {
        Some(p) => {
            neuron::io::atomic::atomic_write(p, csv.as_bytes())?;
            eprintln!("wrote {} predictions to {}", e.x.rows(), p.display());
        }
        None => print!("{csv}"),
    }
    Ok(())
}
