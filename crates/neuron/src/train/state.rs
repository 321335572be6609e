//! Where a training run stands ([`TrainState`]), resuming it, and saving it as it goes.

use serde::{Deserialize, Serialize};

use super::History;
use crate::backend::Backend;
use crate::error::Result;
use crate::nn::sequential::Sequential;
use crate::optim::Optimizer;
use crate::rng::Rng;

/// Where a training run stands, besides the weights and the optimizer state: everything needed to
/// continue it exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// The epoch in progress or next to run (from 1).
    pub epoch: usize,
    /// Batches of that epoch already done.
    pub batch: usize,
    /// The shuffling generator as it was at the start of `epoch`.
    pub rng: Rng,
    /// Training forward passes so far (they key the dropout masks).
    pub train_steps: u64,
    /// Sums of the loss and of correct predictions over the epoch's batches done so far.
    pub epoch_sums: [f64; 2],
    /// Samples of the epoch done so far.
    pub epoch_seen: usize,
    /// Seconds spent in the epoch so far.
    pub epoch_seconds: f64,
    /// Monitored loss and epoch of the best epoch so far (early stopping).
    pub best: Option<(f64, usize)>,
    /// Epochs since the best one.
    pub since_best: usize,
    /// The completed epochs.
    pub history: History,
    /// Whether training has ended (last epoch done, or stopped early).
    pub finished: bool,
}

impl TrainState {
    /// The state before the first epoch of a run seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        TrainState {
            epoch: 1,
            batch: 0,
            rng: Rng::new(seed),
            train_steps: 0,
            epoch_sums: [0.0; 2],
            epoch_seen: 0,
            epoch_seconds: 0.0,
            best: None,
            since_best: 0,
            history: History::default(),
            finished: false,
        }
    }
}

/// A saved state to continue training from.
#[derive(Clone, Debug)]
pub struct Resume<E> {
    /// The training state.
    pub state: TrainState,
    /// The best weights so far, when early stopping is on.
    pub best_weights: Option<Vec<Vec<E>>>,
}

/// Receives the complete training state to save it (see [`Sequential::fit_from`]).
pub trait Checkpointer<B: Backend> {
    /// Whether to save after epoch `epoch` (from 1) completes.
    fn due(&mut self, epoch: usize) -> bool;
    /// Whether to save in the middle of an epoch, after `batch` batches of it (the run's
    /// `steps`-th step in all). Never, unless a checkpointer says otherwise.
    fn due_within_epoch(&mut self, steps: u64, batch: usize) -> bool {
        let _ = (steps, batch);
        false
    }
    /// Saves the model's weights, the optimizer's state, the training state and the best weights.
    fn save(
        &mut self,
        model: &Sequential<B>,
        opt: &Optimizer<B>,
        state: &TrainState,
        best_weights: Option<&[Vec<B::E>]>,
    ) -> Result<()>;
}
