//! Mini-batch training: [`TrainRun`] and its seams (where batches come from, how gradients are
//! combined across workers, who watches each step), `fit` on top of it, evaluation, history,
//! early stopping and progress events.

mod config;
mod evaluate;
mod history;
mod inspect;
mod observer;
mod run;
mod source;
mod state;
mod stream_source;
mod sync;

pub use config::FitConfig;
pub use history::{EpochRecord, Evaluation, History};
pub use inspect::{LayerView, StepObserver, StepView, TensorView};
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
    pub fn fit_from(
        &mut self,
        opt: &mut Optimizer<B>,
        train: &Dataset<B::E>,
        validation: Option<&Dataset<B::E>>,
        cfg: &FitConfig,
        observer: &mut dyn Observer,
        resume: Option<Resume<B::E>>,
        checkpointer: Option<&mut dyn Checkpointer<B>>,
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
        let mut run = TrainRun::new(self, opt, &mut source, cfg)?.observer(observer);
        if let Some(v) = validation {
            run = run.validation(v)?;
        }
        if let Some(r) = resume {
            run = run.resume(r);
        }
        if let Some(c) = checkpointer {
            run = run.checkpointer(c);
        }
        run.run()
    }
}
