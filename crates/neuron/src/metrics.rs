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
    let mut confusion = vec![vec![0usize; classes]; classes];
    let mut correct = 0;
    for (&t, &p) in truth.iter().zip(pred) {
        if t == p {
            correct += 1;
        }
        if t < classes && p < classes {
            confusion[t][p] += 1;
        }
    }
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
        n: truth.len(),
        accuracy: ratio(correct, truth.len()),
        classes: stats,
        confusion,
        macro_f1,
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
