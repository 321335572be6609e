//! `neuron train`: fit a model on a data source, save it, report test metrics.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use std::sync::atomic::{AtomicBool, Ordering};

use neuron::augment::Augment;
use neuron::checkpoint::{load_checkpoint, save_checkpoint, Checkpoint};
use neuron::model_file::{save_model, ModelMeta, FORMAT};

/// Default number of epochs for image data.
const IMAGE_EPOCHS: usize = 80;
use neuron::preprocess::{Impute, Preprocessor, Task};
use neuron::{
    Activation, Backend, Checkpointer, Cpu, Dataset, FitConfig, Loss, LrSchedule, Optimizer,
    OptimizerConfig, OptimizerKind, Resume, Rng, Sequential, TrainState,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::{self, Raw};
use crate::device::OnBackend;
use crate::progress::Progress;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum TaskArg {
    Auto,
    Classify,
    Regress,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum LossArg {
    Auto,
    Mse,
    CrossEntropy,
    Bce,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum ImputeArg {
    Mean,
    Median,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum ScheduleArg {
    Constant,
    Cosine,
    Step,
    Exponential,
}

#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct TrainArgs {
    /// Training data: a CSV file (optionally .gz), a directory of IDX files, fashion-mnist, or
    /// builtin:digits|table-area|xor|circles|spirals.
    #[arg(long, default_value = "builtin:digits")]
    pub data: String,
    /// Target column, by name or 0-based index (default: the last column).
    #[arg(long)]
    pub target: Option<String>,
    /// Task: auto treats text labels or at most 20 distinct integers as classes.
    #[arg(long, value_enum, default_value_t = TaskArg::Auto)]
    pub task: TaskArg,
    /// Hidden layer widths, comma-separated (default: 128,64 for tables, 2048,1024 for images).
    #[arg(long)]
    pub layers: Option<String>,
    /// Hidden activation: relu, sigmoid, tanh, leaky-relu, gelu or identity.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Loss: auto is cross-entropy for classification, mse for regression.
    #[arg(long, value_enum, default_value_t = LossArg::Auto)]
    pub loss: LossArg,
    /// Label smoothing for cross-entropy, in [0, 1) (default 0 for tables, 0.1 for images).
    #[arg(long)]
    pub label_smoothing: Option<f64>,
    /// Optimizer: sgd, momentum, nesterov, adam, adamw or rmsprop.
    #[arg(long, default_value = "adamw")]
    pub optimizer: String,
    /// Learning rate (default 1e-3; 0.01 for sgd, momentum and nesterov).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Weight decay (decoupled for adamw, L2 otherwise).
    #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
    pub weight_decay: f64,
    /// Momentum for momentum and nesterov.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// Clip gradients to this global norm.
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Learning-rate schedule (default: constant for tables, cosine for images).
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleArg>,
    /// Warm-up epochs for the cosine schedule (default 0 for tables, 2 for images).
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Dropout after each hidden layer, in [0, 1) (default 0 for tables, 0.1 for images).
    #[arg(long, allow_negative_numbers = true)]
    pub dropout: Option<f64>,
    /// Maximum number of epochs (default 200 for tables, 80 for images).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Mini-batch size (default 32 for tables, 256 for images).
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<i64>,
    /// Share of the training rows held out for validation: early stopping, progress (default 0.1
    /// for tables, 0.05 for images).
    #[arg(long, allow_negative_numbers = true)]
    pub val_split: Option<f64>,
    /// Share of a table's rows held out as a test set, reported at the end (0 to train on all;
    /// image directories use their own test files).
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    pub test_split: f64,
    /// Stop after this many epochs without validation improvement, keeping the best weights
    /// (default 20 for tables; off for images, whose cosine schedule runs its full course; 0 disables).
    #[arg(long)]
    pub patience: Option<usize>,
    /// Seed for initialisation, shuffling, splits and dropout.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Threads to use (default: all cores; also NEURON_THREADS).
    #[arg(long, env = "NEURON_THREADS")]
    pub threads: Option<usize>,
    /// Where to train: cpu, cuda (the first GPU) or cuda:N (needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    #[serde(default = "default_device")]
    pub device: String,
    /// Precision of the GPU's matrix products: f32, or tf32 (tensor cores; faster on wide layers).
    #[arg(long, default_value = "f32")]
    #[serde(default = "default_precision")]
    pub precision: String,
    /// Standardise numeric CSV features (the default).
    #[arg(long, overrides_with = "no_standardize")]
    pub standardize: bool,
    /// Do not standardise numeric CSV features.
    #[arg(long)]
    pub no_standardize: bool,
    /// Fill empty cells from training statistics (text columns: most frequent category).
    #[arg(long, value_enum)]
    pub impute: Option<ImputeArg>,
    /// Keep the sample order (no per-epoch shuffling).
    #[arg(long)]
    pub no_shuffle: bool,
    /// Start from a saved model's architecture, preprocessing and weights.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Where to save the model.
    #[arg(long, default_value = "model.safetensors")]
    pub out: PathBuf,
    /// Write per-epoch history and final metrics as JSON here.
    #[arg(long)]
    pub metrics_json: Option<PathBuf>,
    /// Draw training and validation curves to this PNG or SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
    /// Random shifts (see --augment-shift) and horizontal flips of training images (the default
    /// for images).
    #[arg(long, overrides_with = "no_augment")]
    pub augment: bool,
    /// No augmentation of training images.
    #[arg(long)]
    pub no_augment: bool,
    /// Largest random shift of training images, in pixels.
    #[arg(long, default_value_t = 1)]
    pub augment_shift: usize,
    /// Save a checkpoint (weights, optimizer, schedule, generator, early stopping, history) in this
    /// directory, atomically, every --checkpoint-every epochs, at the end, and on Ctrl-C.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Epochs between checkpoints.
    #[arg(long, default_value_t = 1)]
    pub checkpoint_every: usize,
    /// Continue the run checkpointed in this directory, with its original options.
    #[arg(long, conflicts_with = "init")]
    pub resume: Option<PathBuf>,
}

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: TrainArgs,
}

impl TrainArgs {
    /// The options of a plain `neuron train`.
    pub fn default_args() -> TrainArgs {
        Wrapper::parse_from(["train"]).args
    }
}

/// Options resolved against the kind of data.
struct Resolved {
    val_split: f64,
    label_smoothing: f64,
    augment: bool,
    hidden: Vec<usize>,
    activation: Activation,
    dropout: f64,
    epochs: usize,
    batch: usize,
    patience: Option<usize>,
    optimizer: OptimizerConfig,
}

fn resolve(a: &TrainArgs, images: bool) -> Result<Resolved> {
    let hidden: Vec<usize> = match &a.layers {
        Some(s) => {
            let parts: Vec<&str> = s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            if parts.is_empty() {
                bail!("--layers is empty: give hidden widths like 128,64");
            }
            parts
                .iter()
                .map(|p| match p.parse::<usize>() {
                    Ok(0) | Err(_) => bail!("--layers: '{p}' is not a positive width"),
                    Ok(n) => Ok(n),
                })
                .collect::<Result<_>>()?
        }
        None if images => vec![2048, 1024],
        None => vec![128, 64],
    };
    let activation = Activation::parse(&a.activation).with_context(|| {
        format!(
            "--activation: unknown '{}' (relu, sigmoid, tanh, leaky-relu, gelu, identity)",
            a.activation
        )
    })?;
    let dropout = a.dropout.unwrap_or(if images { 0.1 } else { 0.0 });
    if !(0.0..1.0).contains(&dropout) {
        bail!("--dropout must be in [0, 1), got {dropout}");
    }
    let epochs = a.epochs.unwrap_or(if images { IMAGE_EPOCHS } else { 200 });
    if epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let batch = match a.batch_size {
        Some(b) if b <= 0 => bail!("--batch-size must be at least 1, got {b}"),
        Some(b) => b as usize,
        None if images => 256,
        None => 32,
    };
    let val_split = a.val_split.unwrap_or(if images { 0.05 } else { 0.1 });
    if !(0.0..1.0).contains(&val_split) {
        bail!("--val-split must be in [0, 1), got {val_split}");
    }
    let label_smoothing = a.label_smoothing.unwrap_or(if images { 0.1 } else { 0.0 });
    if !(0.0..1.0).contains(&label_smoothing) {
        bail!("--label-smoothing must be in [0, 1), got {label_smoothing}");
    }
    if !(0.0..1.0).contains(&a.test_split) {
        bail!("--test-split must be in [0, 1), got {}", a.test_split);
    }
    let patience = match a.patience.unwrap_or(if images { 0 } else { 20 }) {
        0 => None,
        p => Some(p),
    };
    let kind = match OptimizerKind::parse(&a.optimizer) {
        Some(OptimizerKind::Momentum { .. }) => OptimizerKind::Momentum {
            momentum: a.momentum,
        },
        Some(OptimizerKind::Nesterov { .. }) => OptimizerKind::Nesterov {
            momentum: a.momentum,
        },
        Some(k) => k,
        None => bail!(
            "--optimizer: unknown '{}' (sgd, momentum, nesterov, adam, adamw, rmsprop)",
            a.optimizer
        ),
    };
    let lr = a.lr.unwrap_or(match kind {
        OptimizerKind::Sgd | OptimizerKind::Momentum { .. } | OptimizerKind::Nesterov { .. } => {
            0.01
        }
        _ => 1e-3,
    });
    if !(lr > 0.0 && lr.is_finite()) {
        bail!("--lr must be a positive number, got {lr}");
    }
    let warmup = a.warmup.unwrap_or(if images { 2.0 } else { 0.0 });
    let default_schedule = if images {
        ScheduleArg::Cosine
    } else {
        ScheduleArg::Constant
    };
    let schedule = match a.schedule.unwrap_or(default_schedule) {
        ScheduleArg::Constant => LrSchedule::Constant,
        ScheduleArg::Cosine => LrSchedule::Cosine {
            warmup,
            min_lr: 0.0,
        },
        ScheduleArg::Step => LrSchedule::Step {
            every: (epochs / 3).max(1),
            gamma: 0.1,
        },
        ScheduleArg::Exponential => LrSchedule::Exponential { gamma: 0.95 },
    };
    let mut optimizer = OptimizerConfig::new(kind, lr)
        .weight_decay(a.weight_decay)
        .schedule(schedule);
    optimizer.clip_norm = a.clip_norm;
    optimizer.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Resolved {
        val_split,
        label_smoothing,
        augment: images && !a.no_augment,
        hidden,
        activation,
        dropout,
        epochs,
        batch,
        patience,
        optimizer,
    })
}

fn loss_for(a: &TrainArgs, r: &Resolved, task: Task) -> Result<Loss> {
    Ok(match (a.loss, task) {
        (LossArg::Auto | LossArg::CrossEntropy, Task::Classify) => Loss::CrossEntropy {
            label_smoothing: r.label_smoothing,
        },
        (LossArg::Bce, Task::Classify) => Loss::BinaryCrossEntropy,
        (LossArg::Mse, _) | (LossArg::Auto, Task::Regress) => Loss::Mse,
        (l, Task::Regress) => {
            bail!("--loss {l:?} needs a classification target; this target is numeric (regression)")
        }
    })
}

/// Training, validation and test data, encoded, plus the preprocessing.
struct Prepared {
    pre: Preprocessor,
    train: data::Encoded,
    test: Option<data::Encoded>,
    images: bool,
}

fn prepare(a: &TrainArgs, init: Option<&Preprocessor>) -> Result<Prepared> {
    let raw = data::load(&a.data, true)?;
    match raw {
        Raw::Images(set) => {
            let pre = match init {
                Some(p) => p.clone(),
                None => {
                    let mut labels: Vec<u8> = set.labels.clone();
                    labels.sort_unstable();
                    labels.dedup();
                    if labels.len() < 2 {
                        bail!(
                            "{}: all images have the same label; classification needs two classes",
                            a.data
                        );
                    }
                    let max = *labels.last().unwrap_or(&0) as usize;
                    Preprocessor::for_images(
                        set.height,
                        set.width,
                        (0..=max).map(|l| l.to_string()).collect(),
                    )
                }
            };
            let train = data::encode(&Raw::Images(set), &pre, true)?;
            let test = match data::load(&a.data, false) {
                Ok(raw) => Some(data::encode(&raw, &pre, true)?),
                Err(_) => None,
            };
            Ok(Prepared {
                pre,
                train,
                test,
                images: true,
            })
        }
        Raw::Table(t) => {
            let mut idx: Vec<usize> = (0..t.rows.len()).collect();
            Rng::new(a.seed ^ 0x7E57).shuffle(&mut idx);
            let n_test = (t.rows.len() as f64 * a.test_split).round() as usize;
            let (test_idx, train_idx) = idx.split_at(n_test);
            let mut train_idx = train_idx.to_vec();
            train_idx.sort_unstable();
            let train_t = data::table_rows(&t, &train_idx);
            let pre = match init {
                Some(p) => p.clone(),
                None => {
                    let task = match a.task {
                        TaskArg::Auto => None,
                        TaskArg::Classify => Some(Task::Classify),
                        TaskArg::Regress => Some(Task::Regress),
                    };
                    let impute = a.impute.map(|i| match i {
                        ImputeArg::Mean => Impute::Mean,
                        ImputeArg::Median => Impute::Median,
                    });
                    Preprocessor::fit(
                        &train_t,
                        a.target.as_deref(),
                        task,
                        !a.no_standardize,
                        impute,
                    )?
                }
            };
            let train = data::encode(&Raw::Table(train_t), &pre, true)?;
            let test = if test_idx.is_empty() {
                None
            } else {
                let mut ti = test_idx.to_vec();
                ti.sort_unstable();
                Some(data::encode(
                    &Raw::Table(data::table_rows(&t, &ti)),
                    &pre,
                    true,
                )?)
            };
            Ok(Prepared {
                pre,
                train,
                test,
                images: false,
            })
        }
    }
}

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
    if a.checkpoint_every == 0 {
        bail!("--checkpoint-every must be at least 1");
    }
    let threads = crate::init_threads(a.threads)?;
    let init = match &a.init {
        Some(p) => Some(crate::eval::load(p, threads)?),
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

fn default_device() -> String {
    "cpu".into()
}

fn default_precision() -> String {
    "f32".into()
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

fn train_on<B: Backend<E = f32>>(job: TrainJob<'_>, be: B) -> Result<()> {
    let TrainJob {
        a,
        ck,
        init,
        known_pre,
        threads,
    } = job;
    let prep = prepare(a, known_pre.as_ref())?;
    let r = resolve(a, prep.images)?;
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
            let mut m = Sequential::from_specs(
                be.clone(),
                cpu_model.input_dim(),
                cpu_model.specs().to_vec(),
                cpu_model.loss(),
                a.seed,
                Some(&cpu_model.params()?),
            )?;
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
            let outputs = match (prep.pre.labels(), loss) {
                (Some(l), Loss::BinaryCrossEntropy) if l.len() == 2 => 1,
                (Some(l), _) => l.len(),
                (None, _) => 1,
            };
            let mut b = Sequential::builder(prep.pre.input_width());
            for &h in &r.hidden {
                b = b.dense(h).activation(r.activation);
                if r.dropout > 0.0 {
                    b = b.dropout(r.dropout);
                }
            }
            let m = b.dense(outputs).loss(loss).seed(a.seed).build(be.clone())?;
            (m, loss)
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
    let mut progress = Progress::new(a.quiet, r.epochs);
    progress.interrupted = Some(&INTERRUPTED);
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

    // Evaluation and saving work on a CPU copy of the trained weights.
    let mut model = Sequential::from_specs(
        Cpu::<f32>::with_threads(threads),
        model.input_dim(),
        model.specs().to_vec(),
        model.loss(),
        a.seed,
        Some(&model.params()?),
    )?;
    let test_report = match &prep.test {
        Some(e) => Some(crate::eval::compute(&mut model, &prep.pre, e)?),
        None => None,
    };
    let test_json = test_report.as_ref().map(crate::eval::to_json);
    let provenance = json!({
        "neuron_version": env!("CARGO_PKG_VERSION"),
        "created_unix": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "data": a.data,
        "train_samples": train.len(),
        "epochs_run": history.epochs.len(),
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
        neuron::atomic::atomic_write(p, serde_json::to_string_pretty(&j)?.as_bytes())?;
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
            crate::eval::print(r);
        } else if let Some(l) = last {
            println!("final training loss {:.4}", l.loss);
        }
    }
    Ok(())
}
