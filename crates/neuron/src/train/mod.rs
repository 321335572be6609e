//! Mini-batch training: `fit`, evaluation, history, early stopping and progress events.

mod config;
mod history;
mod observer;
mod state;

pub use config::FitConfig;
pub use history::{EpochRecord, Evaluation, History};
pub use observer::{Control, Event, Observer, Silent};
pub use state::{Checkpointer, Resume, TrainState};

#[allow(unused_imports)]
use num_traits::{Float as _, One as _, Zero as _};
use std::time::Instant;

use crate::backend::Backend;
use crate::data::dataset::Dataset;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::metrics::regression_report;
use crate::nn::loss::Loss;
use crate::nn::sequential::{Sequential, EVAL_CHUNK};
use crate::optim::Optimizer;

impl<B: Backend> Sequential<B> {
    fn check_data(&self, d: &Dataset<B::E>, what: &str) -> Result<()> {
        if d.is_empty() {
            return Err(NeuronError::data(format!("the {what} data set is empty")));
        }
        if d.x.cols() != self.input_dim() {
            return Err(NeuronError::shape(
                &format!("{what} features"),
                format!("{} columns", self.input_dim()),
                format!("{} columns", d.x.cols()),
            ));
        }
        let tc = self.loss().target_cols(self.output_dim());
        if d.y.cols() != tc {
            return Err(NeuronError::shape(
                &format!("{what} targets"),
                format!("{tc} columns"),
                format!("{} columns", d.y.cols()),
            ));
        }
        self.check_target_values(&d.y, what)
    }

    /// Mean loss and metrics on `data` (inference mode, batched).
    pub fn evaluate(&mut self, data: &Dataset<B::E>) -> Result<Evaluation> {
        self.check_data(data, "evaluation")?;
        let resident = Resident::upload(&self.be, data)?;
        self.evaluate_resident(&resident)
    }

    /// [`Sequential::evaluate`] on a data set already on the backend's device (checked by the
    /// caller), so that evaluating every epoch moves no data to the device.
    fn evaluate_resident(&mut self, set: &Resident<'_, B>) -> Result<Evaluation> {
        let (data, xs, ys, idx) = (set.data, &set.x, &set.y, &set.idx);
        let be = self.be.clone();
        let n = data.len();
        let chunk = EVAL_CHUNK.min(n);
        self.reserve(chunk)?;
        let (xc, yc) = (data.x.cols(), data.y.cols());
        let out_dim = self.output_dim();
        let regression = self.loss() == Loss::Mse;
        let mut preds = if regression {
            vec![B::E::zero(); n * out_dim]
        } else {
            Vec::new()
        };
        be.fill(2, B::E::zero(), &mut self.acc);
        for first in (0..n).step_by(chunk.max(1)) {
            let rows = chunk.min(n - first);
            be.gather_rows(xc, xs, idx, first, rows, &mut self.x);
            be.gather_rows(yc, ys, idx, first, rows, &mut self.t);
            self.forward_loaded(rows, false);
            self.loss_loaded(rows);
            if regression {
                let s = first * out_dim;
                be.download(self.output_buf(), &mut preds[s..s + rows * out_dim])?;
            }
        }
        let mut acc = [B::E::zero(); 2];
        be.download(&self.acc, &mut acc)?;
        let loss = acc[0].f64() / n as f64;
        Ok(Evaluation {
            loss,
            accuracy: (!regression).then(|| acc[1].f64() / n as f64),
            regression: regression.then(|| {
                let t: Vec<f64> = data.y.as_slice().iter().map(|v| v.f64()).collect();
                let p: Vec<f64> = preds.iter().map(|v| v.f64()).collect();
                regression_report(&t, &p, out_dim)
            }),
        })
    }

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
        mut checkpointer: Option<&mut dyn Checkpointer<B>>,
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
        if let Some(v) = validation {
            self.check_data(v, "validation")?;
        }
        // Uploaded once, evaluated every epoch.
        let validation = validation
            .map(|v| Resident::upload(&self.be, v))
            .transpose()?;
        let (mut st, mut best_weights) = match resume {
            Some(r) => (r.state, r.best_weights),
            None => (TrainState::new(cfg.seed), None),
        };
        let be = self.be.clone();
        let n = train.len();
        let bs = cfg.batch_size.min(n);
        let batches = if cfg.drop_last {
            n / bs
        } else {
            n.div_ceil(bs)
        };
        let total = cfg.epochs;
        let base_lr = opt.config().lr;
        let schedule = opt.config().schedule;
        let classification = self.loss().is_classification();
        if !st.finished {
            self.reserve(bs)?;
            let xs = be.upload(train.x.as_slice())?;
            let ys = be.upload(train.y.as_slice())?;
            let (xc, yc) = (train.x.cols(), train.y.cols());
            self.train_steps = st.train_steps;
            let mut perm: Vec<usize> = (0..n).collect();
            let mut acc = [B::E::zero(); 2];
            if let Some(a) = cfg.augment {
                if a.height * a.width != xc {
                    return Err(NeuronError::shape(
                        "augmentation",
                        format!(
                            "{}×{} = {} pixels per image",
                            a.height,
                            a.width,
                            a.height * a.width
                        ),
                        format!("{xc} features"),
                    ));
                }
            }
            let mut aug_buf = match cfg.augment {
                Some(_) => Some(be.alloc(bs * xc)?),
                None => None,
            };
            let (mut snap_params, mut snap_opt) = (Vec::new(), None);
            while st.epoch <= total {
                let epoch = st.epoch;
                // This epoch's order, regenerated from the generator's state at its start.
                let mut rng = st.rng.clone();
                perm.iter_mut().enumerate().for_each(|(i, p)| *p = i);
                if cfg.shuffle {
                    rng.shuffle(&mut perm);
                }
                // Where a diverging epoch returns to; copies on the device, no host transfer,
                // into the same buffers every epoch.
                self.snapshot_into(&mut snap_params)?;
                opt.snapshot_into(&be, &mut snap_opt)?;
                let snap_steps = self.train_steps;
                let t0 = Instant::now();
                let samples = if cfg.drop_last { batches * bs } else { n };
                let mut interrupted = observer.on_event(&Event::EpochStart {
                    epoch,
                    batches,
                    samples,
                }) == Control::Stop;
                be.write(
                    &[B::E::of(st.epoch_sums[0]), B::E::of(st.epoch_sums[1])],
                    &mut self.acc,
                )?;
                let mut seen = st.epoch_seen;
                let mut lr = schedule.lr_at(
                    base_lr,
                    (epoch - 1) as f64 + st.batch as f64 / batches as f64,
                    total,
                );
                let mut b = st.batch;
                // The epoch's order on the device: gathering a batch then moves no indices.
                let order = be.upload_indices(&perm)?;
                // The loss is checked on the host every `every` steps (each check waits for the
                // device): every step on the CPU.
                let every = be.steps_between_checks().max(1);
                let (mut checked_batch, mut checked_seen) = (b, seen);
                while !interrupted && b < batches {
                    let first = b * bs;
                    let rows = &perm[first..((b + 1) * bs).min(n)];
                    be.gather_rows(xc, &xs, &order, first, rows.len(), &mut self.x);
                    be.gather_rows(yc, &ys, &order, first, rows.len(), &mut self.t);
                    if let (Some(a), Some(buf)) = (cfg.augment.as_ref(), aug_buf.as_mut()) {
                        // Keyed by the step, so a resumed run draws the same transformations.
                        let seed =
                            cfg.seed ^ (self.train_steps + 1).wrapping_mul(0xA24B_AED4_963E_E407);
                        be.augment_images(a, rows.len(), seed, &self.x, buf);
                        be.copy(rows.len() * xc, buf, &mut self.x);
                    }
                    self.forward_loaded(rows.len(), true);
                    self.loss_loaded(rows.len());
                    if every == 1 || (b + 1) % every == 0 || b + 1 == batches {
                        be.download(&self.acc, &mut acc)?;
                        if !acc[0].is_finite() {
                            let what = if acc[0].is_nan() { "NaN" } else { "infinite" };
                            self.restore_snapshot(&snap_params);
                            if let Some(o) = snap_opt.take() {
                                opt.restore(o);
                            }
                            self.train_steps = snap_steps;
                            let at = if b == checked_batch {
                                format!("batch {}", b + 1)
                            } else {
                                format!("batches {}–{}", checked_batch + 1, b + 1)
                            };
                            return Err(NeuronError::Diverged(format!(
                                "the loss became {what} at epoch {epoch}, {at} of {batches}; the weights from the start of epoch {epoch} were kept. Try a lower learning rate, gradient clipping, or standardised inputs"
                            )));
                        }
                        (checked_batch, checked_seen) = (b + 1, seen + rows.len());
                    }
                    self.backward_loaded(rows.len());
                    lr = schedule.lr_at(
                        base_lr,
                        (epoch - 1) as f64 + b as f64 / batches as f64,
                        total,
                    );
                    self.step(opt, lr)?;
                    seen += rows.len();
                    b += 1;
                    interrupted = observer.on_event(&Event::Batch {
                        epoch,
                        batch: b,
                        running_loss: acc[0].f64() / checked_seen.max(1) as f64,
                        samples: seen,
                    }) == Control::Stop;
                }
                if interrupted && b < batches {
                    be.download(&self.acc, &mut acc)?;
                    st.batch = b;
                    st.epoch_sums = [acc[0].f64(), acc[1].f64()];
                    st.epoch_seen = seen;
                    st.epoch_seconds += t0.elapsed().as_secs_f64();
                    st.train_steps = self.train_steps;
                    st.history.interrupted = true;
                    if let Some(c) = checkpointer.as_deref_mut() {
                        c.save(self, opt, &st, best_weights.as_deref())?;
                    }
                    break;
                }
                be.download(&self.acc, &mut acc)?;
                let loss = acc[0].f64() / seen.max(1) as f64;
                let accuracy = classification.then(|| acc[1].f64() / seen.max(1) as f64);
                let val = match &validation {
                    Some(v) => Some(self.evaluate_resident(v)?),
                    None => None,
                };
                let record = EpochRecord {
                    epoch,
                    loss,
                    accuracy,
                    val_loss: val.as_ref().map(|e| e.loss),
                    val_accuracy: val.as_ref().and_then(|e| e.accuracy),
                    val_mae: val
                        .as_ref()
                        .and_then(|e| e.regression.as_ref().map(|r| r.mae)),
                    val_r2: val
                        .as_ref()
                        .and_then(|e| e.regression.as_ref().map(|r| r.r2)),
                    lr,
                    seconds: st.epoch_seconds + t0.elapsed().as_secs_f64(),
                };
                let monitored = record.val_loss.unwrap_or(record.loss);
                st.history.epochs.push(record);
                let mut stop = observer.on_event(&Event::EpochEnd(
                    st.history.epochs.last().expect("just pushed"),
                )) == Control::Stop;
                if let Some(patience) = cfg.patience {
                    if st.best.is_none_or(|(b, _)| monitored < b - cfg.min_delta) {
                        st.best = Some((monitored, epoch));
                        best_weights = Some(self.params()?);
                        st.since_best = 0;
                    } else {
                        st.since_best += 1;
                        stop |= st.since_best >= patience;
                    }
                }
                st.epoch += 1;
                st.batch = 0;
                st.rng = rng;
                st.epoch_sums = [0.0; 2];
                st.epoch_seen = 0;
                st.epoch_seconds = 0.0;
                st.train_steps = self.train_steps;
                st.history.interrupted = false;
                if stop || epoch == total {
                    st.finished = true;
                    st.history.stopped_early = epoch < total;
                }
                if let Some(c) = checkpointer.as_deref_mut() {
                    if st.finished || c.due(epoch) {
                        c.save(self, opt, &st, best_weights.as_deref())?;
                    }
                }
                if st.finished {
                    break;
                }
            }
        }
        // The best weights so far replace the current ones, also when interrupted (the checkpoint
        // already holds the current ones for resuming).
        let mut history = st.history;
        if let (Some(w), Some((_, epoch))) = (best_weights, st.best) {
            self.set_params(&w)?;
            history.best_epoch = Some(epoch);
        }
        Ok(history)
    }
}

/// A data set uploaded to a backend's device once, with the identity order of its rows, for
/// repeated evaluation.
struct Resident<'a, B: Backend> {
    data: &'a Dataset<B::E>,
    x: B::Buf,
    y: B::Buf,
    idx: B::Idx,
}

impl<'a, B: Backend> Resident<'a, B> {
    fn upload(be: &B, data: &'a Dataset<B::E>) -> Result<Self> {
        Ok(Resident {
            data,
            x: be.upload(data.x.as_slice())?,
            y: be.upload(data.y.as_slice())?,
            idx: be.upload_indices(&(0..data.len()).collect::<Vec<_>>())?,
        })
    }
}
