//! What every layer implements, and the serialisable description of a layer.

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::Result;
use crate::nn::activation::Activation;
use crate::nn::init::Init;

/// The description of one layer, as stored in model files (one entry per PyTorch
/// `nn.Sequential` index: activations count as layers, exactly as in PyTorch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    /// Fully connected: `Z = X·Wᵀ + b`, `W` is `[outputs, inputs]`.
    Dense {
        /// Input width.
        inputs: usize,
        /// Output width (number of neurons).
        outputs: usize,
        /// Weight initialisation.
        #[serde(default)]
        init: Init,
    },
    /// An element-wise activation.
    Activation {
        /// Which one.
        activation: Activation,
    },
    /// Row-wise softmax, as a layer (PyTorch's `nn.Softmax(dim=1)`).
    Softmax,
    /// Inverted dropout with drop probability `p`, active only while training.
    Dropout {
        /// Probability that an element is zeroed.
        p: f64,
    },
}

impl LayerSpec {
    /// The PyTorch module name of this layer (`Linear`, `ReLU`, ...).
    pub fn torch_name(&self) -> String {
        match self {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => format!("Linear(in_features={inputs}, out_features={outputs})"),
            LayerSpec::Activation { activation } => match activation {
                Activation::Identity => "Identity()".into(),
                Activation::Sigmoid => "Sigmoid()".into(),
                Activation::Tanh => "Tanh()".into(),
                Activation::Relu => "ReLU()".into(),
                Activation::LeakyRelu { alpha } => format!("LeakyReLU(negative_slope={alpha})"),
                Activation::Gelu => "GELU()".into(),
            },
            LayerSpec::Softmax => "Softmax(dim=1)".into(),
            LayerSpec::Dropout { p } => format!("Dropout(p={p})"),
        }
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> usize {
        match self {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => inputs * outputs + outputs,
            _ => 0,
        }
    }
}

/// Per-step information passed to layers' forward pass.
pub(crate) struct Ctx {
    /// Training mode (dropout active) or inference.
    pub train: bool,
    /// Seed for this step's random masks; each layer mixes in its own index.
    pub seed: u64,
    /// Where this worker's rows start in the global batch: masks are drawn per batch position,
    /// so any number of workers draw the masks of one.
    pub row0: usize,
}

/// A trainable parameter and its gradient, as handed to optimizers.
pub(crate) struct Param<'a, B: Backend> {
    pub value: &'a mut B::Buf,
    pub grad: &'a B::Buf,
    pub len: usize,
}

/// A runtime layer: owns its output, parameters, gradients and scratch buffers, all sized for
/// `cap` rows, so that a training step allocates nothing.
pub(crate) trait Layer<B: Backend>: Send + Sync {
    /// Output width.
    fn out_dim(&self) -> usize;
    /// Re-allocates the per-row buffers for up to `cap` rows.
    fn resize(&mut self, be: &B, cap: usize) -> Result<()>;
    /// Computes the output for the first `rows` rows of `x`.
    fn forward(&mut self, be: &B, x: &B::Buf, rows: usize, ctx: &Ctx);
    /// Makes whatever [`Layer::infer`] reads faster than the training layout (a dense layer's
    /// weights transposed); kept until the parameters are next borrowed mutably.
    fn prepare_inference(&mut self, be: &B) -> Result<()> {
        let _ = be;
        Ok(())
    }
    /// Inference on the first `rows` rows of `x` into `y`, leaving the layer's own buffers alone,
    /// so that several threads may run it at once on different rows. `z` is scratch space of the
    /// output's size.
    fn infer(&self, be: &B, x: &B::Buf, rows: usize, z: &mut B::Buf, y: &mut B::Buf);
    /// The output of the last forward pass.
    fn output(&self) -> &B::Buf;
    /// Given `x` (this layer's last input) and `gy = ∂L/∂Y`, computes the parameter gradients and,
    /// when `gx` is given, `∂L/∂X`.
    fn backward(&mut self, be: &B, x: &B::Buf, gy: &B::Buf, gx: Option<&mut B::Buf>, rows: usize);
    /// Appends the trainable parameters with their gradients to `out` (weight first, then bias).
    fn params<'a>(&'a mut self, out: &mut Vec<Param<'a, B>>) {
        let _ = out;
    }
    /// Read access to the parameters: `(value, gradient, shape)`.
    fn param_refs(&self) -> Vec<(&B::Buf, &B::Buf, Vec<usize>)> {
        Vec::new()
    }
    /// Mutable access to parameter values (loading, gradient checks).
    fn param_values_mut(&mut self) -> Vec<&mut B::Buf> {
        Vec::new()
    }
    /// Mutable access to the parameter gradients, in [`Layer::params`] order (combining them
    /// across workers).
    fn grads_mut(&mut self) -> Vec<&mut B::Buf> {
        Vec::new()
    }
    /// The values before the activation of the last forward pass, when the layer has a fused
    /// activation (`Z` of a dense layer; its output is then `g(Z)`).
    fn pre_activation(&self) -> Option<&B::Buf> {
        None
    }
}
