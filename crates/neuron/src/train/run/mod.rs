//! [`TrainRun`]: one training run, driven step by step or to the end.

use std::time::Instant;

mod epoch;
mod step;

use super::evaluate::Resident;
use super::inspect::StepObserver;
use super::source::BatchSource;
use super::sync::GradientSync;
use super::{Checkpointer, FitConfig, History, Observer, Resume, TrainState};
use crate::backend::Backend;
use crate::data::dataset::Dataset;
use crate::error::{NeuronError, Result};
use crate::nn::sequential::Sequential;
use crate::optim::schedule::LrSchedule;
use crate::optim::{Optimizer, OptimizerSnapshot};
use crate::rng::Rng;

/// What a run's shape is, fixed when it starts.
struct Plan {
    rows: usize,
    batch_size: usize,
    batches: usize,
    base_lr: f64,
    schedule: LrSchedule,
    /// Check the loss on the host every this many steps (each check waits for the device).
    every: usize,
}

/// The epoch in progress.
struct Cursor<B: Backend> {
    epoch: usize,
    /// The shuffling generator after this epoch's order was drawn.
    rng: Rng,
    /// Batches done.
    batch: usize,
    /// Samples this worker trained on.
    seen: usize,
    /// Samples all workers trained on.
    global_seen: usize,
    started: Instant,
    lr: f64,
    /// Batches and samples covered by the last check of the loss.
    checked: (usize, usize),
    /// Loss and correct sums as of the last check.
    acc: [B::E; 2],
    /// With sample weights: `Σ w_i l_i` and `Σ w_i` over the epoch so far.
    weighted: Option<(f64, f64)>,
}

/// Where an epoch returns to when its loss diverges.
struct Snapshot<B: Backend> {
    params: Vec<B::Buf>,
    opt: Option<OptimizerSnapshot<B>>,
    steps: u64,
}

/// How [`TrainRun::run_epoch`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochEnd {
    /// The epoch completed; more follow.
    Continue,
    /// The epoch completed and training is over (last epoch, or early stopping).
    Finished,
    /// An observer stopped training in the middle of the epoch (the state was checkpointed).
    Interrupted,
}

/// One training run: the model, its optimizer, where batches come from, and where the run
/// stands. [`Sequential::fit`] is `TrainRun::new(…)?.run()`; a front end that wants control
/// between steps calls [`TrainRun::step`], [`TrainRun::run_epoch`] or [`TrainRun::end_epoch`].
///
/// A step is: gather a batch from the [`BatchSource`], forward, loss, backward, combine the
/// gradients across workers ([`GradientSync`]), update, then tell the [`Observer`] and, when one is
/// set, the [`StepObserver`].
pub struct TrainRun<'a, B: Backend> {
    model: &'a mut Sequential<B>,
    opt: &'a mut Optimizer<B>,
    source: &'a mut dyn BatchSource<B>,
    cfg: FitConfig,
    plan: Plan,
    validation: Option<Resident<'a, B>>,
    observer: Option<&'a mut dyn Observer>,
    checkpointer: Option<&'a mut dyn Checkpointer<B>>,
    sync: Option<&'a mut dyn GradientSync<B::E>>,
    inspector: Option<&'a mut dyn StepObserver<B>>,
    st: TrainState,
    best_weights: Option<Vec<Vec<B::E>>>,
    cursor: Option<Cursor<B>>,
    snapshot: Snapshot<B>,
    augment_buf: Option<B::Buf>,
    /// The flat host buffer the gradients are combined in (workers > 1 only).
    flat: Vec<B::E>,
}

impl<'a, B: Backend> TrainRun<'a, B> {
    /// A run of `cfg` over `source`, from the start. The model's input and target widths must
    /// match the source's.
    pub fn new(
        model: &'a mut Sequential<B>,
        opt: &'a mut Optimizer<B>,
        source: &'a mut dyn BatchSource<B>,
        cfg: &FitConfig,
    ) -> Result<Self> {
        cfg.validate()?;
        check_widths(model, source)?;
        let rows = source.rows();
        if rows == 0 {
            return Err(NeuronError::data("the training data set is empty"));
        }
        let batch_size = cfg.batch_size.min(rows);
        let batches = if cfg.drop_last {
            rows / batch_size
        } else {
            rows.div_ceil(batch_size)
        };
        let be = model.be.clone();
        let augment_buf = match cfg.augment {
            Some(a) => {
                check_augment(a.height * a.width, a, source.x_cols())?;
                Some(be.alloc(batch_size * source.x_cols())?)
            }
            None => None,
        };
        model.reserve(batch_size)?;
        let plan = Plan {
            rows,
            batch_size,
            batches,
            base_lr: opt.config().lr,
            schedule: opt.config().schedule,
            every: be.steps_between_checks().max(1),
        };
        Ok(TrainRun {
            model,
            opt,
            source,
            cfg: cfg.clone(),
            plan,
            validation: None,
            observer: None,
            checkpointer: None,
            sync: None,
            inspector: None,
            st: TrainState::new(cfg.seed),
            best_weights: None,
            cursor: None,
            snapshot: Snapshot {
                params: Vec::new(),
                opt: None,
                steps: 0,
            },
            augment_buf,
            flat: Vec::new(),
        })
    }

    /// Evaluates `data` after every epoch (its loss is then the one early stopping watches).
    pub fn validation(mut self, data: &'a Dataset<B::E>) -> Result<Self> {
        self.model.check_data(data, "validation")?;
        self.validation = Some(Resident::upload(&self.model.be, data)?);
        Ok(self)
    }

    /// Sends progress [`Event`]s to `observer`, which may stop the run.
    pub fn observer(mut self, observer: &'a mut dyn Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Continues from a saved state (with the model's weights and the optimizer's state already
    /// restored); the result is bit-identical to a run that was never interrupted.
    pub fn resume(mut self, resume: Resume<B::E>) -> Self {
        self.st = resume.state;
        self.best_weights = resume.best_weights;
        self
    }

    /// Hands `checkpointer` the complete state after the epochs it asks for, at the end, and
    /// when the run is interrupted mid-epoch.
    pub fn checkpointer(mut self, checkpointer: &'a mut dyn Checkpointer<B>) -> Self {
        self.checkpointer = Some(checkpointer);
        self
    }

    /// Combines each step's gradients with other workers' through `sync` (each worker runs its
    /// own `TrainRun` over its own share of the batches).
    pub fn sync(mut self, sync: &'a mut dyn GradientSync<B::E>) -> Self {
        self.sync = Some(sync);
        self
    }

    /// Shows every step's layer inputs, outputs and gradients to `inspector`.
    pub fn inspect(mut self, inspector: &'a mut dyn StepObserver<B>) -> Self {
        self.inspector = Some(inspector);
        self
    }

    /// Where the run stands.
    pub fn state(&self) -> &TrainState {
        &self.st
    }

    /// The model being trained.
    pub fn model(&self) -> &Sequential<B> {
        self.model
    }

    /// Trains until the last epoch, early stopping, or an interruption, then returns the history
    /// (the model holding the best weights when early stopping is on).
    pub fn run(mut self) -> Result<History> {
        while !self.st.finished {
            if self.run_epoch()? == EpochEnd::Interrupted {
                break;
            }
        }
        self.finish()
    }

    /// Runs the rest of the current epoch (all of the next one when none is in progress) and
    /// ends it.
    pub fn run_epoch(&mut self) -> Result<EpochEnd> {
        if self.st.finished {
            return Ok(EpochEnd::Finished);
        }
        let mut stop = match self.cursor {
            Some(_) => false,
            None => self.begin_epoch()?,
        };
        while !stop && !self.epoch_done() {
            stop = self.train_batch()?;
        }
        if stop && !self.epoch_done() {
            self.interrupt()?;
            return Ok(EpochEnd::Interrupted);
        }
        self.end_epoch()
    }

    /// Whether every batch of the epoch in progress is done.
    fn epoch_done(&self) -> bool {
        self.cursor
            .as_ref()
            .is_some_and(|c| c.batch >= self.plan.batches)
    }

    /// Gives the model the best weights seen (early stopping), also when interrupted (the
    /// checkpoint already holds the current ones for resuming), and returns the history.
    pub fn finish(self) -> Result<History> {
        let mut history = self.st.history;
        if let (Some(w), Some((_, epoch))) = (self.best_weights, self.st.best) {
            self.model.set_params(&w)?;
            history.best_epoch = Some(epoch);
        }
        Ok(history)
    }
}

fn check_widths<B: Backend>(model: &Sequential<B>, source: &dyn BatchSource<B>) -> Result<()> {
    let tc = model.loss().target_cols(model.output_dim());
    if source.x_cols() != model.input_dim() {
        return Err(NeuronError::shape(
            "training features",
            format!("{} columns", model.input_dim()),
            format!("{} columns", source.x_cols()),
        ));
    }
    if source.y_cols() != tc {
        return Err(NeuronError::shape(
            "training targets",
            format!("{tc} columns"),
            format!("{} columns", source.y_cols()),
        ));
    }
    Ok(())
}

fn check_augment(pixels: usize, a: crate::data::augment::Augment, cols: usize) -> Result<()> {
    if pixels != cols {
        return Err(NeuronError::shape(
            "augmentation",
            format!("{}×{} = {pixels} pixels per image", a.height, a.width),
            format!("{cols} features"),
        ));
    }
    Ok(())
}

/// Whether a loss sum is finite, else the word for what it became.
fn non_finite<E: crate::float::Float>(v: E) -> Option<&'static str> {
    match v {
        v if v.is_finite() => None,
        v if v.is_nan() => Some("NaN"),
        _ => Some("infinite"),
    }
}
