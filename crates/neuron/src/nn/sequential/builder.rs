//! Building a [`Sequential`]: the layer-by-layer builder and the checks of an architecture.

use super::{ParamInfo, Sequential};
use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::nn::activation::Activation;
use crate::nn::init::Init;
use crate::nn::layer::LayerSpec;
use crate::nn::loss::Loss;

/// Builds a [`Sequential`] layer by layer.
///
/// ```
/// use neuron::{Cpu, Loss, Sequential};
/// let model = Sequential::builder(4)
///     .dense(16)
///     .relu()
///     .dense(3)
///     .loss(Loss::cross_entropy())
///     .seed(7)
///     .build(Cpu::<f32>::new())
///     .unwrap();
/// assert_eq!(model.output_dim(), 3);
/// assert_eq!(model.num_params(), 4 * 16 + 16 + 16 * 3 + 3);
/// ```
#[derive(Clone, Debug)]
pub struct SequentialBuilder {
    input: usize,
    specs: Vec<LayerSpec>,
    loss: Loss,
    seed: u64,
}

impl SequentialBuilder {
    fn width(&self) -> usize {
        self.specs
            .iter()
            .rev()
            .find_map(|s| match s {
                LayerSpec::Dense { outputs, .. } => Some(*outputs),
                _ => None,
            })
            .unwrap_or(self.input)
    }

    /// Appends any layer.
    pub fn layer(mut self, spec: LayerSpec) -> Self {
        self.specs.push(spec);
        self
    }
    /// Appends a dense layer of `outputs` neurons (initialisation chosen automatically).
    pub fn dense(self, outputs: usize) -> Self {
        self.dense_init(outputs, Init::Auto)
    }
    /// Appends a dense layer with an explicit initialisation.
    pub fn dense_init(self, outputs: usize, init: Init) -> Self {
        let inputs = self.width();
        self.layer(LayerSpec::Dense {
            inputs,
            outputs,
            init,
        })
    }
    /// Appends an activation.
    pub fn activation(self, activation: Activation) -> Self {
        self.layer(LayerSpec::Activation { activation })
    }
    /// Appends ReLU.
    pub fn relu(self) -> Self {
        self.activation(Activation::Relu)
    }
    /// Appends sigmoid.
    pub fn sigmoid(self) -> Self {
        self.activation(Activation::Sigmoid)
    }
    /// Appends tanh.
    pub fn tanh(self) -> Self {
        self.activation(Activation::Tanh)
    }
    /// Appends leaky ReLU with slope `alpha`.
    pub fn leaky_relu(self, alpha: f64) -> Self {
        self.activation(Activation::LeakyRelu { alpha })
    }
    /// Appends GELU.
    pub fn gelu(self) -> Self {
        self.activation(Activation::Gelu)
    }
    /// Appends a softmax layer.
    pub fn softmax(self) -> Self {
        self.layer(LayerSpec::Softmax)
    }
    /// Appends dropout with drop probability `p`.
    pub fn dropout(self, p: f64) -> Self {
        self.layer(LayerSpec::Dropout { p })
    }
    /// Sets the loss the model is trained with (default: mean squared error).
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    /// Sets the seed for initialisation and dropout (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Validates the architecture, initialises the weights, and allocates on `backend`.
    pub fn build<B: Backend>(self, backend: B) -> Result<Sequential<B>> {
        Sequential::from_specs(backend, self.input, self.specs, self.loss, self.seed, None)
    }
}

pub(super) fn check_specs(input: usize, specs: &[LayerSpec], loss: &Loss) -> Result<usize> {
    if input == 0 {
        return Err(NeuronError::arg("the input width must be at least 1"));
    }
    if !specs.iter().any(|s| matches!(s, LayerSpec::Dense { .. })) {
        return Err(NeuronError::arg("a model needs at least one dense layer"));
    }
    let mut width = input;
    for (i, s) in specs.iter().enumerate() {
        match s {
            LayerSpec::Dense {
                inputs, outputs, ..
            } => {
                if *inputs != width {
                    return Err(NeuronError::shape(
                        &format!("layer {i} (dense)"),
                        format!("{width} inputs"),
                        format!("{inputs} inputs"),
                    ));
                }
                if *outputs == 0 {
                    return Err(NeuronError::arg(format!(
                        "layer {i}: a dense layer needs at least 1 neuron"
                    )));
                }
                width = *outputs;
            }
            LayerSpec::Dropout { p } if !(0.0..1.0).contains(p) => {
                return Err(NeuronError::arg(format!(
                    "layer {i}: dropout p must be in [0, 1), got {p}"
                )));
            }
            LayerSpec::Activation {
                activation: Activation::LeakyRelu { alpha },
            } if !alpha.is_finite() => {
                return Err(NeuronError::arg(format!(
                    "layer {i}: leaky ReLU slope must be finite"
                )));
            }
            _ => {}
        }
    }
    match loss {
        Loss::CrossEntropy { label_smoothing } => {
            if width < 2 {
                return Err(NeuronError::arg("cross-entropy needs at least 2 outputs"));
            }
            if !(0.0..1.0).contains(label_smoothing) {
                return Err(NeuronError::arg(format!(
                    "label smoothing must be in [0, 1), got {label_smoothing}"
                )));
            }
        }
        Loss::Mse | Loss::BinaryCrossEntropy => {}
    }
    Ok(width)
}

/// Names and shapes of the parameter tensors a model of these layers has, in order, without
/// building it (validates the architecture first).
pub fn param_shapes(input: usize, specs: &[LayerSpec], loss: &Loss) -> Result<Vec<ParamInfo>> {
    check_specs(input, specs, loss)?;
    let mut out = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        if let LayerSpec::Dense {
            inputs, outputs, ..
        } = s
        {
            out.push(ParamInfo {
                name: format!("{i}.weight"),
                shape: vec![*outputs, *inputs],
            });
            out.push(ParamInfo {
                name: format!("{i}.bias"),
                shape: vec![*outputs],
            });
        }
    }
    Ok(out)
}

impl Sequential<crate::Cpu<f32>> {
    /// Starts a model whose input rows have `inputs` features. The backend (and so the element
    /// type) is chosen at [`SequentialBuilder::build`].
    pub fn builder(inputs: usize) -> SequentialBuilder {
        SequentialBuilder {
            input: inputs,
            specs: Vec::new(),
            loss: Loss::Mse,
            seed: 0,
        }
    }
}
