//! Mini-batch training: [`TrainRun`] and its seams (where batches come from, how gradients are
//! combined across workers, who watches each step), `fit` on top of it, evaluation, history,
//! early stopping and progress events.

mod config;
mod evaluate;
mod history;
mod inspect;
mod interleave;
#[cfg(feature = "mpi")]
mod mpi_sync;
mod observer;
mod pool;
mod read_ahead;
mod run;
mod source;
mod state;
mod stream_source;
mod stream_text;
mod sync;

pub use config::FitConfig;
pub use history::{EpochRecord, Evaluation, History};
pub use inspect::{LayerView, StepObserver, StepView, TensorView};
#[cfg(feature = "mpi")]
pub use mpi_sync::MpiSync;
pub use observer::{Control, Event, Observer, Silent};
pub use run::{EpochEnd, TrainRun};
pub use source::{worker_share, BatchSource, DatasetSource};
pub use state::{Checkpointer, Resume, TrainState};
pub use stream_source::StreamSource;
pub use sync::{GradientSync, NoSync, ThreadSync};

use crate::backend::Backend;
use crate::data::dataset::Dataset;
use crate::error::{NeuronError, Result};
use crate::nn::sequential::Sequential;
use crate::optim::Optimizer;

impl<B: Backend> Sequential<B> {
    /// Trains on `train` with mini-batch gradient descent.
    ///
    /// Each epoch shuffles the samples (seeded), and for each batch runs forward, loss, backward
    /// and one optimizer update; `validation` (or a `validation_split` carved out of `train`) is
    /// evaluated after each epoch. The same seeds and thread count give bit-identical weights.
    pub fn fit(
        &mut self,
        opt: &mut Optimizer<B>,
        train: &Dataset<B::E>,
        validation: Option<&Dataset<B::E>>,
        cfg: &FitConfig,
        observer: &mut dyn Observer,
    ) -> Result<History> {
        self.fit_from(opt, train, validation, cfg, observer, None, None)
    }

    /// [`Sequential::fit`], resumable: starts from `resume` (a state saved by `checkpointer` in an
    /// earlier run, with the model's weights and the optimizer's state already restored), and hands
    /// `checkpointer` the complete state after every epoch it asks for, at the end, and when an
    /// observer stops training mid-epoch (then `History::interrupted` is set). Continuing from a
    /// saved state gives bit-identical results to a run that was never interrupted.
    ///
    /// A non-finite loss stops training with [`NeuronError::Diverged`]; the model and optimizer are
    /// then put back as they were at the start of that epoch.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_from<'a>(
        &mut self,
        opt: &mut Optimizer<B>,
        train: &Dataset<B::E>,
        validation: Option<&Dataset<B::E>>,
        cfg: &FitConfig,
        observer: &'a mut dyn Observer,
        resume: Option<Resume<B::E>>,
        checkpointer: Option<&'a mut dyn Checkpointer<B>>,
    ) -> Result<History> {
        let hooks = Hooks {
            observer,
            resume,
            checkpointer,
            sync: None,
        };
        self.fit_hooked(opt, train, validation, cfg, hooks)
    }

    /// [`Sequential::fit_from`] with every seam given in `hooks`, including a [`GradientSync`]:
    /// with several workers, each trains on its share of every global batch of
    /// `cfg.batch_size` rows (all workers read the same `train`), and all end with the model
    /// that one worker would train at that batch size.
    pub fn fit_hooked(
        &mut self,
        opt: &mut Optimizer<B>,
        train: &Dataset<B::E>,
        validation: Option<&Dataset<B::E>>,
        cfg: &FitConfig,
        hooks: Hooks<'_, B>,
    ) -> Result<History> {
        cfg.validate()?;
        let split;
        let (train, validation) = match validation {
            Some(v) => (train, Some(v)),
            None if cfg.validation_split > 0.0 => {
                split = train.split(cfg.validation_split, cfg.seed ^ 0x5EED)?;
                if split.1.is_empty() || split.0.is_empty() {
                    return Err(NeuronError::data(
                        "too few samples to hold out a validation split",
                    ));
                }
                (&split.0, Some(&split.1))
            }
            None => (train, None),
        };
        self.check_data(train, "training")?;
        let mut source = DatasetSource::new(&self.be, train)?;
        if let Some(s) = &hooks.sync {
            check_workers(s.workers(), cfg.batch_size.min(train.len()))?;
            source = source.shard(s.rank(), s.workers())?;
        }
        let mut run = TrainRun::new(self, opt, &mut source, cfg)?.observer(hooks.observer);
        if let Some(v) = validation {
            run = run.validation(v)?;
        }
        if let Some(r) = hooks.resume {
            run = run.resume(r);
        }
        if let Some(c) = hooks.checkpointer {
            run = run.checkpointer(c);
        }
        if let Some(s) = hooks.sync {
            run = run.sync(s);
        }
        run.run()
    }
}

/// The seams of [`Sequential::fit_hooked`] besides the data and the configuration.
pub struct Hooks<'a, B: Backend> {
    /// Receives progress events and may stop the run.
    pub observer: &'a mut dyn Observer,
    /// A saved state to continue from.
    pub resume: Option<Resume<B::E>>,
    /// Saves the state after the epochs it asks for.
    pub checkpointer: Option<&'a mut dyn Checkpointer<B>>,
    /// Combines gradients with other workers.
    pub sync: Option<&'a mut dyn GradientSync<B::E>>,
}

/// Every worker needs at least one row of each global batch.
fn check_workers(workers: usize, batch: usize) -> Result<()> {
    if workers > batch {
        return Err(NeuronError::arg(format!(
            "the global batch of {batch} rows is smaller than the {workers} workers: each needs at least one row (raise --batch-size to {workers} or more, or use fewer processes)"
        )));
    }
    Ok(())
}
