//! Refusing a run that cannot fit in memory, before anything large is allocated.

use anyhow::{bail, Result};

/// Copies of the parameters a run holds: weights, gradients, two optimizer moments, the
/// rollback snapshot, the best weights of early stopping, and the CPU copy that is saved.
const PARAM_COPIES: f64 = 7.0;
/// Buffers per hidden or output unit and batch row: pre-activation, activation, their gradients
/// and a dropout mask.
const ACTIVATION_COPIES: f64 = 5.0;
/// Copies of the encoded data: the matrix read, the training set, and the backend's copy.
const DATA_COPIES: f64 = 3.0;

/// Bytes a training run needs, roughly: f32 parameters, activations at `batch`, and the data.
pub(super) fn estimate(inputs: usize, widths: &[usize], batch: usize, rows: usize) -> f64 {
    let mut params = 0.0;
    let mut fan_in = inputs as f64;
    for &w in widths {
        params += (fan_in + 1.0) * w as f64;
        fan_in = w as f64;
    }
    let units: f64 = widths.iter().map(|&w| w as f64).sum::<f64>() + inputs as f64;
    let floats = PARAM_COPIES * params
        + ACTIVATION_COPIES * units * batch as f64
        + DATA_COPIES * (rows as f64) * inputs as f64;
    4.0 * floats
}

/// Memory this process may still use: `MemAvailable` of `/proc/meminfo` (Linux), or `None`.
fn available() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Fails with both figures when the run's estimate exceeds the memory available.
pub(super) fn check(inputs: usize, widths: &[usize], batch: usize, rows: usize) -> Result<()> {
    let need = estimate(inputs, widths, batch, rows);
    if let Some(have) = available() {
        if need > have {
            let gib = |b: f64| b / (1u64 << 30) as f64;
            bail!(
                "this run needs about {:.1} GiB of memory (weights, gradients, optimizer state, activations at batch {batch}, the data) but {:.1} GiB are available; use narrower --layers or a smaller --batch-size",
                gib(need),
                gib(have)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_counts_parameters_activations_and_data() {
        // 2 → 3 → 1: 9 + 4 = 13 parameters; 2 + 3 + 1 = 6 units; 10 rows of 2 features.
        let want = 4.0 * (7.0 * 13.0 + 5.0 * 6.0 * 4.0 + 3.0 * 10.0 * 2.0);
        assert_eq!(estimate(2, &[3, 1], 4, 10), want);
        // Two hidden layers of 200,000: far beyond any machine, without overflow.
        assert!(estimate(64, &[200_000, 200_000, 10], 32, 1797) > 1e12);
        assert!(check(64, &[200_000, 200_000, 10], 32, 1797).is_err());
        assert!(check(64, &[128, 64, 10], 32, 1797).is_ok());
    }
}
