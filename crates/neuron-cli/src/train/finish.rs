//! After training: test metrics, the model file with its provenance, `--metrics-json`, `--plot`,
//! and the closing lines.

use anyhow::{Context, Result};
use neuron::io::model_file::{save_model, ModelMeta};
use neuron::{Backend, Cpu, EpochRecord};
use serde_json::json;

use super::session::Trained;
use super::Job;
use crate::report::{self, Report};

/// Evaluates the test rows, saves the model and the requested files, and reports.
pub(super) fn finish<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    t: Trained<B>,
    meta: ModelMeta,
    train_rows: usize,
) -> Result<()> {
    let a = job.a;
    // Evaluation and saving work on a CPU copy of the trained weights.
    let mut model = t
        .model
        .to_backend(Cpu::<f32>::with_threads(job.threads), a.seed)?;
    let test = match &job.prep.test {
        Some(e) => Some(report::compute(&mut model, &job.prep.pre, e)?),
        None => None,
    };
    let test_json = test.as_ref().map(report::to_json);
    let meta = ModelMeta {
        provenance: provenance(job, &t, train_rows, &test_json),
        ..meta
    };
    save_model(&a.out, &model, &meta).with_context(|| format!("saving {}", a.out.display()))?;
    if let Some(p) = &a.metrics_json {
        let columns = job
            .prep
            .pre
            .image
            .is_none()
            .then(|| job.prep.pre.column_table());
        let j = json!({
            "history": t.history, "test": test_json, "train_seconds": t.seconds, "columns": columns,
        });
        neuron::io::atomic::atomic_write(p, serde_json::to_string_pretty(&j)?.as_bytes())?;
    }
    if let Some(p) = &a.plot {
        crate::plot::draw(p, &t.history, job.prep.pre.task())?;
    }
    if !a.quiet {
        summary(job, &t, test.as_ref());
    }
    Ok(())
}

/// Where the model came from: versions, data, run, recipe and test metrics.
fn provenance<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    t: &Trained<B>,
    train_rows: usize,
    test_json: &Option<serde_json::Value>,
) -> serde_json::Value {
    let (a, r, h) = (job.a, &job.r, &t.history);
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cv = t.cv.as_ref().map(|c| {
        json!({ "folds": c.scores.len(), "epochs": c.epochs, "metric": c.metric, "scores": c.scores })
    });
    json!({
        "neuron_version": env!("CARGO_PKG_VERSION"),
        "created_unix": created,
        "data": a.data,
        "train_samples": train_rows,
        "epochs_run": h.epochs.len(),
        "refit_epochs": t.refit_epochs,
        "cross_validation": cv,
        "best_epoch": h.best_epoch,
        "stopped_early": h.stopped_early,
        "train_seconds": t.seconds,
        "threads": job.threads,
        "device": job.be.name(),
        "seed": a.seed,
        "optimizer": r.optimizer,
        "batch_size": r.batch,
        "val_split": r.val_split,
        "test_split": if job.prep.images { serde_json::Value::Null } else { json!(a.test_split) },
        "init": a.init.as_ref().map(|p| p.display().to_string()),
        "test": test_json,
    })
}

/// The closing lines: epochs and time, then the test metrics, or else what cross-validation or
/// validation measured, or else the final training loss.
fn summary<B: Backend<E = f32>>(job: &Job<'_, B>, t: &Trained<B>, test: Option<&Report>) {
    let (a, h) = (job.a, &t.history);
    eprintln!(
        "trained {} epochs in {:.1}s{}; saved {}",
        h.epochs.len(),
        t.seconds,
        match (h.best_epoch, h.stopped_early) {
            (Some(b), true) => format!(" (stopped early, best epoch {b} restored)"),
            (Some(b), false) => format!(" (best epoch {b} restored)"),
            _ => String::new(),
        },
        a.out.display()
    );
    let no_test = "(no test set: --test-split 0.2 holds one out)";
    if let Some(r) = test {
        println!(
            "test metrics ({}):",
            if job.prep.images {
                "the data's test files".to_string()
            } else {
                format!("{:.0} % of the rows held out", a.test_split * 100.0)
            }
        );
        report::print(r);
    } else if let Some(cv) = &t.cv {
        println!("{} {no_test}", cv.summary());
    } else if let Some(v) = h.best_epoch.and_then(|b| h.epochs.get(b - 1)) {
        println!("{} {no_test}", validation_line(v, job.r.val_split));
    } else if let Some(l) = h.epochs.last() {
        println!("final training loss {:.4}", l.loss);
    }
}

/// The validation metrics of the restored epoch, in one line.
fn validation_line(e: &EpochRecord, share: f64) -> String {
    let mut s = format!(
        "validation ({:.0} % of the rows, chose epoch {}): loss {:.4}",
        share * 100.0,
        e.epoch,
        e.val_loss.unwrap_or(f64::NAN)
    );
    if let Some(acc) = e.val_accuracy {
        s += &format!(", accuracy {acc:.4}");
    }
    if let Some(r2) = e.val_r2 {
        s += &format!(", R² {r2:.4}");
    }
    s
}
