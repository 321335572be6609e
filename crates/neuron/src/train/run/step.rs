//! One step of a [`TrainRun`]: gather, forward, loss, backward, gradient sync, update.

use std::time::Instant;

#[allow(unused_imports)]
use num_traits::{Float as _, One as _, Zero as _};

use super::{Cursor, EpochEnd, TrainRun};
use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::train::inspect::StepView;
use crate::train::{Control, Event};

impl<B: Backend> TrainRun<'_, B> {
    /// Trains on one batch, starting an epoch first when none is in progress and ending it when
    /// the batch was its last. [`EpochEnd::Continue`] means there is more to train.
    pub fn step(&mut self) -> Result<EpochEnd> {
        if self.st.finished {
            return Ok(EpochEnd::Finished);
        }
        let stop = match self.cursor {
            Some(_) => self.train_batch()?,
            None => self.begin_epoch()? || self.train_batch()?,
        };
        if !self.epoch_done() {
            if stop {
                self.interrupt()?;
                return Ok(EpochEnd::Interrupted);
            }
            return Ok(EpochEnd::Continue);
        }
        self.end_epoch()
    }

    /// Starts the next epoch (or continues a saved one at its batch): fixes the order of its
    /// rows, keeps the weights to return to if the loss diverges, and tells the observer.
    /// Returns whether the observer asked to stop.
    pub(super) fn begin_epoch(&mut self) -> Result<bool> {
        let be = self.model.be.clone();
        let mut rng = self.st.rng.clone();
        self.source.begin_epoch(&be, &mut rng, self.cfg.shuffle)?;
        self.model.train_steps = self.st.train_steps;
        self.model.snapshot_into(&mut self.snapshot.params)?;
        self.opt.snapshot_into(&be, &mut self.snapshot.opt)?;
        self.snapshot.steps = self.model.train_steps;
        let (epoch, batch) = (self.st.epoch, self.st.batch);
        let samples = match self.cfg.drop_last {
            true => self.plan.batches * self.plan.batch_size,
            false => self.plan.rows,
        };
        let stop = self.emit(&Event::EpochStart {
            epoch,
            batches: self.plan.batches,
            samples,
        });
        // A saved epoch's sums are over all workers: worker 0 carries them on, the others start
        // from zero, so that the epoch's all-reduced sums are right with any number of workers.
        let first = self.sync.as_deref().is_none_or(|s| s.rank() == 0);
        let (sums, global_seen) = (self.st.epoch_sums, self.st.epoch_seen);
        let (sums, seen) = match first {
            true => (sums, global_seen),
            false => ([0.0; 2], 0),
        };
        be.write(&[B::E::of(sums[0]), B::E::of(sums[1])], &mut self.model.acc)?;
        self.cursor = Some(Cursor {
            epoch,
            rng,
            batch,
            seen,
            global_seen,
            started: Instant::now(),
            lr: self.lr_at(epoch, batch),
            checked: (batch, seen),
            acc: [B::E::zero(); 2],
            weighted: None,
        });
        Ok(stop)
    }

    /// The learning rate of batch `batch` of epoch `epoch`.
    fn lr_at(&self, epoch: usize, batch: usize) -> f64 {
        let at = (epoch - 1) as f64 + batch as f64 / self.plan.batches as f64;
        self.plan
            .schedule
            .lr_at(self.plan.base_lr, at, self.cfg.epochs)
    }

    /// Trains on the next batch of the epoch in progress. Returns whether an observer asked to
    /// stop.
    pub(super) fn train_batch(&mut self) -> Result<bool> {
        let mut c = self.cursor.take().ok_or_else(no_epoch)?;
        let be = self.model.be.clone();
        let (b, bs) = (c.batch, self.plan.batch_size);
        let range = b * bs..((b + 1) * bs).min(self.plan.rows);
        let global = range.len();
        let m = &mut *self.model;
        let rows = self.source.load(&be, range.clone(), &mut m.x, &mut m.t)?;
        self.model.row0 = self.source.first_row(range);
        if rows > 0 {
            self.augment(rows);
            self.model.forward_loaded(rows, true);
            self.model.loss_loaded(rows);
            if let Some(w) = self.source.weights() {
                let (wl, ws) = self.model.weigh_rows(rows, w)?;
                let (l0, w0) = c.weighted.unwrap_or((0.0, 0.0));
                c.weighted = Some((l0 + wl, w0 + ws));
            }
            self.model.backward_loaded(rows);
        } else {
            // Keeps the dropout keys of every worker in step.
            self.model.train_steps += 1;
        }
        let every = self.plan.every;
        let due = every == 1 || (b + 1) % every == 0 || b + 1 == self.plan.batches;
        let mut bad = None;
        if due {
            be.download(&self.model.acc, &mut c.acc)?;
            bad = super::non_finite(c.acc[0]);
        }
        if self.workers() > 1 {
            bad = self.combine(rows, global, bad)?;
        }
        if let Some(what) = bad {
            return Err(self.diverged(what, &c));
        }
        if due {
            c.checked = (b + 1, c.seen + rows);
        }
        c.lr = self.lr_at(c.epoch, b);
        self.model.step(self.opt, c.lr)?;
        (c.seen, c.global_seen, c.batch) = (c.seen + rows, c.global_seen + global, b + 1);
        self.checkpoint_within_epoch(&c)?;
        let running_loss = match c.weighted {
            Some((wl, ws)) => wl / ws,
            None => c.acc[0].f64() / c.checked.1.max(1) as f64,
        };
        let mut stop = self.emit(&Event::Batch {
            epoch: c.epoch,
            batch: c.batch,
            running_loss,
            samples: c.seen,
        });
        if let Some(inspector) = self.inspector.as_deref_mut() {
            let view = StepView {
                model: self.model,
                epoch: c.epoch,
                batch: c.batch,
                lr: c.lr,
            };
            stop |= inspector.on_step(&view) == Control::Stop;
        }
        self.cursor = Some(c);
        Ok(stop)
    }

    /// Random shifts and flips of the batch's images, keyed by the step so that a resumed run
    /// draws the same ones.
    fn augment(&mut self, rows: usize) {
        if let (Some(a), Some(buf)) = (self.cfg.augment.as_ref(), self.augment_buf.as_mut()) {
            let m = &mut *self.model;
            let seed = self.cfg.seed ^ (m.train_steps + 1).wrapping_mul(0xA24B_AED4_963E_E407);
            m.be.augment_images(a, rows, seed, m.row0, &m.x, buf);
            m.be.copy(rows * m.input_dim(), buf, &mut m.x);
        }
    }

    /// How many workers train together.
    pub(super) fn workers(&self) -> usize {
        self.sync.as_deref().map_or(1, |s| s.workers())
    }

    /// Weighs this worker's gradients by its share `rows / global` of the batch and sums them
    /// over the workers, together with whether any worker's loss diverged.
    fn combine(
        &mut self,
        rows: usize,
        global: usize,
        bad: Option<&'static str>,
    ) -> Result<Option<&'static str>> {
        if self.source.weights().is_some() {
            return Err(NeuronError::arg(
                "sample weights are not supported with several workers yet",
            ));
        }
        let be = self.model.be.clone();
        let share = B::E::of(rows as f64 / global as f64);
        let grads = self.model.grads_mut();
        let total: usize = grads.iter().map(|(_, n)| n).sum();
        let flat = &mut self.flat;
        flat.clear();
        flat.resize(total + 1, B::E::zero());
        let mut at = 0;
        for (g, n) in &grads {
            if rows > 0 {
                be.download(g, &mut flat[at..at + n])?;
                flat[at..at + n].iter_mut().for_each(|v| *v *= share);
            }
            at += n;
        }
        flat[total] = if bad.is_some() {
            B::E::one()
        } else {
            B::E::zero()
        };
        if let Some(sync) = self.sync.as_deref_mut() {
            sync.all_reduce_sum(flat)?;
        }
        let mut at = 0;
        for (g, n) in grads {
            be.write(&flat[at..at + n], g)?;
            at += n;
        }
        Ok(match (bad, flat[total] > B::E::zero()) {
            (None, true) => Some("NaN or infinite on another worker"),
            (bad, _) => bad,
        })
    }

    /// Puts the model and optimizer back as they were at the start of the epoch, and says so.
    fn diverged(&mut self, what: &str, c: &Cursor<B>) -> NeuronError {
        self.model.restore_snapshot(&self.snapshot.params);
        if let Some(o) = self.snapshot.opt.take() {
            self.opt.restore(o);
        }
        self.model.train_steps = self.snapshot.steps;
        let (epoch, b, batches) = (c.epoch, c.batch, self.plan.batches);
        let at = if b == c.checked.0 {
            format!("batch {}", b + 1)
        } else {
            format!("batches {}–{}", c.checked.0 + 1, b + 1)
        };
        NeuronError::Diverged(format!(
            "the loss became {what} at epoch {epoch}, {at} of {batches}; the weights from the start of epoch {epoch} were kept. Try a lower learning rate, gradient clipping, or standardised inputs"
        ))
    }

    /// Tells the observer, and returns whether it asked to stop.
    pub(super) fn emit(&mut self, event: &Event<'_>) -> bool {
        self.observer
            .as_deref_mut()
            .is_some_and(|o| o.on_event(event) == Control::Stop)
    }
}

fn no_epoch() -> NeuronError {
    NeuronError::arg("no epoch is in progress")
}
