//! Access to the run-time stages of a model for the training loop: their inputs and outputs for
//! observers, and their gradients for combining across workers.

use super::Sequential;
use crate::backend::Backend;
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
