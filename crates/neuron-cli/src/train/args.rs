//! The options of `neuron train`.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};

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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum BadRowsArg {
    /// Stop at the first bad row, naming its file, line and column.
    #[default]
    Stop,
    /// Skip bad rows and count them.
    Skip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum ScalingArg {
    /// Median and interquartile range, then a soft clip beyond ±3 (outliers grow only
    /// logarithmically).
    Robust,
    /// Mean and standard deviation.
    Standard,
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
    /// The CSV delimiter: one character, or `tab` (default: detected among ',', ';', tab, '|').
    #[arg(long, value_parser = crate::data::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Target column, by name or 0-based index (default: the last column).
    #[arg(long)]
    pub target: Option<String>,
    /// Task: auto treats text labels or at most 20 distinct integers as classes.
    #[arg(long, value_enum, default_value_t = TaskArg::Auto)]
    pub task: TaskArg,
    /// Hidden layer widths, comma-separated (default: 256 for tables of at most 5,000 rows, 128,64 for larger ones, 2048,1024 for
    /// images).
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
    /// Dropout after each hidden layer, in [0, 1) (default 0.3 for tables of at most 5,000 rows, 0 for larger
    /// ones, 0.1 for images).
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
    /// Share of a table's rows held out as a test set, reported at the end (default 0: train on
    /// all rows and report the cross-validation or validation estimate; image directories use
    /// their own test files).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub test_split: f64,
    /// Stop after this many epochs without validation improvement, keeping the best weights
    /// (default for tables: 10 in each cross-validation fold, 20 on a validation split; off for
    /// images, whose cosine schedule runs its full course; 0 disables).
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
    /// How numeric CSV features are scaled (default: robust).
    #[arg(long, value_enum)]
    #[serde(default)]
    pub scaling: Option<ScalingArg>,
    /// Scale numeric CSV features (the default).
    #[arg(long, overrides_with = "no_standardize")]
    pub standardize: bool,
    /// Do not scale numeric CSV features.
    #[arg(long)]
    pub no_standardize: bool,
    /// Leave these columns out of the inputs (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub drop: Vec<String>,
    /// Keep these columns as inputs even when they look constant or like identifiers, which
    /// are otherwise left out (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub keep: Vec<String>,
    /// Encode these columns as categories (one-hot of their most frequent values, the rest as
    /// "other") even when their cells are numbers or dates, such as postcodes or product codes;
    /// they are kept (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub categorical: Vec<String>,
    /// No column inference: every column is kept, as a number when all its cells are plain
    /// numbers, else as one-hot text (no constant or identifier columns left out, no dates or
    /// numbers such as 1,234.5 read as values).
    #[arg(long)]
    #[serde(default)]
    pub keep_all_columns: bool,
    /// Fill empty cells from training statistics (text columns: most frequent category).
    #[arg(long, value_enum)]
    pub impute: Option<ImputeArg>,
    /// After early stopping on a validation split, train a fresh network on all training rows,
    /// validation rows included, for the best epoch count.
    #[arg(long, overrides_with = "no_refit")]
    #[serde(default)]
    pub refit: bool,
    /// Keep the early-stopped network trained without the validation rows (the default).
    #[arg(long)]
    #[serde(default)]
    pub no_refit: bool,
    /// Choose the epoch count by k-fold cross-validation, then train on all rows (default: 5 for
    /// tables of at most 1,000 training rows, 3 up to 5,000, else off: one validation split; 0 or
    /// 1: off).
    #[arg(long)]
    #[serde(default)]
    pub cv_folds: Option<usize>,
    /// Keep the sample order (no per-epoch shuffling).
    #[arg(long)]
    pub no_shuffle: bool,
    /// Read the table from disk chunk by chunk while training (bounded memory, for tables larger
    /// than memory): one pass for the statistics, then each epoch through a shuffle buffer.
    #[arg(long)]
    #[serde(default)]
    pub stream: bool,
    /// Rows held in the shuffle buffer with --stream.
    #[arg(long, default_value_t = 100_000)]
    #[serde(default = "default_shuffle_buffer")]
    pub shuffle_buffer: usize,
    /// With --stream: keep the encoded, standardised rows in this directory, so that every epoch
    /// (and a later run on the same, unchanged data with the same options) reads them instead of
    /// parsing the table again. A cache made from other data or options is rebuilt.
    #[arg(long, requires = "stream")]
    #[serde(default)]
    pub cache: Option<PathBuf>,
    /// With --stream: what to do with a bad row (a wrong number of fields, a cell that is no
    /// number in a number column, an empty cell without --impute): stop, naming its file, line
    /// and column, or skip it and count it.
    #[arg(long, value_enum, default_value = "stop", requires = "stream")]
    #[serde(default)]
    pub bad_rows: BadRowsArg,
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
    /// Also save the checkpoint every this many training steps within an epoch (for long
    /// epochs, such as a large streamed table); --resume then continues from that step.
    #[arg(long, requires = "checkpoint")]
    #[serde(default)]
    pub checkpoint_steps: Option<u64>,
    /// Continue the run checkpointed in this directory, with its original options.
    #[arg(long, conflicts_with = "init")]
    pub resume: Option<PathBuf>,
    /// Under mpirun or srun with several processes, train together as one job (auto; needs a
    /// build with the `mpi` feature), or as one process regardless (off).
    #[arg(long, value_enum, default_value = "auto")]
    #[serde(default)]
    pub distributed: crate::distributed::DistributedArg,
}

#[derive(Parser)]
pub(super) struct Wrapper {
    #[command(flatten)]
    args: TrainArgs,
}

impl TrainArgs {
    /// The options of a plain `neuron train`.
    pub fn default_args() -> TrainArgs {
        Wrapper::parse_from(["train"]).args
    }
}

fn default_shuffle_buffer() -> usize {
    100_000
}

pub(super) fn default_device() -> String {
    "cpu".into()
}

pub(super) fn default_precision() -> String {
    "f32".into()
}
