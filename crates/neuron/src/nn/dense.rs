//! The fully connected layer, with an optional fused activation.
//!
//! Forward, for a batch `X[n, in]`, weights `W[out, in]` (PyTorch's layout), bias `b[out]`:
//!
//! ```text
//! Z = X·Wᵀ + b            Z: [n, out]
//! Y = g(Z)                (g = identity unless an activation was fused in)
//! ```
//!
//! Backward, given `∂L/∂Y`:
//!
//! ```text
//! G     = ∂L/∂Y ⊙ g′(Z)   G: [n, out]
//! ∂L/∂W = Gᵀ·X            [out, in]
//! ∂L/∂b = Σ_rows G        [out]
//! ∂L/∂X = G·W             [n, in]   (skipped for the first layer)
//! ```

use crate::backend::{dense_by_product, Backend, Operand};
use crate::error::Result;
use crate::nn::activation::Activation;
use crate::nn::layer::{Ctx, Layer, Param};

/// A dense layer at run time. Build models with [`crate::Sequential::builder`].
pub(crate) struct Dense<B: Backend> {
    inputs: usize,
    outputs: usize,
    act: Activation,
    w: B::Buf,
    /// The weights arranged for inference on slices of rows ([`Backend::inference_weights`]:
    /// `Wᵀ[in, out]`, or on the CPU with AVX-512 packed for its inference kernel), so that they
    /// are not rearranged for every slice. Made by [`Layer::prepare_inference`]; dropped
    /// whenever the parameters are borrowed mutably, which every change of the weights needs.
    inference_w: Option<B::Buf>,
    b: B::Buf,
    gw: B::Buf,
    gb: B::Buf,
    z: B::Buf,
    y: B::Buf,
    g: B::Buf,
}

impl<B: Backend> Dense<B> {
    pub(crate) fn new(
        be: &B,
        inputs: usize,
        outputs: usize,
        act: Activation,
        weights: &[B::E],
        cap: usize,
    ) -> Result<Self> {
        Ok(Dense {
            inputs,
            outputs,
            act,
            w: be.upload(weights)?,
            inference_w: None,
            b: be.alloc(outputs)?,
            gw: be.alloc(inputs * outputs)?,
            gb: be.alloc(outputs)?,
            z: be.alloc(cap * outputs)?,
            y: be.alloc(cap * outputs)?,
            g: be.alloc(cap * outputs)?,
        })
    }
}

impl<B: Backend> Dense<B> {
    /// `W` read transposed, as the training product takes it.
    fn w_transposed(w: &B::Buf) -> Operand<'_, B::Buf> {
        Operand {
            buf: w,
            transposed: true,
        }
    }
}

impl<B: Backend> Layer<B> for Dense<B> {
    fn out_dim(&self) -> usize {
        self.outputs
    }

    fn resize(&mut self, be: &B, cap: usize) -> Result<()> {
        self.z = be.alloc(cap * self.outputs)?;
        self.y = be.alloc(cap * self.outputs)?;
        self.g = be.alloc(cap * self.outputs)?;
        Ok(())
    }

    fn forward(&mut self, be: &B, x: &B::Buf, rows: usize, _ctx: &Ctx) {
        let Dense {
            w,
            b,
            act,
            inputs,
            outputs,
            z,
            y,
            ..
        } = self;
        let wb = (Self::w_transposed(w), &*b);
        dense_by_product(be, *act, (rows, *outputs, *inputs), x, wb, z, y);
    }

    fn prepare_inference(&mut self, be: &B) -> Result<()> {
        if self.inference_w.is_none() {
            self.inference_w = Some(be.inference_weights(self.outputs, self.inputs, &self.w)?);
        }
        Ok(())
    }

    fn infer(&self, be: &B, x: &B::Buf, rows: usize, z: &mut B::Buf, y: &mut B::Buf) {
        let shape = (rows, self.outputs, self.inputs);
        match &self.inference_w {
            Some(w) => be.dense_infer(self.act, shape, x, (w, &self.b), z, y),
            None => {
                let wb = (Self::w_transposed(&self.w), &self.b);
                dense_by_product(be, self.act, shape, x, wb, z, y)
            }
        }
    }

    fn output(&self) -> &B::Buf {
        &self.y
    }

    fn backward(&mut self, be: &B, x: &B::Buf, gy: &B::Buf, gx: Option<&mut B::Buf>, rows: usize) {
        let n = rows * self.outputs;
        let g: &B::Buf = if self.act == Activation::Identity {
            gy
        } else {
            be.act_backward(self.act, n, &self.z, &self.y, gy, &mut self.g);
            &self.g
        };
        let gt = Operand {
            buf: g,
            transposed: true,
        };
        let xo = Operand {
            buf: x,
            transposed: false,
        };
        be.matmul(self.outputs, self.inputs, rows, gt, xo, &mut self.gw, false);
        be.col_sum(rows, self.outputs, g, &mut self.gb);
        if let Some(gx) = gx {
            let go = Operand {
                buf: g,
                transposed: false,
            };
            let wo = Operand {
                buf: &self.w,
                transposed: false,
            };
            be.matmul(rows, self.inputs, self.outputs, go, wo, gx, false);
        }
    }

    fn params<'a>(&'a mut self, out: &mut Vec<Param<'a, B>>) {
        self.inference_w = None;
        let n = self.inputs * self.outputs;
        out.push(Param {
            value: &mut self.w,
            grad: &self.gw,
            len: n,
        });
        out.push(Param {
            value: &mut self.b,
            grad: &self.gb,
            len: self.outputs,
        });
    }

    fn param_refs(&self) -> Vec<(&B::Buf, &B::Buf, Vec<usize>)> {
        vec![
            (&self.w, &self.gw, vec![self.outputs, self.inputs]),
            (&self.b, &self.gb, vec![self.outputs]),
        ]
    }

    fn param_values_mut(&mut self) -> Vec<&mut B::Buf> {
        self.inference_w = None;
        vec![&mut self.w, &mut self.b]
    }

    fn grads_mut(&mut self) -> Vec<&mut B::Buf> {
        vec![&mut self.gw, &mut self.gb]
    }

    fn pre_activation(&self) -> Option<&B::Buf> {
        (self.act != Activation::Identity).then_some(&self.z)
    }
}
