//! Per-step observation: read-only views, after each training step, of every layer's input,
//! output and parameter gradients (what a page that draws each neuron needs).
//!
//! The views borrow the model's own buffers; nothing is copied unless the observer reads a view
//! ([`TensorView::read`]), and a run without a [`StepObserver`] builds no view at all.

use num_traits::Zero as _;

use super::Control;
use crate::backend::Backend;
use crate::error::Result;
use crate::nn::layer::LayerSpec;
use crate::nn::sequential::Sequential;

/// Receives a [`StepView`] after every training step (see [`super::TrainRun::inspect`]).
pub trait StepObserver<B: Backend> {
    /// Called after the step's update; [`Control::Stop`] interrupts training as an
    /// [`super::Observer`] does.
    fn on_step(&mut self, step: &StepView<'_, B>) -> Control;
}

impl<B: Backend, F: FnMut(&StepView<'_, B>) -> Control> StepObserver<B> for F {
    fn on_step(&mut self, step: &StepView<'_, B>) -> Control {
        self(step)
    }
}

/// A row-major matrix on the backend's device, borrowed from the model.
pub struct TensorView<'a, B: Backend> {
    be: &'a B,
    buf: &'a B::Buf,
    /// `[rows, cols]` (`[len]` for a bias).
    pub shape: Vec<usize>,
}

impl<B: Backend> TensorView<'_, B> {
    /// A host copy of the values (the only place a view copies anything).
    pub fn read(&self) -> Result<Vec<B::E>> {
        let mut out = vec![B::E::zero(); self.shape.iter().product()];
        self.be.download(self.buf, &mut out)?;
        Ok(out)
    }
}

/// The state of a model right after a training step.
pub struct StepView<'a, B: Backend> {
    pub(crate) model: &'a Sequential<B>,
    /// Epoch, from 1.
    pub epoch: usize,
    /// Batches done in this epoch, this one included.
    pub batch: usize,
    /// Learning rate of the step.
    pub lr: f64,
}

/// One run-time layer after a step: a dense layer together with its fused activation, or a
/// standalone activation, softmax or dropout layer.
pub struct LayerView<'a, B: Backend> {
    /// Index of its (first) layer description in [`Sequential::specs`].
    pub index: usize,
    /// That description.
    pub spec: &'a LayerSpec,
    /// The batch it received, `[rows, inputs]`.
    pub input: TensorView<'a, B>,
    /// Its output for that batch, after any fused activation, `[rows, outputs]`.
    pub output: TensorView<'a, B>,
    /// `Z = X·Wᵀ + b` before the fused activation, when there is one.
    pub pre_activation: Option<TensorView<'a, B>>,
    /// `(value, gradient)` of each parameter: the weight `[outputs, inputs]`, then the bias.
    /// Values are after the step's update; gradients are those the update used.
    pub params: Vec<(TensorView<'a, B>, TensorView<'a, B>)>,
}

impl<'a, B: Backend> StepView<'a, B> {
    /// Rows of the step's batch (this worker's share).
    pub fn rows(&self) -> usize {
        self.model.last_rows()
    }

    /// The model itself (read-only).
    pub fn model(&self) -> &'a Sequential<B> {
        self.model
    }

    /// Every run-time layer, in order.
    pub fn layers(&self) -> Vec<LayerView<'a, B>> {
        let (m, rows) = (self.model, self.rows());
        let be = m.backend();
        let view = |buf, shape| TensorView { be, buf, shape };
        (0..m.stage_count())
            .map(|i| {
                let (index, x, width, stage) = m.stage(i);
                let out = stage.out_dim();
                LayerView {
                    index,
                    spec: &m.specs()[index],
                    input: view(x, vec![rows, width]),
                    output: view(stage.output(), vec![rows, out]),
                    pre_activation: stage.pre_activation().map(|z| view(z, vec![rows, out])),
                    params: stage
                        .param_refs()
                        .into_iter()
                        .map(|(v, g, shape)| (view(v, shape.clone()), view(g, shape)))
                        .collect(),
                }
            })
            .collect()
    }
}
