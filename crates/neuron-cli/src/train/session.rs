//! Running the training: Ctrl-C, checkpoints, cross-validation for the epoch count, the main
//! run, what a diverged or interrupted run leaves behind, and the refit on every row.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use neuron::io::checkpoint::save_checkpoint;
use neuron::io::model_file::{save_model, ModelMeta};
use neuron::{
    Backend, Checkpointer, Dataset, FitConfig, History, Hooks, NeuronError, Optimizer, Resume,
    Sequential, TrainState,
};
use serde_json::json;

use super::refit::{self, CvResult};
use super::{build, Job, CHECKPOINT_FILE};
use crate::progress::Progress;

/// Set by Ctrl-C: training stops after the current step.
pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What training produced.
pub(super) struct Trained<B: Backend> {
    pub model: Sequential<B>,
    pub history: History,
    /// The cross-validation that chose the epoch count, when it ran.
    pub cv: Option<CvResult>,
    /// Epochs of the refit on every row, when one replaced the model.
    pub refit_epochs: Option<usize>,
    /// Seconds of cross-validation and the main run.
    pub seconds: f64,
}

/// Saves checkpoints into a directory for [`Sequential::fit_from`].
pub(super) struct DirCheckpointer {
    path: PathBuf,
    every: usize,
    /// Steps between checkpoints within an epoch.
    steps: Option<u64>,
    /// False on every process of a job but the first: it takes part in the checkpoints (their
    /// loss sums are summed over the processes) but writes nothing.
    writes: bool,
    meta: ModelMeta,
    extra: serde_json::Value,
}

impl<B: Backend<E = f32>> Checkpointer<B> for DirCheckpointer {
    fn due(&mut self, epoch: usize) -> bool {
        epoch.is_multiple_of(self.every)
    }

    fn due_within_epoch(&mut self, steps: u64, _batch: usize) -> bool {
        self.steps.is_some_and(|n| n > 0 && steps.is_multiple_of(n))
    }

    fn save(
        &mut self,
        model: &Sequential<B>,
        opt: &Optimizer<B>,
        state: &TrainState,
        best: Option<&[Vec<f32>]>,
    ) -> neuron::Result<()> {
        if !self.writes {
            return Ok(());
        }
        save_checkpoint(&self.path, model, &self.meta, opt, state, best, &self.extra)
    }
}

/// First Ctrl-C: sets [`INTERRUPTED`], so that training stops after the current step; a second
/// one ends the process at once.
pub(super) fn stop_on_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
}

/// How to continue an interrupted run, to follow the line that says where it was saved.
pub(super) fn resume_hint(a: &super::TrainArgs) -> String {
    match &a.checkpoint {
        Some(dir) => format!("; continue with: neuron train --resume {}", dir.display()),
        None => " (train with --checkpoint DIR to be able to resume)".to_string(),
    }
}

/// Progress of a run of `epochs` epochs (printing nothing when `quiet`) that stops on Ctrl-C.
pub(super) fn stoppable_progress(quiet: bool, epochs: usize) -> Progress {
    let mut p = Progress::new(quiet, epochs);
    p.interrupted = Some(&INTERRUPTED);
    p
}

/// `cfg` for training on every row for exactly `epochs` epochs: no validation, no early stopping.
pub(super) fn on_all_rows(cfg: &FitConfig, epochs: usize) -> FitConfig {
    FitConfig {
        epochs,
        validation_split: 0.0,
        patience: None,
        ..cfg.clone()
    }
}

/// Trains `model`: chooses the epoch count by cross-validation where the recipe says so, runs,
/// handles divergence and Ctrl-C, and refits on every row where asked.
pub(super) fn train<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    mut model: Sequential<B>,
    opt: &mut Optimizer<B>,
    train: &Dataset<f32>,
    cfg: FitConfig,
    resume: Option<Resume<f32>>,
    meta: &ModelMeta,
) -> Result<Trained<B>> {
    let (a, r) = (job.a, &job.r);
    // First Ctrl-C: stop after the current step; a second one ends the process at once. In a
    // job of several processes the launcher ends them all, and the last checkpoint stays whole.
    if job.cluster.is_none() {
        stop_on_ctrl_c();
    }
    let mut checkpointer = dir_checkpointer(job.a, meta, job.cluster.is_none_or(|c| c.rank == 0))?;
    let t0 = Instant::now();
    let cv = match r.folds > 1 && a.init.is_none() && train.len() >= 2 * r.folds {
        true => refit::choose_epochs(job, model.loss(), train, &cfg)?,
        false => None,
    };
    let (cfg, mut progress) = match &cv {
        Some(cv) => (
            on_all_rows(&cfg, cv.epochs),
            stoppable_progress(a.quiet, cv.epochs),
        ),
        None => (cfg, stoppable_progress(a.quiet, r.epochs)),
    };
    let mut sync = job.cluster.map(|c| c.sync());
    let hooks = Hooks {
        observer: &mut progress,
        resume,
        checkpointer: checkpointer.as_mut().map(|c| c as &mut dyn Checkpointer<B>),
        sync: crate::distributed::as_dyn(&mut sync),
    };
    let fitted = model.fit_hooked(opt, train, None, &cfg, hooks);
    let seconds = t0.elapsed().as_secs_f64();
    let history = settle(job, fitted, &model, meta)?;
    let mut trained = Trained {
        model,
        history,
        cv,
        refit_epochs: None,
        seconds,
    };
    refit_on_all_rows(job, &mut trained, train, &cfg)?;
    Ok(trained)
}

/// The checkpoint writer for `--checkpoint DIR`, creating the directory when it `writes`.
pub(super) fn dir_checkpointer(
    a: &super::TrainArgs,
    meta: &ModelMeta,
    writes: bool,
) -> Result<Option<DirCheckpointer>> {
    let Some(dir) = &a.checkpoint else {
        return Ok(None);
    };
    if writes {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(Some(DirCheckpointer {
        path: dir.join(CHECKPOINT_FILE),
        every: a.checkpoint_every,
        steps: a.checkpoint_steps,
        writes,
        meta: meta.clone(),
        extra: json!({ "args": a }),
    }))
}

/// The history of a run that completed. A diverged run saves its last good weights and fails; an
/// interrupted one saves its weights, says how to resume, and ends the process with status 130.
fn settle<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    fitted: neuron::Result<History>,
    model: &Sequential<B>,
    meta: &ModelMeta,
) -> Result<History> {
    let a = job.a;
    if job.cluster.is_some_and(|c| c.rank > 0) {
        // Process 0 reports a divergence and saves.
        return crate::distributed::reported_by_zero(fitted);
    }
    let save = |provenance| {
        let meta = ModelMeta {
            provenance,
            ..meta.clone()
        };
        save_model(&a.out, model, &meta).with_context(|| format!("saving {}", a.out.display()))
    };
    let history = match fitted {
        Ok(h) => h,
        Err(e @ NeuronError::Diverged(_)) => {
            // The model holds the last good weights (from the start of the failing epoch).
            save(json!({ "data": a.data, "diverged": e.to_string() }))?;
            bail!(
                "{e}; the last good weights were saved to {}",
                a.out.display()
            );
        }
        Err(e) => return Err(e.into()),
    };
    if !history.interrupted {
        return Ok(history);
    }
    let done = history.epochs.len();
    save(json!({ "data": a.data, "interrupted": true, "epochs_completed": done }))?;
    let how = resume_hint(a);
    let which = match history.best_epoch {
        Some(_) => "best",
        None => "current",
    };
    eprintln!(
        "neuron: interrupted after {done} complete epoch(s); saved the {which} weights to {}{how}",
        a.out.display()
    );
    std::process::exit(130);
}

/// With `--refit`: a fresh network trained on every training row (validation rows included) for
/// the number of epochs that validation chose replaces the model.
fn refit_on_all_rows<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    t: &mut Trained<B>,
    train: &Dataset<f32>,
    cfg: &FitConfig,
) -> Result<()> {
    let (a, r) = (job.a, &job.r);
    let Some(best) = t.history.best_epoch else {
        return Ok(());
    };
    if !r.refit || a.init.is_some() || r.val_split == 0.0 || t.cv.is_some() {
        return Ok(());
    }
    if !a.quiet {
        eprintln!(
            "refitting on all {} training rows for {best} epochs (the best epoch on validation)",
            train.len()
        );
    }
    let loss = t.model.loss();
    let mut m = build::fresh_model(a, r, &job.prep.pre, loss, job.be.clone())?;
    let mut o = Optimizer::new(r.optimizer.clone())?;
    let mut progress = stoppable_progress(a.quiet, best);
    let mut sync = job.cluster.map(|c| c.sync());
    let hooks = Hooks {
        observer: &mut progress,
        resume: None,
        checkpointer: None,
        sync: crate::distributed::as_dyn(&mut sync),
    };
    let h = m.fit_hooked(&mut o, train, None, &on_all_rows(cfg, best), hooks)?;
    if !h.interrupted && h.epochs.len() == best {
        t.model = m;
        t.refit_epochs = Some(best);
    }
    Ok(())
}
