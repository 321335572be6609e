//! The end of an epoch of a [`TrainRun`]: its record, validation, early stopping, checkpoints,
//! and an interruption in the middle of one.

#[allow(unused_imports)]
use num_traits::{Float as _, Zero as _};

use super::{Cursor, EpochEnd, TrainRun};
use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::train::{EpochRecord, Event, TrainState};

impl<B: Backend> TrainRun<'_, B> {
    /// Ends the epoch whose batches are all done: records it (with validation), applies early
    /// stopping, and checkpoints when due.
    pub fn end_epoch(&mut self) -> Result<EpochEnd> {
        let c = self
            .cursor
            .take()
            .filter(|c| c.batch >= self.plan.batches)
            .ok_or_else(|| NeuronError::arg("the epoch in progress is not complete"))?;
        let record = self.record(&c)?;
        let monitored = record.val_loss.unwrap_or(record.loss);
        self.st.history.epochs.push(record);
        let last = self.st.history.epochs.last().cloned();
        let mut stop = last.is_some_and(|r| self.emit(&Event::EpochEnd(&r)));
        stop |= self.early_stopping(monitored, c.epoch)?;
        let st = &mut self.st;
        st.epoch += 1;
        st.batch = 0;
        st.rng = c.rng;
        st.epoch_sums = [0.0; 2];
        st.epoch_seen = 0;
        st.epoch_seconds = 0.0;
        st.train_steps = self.model.train_steps;
        st.history.interrupted = false;
        let total = self.cfg.epochs;
        if stop || c.epoch == total {
            st.finished = true;
            st.history.stopped_early = c.epoch < total;
        }
        if let Some(ck) = self.checkpointer.as_deref_mut() {
            if st.finished || ck.due(c.epoch) {
                ck.save(self.model, self.opt, st, self.best_weights.as_deref())?;
            }
        }
        Ok(match st.finished {
            true => EpochEnd::Finished,
            false => EpochEnd::Continue,
        })
    }

    /// The epoch's training loss and accuracy (summed over the workers), and its validation.
    fn record(&mut self, c: &Cursor<B>) -> Result<EpochRecord> {
        let acc = self.summed_acc()?;
        let seen = c.global_seen.max(1) as f64;
        let classification = self.model.loss().is_classification();
        let val = match &self.validation {
            Some(v) => Some(self.model.evaluate_resident(v)?),
            None => None,
        };
        let regression = val.as_ref().and_then(|e| e.regression.as_ref());
        let loss = match c.weighted {
            Some((wl, ws)) if self.workers() == 1 => wl / ws,
            _ => acc[0].f64() / seen,
        };
        Ok(EpochRecord {
            epoch: c.epoch,
            loss,
            accuracy: classification.then(|| acc[1].f64() / seen),
            val_loss: val.as_ref().map(|e| e.loss),
            val_accuracy: val.as_ref().and_then(|e| e.accuracy),
            val_mae: regression.map(|r| r.mae),
            val_r2: regression.map(|r| r.r2),
            lr: c.lr,
            seconds: self.st.epoch_seconds + c.started.elapsed().as_secs_f64(),
        })
    }

    /// Tracks the best monitored loss and its weights; returns whether patience ran out.
    fn early_stopping(&mut self, monitored: f64, epoch: usize) -> Result<bool> {
        let Some(patience) = self.cfg.patience else {
            return Ok(false);
        };
        let st = &mut self.st;
        if st
            .best
            .is_none_or(|(b, _)| monitored < b - self.cfg.min_delta)
        {
            st.best = Some((monitored, epoch));
            self.best_weights = Some(self.model.params()?);
            st.since_best = 0;
            return Ok(false);
        }
        st.since_best += 1;
        Ok(st.since_best >= patience)
    }

    /// Stops in the middle of the epoch: keeps where it stands in the training state and hands
    /// that to the checkpointer. A later [`TrainRun::step`] continues from there, as a resumed
    /// run does. With several workers, every one must stop at the same step: the saved loss sums
    /// are summed over the workers, so the state can be resumed with any number of them.
    pub(super) fn interrupt(&mut self) -> Result<()> {
        let c = self
            .cursor
            .take()
            .ok_or_else(|| NeuronError::arg("no epoch is in progress to interrupt"))?;
        self.st = self.paused_state(&c)?;
        self.st.history.interrupted = true;
        if let Some(ck) = self.checkpointer.as_deref_mut() {
            ck.save(self.model, self.opt, &self.st, self.best_weights.as_deref())?;
        }
        Ok(())
    }

    /// Saves the state in the middle of the epoch when the checkpointer asks for it; training
    /// goes on. Resuming from it continues exactly as [`TrainRun::interrupt`]'s state does.
    pub(super) fn checkpoint_within_epoch(&mut self, c: &Cursor<B>) -> Result<()> {
        let steps = self.model.train_steps;
        let due = c.batch < self.plan.batches
            && (self.checkpointer.as_deref_mut())
                .is_some_and(|ck| ck.due_within_epoch(steps, c.batch));
        if !due {
            return Ok(());
        }
        let st = self.paused_state(c)?;
        match self.checkpointer.as_deref_mut() {
            Some(ck) => ck.save(self.model, self.opt, &st, self.best_weights.as_deref()),
            None => Ok(()),
        }
    }

    /// The epoch's loss and correct sums so far, summed over the workers.
    fn summed_acc(&mut self) -> Result<[B::E; 2]> {
        let mut acc = [B::E::zero(); 2];
        self.model.be.download(&self.model.acc, &mut acc)?;
        if self.workers() > 1 {
            if let Some(sync) = self.sync.as_deref_mut() {
                sync.all_reduce_sum(&mut acc)?;
            }
        }
        Ok(acc)
    }

    /// The training state as of the cursor's batch of the epoch in progress (loss sums over all
    /// workers).
    fn paused_state(&mut self, c: &Cursor<B>) -> Result<TrainState> {
        let acc = self.summed_acc()?;
        let mut st = self.st.clone();
        st.batch = c.batch;
        st.epoch_sums = [acc[0].f64(), acc[1].f64()];
        st.epoch_seen = c.global_seen;
        st.epoch_seconds += c.started.elapsed().as_secs_f64();
        st.train_steps = self.model.train_steps;
        Ok(st)
    }
}
