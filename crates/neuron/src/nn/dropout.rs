//! Inverted dropout.
//!
//! While training: `mask_ij = 1/(1−p)` with probability `1−p`, else `0`; `Y = X ⊙ mask`;
//! `∂L/∂X = ∂L/∂Y ⊙ mask`. At inference `Y = X`. The mask is drawn from a counter-based generator
//! keyed by the step's seed, so the same seed and step always drop the same units, on any backend.

use crate::backend::Backend;
use crate::error::Result;
use crate::nn::layer::{Ctx, Layer};

pub(crate) struct DropoutLayer<B: Backend> {
    p: f64,
    width: usize,
    mask: B::Buf,
    y: B::Buf,
    trained: bool,
    index: u64,
}

impl<B: Backend> DropoutLayer<B> {
    pub(crate) fn new(be: &B, p: f64, width: usize, cap: usize, index: u64) -> Result<Self> {
        Ok(DropoutLayer {
            p,
            width,
            mask: be.alloc(cap * width)?,
            y: be.alloc(cap * width)?,
            trained: false,
            index,
        })
    }
}

impl<B: Backend> Layer<B> for DropoutLayer<B> {
    fn out_dim(&self) -> usize {
        self.width
    }

    fn resize(&mut self, be: &B, cap: usize) -> Result<()> {
        self.mask = be.alloc(cap * self.width)?;
        self.y = be.alloc(cap * self.width)?;
        Ok(())
    }

    fn forward(&mut self, be: &B, x: &B::Buf, rows: usize, ctx: &Ctx) {
        let n = rows * self.width;
        self.trained = ctx.train && self.p > 0.0;
        if self.trained {
            let seed = ctx.seed ^ self.index.wrapping_mul(0xD6E8_FEB8_6659_FD93);
            let first = (ctx.row0 * self.width) as u64;
            be.dropout(n, self.p, seed, first, x, &mut self.mask, &mut self.y);
        } else {
            be.copy(n, x, &mut self.y);
        }
    }

    /// Inference: dropout is the identity.
    fn infer(&self, be: &B, x: &B::Buf, rows: usize, _z: &mut B::Buf, y: &mut B::Buf) {
        be.copy(rows * self.width, x, y);
    }

    fn output(&self) -> &B::Buf {
        &self.y
    }

    fn backward(&mut self, be: &B, _x: &B::Buf, gy: &B::Buf, gx: Option<&mut B::Buf>, rows: usize) {
        if let Some(gx) = gx {
            let n = rows * self.width;
            if self.trained {
                be.mul(n, gy, &self.mask, gx);
            } else {
                be.copy(n, gy, gx);
            }
        }
    }
}
