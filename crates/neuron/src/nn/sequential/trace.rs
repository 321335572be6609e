//! [`Sequential::trace`]: every layer's values for a batch, for pictures of what each neuron
//! computes (a heatmap per neuron over a grid of inputs, the numbers of one sample's forward pass).

use num_traits::Zero as _;

use super::Sequential;
use crate::backend::Backend;
use crate::error::Result;
use crate::matrix::Matrix;

/// One run-time layer's values for a batch (see [`Sequential::trace`]), copied to the host.
#[derive(Clone, Debug)]
pub struct LayerTrace<E> {
    /// Index of its (first) layer description in [`Sequential::specs`].
    pub index: usize,
    /// `Z = X·Wᵀ + b` before a fused activation `[rows, outputs]`, when the layer has one.
    pub pre_activation: Option<Matrix<E>>,
    /// The layer's output `[rows, outputs]` (after its fused activation).
    pub output: Matrix<E>,
}

impl<B: Backend> Sequential<B> {
    /// Runs `x` `[rows, inputs]` forward in inference mode (no dropout) and returns every
    /// run-time layer's pre-activation and output, in order. The last output is what
    /// [`Sequential::forward`] returns.
    pub fn trace(&mut self, x: &Matrix<B::E>) -> Result<Vec<LayerTrace<B::E>>> {
        self.forward(x, false)?;
        let rows = x.rows();
        let be = self.be.clone();
        let copy = |buf: &B::Buf, cols: usize| -> Result<Matrix<B::E>> {
            let mut m = Matrix::from_vec(rows, cols, vec![B::E::zero(); rows * cols])?;
            be.download(buf, m.as_mut_slice())?;
            Ok(m)
        };
        (0..self.stage_count())
            .map(|i| {
                let (index, _, _, stage) = self.stage(i);
                let cols = stage.out_dim();
                Ok(LayerTrace {
                    index,
                    pre_activation: stage.pre_activation().map(|z| copy(z, cols)).transpose()?,
                    output: copy(stage.output(), cols)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Cpu, Loss, Matrix, Sequential};

    #[test]
    fn trace_ends_with_the_forward_output_and_exposes_z() {
        let mut m = Sequential::builder(2)
            .dense(3)
            .tanh()
            .dense(2)
            .softmax()
            .loss(Loss::Mse)
            .seed(5)
            .build(Cpu::<f64>::with_threads(1))
            .unwrap();
        let x = Matrix::from_vec(2, 2, vec![0.5, -1.0, 2.0, 0.25]).unwrap();
        let t = m.trace(&x).unwrap();
        let out = m.forward(&x, false).unwrap();
        assert_eq!(t.last().unwrap().output, out);
        let z = t[0].pre_activation.as_ref().unwrap();
        let w = m.param(0).unwrap();
        let b = m.param(1).unwrap();
        for r in 0..2 {
            for j in 0..3 {
                let want = w[j * 2] * x.get(r, 0) + w[j * 2 + 1] * x.get(r, 1) + b[j];
                assert!((z.get(r, j) - want).abs() < 1e-12);
                assert!((t[0].output.get(r, j) - want.tanh()).abs() < 1e-12);
            }
        }
    }
}
