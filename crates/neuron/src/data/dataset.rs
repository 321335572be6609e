//! In-memory data sets: features and targets, validated, splittable.

use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::matrix::Matrix;
use crate::rng::Rng;

/// Features `x: [n, features]` and targets `y: [n, k]`: one class index per row for
/// cross-entropy, one value per output otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<E> {
    /// Features, one sample per row.
    pub x: Matrix<E>,
    /// Targets, one sample per row.
    pub y: Matrix<E>,
}

impl<E: Float> Dataset<E> {
    /// Pairs features with targets, checking that the row counts agree and every value is finite.
    pub fn new(x: Matrix<E>, y: Matrix<E>) -> Result<Self> {
        if x.rows() != y.rows() {
            return Err(NeuronError::shape(
                "Dataset::new",
                format!("{} target rows (one per sample)", x.rows()),
                format!("{} target rows", y.rows()),
            ));
        }
        for (name, m) in [("feature", &x), ("target", &y)] {
            if let Some(i) = m.as_slice().iter().position(|v| !v.is_finite()) {
                let c = m.cols().max(1);
                return Err(NeuronError::data(format!(
                    "{name} value at row {}, column {} is not finite",
                    i / c,
                    i % c
                )));
            }
        }
        Ok(Dataset { x, y })
    }

    /// A classification data set from features and class indices.
    pub fn classification(x: Matrix<E>, labels: &[usize]) -> Result<Self> {
        let y = Matrix::from_vec(
            labels.len(),
            1,
            labels.iter().map(|&l| E::of(l as f64)).collect(),
        )?;
        Self::new(x, y)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.rows()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.x.rows() == 0
    }

    /// The samples at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Self {
        Dataset {
            x: self.x.select_rows(idx),
            y: self.y.select_rows(idx),
        }
    }

    /// Shuffles with `seed`, then splits off the last `fraction` of the samples:
    /// returns `(rest, split_off)`.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(NeuronError::arg(format!(
                "split fraction must be in [0, 1), got {fraction}"
            )));
        }
        let mut idx: Vec<usize> = (0..self.len()).collect();
        Rng::new(seed).shuffle(&mut idx);
        let k = ((self.len() as f64) * fraction).round() as usize;
        let (a, b) = idx.split_at(self.len() - k);
        Ok((self.subset(a), self.subset(b)))
    }

    /// Class labels as indices (targets of a one-column classification set).
    pub fn labels(&self) -> Vec<usize> {
        self.y
            .as_slice()
            .iter()
            .map(|v| v.f64().max(0.0) as usize)
            .collect()
    }

    /// Converts to another float type.
    pub fn cast<U: Float>(&self) -> Dataset<U> {
        Dataset {
            x: self.x.cast(),
            y: self.y.cast(),
        }
    }
}
