//! Metrics of a model on labelled data: computing them, printing them, and their JSON.

use anyhow::{Context, Result};
use neuron::classes_from_outputs;
use neuron::data::preprocess::Preprocessor;
use neuron::metrics::{
    classification_report, regression_report, ClassificationReport, RegressionReport,
};
use neuron::{Cpu, Sequential};
use serde_json::json;

use crate::data::Encoded;

/// Metrics of a model on some data.
pub enum Report {
    Classification(ClassificationReport, Vec<String>),
    Regression(RegressionReport),
}

/// Computes metrics, in the target's own units for regression.
pub fn compute(
    model: &mut Sequential<Cpu<f32>>,
    pre: &Preprocessor,
    e: &Encoded,
) -> Result<Report> {
    let out = model.predict(&e.x)?;
    if let (Some(truth), Some(labels)) = (&e.classes, pre.labels()) {
        let pred = classes_from_outputs(&out);
        return Ok(Report::Classification(
            classification_report(truth, &pred, labels.len()),
            labels.to_vec(),
        ));
    }
    let values = e
        .values
        .as_ref()
        .context("the data have no target column")?;
    let t: Vec<f64> = values
        .iter()
        .map(|&v| pre.unscale_value(v as f64))
        .collect();
    let p: Vec<f64> = out
        .as_slice()
        .iter()
        .map(|&v| pre.unscale_value(v as f64))
        .collect();
    Ok(Report::Regression(regression_report(&t, &p, 1)))
}

pub fn to_json(r: &Report) -> serde_json::Value {
    match r {
        Report::Classification(c, labels) => json!({
            "task": "classification",
            "n": c.n,
            "accuracy": c.accuracy,
            "macro_f1": c.macro_f1,
            "labels": labels,
            "per_class": labels.iter().zip(&c.classes).map(|(l, s)| json!({
                "label": l, "precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support
            })).collect::<Vec<_>>(),
            "confusion": c.confusion,
        }),
        Report::Regression(r) => json!({
            "task": "regression", "n": r.n, "mse": r.mse, "mae": r.mae, "r2": r.r2,
        }),
    }
}

pub fn print(r: &Report) {
    match r {
        Report::Classification(c, labels) => {
            println!("samples   {}", c.n);
            println!("accuracy  {:.4}  ({:.2} %)", c.accuracy, c.accuracy * 100.0);
            println!("macro F1  {:.4}", c.macro_f1);
            let w = labels
                .iter()
                .map(|l| l.len())
                .max()
                .unwrap_or(5)
                .clamp(5, 24);
            println!();
            println!("{:>w$}  precision  recall      f1  support", "class");
            for (l, s) in labels.iter().zip(&c.classes) {
                println!(
                    "{l:>w$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}",
                    s.precision, s.recall, s.f1, s.support
                );
            }
            println!();
            println!("confusion matrix (rows: true class, columns: predicted)");
            let cw = c
                .confusion
                .iter()
                .flatten()
                .map(|v| v.to_string().len())
                .max()
                .unwrap_or(1)
                .max(3);
            print!("{:>w$} ", "");
            for l in labels {
                print!(" {:>cw$}", truncate(l, cw));
            }
            println!();
            for (l, row) in labels.iter().zip(&c.confusion) {
                print!("{l:>w$} ");
                for v in row {
                    print!(" {v:>cw$}");
                }
                println!();
            }
        }
        Report::Regression(r) => {
            println!("samples  {}", r.n);
            println!("MSE      {:.6}", r.mse);
            println!("RMSE     {:.6}", r.mse.sqrt());
            println!("MAE      {:.6}", r.mae);
            println!("R²       {:.6}", r.r2);
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
