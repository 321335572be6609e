//! Defaults resolved against the kind of data, and the loss for the task.

use anyhow::{bail, Context, Result};
use neuron::data::preprocess::Task;
use neuron::{Activation, Loss, LrSchedule, OptimizerConfig, OptimizerKind};

use super::{LossArg, ScheduleArg, TrainArgs, IMAGE_EPOCHS};

/// Options resolved against the kind of data.
pub(super) struct Resolved {
    pub(super) val_split: f64,
    pub(super) label_smoothing: f64,
    pub(super) augment: bool,
    pub(super) hidden: Vec<usize>,
    pub(super) activation: Activation,
    pub(super) dropout: f64,
    pub(super) epochs: usize,
    pub(super) batch: usize,
    pub(super) patience: Option<usize>,
    pub(super) optimizer: OptimizerConfig,
    pub(super) refit: bool,
    pub(super) folds: usize,
}

/// Folds of the cross-validation that chooses the epoch count on tables of at most
/// [`CV_FEW_ROWS`] training rows, and on larger ones up to [`CV_MAX_ROWS`].
pub(super) const CV_FOLDS: (usize, usize) = (5, 3);
/// Tables up to this many training rows get 5 folds (each fold's validation is small).
pub(super) const CV_FEW_ROWS: usize = 1000;
/// Patience of each fold's early stopping (the mean of the fold curves picks the epoch count).
pub(super) const CV_PATIENCE: usize = 10;
/// Tables with more training rows than this use one validation split with early stopping.
pub(super) const CV_MAX_ROWS: usize = 5000;

/// `rows`: the training rows (tables of at most [`CV_MAX_ROWS`] get the small-table recipe).
pub(super) fn resolve(a: &TrainArgs, images: bool, rows: usize) -> Result<Resolved> {
    let small = !images && rows <= CV_MAX_ROWS;
    let activation = Activation::parse(&a.activation).with_context(|| {
        format!(
            "--activation: unknown '{}' (relu, sigmoid, tanh, leaky-relu, gelu, identity)",
            a.activation
        )
    })?;
    let dropout = a.dropout.unwrap_or(match (images, small) {
        (true, _) => 0.1,
        (false, true) => 0.3,
        (false, false) => 0.0,
    });
    unit_interval("--dropout", dropout)?;
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
    unit_interval("--val-split", val_split)?;
    let label_smoothing = a.label_smoothing.unwrap_or(if images { 0.1 } else { 0.0 });
    unit_interval("--label-smoothing", label_smoothing)?;
    unit_interval("--test-split", a.test_split)?;
    let folds = a.cv_folds.unwrap_or(match (small, rows <= CV_FEW_ROWS) {
        (false, _) => 0,
        (true, true) => CV_FOLDS.0,
        (true, false) => CV_FOLDS.1,
    });
    let patience = match a.patience.unwrap_or(match (images, folds > 1) {
        (true, _) => 0,
        (false, true) => CV_PATIENCE,
        (false, false) => 20,
    }) {
        0 => None,
        p => Some(p),
    };
    Ok(Resolved {
        val_split,
        label_smoothing,
        augment: images && !a.no_augment,
        hidden: hidden_widths(a, images, small)?,
        activation,
        dropout,
        epochs,
        batch,
        patience,
        optimizer: optimizer(a, images, epochs)?,
        refit: a.refit,
        folds,
    })
}

/// Fails unless `v` is in [0, 1).
fn unit_interval(flag: &str, v: f64) -> Result<()> {
    if !(0.0..1.0).contains(&v) {
        bail!("{flag} must be in [0, 1), got {v}");
    }
    Ok(())
}

/// The hidden layers' widths: `--layers`, else the default for the kind of data.
fn hidden_widths(a: &TrainArgs, images: bool, small: bool) -> Result<Vec<usize>> {
    let Some(s) = &a.layers else {
        return Ok(match (images, small) {
            (true, _) => vec![2048, 1024],
            (false, true) => vec![256],
            (false, false) => vec![128, 64],
        });
    };
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
        .collect()
}

/// The optimizer: its rule, learning rate (default by rule), schedule (default by kind of data),
/// weight decay and clipping, checked.
fn optimizer(a: &TrainArgs, images: bool, epochs: usize) -> Result<OptimizerConfig> {
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
    let default_schedule = match images {
        true => ScheduleArg::Cosine,
        false => ScheduleArg::Constant,
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
    Ok(optimizer)
}

pub(super) fn loss_for(a: &TrainArgs, r: &Resolved, task: Task) -> Result<Loss> {
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
