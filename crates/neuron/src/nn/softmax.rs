//! The softmax layer.
//!
//! ```text
//! Y_ij = e^(X_ij − m_i) / Σ_k e^(X_ik − m_i),   m_i = max_k X_ik        X, Y: [n, c]
//! ∂L/∂X = Y ⊙ (∂L/∂Y − rowsum(∂L/∂Y ⊙ Y))                              (Jacobian-vector product)
//! ```
//!
//! Subtracting the row maximum keeps every exponent ≤ 0, so logits of ±1000 stay finite.
//! For classification prefer a plain output layer with [`crate::Loss::CrossEntropy`], which fuses
//! softmax with the loss and whose gradient is simply `(Y − onehot) / n`.

use crate::backend::Backend;
use crate::error::Result;
use crate::nn::layer::{Ctx, Layer};

pub(crate) struct SoftmaxLayer<B: Backend> {
    width: usize,
    y: B::Buf,
}

impl<B: Backend> SoftmaxLayer<B> {
    pub(crate) fn new(be: &B, width: usize, cap: usize) -> Result<Self> {
        Ok(SoftmaxLayer {
            width,
            y: be.alloc(cap * width)?,
        })
    }
}

impl<B: Backend> Layer<B> for SoftmaxLayer<B> {
    fn out_dim(&self) -> usize {
        self.width
    }

    fn resize(&mut self, be: &B, cap: usize) -> Result<()> {
        self.y = be.alloc(cap * self.width)?;
        Ok(())
    }

    fn forward(&mut self, be: &B, x: &B::Buf, rows: usize, _ctx: &Ctx) {
        be.softmax(rows, self.width, x, &mut self.y);
    }

    fn infer(&self, be: &B, x: &B::Buf, rows: usize, _z: &mut B::Buf, y: &mut B::Buf) {
        be.softmax(rows, self.width, x, y);
    }

    fn output(&self) -> &B::Buf {
        &self.y
    }

    fn backward(&mut self, be: &B, _x: &B::Buf, gy: &B::Buf, gx: Option<&mut B::Buf>, rows: usize) {
        if let Some(gx) = gx {
            be.softmax_backward(rows, self.width, &self.y, gy, gx);
        }
    }
}
