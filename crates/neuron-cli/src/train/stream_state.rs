//! What a streamed run starts from and leaves behind: the checkpoint's network or a new one,
//! Ctrl-C, and the saved model with its description.

use std::sync::atomic::Ordering;

use anyhow::Result;
use neuron::data::preprocess::Preprocessor;
use neuron::io::checkpoint::Checkpoint;
use neuron::io::model_file::{save_model, ModelMeta, FORMAT};
use neuron::train::{Event, History};
use neuron::{Backend, Control, Loss, Optimizer, Resume, Sequential};
use serde_json::Value;

use super::build::{fresh_model, from_checkpoint};
use super::session::{resume_hint, stop_on_ctrl_c, INTERRUPTED};
use super::setup::restore;
use super::stream::{epoch_line, STREAM_VALIDATION};
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

/// Prints each epoch's line, and stops the run on Ctrl-C (a second Ctrl-C ends the process).
pub(super) fn stream_progress(quiet: bool) -> impl FnMut(&Event<'_>) -> Control {
    stop_on_ctrl_c();
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
pub(super) fn interrupted(a: &TrainArgs, history: &History) -> ! {
    let how = resume_hint(a);
    eprintln!(
        "neuron: interrupted after {} complete epoch(s); saved the current weights to {}{how}",
        history.epochs.len(),
        a.out.display()
    );
    std::process::exit(130);
}

/// Saves the model with its preprocessing and where it came from.
pub(super) fn save<B: Backend<E = f32>>(
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
