//! `neuron summary`: what a model file holds.

use std::path::PathBuf;

use anyhow::Result;
use neuron::data::preprocess::{ColumnEncoding, TargetEncoding};

#[derive(clap::Args)]
pub struct SummaryArgs {
    /// The model file.
    #[arg(long)]
    pub model: PathBuf,
}

pub fn run(a: &SummaryArgs) -> Result<()> {
    let (model, meta) = neuron::io::model_file::load_model(&a.model)?;
    println!("model     {}", a.model.display());
    println!("format    {}", meta.format);
    println!("inputs    {}", meta.input_dim);
    println!("outputs   {}", model.output_dim());
    println!("loss      {}", meta.loss.name());
    println!();
    println!(
        "{:<6} {:<44} {:<16} {:>10}",
        "index", "layer (PyTorch)", "output", "params"
    );
    let info = model.param_info();
    let mut width = meta.input_dim;
    for (i, spec) in meta.layers.iter().enumerate() {
        if let neuron::LayerSpec::Dense { outputs, .. } = spec {
            width = *outputs;
        }
        println!(
            "{:<6} {:<44} {:<16} {:>10}",
            i,
            spec.torch_name(),
            format!("[n, {width}]"),
            spec.num_params()
        );
    }
    println!(
        "{:<6} {:<44} {:<16} {:>10}",
        "",
        "total",
        "",
        model.num_params()
    );
    println!();
    println!("tensors (safetensors, loadable with torch.nn.Sequential.load_state_dict):");
    for p in &info {
        println!("  {:<12} {:?}", p.name, p.shape);
    }
    if let Some(pre) = &meta.preprocessing {
        println!();
        let numeric = pre
            .columns
            .iter()
            .filter(|c| matches!(c, ColumnEncoding::Numeric { .. }))
            .count();
        let text: Vec<String> = pre
            .columns
            .iter()
            .filter_map(|c| match c {
                ColumnEncoding::Categorical {
                    name, categories, ..
                } => Some(format!("{name} ({} categories)", categories.len())),
                _ => None,
            })
            .collect();
        let robust = pre
            .columns
            .iter()
            .any(|c| matches!(c, ColumnEncoding::Numeric { clip: Some(_), .. }));
        match pre.image {
            Some([h, w]) => println!("features  {h}×{w} image pixels scaled to [0, 1]"),
            None => println!(
                "features  {numeric} numeric{}{}{}",
                match (pre.standardize, robust) {
                    (true, true) => " (robust scaling: median, IQR, soft clip beyond ±3)",
                    (true, false) => " (standardised)",
                    (false, _) => "",
                },
                if text.is_empty() {
                    String::new()
                } else {
                    format!(", one-hot: {}", text.join(", "))
                },
                if pre.positional {
                    ", read by position (the ONNX graph names no columns)"
                } else {
                    ""
                }
            ),
        }
        if let Some(i) = pre.impute {
            println!("impute    {i:?}");
        }
        if pre.image.is_none() && !pre.positional {
            println!("columns:");
            for line in crate::columns::column_lines(pre) {
                println!("{line}");
            }
        }
        match &pre.target {
            TargetEncoding::Classes { name, labels } => {
                println!(
                    "target    '{name}': {} classes ({})",
                    labels.len(),
                    labels.join(", ")
                )
            }
            TargetEncoding::Value {
                name, mean, std, ..
            } => {
                println!("target    '{name}': regression (trained on (y − {mean:.4}) / {std:.4})")
            }
        }
    }
    if !meta.provenance.is_null() {
        println!();
        println!("provenance");
        if let Some(o) = meta.provenance.as_object() {
            for (k, v) in o {
                println!("  {k}: {}", v);
            }
        }
    }
    Ok(())
}
