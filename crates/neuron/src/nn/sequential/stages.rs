//! Access to the run-time stages of a model for the training loop: their inputs and outputs for
//! observers, their gradients for combining across workers, and weighing rows of the loss.

use num_traits::Zero as _;

use super::Sequential;
use crate::backend::Backend;
use crate::error::Result;
use crate::float::Float;
use crate::nn::layer::Layer;

impl<B: Backend> Sequential<B> {
    /// Number of run-time stages (a dense layer with its fused activation is one stage).
    pub(crate) fn stage_count(&self) -> usize {
        self.stages.len()
    }

    /// Stage `i`: the index of its first layer description, its input buffer and width, and the
    /// stage itself.
    pub(crate) fn stage(&self, i: usize) -> (usize, &B::Buf, usize, &dyn Layer<B>) {
        let (input, width) = match i {
            0 => (&self.x, self.input),
            _ => (self.stages[i - 1].output(), self.stages[i - 1].out_dim()),
        };
        (self.stage_spec[i], input, width, self.stages[i].as_ref())
    }

    /// Rows of the last forward pass.
    pub(crate) fn last_rows(&self) -> usize {
        self.last_rows
    }

    /// Every parameter gradient with its length, in parameter order.
    pub(crate) fn grads_mut(&mut self) -> Vec<(&mut B::Buf, usize)> {
        let mut out = Vec::new();
        for s in &mut self.stages {
            let lens: Vec<usize> = s
                .param_refs()
                .iter()
                .map(|(_, _, shape)| shape.iter().product())
                .collect();
            out.extend(s.grads_mut().into_iter().zip(lens));
        }
        out
    }
}

impl<B: Backend> Sequential<B> {
    /// Weighs the rows of the last loss by `w` (one weight per row): row `i` of the output
    /// gradient is scaled by `rows · w_i / Σw`, which makes it the gradient of the weighted mean
    /// loss `Σ w_i l_i / Σ w_i`. Returns `(Σ w_i l_i, Σ w_i)`. A batch whose weights sum to 0
    /// contributes no gradient.
    pub(crate) fn weigh_rows(&mut self, rows: usize, w: &[B::E]) -> Result<(f64, f64)> {
        let cols = self.output_dim();
        let tcols = self.loss.target_cols(cols);
        let be = self.be.clone();
        let mut out = vec![B::E::zero(); rows * cols];
        let mut t = vec![B::E::zero(); rows * tcols];
        be.download(self.output_buf(), &mut out)?;
        be.download(&self.t, &mut t)?;
        let losses = self.loss.row_losses(&out, &t, rows, cols);
        let total: f64 = w[..rows].iter().map(|v| v.f64()).sum();
        let weighted: f64 = losses.iter().zip(w).map(|(l, v)| l * v.f64()).sum();
        let n = self.stages.len();
        let g = &mut self.grads[n - 1];
        be.download(g, &mut out)?;
        for (r, row) in out.chunks_mut(cols).enumerate() {
            let f = match total > 0.0 {
                true => B::E::of(rows as f64 * w[r].f64() / total),
                false => B::E::zero(),
            };
            row.iter_mut().for_each(|v| *v *= f);
        }
        be.write(&out, g)?;
        Ok((weighted, total))
    }
}
