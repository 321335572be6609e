//! The `Sequential` model: a stack of layers, its forward and backward passes, and its parameters.

use crate::activation::{Activation, ActivationLayer};
use crate::backend::Backend;
use crate::dense::Dense;
use crate::dropout::DropoutLayer;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::init::Init;
use crate::layer::{Ctx, Layer, LayerSpec};
use crate::loss::Loss;
use crate::matrix::Matrix;
use crate::optimizer::Optimizer;
use crate::rng::Rng;
use crate::softmax::SoftmaxLayer;
#[allow(unused_imports)]
use num_traits::{Float as _, One as _, Zero as _};

/// Rows processed at once by prediction and evaluation.
pub(crate) const EVAL_CHUNK: usize = 1024;

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

/// Description of one trainable tensor: its PyTorch-style name and shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// `"<layer index>.weight"` or `"<layer index>.bias"`, as in PyTorch's `nn.Sequential`.
    pub name: String,
    /// Shape: `[out, in]` for weights, `[out]` for biases.
    pub shape: Vec<usize>,
}

/// A feed-forward network: layers applied in order, trained against one [`Loss`].
pub struct Sequential<B: Backend> {
    pub(crate) be: B,
    input: usize,
    specs: Vec<LayerSpec>,
    loss: Loss,
    seed: u64,
    stages: Vec<Box<dyn Layer<B>>>,
    /// For each stage, the index of its first spec.
    stage_spec: Vec<usize>,
    grads: Vec<B::Buf>,
    cap: usize,
    pub(crate) x: B::Buf,
    pub(crate) t: B::Buf,
    pub(crate) acc: B::Buf,
    last_rows: usize,
    /// Forward passes in training mode so far (keys dropout masks).
    pub(crate) train_steps: u64,
}

fn check_specs(input: usize, specs: &[LayerSpec], loss: &Loss) -> Result<usize> {
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

impl<B: Backend> Sequential<B> {
    /// Builds a model from layer descriptions; `weights`, when given, are the parameter tensors in
    /// [`Sequential::param_info`] order (otherwise they are initialised from `seed`).
    pub fn from_specs(
        be: B,
        input: usize,
        specs: Vec<LayerSpec>,
        loss: Loss,
        seed: u64,
        weights: Option<&[Vec<B::E>]>,
    ) -> Result<Self> {
        check_specs(input, &specs, &loss)?;
        let cap = 1;
        let mut rng = Rng::new(seed);
        let mut stages: Vec<Box<dyn Layer<B>>> = Vec::new();
        let mut stage_spec = Vec::new();
        let mut width = input;
        let mut i = 0;
        let mut next_weight = 0;
        while i < specs.len() {
            stage_spec.push(i);
            match &specs[i] {
                LayerSpec::Dense {
                    inputs,
                    outputs,
                    init,
                } => {
                    let next_act = match specs.get(i + 1) {
                        Some(LayerSpec::Activation { activation }) => Some(*activation),
                        _ => None,
                    };
                    let w: Vec<B::E> = match weights {
                        Some(ws) => ws.get(next_weight).cloned().ok_or_else(|| {
                            NeuronError::Model(format!("missing weights for layer {i}"))
                        })?,
                        None => init
                            .resolve(next_act)
                            .sample(*inputs, *outputs, &mut rng)
                            .into_iter()
                            .map(B::E::of)
                            .collect(),
                    };
                    if w.len() != inputs * outputs {
                        return Err(NeuronError::shape(
                            &format!("{i}.weight"),
                            format!("[{outputs}, {inputs}]"),
                            format!("{} values", w.len()),
                        ));
                    }
                    let mut d = Dense::new(
                        &be,
                        *inputs,
                        *outputs,
                        next_act.unwrap_or(Activation::Identity),
                        &w,
                        cap,
                    )?;
                    if let Some(ws) = weights {
                        let b = ws.get(next_weight + 1).ok_or_else(|| {
                            NeuronError::Model(format!("missing bias for layer {i}"))
                        })?;
                        if b.len() != *outputs {
                            return Err(NeuronError::shape(
                                &format!("{i}.bias"),
                                format!("[{outputs}]"),
                                format!("{} values", b.len()),
                            ));
                        }
                        *d.param_values_mut()[1] = be.upload(b)?;
                    }
                    next_weight += 2;
                    stages.push(Box::new(d));
                    width = *outputs;
                    if next_act.is_some() {
                        i += 1;
                    }
                }
                LayerSpec::Activation { activation } => {
                    stages.push(Box::new(ActivationLayer::new(
                        &be,
                        *activation,
                        width,
                        cap,
                    )?));
                }
                LayerSpec::Softmax => stages.push(Box::new(SoftmaxLayer::new(&be, width, cap)?)),
                LayerSpec::Dropout { p } => {
                    stages.push(Box::new(DropoutLayer::new(&be, *p, width, cap, i as u64)?))
                }
            }
            i += 1;
        }
        if let Some(ws) = weights {
            if ws.len() != next_weight {
                return Err(NeuronError::Model(format!(
                    "expected {next_weight} parameter tensors, got {}",
                    ws.len()
                )));
            }
        }
        let grads = stages
            .iter()
            .map(|s| be.alloc(cap * s.out_dim()))
            .collect::<Result<_>>()?;
        let tcols = loss.target_cols(width);
        Ok(Sequential {
            x: be.alloc(cap * input)?,
            t: be.alloc(cap * tcols)?,
            acc: be.alloc(2)?,
            be,
            input,
            specs,
            loss,
            seed,
            stages,
            stage_spec,
            grads,
            cap,
            last_rows: 0,
            train_steps: 0,
        })
    }

    /// The backend this model computes on.
    pub fn backend(&self) -> &B {
        &self.be
    }
    /// Number of input features.
    pub fn input_dim(&self) -> usize {
        self.input
    }
    /// Number of outputs.
    pub fn output_dim(&self) -> usize {
        self.stages.last().map_or(self.input, |s| s.out_dim())
    }
    /// The layer descriptions, one per PyTorch `nn.Sequential` index.
    pub fn specs(&self) -> &[LayerSpec] {
        &self.specs
    }
    /// The loss the model trains with.
    pub fn loss(&self) -> Loss {
        self.loss
    }
    /// Changes the loss (e.g. to add label smoothing before fine-tuning).
    pub fn set_loss(&mut self, loss: Loss) -> Result<()> {
        check_specs(self.input, &self.specs, &loss)?;
        if loss.target_cols(self.output_dim()) != self.loss.target_cols(self.output_dim()) {
            self.t = self
                .be
                .alloc(self.cap * loss.target_cols(self.output_dim()))?;
        }
        self.loss = loss;
        Ok(())
    }
    /// The seed the model was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Total number of trainable parameters.
    pub fn num_params(&self) -> usize {
        self.specs.iter().map(LayerSpec::num_params).sum()
    }

    /// Makes every buffer hold at least `rows` rows.
    pub(crate) fn reserve(&mut self, rows: usize) -> Result<()> {
        if rows <= self.cap {
            return Ok(());
        }
        let cap = rows;
        for (s, g) in self.stages.iter_mut().zip(self.grads.iter_mut()) {
            s.resize(&self.be, cap)?;
            *g = self.be.alloc(cap * s.out_dim())?;
        }
        self.x = self.be.alloc(cap * self.input)?;
        self.t = self
            .be
            .alloc(cap * self.loss.target_cols(self.output_dim()))?;
        self.cap = cap;
        Ok(())
    }

    /// Runs the stages on the first `rows` rows of `self.x`.
    pub(crate) fn forward_loaded(&mut self, rows: usize, train: bool) {
        let seed = if train {
            self.train_steps += 1;
            self.seed ^ self.train_steps.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        } else {
            0
        };
        let ctx = Ctx { train, seed };
        for i in 0..self.stages.len() {
            let (before, rest) = self.stages.split_at_mut(i);
            let x = before.last().map_or(&self.x, |s| s.output());
            rest[0].forward(&self.be, x, rows, &ctx);
        }
        self.last_rows = rows;
    }

    /// The output buffer of the last forward pass.
    pub(crate) fn output_buf(&self) -> &B::Buf {
        self.stages.last().map_or(&self.x, |s| s.output())
    }

    /// Loss of the last forward pass against `self.t`; fills the output gradient. Adds to `acc`.
    pub(crate) fn loss_loaded(&mut self, rows: usize) {
        let cols = self.output_dim();
        let n = self.stages.len();
        let out = self.stages[n - 1].output();
        self.be.loss(
            &self.loss,
            rows,
            cols,
            out,
            &self.t,
            &mut self.grads[n - 1],
            &mut self.acc,
        );
    }

    /// Backpropagates the output gradient (set by [`Self::loss_loaded`]) through every stage.
    pub(crate) fn backward_loaded(&mut self, rows: usize) {
        for i in (0..self.stages.len()).rev() {
            let (before, rest) = self.stages.split_at_mut(i);
            let x = before.last().map_or(&self.x, |s| s.output());
            let (gb, ga) = self.grads.split_at_mut(i);
            rest[0].backward(&self.be, x, &ga[0], gb.last_mut(), rows);
        }
    }

    fn check_x(&self, x: &Matrix<B::E>) -> Result<()> {
        if x.cols() != self.input {
            return Err(NeuronError::shape(
                "input",
                format!("[n, {}]", self.input),
                format!("{:?}", x.shape()),
            ));
        }
        Ok(())
    }

    fn check_y(&self, x: &Matrix<B::E>, y: &Matrix<B::E>) -> Result<()> {
        let tc = self.loss.target_cols(self.output_dim());
        if y.cols() != tc || y.rows() != x.rows() {
            return Err(NeuronError::shape(
                "targets",
                format!("[{}, {tc}]", x.rows()),
                format!("{:?}", y.shape()),
            ));
        }
        self.check_target_values(y, "target")
    }

    /// Checks target values against the loss: integer class indices in `[0, outputs)` for
    /// cross-entropy, values in `[0, 1]` for binary cross-entropy. `what` names the data in errors.
    pub(crate) fn check_target_values(&self, y: &Matrix<B::E>, what: &str) -> Result<()> {
        let values = y.as_slice();
        match self.loss {
            Loss::CrossEntropy { .. } => {
                let c = self.output_dim();
                if let Some(i) = values.iter().position(|v| {
                    let f = v.f64();
                    !(f >= 0.0 && f < c as f64 && f.fract() == 0.0)
                }) {
                    return Err(NeuronError::data(format!(
                        "{what} row {i}: class label {} is not an integer in [0, {c})",
                        values[i]
                    )));
                }
            }
            Loss::BinaryCrossEntropy => {
                if let Some(i) = values
                    .iter()
                    .position(|v| !(v.f64() >= 0.0 && v.f64() <= 1.0))
                {
                    return Err(NeuronError::data(format!(
                        "{what} value {i}: binary targets must be in [0, 1]"
                    )));
                }
            }
            Loss::Mse => {}
        }
        Ok(())
    }

    fn load_rows(&mut self, x: &Matrix<B::E>, y: Option<&Matrix<B::E>>) -> Result<()> {
        self.reserve(x.rows())?;
        self.be.write(x.as_slice(), &mut self.x)?;
        if let Some(y) = y {
            self.be.write(y.as_slice(), &mut self.t)?;
        }
        Ok(())
    }

    /// Forward pass on a batch, returning the network's outputs `[n, outputs]`.
    /// `train` enables dropout.
    pub fn forward(&mut self, x: &Matrix<B::E>, train: bool) -> Result<Matrix<B::E>> {
        self.check_x(x)?;
        self.load_rows(x, None)?;
        self.forward_loaded(x.rows(), train);
        let mut out = Matrix::zeros(x.rows(), self.output_dim());
        self.be.download(self.output_buf(), out.as_mut_slice())?;
        Ok(out)
    }

    /// Forward (training mode), loss and backward on one batch: afterwards every parameter's
    /// gradient holds ∂L/∂θ of the batch's mean loss. Returns the loss.
    pub fn forward_backward(&mut self, x: &Matrix<B::E>, y: &Matrix<B::E>) -> Result<f64> {
        self.check_x(x)?;
        self.check_y(x, y)?;
        self.load_rows(x, Some(y))?;
        let rows = x.rows();
        self.forward_loaded(rows, true);
        self.be.fill(2, B::E::zero(), &mut self.acc);
        self.loss_loaded(rows);
        self.backward_loaded(rows);
        let mut acc = [B::E::zero(); 2];
        self.be.download(&self.acc, &mut acc)?;
        Ok(acc[0].f64() / rows as f64)
    }

    /// Applies one optimizer update with learning rate `lr` to the gradients of the last
    /// [`Sequential::forward_backward`]. Returns the gradient norm when the optimizer clips.
    pub fn step(&mut self, opt: &mut Optimizer<B>, lr: f64) -> Result<Option<f64>> {
        let be = self.be.clone();
        let params = self.stages.iter_mut().flat_map(|s| s.params()).collect();
        opt.update(&be, params, lr)
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

    /// Copies of every parameter tensor kept where the backend computes (no transfer to the
    /// host): what [`Sequential::restore_snapshot`] puts back.
    pub(crate) fn snapshot(&self) -> Result<Vec<B::Buf>> {
        let mut out = Vec::new();
        for (v, _, shape) in self.stages.iter().flat_map(|s| s.param_refs()) {
            let len = shape.iter().product();
            let mut c = self.be.alloc(len)?;
            self.be.copy(len, v, &mut c);
            out.push(c);
        }
        Ok(out)
    }

    /// Puts back the parameters saved by [`Sequential::snapshot`].
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

    /// Raw outputs for every row of `x` (inference mode, in chunks).
    pub fn predict(&mut self, x: &Matrix<B::E>) -> Result<Matrix<B::E>> {
        self.check_x(x)?;
        let out_dim = self.output_dim();
        let mut out = Matrix::zeros(x.rows(), out_dim);
        let chunk = EVAL_CHUNK.min(x.rows().max(1));
        self.reserve(chunk)?;
        let idx = self.be.upload_indices(&(0..x.rows()).collect::<Vec<_>>())?;
        let xs = self.be.upload(x.as_slice())?;
        for first in (0..x.rows()).step_by(chunk) {
            let rows = chunk.min(x.rows() - first);
            self.be
                .gather_rows(self.input, &xs, &idx, first, rows, &mut self.x);
            self.forward_loaded(rows, false);
            let start = first * out_dim;
            self.be.download(
                self.output_buf(),
                &mut out.as_mut_slice()[start..start + rows * out_dim],
            )?;
        }
        Ok(out)
    }

    /// Class probabilities: softmax of the outputs for cross-entropy models, sigmoid for binary
    /// cross-entropy models. Regression models have no probabilities (an error).
    pub fn predict_proba(&mut self, x: &Matrix<B::E>) -> Result<Matrix<B::E>> {
        let out = self.predict(x)?;
        self.loss.probabilities(&out)
    }

    /// Predicted class per row: argmax of the outputs (cross-entropy), or each output thresholded
    /// at 0.5 probability for a single-output binary model.
    pub fn predict_classes(&mut self, x: &Matrix<B::E>) -> Result<Vec<usize>> {
        let out = self.predict(x)?;
        Ok(if out.cols() == 1 {
            out.as_slice()
                .iter()
                .map(|v| usize::from(*v > B::E::zero()))
                .collect()
        } else {
            out.argmax_rows()
        })
    }
}

impl<B: Backend> std::fmt::Debug for Sequential<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential")
            .field("backend", &self.be.name())
            .field("input", &self.input)
            .field("layers", &self.specs)
            .field("loss", &self.loss)
            .finish()
    }
}
