//! What training reports: one [`EpochRecord`] per epoch, the [`History`] of a run, and an
//! [`Evaluation`].

use serde::{Deserialize, Serialize};

use crate::metrics::RegressionReport;

/// What happened in one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f64,
    /// Training accuracy over the epoch (classification losses).
    pub accuracy: Option<f64>,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy (classification).
    pub val_accuracy: Option<f64>,
    /// Validation mean absolute error (regression).
    pub val_mae: Option<f64>,
    /// Validation R² (regression).
    pub val_r2: Option<f64>,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f64,
}

/// The record of a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per completed epoch.
    pub epochs: Vec<EpochRecord>,
    /// The epoch (from 1) whose weights the model holds after early stopping restored them.
    pub best_epoch: Option<usize>,
    /// Whether early stopping (or an observer) ended training before the last epoch.
    pub stopped_early: bool,
    /// Whether an observer stopped training in the middle of an epoch.
    #[serde(default)]
    pub interrupted: bool,
}

/// Loss and metrics of a model on a data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean loss.
    pub loss: f64,
    /// Accuracy (classification losses).
    pub accuracy: Option<f64>,
    /// MSE, MAE and R² (regression, i.e. MSE loss).
    pub regression: Option<RegressionReport>,
}
