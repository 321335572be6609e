//! One network and its optimizer in one element type, trained an epoch at a time through the
//! library's [`TrainRun`], with the run's state carried from epoch to epoch.

use std::cell::Cell;

use neuron::nn::layer::LayerSpec;
use neuron::{
    Control, Cpu, EpochEnd, Event, FitConfig, Float, Loss, Optimizer, OptimizerConfig, Result,
    Resume, Sequential, TrainRun, TrainState,
};

use crate::source::SliceSource;

/// A model, its optimizer and where training stands.
pub struct Core<E: Float> {
    pub model: Sequential<Cpu<E>>,
    pub opt: Option<Optimizer<Cpu<E>>>,
    state: Option<TrainState>,
}

/// How one epoch is trained.
pub struct EpochArgs<'a, E> {
    pub x: &'a [E],
    pub y: &'a [E],
    pub weights: Option<&'a [E]>,
    pub batch_size: usize,
    pub shuffle: bool,
    pub seed: u64,
}

/// How an epoch ended: its mean training loss, and whether it was interrupted.
pub struct EpochResult {
    pub loss: f64,
    pub interrupted: bool,
}

impl<E: Float> Core<E> {
    /// A network of `specs` on `threads` threads (0: every core).
    pub fn new(
        input: usize,
        specs: Vec<LayerSpec>,
        loss: Loss,
        seed: u64,
        threads: usize,
    ) -> Result<Self> {
        let be = match threads {
            0 => Cpu::new(),
            n => Cpu::with_threads(n),
        };
        Ok(Core {
            model: Sequential::from_specs(be, input, specs, loss, seed, None)?,
            opt: None,
            state: None,
        })
    }

    /// A loaded model, with no optimizer yet.
    pub fn from_model(model: Sequential<Cpu<E>>) -> Self {
        Core {
            model,
            opt: None,
            state: None,
        }
    }

    /// Sets the optimizer; `keep_state` keeps the moments and step count of the current one when
    /// only the learning rate changes.
    pub fn set_optimizer(&mut self, cfg: OptimizerConfig) -> Result<()> {
        match &mut self.opt {
            Some(o) if same_rule(o.config(), &cfg) => o.set_lr(cfg.lr),
            _ => {
                self.opt = Some(Optimizer::new(cfg)?);
                Ok(())
            }
        }
    }

    /// Trains one epoch over the rows; `stop` is asked after every step (Ctrl-C).
    pub fn fit_epoch(
        &mut self,
        a: EpochArgs<'_, E>,
        stop: &mut dyn FnMut() -> bool,
    ) -> Result<EpochResult> {
        let cols = (
            self.model.input_dim(),
            self.model.loss().target_cols(self.model.output_dim()),
        );
        let mut source = SliceSource::new(a.x, a.y, cols, a.weights)?;
        let cfg = FitConfig {
            epochs: usize::MAX,
            batch_size: a.batch_size,
            shuffle: a.shuffle,
            seed: a.seed,
            ..FitConfig::default()
        };
        let opt = self
            .opt
            .as_mut()
            .ok_or_else(|| neuron::NeuronError::arg("no optimizer was set"))?;
        // Asking consumes the signal, so the answer is kept: a Ctrl-C seen at the start or the
        // end of the epoch stops it at its next step, or marks it interrupted once it is done.
        let stopping = Cell::new(false);
        let mut observer = |e: &Event<'_>| {
            if !stopping.get() && stop() {
                stopping.set(true);
            }
            match e {
                Event::Batch { .. } if stopping.get() => Control::Stop,
                _ => Control::Continue,
            }
        };
        let mut run =
            TrainRun::new(&mut self.model, opt, &mut source, &cfg)?.observer(&mut observer);
        if let Some(state) = self.state.take() {
            run = run.resume(Resume {
                state,
                best_weights: None,
            });
        }
        let end = run.run_epoch()?;
        let state = run.state().clone();
        let loss = state.history.epochs.last().map_or(f64::NAN, |e| e.loss);
        let interrupted = end == EpochEnd::Interrupted || stopping.get();
        self.state = Some(state);
        Ok(EpochResult { loss, interrupted })
    }

    /// The network's outputs for `rows` rows of `x`: class probabilities for the classification
    /// losses, values for regression. With `finite`, NaN and infinite inputs are refused
    /// ([`neuron::NeuronError::NonFinite`]), checked as the rows are taken in.
    pub fn predict(&mut self, x: &[E], rows: usize, finite: bool) -> Result<Vec<E>> {
        let out = match (self.model.loss(), finite) {
            (Loss::Mse, true) => self.model.predict_rows_finite(x, rows)?,
            (Loss::Mse, false) => self.model.predict_rows(x, rows)?,
            _ => self.model.predict_proba_rows(x, rows, finite)?,
        };
        Ok(out.into_vec())
    }

    /// Training steps done so far.
    pub fn steps(&self) -> u64 {
        self.opt.as_ref().map_or(0, |o| o.steps())
    }
}

/// Whether two configurations differ in nothing but the learning rate.
fn same_rule(a: &OptimizerConfig, b: &OptimizerConfig) -> bool {
    a.kind == b.kind && a.weight_decay == b.weight_decay && a.clip_norm == b.clip_norm
}
