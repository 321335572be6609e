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

use crate::backend::{Backend, Operand};
use crate::error::Result;
use crate::nn::activation::Activation;
use crate::nn::layer::{Ctx, Layer, Param};

/// A dense layer at run time. Build models with [`crate::Sequential::builder`].
pub(crate) struct Dense<B: Backend> {
    inputs: usize,
    outputs: usize,
    act: Activation,
    w: B::Buf,
    /// `Wᵀ[in, out]`, for inference on slices of rows: the products then read the weights in
    /// the order their kernels use without repacking them for every slice (about 6 % of a
    /// small network's batch). Made by [`Layer::prepare_inference`]; dropped whenever the
    /// parameters are borrowed mutably, which every change of the weights needs.
    wt: Option<B::Buf>,
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
            wt: None,
            b: be.alloc(outputs)?,
            gw: be.alloc(inputs * outputs)?,
            gb: be.alloc(outputs)?,
            z: be.alloc(cap * outputs)?,
            y: be.alloc(cap * outputs)?,
            g: be.alloc(cap * outputs)?,
        })
    }
}

/// A dense layer's parameters and shape, borrowed apart from its output buffers.
struct Params<'a, B: Backend> {
    w: &'a B::Buf,
    /// Whether `w` holds `Wᵀ[in, out]` rather than `W[out, in]`.
    w_t: bool,
    b: &'a B::Buf,
    act: Activation,
    inputs: usize,
    outputs: usize,
}

impl<B: Backend> Params<'_, B> {
    /// `Z = X·Wᵀ + b`, `Y = g(Z)` for the first `rows` rows of `x`.
    fn apply(&self, be: &B, x: &B::Buf, rows: usize, z: &mut B::Buf, y: &mut B::Buf) {
        let xo = Operand {
            buf: x,
            transposed: false,
        };
        let wt = Operand {
            buf: self.w,
            transposed: !self.w_t,
        };
        be.matmul(rows, self.outputs, self.inputs, xo, wt, z, false);
        be.bias_act(self.act, rows, self.outputs, Some(self.b), z, y);
    }
}

impl<B: Backend> Dense<B> {
    fn params_ref(&self) -> Params<'_, B> {
        Params {
            w: self.wt.as_ref().unwrap_or(&self.w),
            w_t: self.wt.is_some(),
            b: &self.b,
            act: self.act,
            inputs: self.inputs,
            outputs: self.outputs,
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
        let (act, inputs, outputs) = (*act, *inputs, *outputs);
        let p = Params {
            w,
            w_t: false,
            b,
            act,
            inputs,
            outputs,
        };
        p.apply(be, x, rows, z, y);
    }

    fn prepare_inference(&mut self, be: &B) -> Result<()> {
        if self.wt.is_none() {
            let (n, k) = (self.outputs, self.inputs);
            let mut w = vec![B::E::default(); n * k];
            be.download(&self.w, &mut w)?;
            let mut t = vec![B::E::default(); n * k];
            for (i, row) in w.chunks_exact(k).enumerate() {
                for (j, v) in row.iter().enumerate() {
                    t[j * n + i] = *v;
                }
            }
            self.wt = Some(be.upload(&t)?);
        }
        Ok(())
    }

    fn infer(&self, be: &B, x: &B::Buf, rows: usize, z: &mut B::Buf, y: &mut B::Buf) {
        self.params_ref().apply(be, x, rows, z, y);
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
        self.wt = None;
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
        self.wt = None;
        vec![&mut self.w, &mut self.b]
    }

    fn grads_mut(&mut self) -> Vec<&mut B::Buf> {
        vec![&mut self.gw, &mut self.gb]
    }

    fn pre_activation(&self) -> Option<&B::Buf> {
        (self.act != Activation::Identity).then_some(&self.z)
    }
}
