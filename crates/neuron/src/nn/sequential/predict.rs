//! Prediction: raw outputs, probabilities and classes, in chunks of rows.

use super::{Sequential, EVAL_CHUNK};
use crate::backend::Backend;
use crate::error::Result;
use crate::float::Float;
use crate::matrix::Matrix;

impl<B: Backend> Sequential<B> {
    /// Raw outputs for every row of `x` (inference mode, in chunks).
    pub fn predict(&mut self, x: &Matrix<B::E>) -> Result<Matrix<B::E>> {
        self.check_x(x)?;
        let out_dim = self.output_dim();
        let mut out = Matrix::zeros(x.rows(), out_dim);
        let chunk = EVAL_CHUNK.min(x.rows().max(1));
        self.reserve(chunk)?;
        for first in (0..x.rows()).step_by(chunk) {
            let rows = chunk.min(x.rows() - first);
            // Each chunk's rows are contiguous: written straight into the input buffer (one
            // copy, no index list), which matters most for one sample at a time.
            let cols = self.input;
            self.be.write(
                &x.as_slice()[first * cols..(first + rows) * cols],
                &mut self.x,
            )?;
            self.forward_loaded(rows, false);
            let start = first * out_dim;
            self.be.download(
                self.output_buf(),
                &mut out.as_mut_slice()[start..start + rows * out_dim],
            )?;
        }
        Ok(out)
    }

    /// Class probabilities: softmax of the outputs for cross-entropy models, sigmoid for binary
    /// cross-entropy models. Regression models have no probabilities (an error).
    pub fn predict_proba(&mut self, x: &Matrix<B::E>) -> Result<Matrix<B::E>> {
        let out = self.predict(x)?;
        self.loss.probabilities(&out)
    }

    /// Predicted class per row: argmax of the outputs (cross-entropy), or each output thresholded
    /// at 0.5 probability for a single-output binary model.
    pub fn predict_classes(&mut self, x: &Matrix<B::E>) -> Result<Vec<usize>> {
        Ok(classes_from_outputs(&self.predict(x)?))
    }
}

/// Class indices from a classification model's outputs `[n, k]`: the largest output's index
/// per row, or for a single (binary, sigmoid) output, 1 where the logit is positive.
pub fn classes_from_outputs<E: Float>(out: &Matrix<E>) -> Vec<usize> {
    if out.cols() == 1 {
        out.as_slice()
            .iter()
            .map(|v| usize::from(*v > E::zero()))
            .collect()
    } else {
        out.argmax_rows()
    }
}
