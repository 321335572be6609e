//! `neuron train`: fit a model on a data source, save it, report test metrics.

mod args;
mod memory;
mod prepare;
mod recipe;
mod refit;

pub use args::*;
use prepare::prepare;
use recipe::{loss_for, resolve};

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};

use neuron::data::augment::Augment;
use neuron::data::preprocess::{Preprocessor, Task};
use neuron::io::checkpoint::{load_checkpoint, save_checkpoint, Checkpoint};
use neuron::io::model_file::{save_model, ModelMeta, FORMAT};
use neuron::{
    Backend, Checkpointer, Cpu, Dataset, FitConfig, Loss, Optimizer, Resume, Sequential, TrainState,
};
use serde_json::json;

use crate::data;
use crate::device::OnBackend;
use crate::progress::Progress;

/// Default number of epochs for image data.
const IMAGE_EPOCHS: usize = 80;

/// The checkpoint file inside a `--checkpoint` directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// Set by Ctrl-C: training stops after the current step.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Saves checkpoints into a directory for [`Sequential::fit_from`].
struct DirCheckpointer {
    path: PathBuf,
    every: usize,
    meta: ModelMeta,
    extra: serde_json::Value,
}

impl<B: Backend<E = f32>> Checkpointer<B> for DirCheckpointer {
    fn due(&mut self, epoch: usize) -> bool {
        epoch.is_multiple_of(self.every)
    }

    fn save(
        &mut self,
        model: &Sequential<B>,
        opt: &Optimizer<B>,
        state: &TrainState,
        best: Option<&[Vec<f32>]>,
    ) -> neuron::Result<()> {
        save_checkpoint(&self.path, model, &self.meta, opt, state, best, &self.extra)
    }
}

pub fn run(given: &TrainArgs) -> Result<()> {
    // Resuming takes every option from the checkpoint.
    let (a, ck) = match &given.resume {
        Some(dir) => {
            let path = dir.join(CHECKPOINT_FILE);
            if !path.exists() {
                bail!("{}: no checkpoint to resume from", path.display());
            }
            let ck = load_checkpoint(&path)?;
            let mut a: TrainArgs = serde_json::from_value(ck.extra["args"].clone())
                .with_context(|| format!("{}: unreadable training options", path.display()))?;
            a.resume = None;
            a.init = None;
            a.checkpoint = Some(dir.clone());
            a.quiet = given.quiet;
            (a, Some(ck))
        }
        None => (given.clone(), None),
    };
    let a = &a;
    check_writable("--out", &a.out)?;
    for (flag, path) in [("--metrics-json", &a.metrics_json), ("--plot", &a.plot)] {
        if let Some(p) = path {
            check_writable(flag, p)?;
        }
    }
    if a.checkpoint_every == 0 {
        bail!("--checkpoint-every must be at least 1");
    }
    let threads = crate::init_threads(a.threads)?;
    let init = match &a.init {
        Some(p) => Some(crate::model::load(p, threads)?),
        None => None,
    };
    let known_pre = match &ck {
        Some(c) => Some(
            c.model
                .preprocessing
                .clone()
                .context("the checkpoint has no preprocessing description")?,
        ),
        None => init.as_ref().map(|(_, _, p)| p.clone()),
    };
    let tf32 = crate::device::tf32(&a.precision)?;
    let job = TrainJob {
        a,
        ck,
        init,
        known_pre,
        threads,
    };
    crate::device::dispatch(&a.device, threads, tf32, job)
}

/// Fails before training when `path` could not be written: its directory is missing or refuses
/// a new file.
fn check_writable(flag: &str, path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let probe = dir.join(format!(".neuron-write-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "{flag} {}: cannot write in {}: {e}",
            path.display(),
            dir.display()
        ),
    }
}

/// Everything `run` has read before a backend is chosen.
struct TrainJob<'a> {
    a: &'a TrainArgs,
    ck: Option<Checkpoint>,
    init: Option<(Sequential<Cpu<f32>>, ModelMeta, Preprocessor)>,
    known_pre: Option<Preprocessor>,
    threads: usize,
}

impl OnBackend for TrainJob<'_> {
    type Out = ();
    fn run<B: Backend<E = f32>>(self, be: B) -> Result<()> {
        train_on(self, be)
    }
}

/// The validation metrics of the restored epoch, in one line.
fn validation_line(e: &neuron::EpochRecord, share: f64) -> String {
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

/// Progress of a run of `epochs` epochs (printing nothing when `quiet`) that stops on Ctrl-C.
fn stoppable_progress(quiet: bool, epochs: usize) -> Progress {
    let mut p = Progress::new(quiet, epochs);
    p.interrupted = Some(&INTERRUPTED);
    p
}

/// `cfg` for training on every row for exactly `epochs` epochs: no validation, no early stopping.
fn on_all_rows(cfg: &FitConfig, epochs: usize) -> FitConfig {
    FitConfig {
        epochs,
        validation_split: 0.0,
        patience: None,
        ..cfg.clone()
    }
}

/// The network's output width: one per class, one for a two-class BCE model or a regression.
fn output_width(pre: &Preprocessor, loss: Loss) -> usize {
    match (pre.labels(), loss) {
        (Some(l), Loss::BinaryCrossEntropy) if l.len() == 2 => 1,
        (Some(l), _) => l.len(),
        (None, _) => 1,
    }
}

/// A new, seeded network of the resolved architecture for the preprocessed data.
fn fresh_model<B: Backend<E = f32>>(
    a: &TrainArgs,
    r: &recipe::Resolved,
    pre: &Preprocessor,
    loss: Loss,
    be: B,
) -> Result<Sequential<B>> {
    let mut b = Sequential::builder(pre.input_width());
    for &h in &r.hidden {
        b = b.dense(h).activation(r.activation);
        if r.dropout > 0.0 {
            b = b.dropout(r.dropout);
        }
    }
    Ok(b.dense(output_width(pre, loss))
        .loss(loss)
        .seed(a.seed)
        .build(be)?)
}

fn train_on<B: Backend<E = f32>>(job: TrainJob<'_>, be: B) -> Result<()> {
    let TrainJob {
        a,
        ck,
        init,
        known_pre,
        threads,
    } = job;
    let prep = prepare(a, known_pre.as_ref())?;
    let r = resolve(a, prep.images, prep.train.x.rows())?;
    let task = prep.pre.task();
    let (mut model, loss) = match (&ck, init) {
        (Some(c), _) => {
            let m = Sequential::from_specs(
                be.clone(),
                c.model.input_dim,
                c.model.layers.clone(),
                c.model.loss,
                a.seed,
                Some(&c.weights),
            )?;
            (m, c.model.loss)
        }
        (None, Some((cpu_model, _, _))) => {
            let mut m = cpu_model.to_backend(be.clone(), a.seed)?;
            if let (Some(ls), Loss::CrossEntropy { .. }) = (a.label_smoothing, m.loss()) {
                m.set_loss(Loss::CrossEntropy {
                    label_smoothing: ls,
                })?;
            }
            let loss = m.loss();
            (m, loss)
        }
        (None, None) => {
            let loss = loss_for(a, &r, task)?;
            let outputs = output_width(&prep.pre, loss);
            let widths: Vec<usize> = r.hidden.iter().copied().chain([outputs]).collect();
            memory::check(
                prep.pre.input_width(),
                &widths,
                r.batch,
                prep.train.x.rows(),
            )?;
            (fresh_model(a, &r, &prep.pre, loss, be.clone())?, loss)
        }
    };
    let y = data::targets(&prep.train, loss, model.output_dim())?;
    let train = Dataset::new(prep.train.x.clone(), y)?;
    if r.val_split > 0.0 {
        let n_val = (train.len() as f64 * r.val_split).round() as usize;
        if n_val == 0 || n_val >= train.len() {
            bail!(
                "{} training rows are too few to hold out a {:.0} % validation split (use --val-split 0)",
                train.len(),
                r.val_split * 100.0
            );
        }
    }
    let mut opt = Optimizer::new(r.optimizer.clone())?;
    let resume = match ck {
        Some(c) => {
            opt.load_state(c.optimizer)?;
            Some(Resume {
                state: c.state,
                best_weights: c.best_weights,
            })
        }
        None => None,
    };
    let cfg = FitConfig {
        epochs: r.epochs,
        batch_size: r.batch,
        shuffle: !a.no_shuffle,
        seed: a.seed,
        validation_split: r.val_split,
        patience: if r.val_split > 0.0 { r.patience } else { None },
        min_delta: 0.0,
        drop_last: false,
        augment: match (r.augment, prep.pre.image) {
            (true, Some([height, width])) => Some(Augment {
                height,
                width,
                max_shift: a.augment_shift,
                flip: true,
            }),
            _ => None,
        },
    };
    if !a.quiet {
        eprintln!(
            "training {} on {} ({} samples, {} features) → {}: {} parameters, {}, {} {} lr {}, batch {}, up to {} epochs, on {}",
            match task {
                Task::Classify => "a classifier",
                Task::Regress => "a regressor",
            },
            a.data,
            train.len(),
            prep.pre.input_width(),
            model.specs().iter().map(|s| s.torch_name()).collect::<Vec<_>>().join(" → "),
            model.num_params(),
            loss.name(),
            r.optimizer.kind.name(),
            if r.optimizer.weight_decay > 0.0 { format!("(weight decay {})", r.optimizer.weight_decay) } else { String::new() },
            r.optimizer.lr,
            r.batch,
            r.epochs,
            be.name()
        );
    }
    let mut progress = stoppable_progress(a.quiet, r.epochs);
    // First Ctrl-C: stop after the current step; a second one ends the process at once.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    let base_meta = ModelMeta {
        format: FORMAT.into(),
        input_dim: model.input_dim(),
        layers: model.specs().to_vec(),
        loss,
        preprocessing: Some(prep.pre.clone()),
        provenance: serde_json::Value::Null,
    };
    let mut checkpointer = match &a.checkpoint {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Some(DirCheckpointer {
                path: dir.join(CHECKPOINT_FILE),
                every: a.checkpoint_every,
                meta: base_meta.clone(),
                extra: json!({ "args": a }),
            })
        }
        None => None,
    };
    let t0 = Instant::now();
    let cv_chosen = if r.folds > 1 && a.init.is_none() && train.len() >= 2 * r.folds {
        refit::choose_epochs(a, &r, &prep.pre, loss, &be, &train, &cfg)?
    } else {
        None
    };
    let cfg = match &cv_chosen {
        Some(cv) => {
            progress = stoppable_progress(a.quiet, cv.epochs);
            on_all_rows(&cfg, cv.epochs)
        }
        None => cfg,
    };
    let fitted = model.fit_from(
        &mut opt,
        &train,
        None,
        &cfg,
        &mut progress,
        resume,
        checkpointer.as_mut().map(|c| c as &mut dyn Checkpointer<B>),
    );
    let train_seconds = t0.elapsed().as_secs_f64();
    let history = match fitted {
        Ok(h) => h,
        Err(e @ neuron::NeuronError::Diverged(_)) => {
            // The model holds the last good weights (from the start of the failing epoch).
            let mut meta = base_meta.clone();
            meta.provenance = json!({ "data": a.data, "diverged": e.to_string() });
            save_model(&a.out, &model, &meta)
                .with_context(|| format!("saving {}", a.out.display()))?;
            bail!(
                "{e}; the last good weights were saved to {}",
                a.out.display()
            );
        }
        Err(e) => return Err(e.into()),
    };
    if history.interrupted {
        let mut meta = base_meta.clone();
        meta.provenance = json!({ "data": a.data, "interrupted": true, "epochs_completed": history.epochs.len() });
        save_model(&a.out, &model, &meta).with_context(|| format!("saving {}", a.out.display()))?;
        let how = match &a.checkpoint {
            Some(dir) => format!("; continue with: neuron train --resume {}", dir.display()),
            None => " (train with --checkpoint DIR to be able to resume)".to_string(),
        };
        eprintln!(
            "neuron: interrupted after {} complete epoch(s); saved the {} weights to {}{how}",
            history.epochs.len(),
            if history.best_epoch.is_some() {
                "best"
            } else {
                "current"
            },
            a.out.display()
        );
        std::process::exit(130);
    }

    // Refit: a fresh network trained on every training row (validation rows included) for the
    // number of epochs that validation chose.
    let mut refit_epochs = None;
    if let (true, Some(best), None, false, None) = (
        r.refit,
        history.best_epoch,
        &a.init,
        r.val_split == 0.0,
        &cv_chosen,
    ) {
        if !a.quiet {
            eprintln!("refitting on all {} training rows for {best} epochs (the best epoch on validation)", train.len());
        }
        let mut m = fresh_model(a, &r, &prep.pre, loss, be.clone())?;
        let mut o = Optimizer::new(r.optimizer.clone())?;
        let h = m.fit(
            &mut o,
            &train,
            None,
            &on_all_rows(&cfg, best),
            &mut stoppable_progress(a.quiet, best),
        )?;
        if !h.interrupted && h.epochs.len() == best {
            model = m;
            refit_epochs = Some(best);
        }
    }
    // Evaluation and saving work on a CPU copy of the trained weights.
    let mut model = model.to_backend(Cpu::<f32>::with_threads(threads), a.seed)?;
    let test_report = match &prep.test {
        Some(e) => Some(crate::report::compute(&mut model, &prep.pre, e)?),
        None => None,
    };
    let test_json = test_report.as_ref().map(crate::report::to_json);
    let provenance = json!({
        "neuron_version": env!("CARGO_PKG_VERSION"),
        "created_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "data": a.data,
        "train_samples": train.len(),
        "epochs_run": history.epochs.len(),
        "refit_epochs": refit_epochs,
        "cross_validation": cv_chosen.as_ref().map(|c| json!({ "folds": c.scores.len(), "epochs": c.epochs, "metric": c.metric, "scores": c.scores })),
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "train_seconds": train_seconds,
        "threads": threads,
        "device": be.name(),
        "seed": a.seed,
        "optimizer": r.optimizer,
        "batch_size": r.batch,
        "val_split": r.val_split,
        "test_split": if prep.images { serde_json::Value::Null } else { json!(a.test_split) },
        "init": a.init.as_ref().map(|p| p.display().to_string()),
        "test": test_json,
    });
    let meta = ModelMeta {
        provenance,
        ..base_meta
    };
    save_model(&a.out, &model, &meta).with_context(|| format!("saving {}", a.out.display()))?;
    if let Some(p) = &a.metrics_json {
        let j = json!({ "history": history, "test": test_json, "train_seconds": train_seconds });
        neuron::io::atomic::atomic_write(p, serde_json::to_string_pretty(&j)?.as_bytes())?;
    }
    if let Some(p) = &a.plot {
        crate::plot::draw(p, &history, task)?;
    }
    if !a.quiet {
        let last = history.epochs.last();
        eprintln!(
            "trained {} epochs in {:.1}s{}; saved {}",
            history.epochs.len(),
            train_seconds,
            match (history.best_epoch, history.stopped_early) {
                (Some(b), true) => format!(" (stopped early, best epoch {b} restored)"),
                (Some(b), false) => format!(" (best epoch {b} restored)"),
                _ => String::new(),
            },
            a.out.display()
        );
        if let Some(r) = &test_report {
            println!(
                "test metrics ({}):",
                if prep.images {
                    "the data's test files".to_string()
                } else {
                    format!("{:.0} % of the rows held out", a.test_split * 100.0)
                }
            );
            crate::report::print(r);
        } else if let Some(cv) = &cv_chosen {
            println!(
                "{} (no test set: --test-split 0.2 holds one out)",
                cv.summary()
            );
        } else if let Some(v) = history.best_epoch.and_then(|b| history.epochs.get(b - 1)) {
            println!(
                "{} (no test set: --test-split 0.2 holds one out)",
                validation_line(v, r.val_split)
            );
        } else if let Some(l) = last {
            println!("final training loss {:.4}", l.loss);
        }
    }
    Ok(())
}
