//! Choosing the epoch count on held-out rows, then training on every row.
//!
//! Early stopping on one validation split wastes rows and, on a small table, trusts a handful of
//! them. For small tables the epoch count comes from k-fold cross-validation instead: k networks,
//! each validated on a different fold; the mean validation-loss curve picks the epoch count, and
//! the final network is trained on all rows for that many epochs.

use std::sync::atomic::Ordering;

use anyhow::Result;
use neuron::data::preprocess::Preprocessor;
use neuron::{Backend, Dataset, FitConfig, Hooks, Loss, Optimizer, Rng};

use super::build::fresh_model;
use super::session::{stoppable_progress, INTERRUPTED};
use super::{recipe, Job, TrainArgs};
use crate::distributed::Cluster;

/// What cross-validation chose, and what it measured there.
pub(super) struct CvResult {
    /// The chosen epoch count.
    pub epochs: usize,
    /// Each fold's validation accuracy (classification) or R² (regression) at that epoch.
    pub scores: Vec<f64>,
    /// "accuracy" or "R²".
    pub metric: &'static str,
}

impl CvResult {
    /// One line: the mean score and the range over the folds.
    pub fn summary(&self) -> String {
        let mean = self.scores.iter().sum::<f64>() / self.scores.len().max(1) as f64;
        let lo = self.scores.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self
            .scores
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        format!(
            "{}-fold cross-validation at {} epochs: {} {mean:.4} (folds {lo:.4}–{hi:.4})",
            self.scores.len(),
            self.epochs,
            self.metric
        )
    }
}

/// Cross-validation with its messages: the chosen epoch count, or `None` when a fold diverged
/// (the ordinary run then reports it). Ctrl-C ends the process (status 130). In a job of several
/// processes, each fold trains on all of them.
pub(super) fn choose_epochs<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    loss: Loss,
    data: &Dataset<f32>,
    cfg: &FitConfig,
) -> Result<Option<CvResult>> {
    let (a, r) = (job.a, &job.r);
    if !a.quiet {
        eprintln!(
            "choosing the number of epochs by {}-fold cross-validation",
            r.folds
        );
    }
    let (pre, be) = (&job.prep.pre, &job.be);
    match cv_epochs(a, r, pre, loss, be, data, cfg, job.cluster)? {
        CvOutcome::Chosen(cv) => {
            if !a.quiet {
                eprintln!("{}; training on all {} rows", cv.summary(), data.len());
            }
            Ok(Some(cv))
        }
        CvOutcome::Diverged => Ok(None),
        CvOutcome::Interrupted => {
            eprintln!(
                "neuron: interrupted while choosing the number of epochs by cross-validation; nothing was saved"
            );
            std::process::exit(130);
        }
    }
}

/// How cross-validation ended.
pub(super) enum CvOutcome {
    /// An epoch count was chosen.
    Chosen(CvResult),
    /// A fold's loss became non-finite: the ordinary run reports it (and saves what it can).
    Diverged,
    /// Ctrl-C.
    Interrupted,
}

/// The epoch count with the lowest mean validation loss over `r.folds` folds of `data`.
#[allow(clippy::too_many_arguments)]
pub(super) fn cv_epochs<B: Backend<E = f32>>(
    a: &TrainArgs,
    r: &recipe::Resolved,
    pre: &Preprocessor,
    loss: Loss,
    be: &B,
    data: &Dataset<f32>,
    cfg: &FitConfig,
    cluster: Option<&Cluster>,
) -> Result<CvOutcome> {
    let (n, folds) = (data.len(), r.folds);
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::new(a.seed ^ 0xF01D).shuffle(&mut idx);
    let mut curves: Vec<Vec<f64>> = Vec::with_capacity(folds);
    let mut histories = Vec::with_capacity(folds);
    for f in 0..folds {
        let (lo, hi) = (f * n / folds, (f + 1) * n / folds);
        let val: Vec<usize> = idx[lo..hi].to_vec();
        let train: Vec<usize> = idx[..lo].iter().chain(&idx[hi..]).copied().collect();
        let mut m = fresh_model(a, r, pre, loss, be.clone())?;
        let mut o = Optimizer::new(r.optimizer.clone())?;
        let fold_cfg = FitConfig {
            validation_split: 0.0,
            ..cfg.clone()
        };
        let mut stop = stoppable_progress(true, cfg.epochs);
        let mut sync = cluster.map(|c| c.sync());
        let hooks = Hooks {
            observer: &mut stop,
            resume: None,
            checkpointer: None,
            sync: crate::distributed::as_dyn(&mut sync),
        };
        let (train, val) = (data.subset(&train), data.subset(&val));
        let fitted = m.fit_hooked(&mut o, &train, Some(&val), &fold_cfg, hooks);
        let h = match fitted {
            Ok(h) => h,
            Err(neuron::NeuronError::Diverged(_)) => return Ok(CvOutcome::Diverged),
            Err(e) => return Err(e.into()),
        };
        if h.interrupted || h.epochs.is_empty() || INTERRUPTED.load(Ordering::SeqCst) {
            return Ok(CvOutcome::Interrupted);
        }
        curves.push(h.epochs.iter().filter_map(|e| e.val_loss).collect());
        histories.push(h);
    }
    let epochs = best_of_mean(&curves);
    let classification = loss.is_classification();
    let scores = histories
        .iter()
        .filter_map(|h| {
            let e = &h.epochs[(epochs - 1).min(h.epochs.len() - 1)];
            if classification {
                e.val_accuracy
            } else {
                e.val_r2
            }
        })
        .collect();
    Ok(CvOutcome::Chosen(CvResult {
        epochs,
        scores,
        metric: if classification { "accuracy" } else { "R²" },
    }))
}

/// The 1-based epoch minimising the mean of `curves`; a curve that stopped early keeps its last
/// value for the later epochs.
pub(super) fn best_of_mean(curves: &[Vec<f64>]) -> usize {
    let len = curves.iter().map(Vec::len).max().unwrap_or(0);
    let mut best = (f64::INFINITY, 1);
    for e in 0..len {
        let mean = curves
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| c[e.min(c.len() - 1)])
            .sum::<f64>()
            / curves.len().max(1) as f64;
        if mean < best.0 {
            best = (mean, e + 1);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::best_of_mean;

    #[test]
    fn mean_curve_picks_the_epoch_and_carries_stopped_curves() {
        assert_eq!(best_of_mean(&[vec![3.0, 2.0, 1.0], vec![3.0, 2.0, 1.5]]), 3);
        // The second curve stopped after epoch 2: its 0.5 stands for epochs 3 and 4.
        assert_eq!(best_of_mean(&[vec![3.0, 2.0, 1.0, 2.0], vec![1.0, 0.5]]), 3);
        assert_eq!(best_of_mean(&[]), 1);
    }
}
