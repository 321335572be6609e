//! Evaluation metrics: accuracy, per-class precision/recall/F1, confusion matrix; MSE, MAE, R².

use serde::{Deserialize, Serialize};

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Of the samples predicted as this class, the share that are.
    pub precision: f64,
    /// Of the samples of this class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of samples of this class.
    pub support: usize,
}

/// A classification report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Number of samples.
    pub n: usize,
    /// Share of correct predictions.
    pub accuracy: f64,
    /// Per-class statistics, indexed by class.
    pub classes: Vec<ClassStats>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// Unweighted mean of the per-class F1 scores.
    pub macro_f1: f64,
}

/// Builds a [`ClassificationReport`]; labels at or above `classes` are counted as wrong.
///
/// ```
/// let r = neuron::metrics::classification_report(&[0, 1, 1, 2], &[0, 1, 2, 2], 3);
/// assert_eq!(r.accuracy, 0.75);
/// assert_eq!(r.confusion[1], vec![0, 1, 1]);
/// assert_eq!(r.classes[2].precision, 0.5);
/// ```
pub fn classification_report(
    truth: &[usize],
    pred: &[usize],
    classes: usize,
) -> ClassificationReport {
    let mut t = ClassificationTally::new(classes);
    t.add(truth, pred);
    t.report()
}

/// The counts behind a [`ClassificationReport`], added a chunk of rows at a time (so a table of
/// any size is scored in bounded memory).
#[derive(Clone, Debug)]
pub struct ClassificationTally {
    confusion: Vec<Vec<usize>>,
    n: usize,
    correct: usize,
}

impl ClassificationTally {
    /// No rows yet, for `classes` classes.
    pub fn new(classes: usize) -> Self {
        ClassificationTally {
            confusion: vec![vec![0; classes]; classes],
            n: 0,
            correct: 0,
        }
    }

    /// Counts rows: their true and predicted classes.
    pub fn add(&mut self, truth: &[usize], pred: &[usize]) {
        let k = self.confusion.len();
        for (&t, &p) in truth.iter().zip(pred) {
            self.n += 1;
            self.correct += usize::from(t == p);
            if t < k && p < k {
                self.confusion[t][p] += 1;
            }
        }
    }

    /// The report of the rows counted so far.
    pub fn report(&self) -> ClassificationReport {
        let confusion = self.confusion.clone();
        let classes = confusion.len();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let stats: Vec<ClassStats> = (0..classes)
            .map(|c| {
                let tp = confusion[c][c];
                let predicted: usize = confusion.iter().map(|row| row[c]).sum();
                let support: usize = confusion[c].iter().sum();
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, support);
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassStats {
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect();
        let macro_f1 = if classes == 0 {
            0.0
        } else {
            stats.iter().map(|s| s.f1).sum::<f64>() / classes as f64
        };
        ClassificationReport {
            n: self.n,
            accuracy: ratio(self.correct, self.n),
            classes: stats,
            confusion,
            macro_f1,
        }
    }
}

/// The sums behind a one-output [`RegressionReport`], added a chunk of rows at a time: squared
/// and absolute errors, and the truths' mean and spread by Welford's update.
#[derive(Clone, Debug, Default)]
pub struct RegressionTally {
    n: usize,
    sse: f64,
    sae: f64,
    mean: f64,
    m2: f64,
}

impl RegressionTally {
    /// Adds rows: their true and predicted values.
    pub fn add(&mut self, truth: &[f64], pred: &[f64]) {
        for (&t, &p) in truth.iter().zip(pred) {
            self.n += 1;
            self.sse += (p - t) * (p - t);
            self.sae += (p - t).abs();
            let d = t - self.mean;
            self.mean += d / self.n as f64;
            self.m2 += d * (t - self.mean);
        }
    }

    /// The report of the rows added so far.
    pub fn report(&self) -> RegressionReport {
        let total = self.n.max(1) as f64;
        RegressionReport {
            n: self.n,
            mse: self.sse / total,
            mae: self.sae / total,
            r2: if self.m2 > 0.0 {
                1.0 - self.sse / self.m2
            } else {
                0.0
            },
        }
    }
}

/// A regression report (averaged over outputs, as scikit-learn's `uniform_average`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    /// Number of samples.
    pub n: usize,
    /// Mean squared error.
    pub mse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Coefficient of determination 1 − SS_res / SS_tot (per output, then averaged).
    pub r2: f64,
}

/// Builds a [`RegressionReport`] from row-major `[n, k]` truths and predictions.
///
/// ```
/// let r = neuron::metrics::regression_report(&[1.0, 2.0, 3.0], &[1.0, 2.0, 4.0], 1);
/// assert!((r.mse - 1.0 / 3.0).abs() < 1e-12);
/// assert!((r.r2 - 0.5).abs() < 1e-12);
/// ```
pub fn regression_report(truth: &[f64], pred: &[f64], k: usize) -> RegressionReport {
    let k = k.max(1);
    let n = truth.len() / k;
    let total = (n * k).max(1) as f64;
    let mut mse = 0.0;
    let mut mae = 0.0;
    for (t, p) in truth.iter().zip(pred) {
        mse += (p - t) * (p - t);
        mae += (p - t).abs();
    }
    let mut r2 = 0.0;
    for j in 0..k {
        let mean = (0..n).map(|i| truth[i * k + j]).sum::<f64>() / n.max(1) as f64;
        let ss_tot: f64 = (0..n).map(|i| (truth[i * k + j] - mean).powi(2)).sum();
        let ss_res: f64 = (0..n)
            .map(|i| (truth[i * k + j] - pred[i * k + j]).powi(2))
            .sum();
        r2 += if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            0.0
        };
    }
    RegressionReport {
        n,
        mse: mse / total,
        mae: mae / total,
        r2: r2 / k as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_over_chunks_equal_the_reports_over_all_rows() {
        let t: Vec<f64> = (0..50)
            .map(|i| (i as f64 * 0.37).sin() * 10.0 + 100.0)
            .collect();
        let p: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, v)| v + (i % 7) as f64 - 3.0)
            .collect();
        let mut tally = RegressionTally::default();
        tally.add(&t[..17], &p[..17]);
        tally.add(&t[17..], &p[17..]);
        let (a, b) = (tally.report(), regression_report(&t, &p, 1));
        assert_eq!(a.n, b.n);
        for (x, y) in [(a.mse, b.mse), (a.mae, b.mae), (a.r2, b.r2)] {
            assert!((x - y).abs() < 1e-12 * (1.0 + y.abs()), "{x} {y}");
        }
        let truth = [0, 1, 2, 2, 1, 0, 1];
        let pred = [0, 2, 2, 1, 1, 0, 0];
        let mut c = ClassificationTally::new(3);
        c.add(&truth[..3], &pred[..3]);
        c.add(&truth[3..], &pred[3..]);
        assert_eq!(c.report(), classification_report(&truth, &pred, 3));
    }
}
