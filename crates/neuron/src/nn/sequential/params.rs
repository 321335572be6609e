//! A model's parameter tensors: names and shapes, reading and writing them, snapshots.

use num_traits::Zero as _;

use super::Sequential;
use crate::backend::Backend;
use crate::error::{NeuronError, Result};

/// Description of one trainable tensor: its PyTorch-style name and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// `"<layer index>.weight"` or `"<layer index>.bias"`, as in PyTorch's `nn.Sequential`.
    pub name: String,
    /// Shape: `[out, in]` for weights, `[out]` for biases.
    pub shape: Vec<usize>,
}

impl<B: Backend> Sequential<B> {
    /// The same network (architecture, loss and weights) on another backend of the same element
    /// type, with `seed` for its dropout masks: a GPU-trained model copied to the CPU for saving,
    /// or a loaded model moved to the device it is fine-tuned on.
    pub fn to_backend<C: Backend<E = B::E>>(&self, be: C, seed: u64) -> Result<Sequential<C>> {
        Sequential::from_specs(
            be,
            self.input_dim(),
            self.specs().to_vec(),
            self.loss(),
            seed,
            Some(&self.params()?),
        )
    }

    /// Names and shapes of every parameter tensor, in order.
    pub fn param_info(&self) -> Vec<ParamInfo> {
        let mut out = Vec::new();
        for (stage, &spec) in self.stages.iter().zip(&self.stage_spec) {
            for (k, (_, _, shape)) in stage.param_refs().into_iter().enumerate() {
                let kind = if k == 0 { "weight" } else { "bias" };
                out.push(ParamInfo {
                    name: format!("{spec}.{kind}"),
                    shape,
                });
            }
        }
        out
    }

    fn param_ref(&self, i: usize, grad: bool) -> Result<(&B::Buf, usize)> {
        let all: Vec<_> = self.stages.iter().flat_map(|s| s.param_refs()).collect();
        let n = all.len();
        let (v, g, shape) = all.into_iter().nth(i).ok_or_else(|| {
            NeuronError::arg(format!("parameter {i} does not exist (the model has {n})"))
        })?;
        Ok((if grad { g } else { v }, shape.iter().product()))
    }

    /// A host copy of parameter tensor `i` (row-major).
    pub fn param(&self, i: usize) -> Result<Vec<B::E>> {
        let (buf, len) = self.param_ref(i, false)?;
        let mut out = vec![B::E::zero(); len];
        self.be.download(buf, &mut out)?;
        Ok(out)
    }

    /// A host copy of the gradient of parameter tensor `i` from the last backward pass.
    pub fn grad(&self, i: usize) -> Result<Vec<B::E>> {
        let (buf, len) = self.param_ref(i, true)?;
        let mut out = vec![B::E::zero(); len];
        self.be.download(buf, &mut out)?;
        Ok(out)
    }

    /// Overwrites parameter tensor `i`.
    pub fn set_param(&mut self, i: usize, values: &[B::E]) -> Result<()> {
        let (_, len) = self.param_ref(i, false)?;
        if values.len() != len {
            return Err(NeuronError::shape(
                "set_param",
                format!("{len} values"),
                values.len(),
            ));
        }
        let buf = self.be.upload(values)?;
        let slot = self
            .stages
            .iter_mut()
            .flat_map(|s| s.param_values_mut())
            .nth(i)
            .ok_or_else(|| NeuronError::arg(format!("parameter {i} does not exist")))?;
        *slot = buf;
        Ok(())
    }

    /// Copies the parameters into `out`, on the backend (no host transfer); allocates its buffers
    /// when it is empty, and reuses them otherwise (a model's parameter shapes never change).
    /// [`Sequential::restore_snapshot`] puts them back.
    pub(crate) fn snapshot_into(&self, out: &mut Vec<B::Buf>) -> Result<()> {
        let params = || self.stages.iter().flat_map(|s| s.param_refs());
        if out.is_empty() {
            for (_, _, shape) in params() {
                out.push(self.be.alloc(shape.iter().product())?);
            }
        }
        for ((v, _, shape), c) in params().zip(out.iter_mut()) {
            self.be.copy(shape.iter().product(), v, c);
        }
        Ok(())
    }

    /// Puts back the parameters saved by [`Sequential::snapshot_into`].
    pub(crate) fn restore_snapshot(&mut self, snap: &[B::Buf]) {
        let lens: Vec<usize> = self
            .stages
            .iter()
            .flat_map(|s| s.param_refs())
            .map(|(_, _, shape)| shape.iter().product())
            .collect();
        let be = self.be.clone();
        let values = self.stages.iter_mut().flat_map(|s| s.param_values_mut());
        for ((v, c), len) in values.zip(snap).zip(lens) {
            be.copy(len, c, v);
        }
    }

    /// All parameter tensors, host copies, in [`Sequential::param_info`] order.
    pub fn params(&self) -> Result<Vec<Vec<B::E>>> {
        (0..self.param_info().len())
            .map(|i| self.param(i))
            .collect()
    }

    /// Overwrites all parameter tensors (same order and sizes as [`Sequential::params`]).
    pub fn set_params(&mut self, values: &[Vec<B::E>]) -> Result<()> {
        let n = self.param_info().len();
        if values.len() != n {
            return Err(NeuronError::shape(
                "set_params",
                format!("{n} tensors"),
                values.len(),
            ));
        }
        for (i, v) in values.iter().enumerate() {
            self.set_param(i, v)?;
        }
        Ok(())
    }
}
