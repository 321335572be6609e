//! How numeric input columns are scaled before they reach the network.
//!
//! - `Standard`: `z = (v − mean) / std`, with the training rows' mean and standard deviation.
//! - `Robust`: `z = (v − median) / s` with `s = IQR / 1.349` (the standard deviation of a normal
//!   distribution with that interquartile range; `std` when the IQR is 0), then a soft clip:
//!   `z` unchanged within ±3, `±(3 + ln(1 + |z| − 3))` beyond, so that outliers grow only
//!   logarithmically instead of dominating a layer's input, while ordinary values keep their exact
//!   linear scale.
//! - `None`: values as they are.

use serde::{Deserialize, Serialize};

/// Where the soft clip applied after robust scaling starts.
pub const SMOOTH_CLIP: f64 = 3.0;

/// How numeric columns are scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Values as they are.
    None,
    /// Mean and standard deviation.
    Standard,
    /// Median and interquartile range, then a soft clip beyond ±3.
    Robust,
}

/// What one numeric column stores: `z = (v − center) / scale`, then the soft clip if any.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColumnScale {
    /// Subtracted.
    pub center: f64,
    /// Divided by.
    pub scale: f64,
    /// Where the soft clip starts, if any.
    pub clip: Option<f64>,
}

impl Scaling {
    /// The scale of a column from its training values (finite, not empty for a useful answer).
    pub fn fit(self, v: &[f64]) -> ColumnScale {
        let (mean, std) = mean_std(v);
        let std = if std > 1e-12 { std } else { 1.0 };
        match self {
            Scaling::None => ColumnScale {
                center: 0.0,
                scale: 1.0,
                clip: None,
            },
            Scaling::Standard => ColumnScale {
                center: mean,
                scale: std,
                clip: None,
            },
            Scaling::Robust => {
                let [q1, median, q3] = quantiles(&mut v.to_vec(), [0.25, 0.5, 0.75]);
                let iqr = q3 - q1;
                ColumnScale {
                    center: median,
                    scale: if iqr > 1e-12 { iqr / 1.349 } else { std },
                    clip: Some(SMOOTH_CLIP),
                }
            }
        }
    }
}

impl ColumnScale {
    /// The network input for value `v`.
    pub fn apply(&self, v: f64) -> f64 {
        smooth_clip((v - self.center) / self.scale, self.clip)
    }
}

/// For `Some(c)`: `z` within `±c`, `±(c + ln(1 + |z| − c))` beyond (continuous, with slope 1 at
/// `±c`, and increasing); `z` unchanged for `None`.
#[inline]
pub fn smooth_clip(z: f64, clip: Option<f64>) -> f64 {
    match clip {
        Some(c) if z.abs() > c => z.signum() * (c + (z.abs() - c).ln_1p()),
        _ => z,
    }
}

/// Mean and (population) standard deviation; `(0, 0)` for no values.
pub(crate) fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The quantiles `qs` (ascending) of `v`, each interpolated linearly between the two order
/// statistics nearest to it (0 for no values), as read from the sorted values, but found by
/// selection, in linear time instead of a sort's. `v` is reordered.
fn quantiles<const K: usize>(v: &mut [f64], qs: [f64; K]) -> [f64; K] {
    let n = v.len();
    let mut out = [0.0; K];
    if n == 0 {
        return out;
    }
    // Every value before `from` is at most every value from it on (under `total_cmp`).
    let mut from = 0;
    for (o, q) in out.iter_mut().zip(qs) {
        let pos = q * (n - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        let (_, &mut a, right) = v[from..].select_nth_unstable_by(lo - from, f64::total_cmp);
        let b = match hi > lo {
            true => right.iter().copied().min_by(f64::total_cmp).unwrap_or(a),
            false => a,
        };
        *o = a + (b - a) * (pos - lo as f64);
        from = lo;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `q` quantile of sorted values, interpolated linearly (0 for no values).
    fn quantile(sorted: &[f64], q: f64) -> f64 {
        match sorted.len() {
            0 => 0.0,
            n => {
                let pos = q * (n - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
            }
        }
    }

    /// Quantiles found by selection equal those read from the sorted values, bit for bit, on
    /// every length from 0 to 40 and a long one, with many ties and with none.
    #[test]
    fn selected_quantiles_equal_sorted_ones() {
        let mut rng = crate::rng::Rng::new(11);
        for len in (0..=40).chain([1001]) {
            for ties in [true, false] {
                let v: Vec<f64> = (0..len)
                    .map(|_| match ties {
                        true => (rng.normal() * 3.0).round() * 0.5,
                        false => rng.normal(),
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort_by(f64::total_cmp);
                let qs = [0.0, 0.25, 0.25, 0.5, 0.7, 0.75, 1.0];
                let got = quantiles(&mut v.clone(), qs);
                for (g, q) in got.iter().zip(qs) {
                    let want = quantile(&sorted, q);
                    assert_eq!(g.to_bits(), want.to_bits(), "len {len}, q {q}");
                }
            }
        }
    }

    #[test]
    fn robust_scale_ignores_outliers_and_clips_smoothly() {
        // 1..=9 and one huge outlier: median 5.5, IQR 7.75 - 3.25 = 4.5.
        let mut v: Vec<f64> = (1..=9).map(f64::from).collect();
        v.push(1e6);
        let s = Scaling::Robust.fit(&v);
        assert!((s.center - 5.5).abs() < 1e-12);
        assert!((s.scale - 4.5 / 1.349).abs() < 1e-12);
        // The outlier, 333,000 scales out, lands at 3 + ln(1 + 333,000 - 3) ≈ 15.7.
        let z = (1e6 - 5.5) / s.scale;
        assert!((s.apply(1e6) - (3.0 + (z - 2.0).ln())).abs() < 1e-9);
        assert!(s.apply(1e6) < 16.0);
        assert!((s.apply(5.5)).abs() < 1e-12);
        // Within ±3 scales out values are exact; beyond, continuous and increasing.
        assert_eq!(s.apply(s.center + 2.0 * s.scale), 2.0);
        assert!((smooth_clip(3.0 + 1e-9, Some(3.0)) - 3.0).abs() < 1e-8);
        assert_eq!(smooth_clip(-4.0, Some(3.0)), -(3.0 + 1.0f64.ln_1p()));
        assert!(smooth_clip(5.0, Some(3.0)) > smooth_clip(4.0, Some(3.0)));
    }

    #[test]
    fn constant_or_mostly_constant_columns_fall_back_to_std() {
        let v = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let s = Scaling::Robust.fit(&v);
        let (_, std) = mean_std(&v);
        assert_eq!(s.scale, std);
        assert_eq!(Scaling::Robust.fit(&[2.0, 2.0]).scale, 1.0);
        let st = Scaling::Standard.fit(&[1.0, 3.0]);
        assert_eq!((st.center, st.scale, st.clip), (2.0, 1.0, None));
        assert_eq!(Scaling::None.fit(&[1.0, 3.0]).apply(7.0), 7.0);
    }
}
