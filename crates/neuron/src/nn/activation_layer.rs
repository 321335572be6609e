//! The standalone activation layer.
//!
//! Forward `Y = g(Z)`, backward `∂L/∂Z = ∂L/∂Y ⊙ g′(Z)`, shapes `[batch, width]` both ways.

use crate::backend::Backend;
use crate::error::Result;
use crate::nn::activation::Activation;
use crate::nn::layer::{Ctx, Layer};

/// A standalone activation layer (used where no dense layer precedes it to fuse with).
pub(crate) struct ActivationLayer<B: Backend> {
    act: Activation,
    width: usize,
    y: B::Buf,
}

impl<B: Backend> ActivationLayer<B> {
    pub(crate) fn new(be: &B, act: Activation, width: usize, cap: usize) -> Result<Self> {
        Ok(ActivationLayer {
            act,
            width,
            y: be.alloc(cap * width)?,
        })
    }
}

impl<B: Backend> Layer<B> for ActivationLayer<B> {
    fn out_dim(&self) -> usize {
        self.width
    }

    fn resize(&mut self, be: &B, cap: usize) -> Result<()> {
        self.y = be.alloc(cap * self.width)?;
        Ok(())
    }

    fn forward(&mut self, be: &B, x: &B::Buf, rows: usize, _ctx: &Ctx) {
        // Z is the input buffer itself: Y = g(X).
        be.act_forward(self.act, rows * self.width, x, &mut self.y);
    }

    fn infer(&self, be: &B, x: &B::Buf, rows: usize, _z: &mut B::Buf, y: &mut B::Buf) {
        be.act_forward(self.act, rows * self.width, x, y);
    }

    fn output(&self) -> &B::Buf {
        &self.y
    }

    fn backward(&mut self, be: &B, x: &B::Buf, gy: &B::Buf, gx: Option<&mut B::Buf>, rows: usize) {
        if let Some(gx) = gx {
            be.act_backward(self.act, rows * self.width, x, &self.y, gy, gx);
        }
    }
}
