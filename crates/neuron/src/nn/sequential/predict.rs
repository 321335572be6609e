//! Prediction: raw outputs, probabilities and classes, in chunks of rows.

use super::{Sequential, EVAL_CHUNK};
use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::matrix::Matrix;

impl<B: Backend> Sequential<B> {
    /// Raw outputs for every row of `x` (inference mode, in chunks).
    pub fn predict(&mut self, x: &Matrix<B::E>) -> Result<Matrix<B::E>> {
        self.check_x(x)?;
        self.predict_rows(x.as_slice(), x.rows())
    }

    /// Raw outputs for `rows` rows stored one after another in `x` (`rows × inputs` values):
    /// [`Self::predict`] without first making a matrix, for callers that hold the rows in a
    /// buffer of their own (a NumPy array).
    pub fn predict_rows(&mut self, x: &[B::E], rows: usize) -> Result<Matrix<B::E>> {
        self.predict_rows_with(x, rows, false, false)
    }

    /// [`Self::predict_rows`], refusing NaN and infinite inputs with [`NeuronError::NonFinite`]
    /// (naming the first such value's row and column). Each slice of rows is checked as it is
    /// copied in, so the check costs no pass of its own over the input (which on a large batch
    /// would also push the weights out of the cores' caches).
    pub fn predict_rows_finite(&mut self, x: &[B::E], rows: usize) -> Result<Matrix<B::E>> {
        self.predict_rows_with(x, rows, true, false)
    }

    /// Class probabilities ([`Self::predict_proba`]) for `rows` rows stored one after another in
    /// `x`; with `finite`, NaN and infinite inputs are refused as by [`Self::predict_rows_finite`].
    /// Where slices of rows run on several threads, each thread turns its slice's outputs into
    /// probabilities while they are still in its cache; the values are the same either way.
    pub fn predict_proba_rows(
        &mut self,
        x: &[B::E],
        rows: usize,
        finite: bool,
    ) -> Result<Matrix<B::E>> {
        if !self.loss.is_classification() {
            // The error the regression loss gives, before any work.
            self.loss.probabilities_in_place::<B::E>(&mut [], 0)?;
        }
        self.predict_rows_with(x, rows, finite, true)
    }

    /// Outputs (with `proba`, probabilities) for `rows` rows of `x`, checked with `finite`.
    fn predict_rows_with(
        &mut self,
        x: &[B::E],
        rows: usize,
        finite: bool,
        proba: bool,
    ) -> Result<Matrix<B::E>> {
        let cols = self.input;
        if rows.checked_mul(cols) != Some(x.len()) {
            return Err(NeuronError::shape(
                "input",
                format!("{rows} rows of {cols} values"),
                format!("{} values", x.len()),
            ));
        }
        let out_dim = self.output_dim();
        let mut out = Matrix::zeros(rows, out_dim);
        if super::lanes::lanes_pay(self, rows) {
            self.predict_lanes(x, rows, out.as_mut_slice(), (finite, proba))?;
            return Ok(out);
        }
        let chunk = EVAL_CHUNK.min(rows.max(1));
        self.reserve(chunk)?;
        for first in (0..rows).step_by(chunk) {
            let n = chunk.min(rows - first);
            let src = &x[first * cols..(first + n) * cols];
            if finite {
                check_finite(src, first, cols)?;
            }
            // Each chunk's rows are contiguous: written straight into the input buffer (one
            // copy, no index list), which matters most for one sample at a time.
            self.be.write(src, &mut self.x)?;
            self.forward_loaded(n, false);
            let start = first * out_dim;
            self.be.download(
                self.output_buf(),
                &mut out.as_mut_slice()[start..start + n * out_dim],
            )?;
        }
        if proba {
            self.loss
                .probabilities_in_place(out.as_mut_slice(), out_dim)?;
        }
        Ok(out)
    }

    /// Class probabilities: softmax of the outputs for cross-entropy models, sigmoid for binary
    /// cross-entropy models. Regression models have no probabilities (an error).
    pub fn predict_proba(&mut self, x: &Matrix<B::E>) -> Result<Matrix<B::E>> {
        self.check_x(x)?;
        self.predict_proba_rows(x.as_slice(), x.rows(), false)
    }

    /// Predicted class per row: argmax of the outputs (cross-entropy), or each output thresholded
    /// at 0.5 probability for a single-output binary model.
    pub fn predict_classes(&mut self, x: &Matrix<B::E>) -> Result<Vec<usize>> {
        Ok(classes_from_outputs(&self.predict(x)?))
    }
}

/// [`NeuronError::NonFinite`] for the first NaN or infinite value of `x`, rows of `cols` values
/// numbered from `first_row`. The whole input is checked in one sweep without branches, as wide as
/// the CPU allows; only an input that fails is searched.
pub(super) fn check_finite<E: Float>(x: &[E], first_row: usize, cols: usize) -> Result<()> {
    if crate::cpu::simd::all_finite(x) {
        return Ok(());
    }
    let at = x.iter().position(|v| !v.is_finite()).unwrap_or(0);
    Err(NeuronError::NonFinite {
        row: first_row + at / cols.max(1),
        column: at % cols.max(1),
    })
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
