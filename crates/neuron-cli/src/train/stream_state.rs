//! What a streamed run starts from and leaves behind: the checkpoint's network or a new one,
//! Ctrl-C, the saved model with its description, the test score and the closing lines.

use std::sync::atomic::Ordering;

use anyhow::Result;
use neuron::data::preprocess::Preprocessor;
use neuron::io::checkpoint::Checkpoint;
use neuron::io::model_file::{save_model, ModelMeta, FORMAT};
use neuron::train::{EpochRecord, Evaluation, Event, History};
use neuron::{Backend, Control, Dataset, Loss, Optimizer, Resume, Sequential};
use serde_json::Value;

use super::build::{fresh_model, from_checkpoint};
use super::session::{resume_hint, stop_on_ctrl_c, INTERRUPTED};
use super::setup::restore;
use super::stream::STREAM_VALIDATION;
use super::TrainArgs;

/// A network, its optimizer, and the state to resume from, if any.
pub(super) type Start<B> = (Sequential<B>, Optimizer<B>, Option<Resume<f32>>);

/// The network and optimizer: the checkpoint's, with the point to resume from, or new ones.
pub(super) fn model_and_optimizer<B: Backend<E = f32>>(
    a: &TrainArgs,
    r: &super::recipe::Resolved,
    (pre, loss): (&Preprocessor, Loss),
    ck: Option<Checkpoint>,
    be: B,
) -> Result<Start<B>> {
    let mut opt = Optimizer::new(r.optimizer.clone())?;
    let Some(c) = ck else {
        return Ok((fresh_model(a, r, pre, loss, be)?, opt, None));
    };
    let model = from_checkpoint(be, &c, a.seed)?;
    let resume = restore(&mut opt, c)?;
    Ok((model, opt, Some(resume)))
}

/// Prints each epoch's line, and, when `ctrl_c`, stops the run on Ctrl-C (a second Ctrl-C ends
/// the process; in a job of several processes the launcher ends them all instead).
pub(super) fn stream_progress(quiet: bool, ctrl_c: bool) -> impl FnMut(&Event<'_>) -> Control {
    if ctrl_c {
        stop_on_ctrl_c();
    }
    move |e: &Event<'_>| {
        if let (Event::EpochEnd(rec), false) = (e, quiet) {
            eprintln!("{}", epoch_line(rec));
        }
        // Not at an epoch's end: a stop there ends the run as finished, not as resumable.
        match INTERRUPTED.load(Ordering::SeqCst) && !matches!(e, Event::EpochEnd(_)) {
            true => Control::Stop,
            false => Control::Continue,
        }
    }
}

/// Says where an interrupted run was saved and how to continue it, and ends the process with
/// status 130.
fn interrupted(a: &TrainArgs, history: &History) -> ! {
    let how = resume_hint(a);
    eprintln!(
        "neuron: interrupted after {} complete epoch(s); saved the current weights to {}{how}",
        history.epochs.len(),
        a.out.display()
    );
    std::process::exit(130);
}

/// Saves the model with its preprocessing and where it came from.
fn save<B: Backend<E = f32>>(
    a: &TrainArgs,
    model: &Sequential<B>,
    pre: Preprocessor,
    (rows, history, seconds): (usize, &History, f64),
) -> Result<()> {
    let provenance = serde_json::json!({
        "data": a.data, "streamed": true, "training_rows": rows,
        "epochs": history.epochs.len(), "best_epoch": history.best_epoch,
        "shuffle_buffer": a.shuffle_buffer, "seed": a.seed, "cache": a.cache,
        "val_split": a.val_split.unwrap_or(STREAM_VALIDATION), "test_split": a.test_split,
        "train_seconds": seconds, "interrupted": history.interrupted,
        "final_loss": history.epochs.last().map(|e| e.loss),
        "neuron": env!("CARGO_PKG_VERSION"),
    });
    save_model(&a.out, model, &model_meta(model, &pre, provenance))?;
    Ok(())
}

/// The description saved with the weights, in model files and checkpoints.
pub(super) fn model_meta<B: Backend<E = f32>>(
    model: &Sequential<B>,
    pre: &Preprocessor,
    provenance: Value,
) -> ModelMeta {
    ModelMeta {
        format: FORMAT.into(),
        input_dim: model.input_dim(),
        layers: model.specs().to_vec(),
        loss: model.loss(),
        preprocessing: Some(pre.clone()),
        provenance,
    }
}

/// Saves the model (and ends the process when the run was interrupted), scores the test rows,
/// writes `--metrics-json`, and reports.
pub(super) fn conclude<B: Backend<E = f32>>(
    a: &TrainArgs,
    model: &mut neuron::Sequential<B>,
    (pre, rows): (Preprocessor, usize),
    (history, seconds): (&neuron::train::History, f64),
    test: Option<&Dataset<f32>>,
) -> Result<()> {
    let columns = pre.column_table();
    save(a, model, pre, (rows, history, seconds))?;
    if history.interrupted {
        interrupted(a, history);
    }
    let tested = match test {
        Some(t) => Some((model.evaluate(t)?, t.x.rows())),
        None => None,
    };
    if let Some(path) = &a.metrics_json {
        let test = tested.as_ref().map(|(e, _)| e);
        let j = serde_json::json!({
            "history": history, "test": test, "train_seconds": seconds, "columns": columns,
        });
        neuron::io::atomic::atomic_write(path, serde_json::to_string_pretty(&j)?.as_bytes())?;
    }
    if !a.quiet {
        report(a, (history, seconds), tested.as_ref());
    }
    Ok(())
}

/// The closing lines: epochs, time, the model file, and the test score.
fn report(
    a: &TrainArgs,
    (history, seconds): (&neuron::train::History, f64),
    tested: Option<&(Evaluation, usize)>,
) {
    eprintln!(
        "trained {} epochs in {seconds:.1}s; saved {}",
        history.epochs.len(),
        a.out.display()
    );
    if let Some((e, rows)) = tested {
        eprintln!("test ({rows} rows held out): {}", score_text(e));
    }
}

/// One epoch's progress line.
fn epoch_line(rec: &EpochRecord) -> String {
    let pct = |v: Option<f64>, name: &str| {
        v.map_or(String::new(), |v| format!("  {name} {:.2}%", v * 100.0))
    };
    let val = rec
        .val_loss
        .map_or(String::new(), |v| format!("  val_loss {v:.4}"));
    format!(
        "epoch {:>3}  loss {:.4}{}{val}{}{}  {:.2}s",
        rec.epoch,
        rec.loss,
        pct(rec.accuracy, "acc"),
        pct(rec.val_accuracy, "val_acc"),
        rec.val_r2
            .map_or(String::new(), |v| format!("  val_r2 {v:.4}")),
        rec.seconds
    )
}

/// A held-out score: loss, and accuracy or R².
fn score_text(e: &Evaluation) -> String {
    let mut s = format!("loss {:.4}", e.loss);
    if let Some(acc) = e.accuracy {
        s.push_str(&format!(", accuracy {acc:.4}"));
    }
    if let Some(r) = &e.regression {
        s.push_str(&format!(", R² {:.4}", r.r2));
    }
    s
}
