//! [`FitConfig`]: how to train, and its checks.

use serde::{Deserialize, Serialize};

use crate::data::augment::Augment;
use crate::error::{NeuronError, Result};

/// How to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Samples per mini-batch.
    pub batch_size: usize,
    /// Reshuffle the training samples every epoch.
    pub shuffle: bool,
    /// Seed for shuffling and the validation split.
    pub seed: u64,
    /// Share of the training data held out for validation when no validation set is given.
    pub validation_split: f64,
    /// Stop after this many epochs without improvement of the monitored loss (validation loss
    /// when there is validation data, else training loss), and restore the best weights.
    pub patience: Option<usize>,
    /// Smallest decrease of the monitored loss that counts as an improvement.
    pub min_delta: f64,
    /// Skip the last batch of an epoch when it is smaller than `batch_size`.
    pub drop_last: bool,
    /// Random shifts and flips of training images (inputs must be `height × width` pixels).
    #[serde(default)]
    pub augment: Option<Augment>,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 10,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            validation_split: 0.0,
            patience: None,
            min_delta: 0.0,
            drop_last: false,
            augment: None,
        }
    }
}

impl FitConfig {
    /// Checks the ranges of every field.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(NeuronError::arg("epochs must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(NeuronError::arg("batch size must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return Err(NeuronError::arg(format!(
                "validation split must be in [0, 1), got {}",
                self.validation_split
            )));
        }
        if let Some(a) = self.augment {
            if a.height == 0 || a.width == 0 || a.max_shift >= a.height.max(a.width) {
                return Err(NeuronError::arg(
                    "augmentation needs a positive image size and a smaller shift",
                ));
            }
        }
        if !(self.min_delta >= 0.0) {
            return Err(NeuronError::arg("min_delta must be ≥ 0"));
        }
        Ok(())
    }
}
