//! The `Sequential` model: a stack of layers, its forward and backward passes, and its parameters.

mod builder;
mod lanes;
mod params;
mod predict;
mod stages;
mod trace;

use builder::check_specs;
pub use builder::{param_shapes, SequentialBuilder};
pub use params::ParamInfo;
pub use predict::classes_from_outputs;
pub use trace::LayerTrace;

use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::matrix::Matrix;
use crate::nn::activation::Activation;
use crate::nn::activation_layer::ActivationLayer;
use crate::nn::dense::Dense;
use crate::nn::dropout::DropoutLayer;
use crate::nn::layer::{Ctx, Layer, LayerSpec, Param};
use crate::nn::loss::Loss;
use crate::nn::softmax::SoftmaxLayer;
use crate::optim::Optimizer;
use crate::rng::Rng;
#[allow(unused_imports)]
use num_traits::{Float as _, One as _, Zero as _};

/// Rows processed at once by prediction and evaluation.
pub(crate) const EVAL_CHUNK: usize = 1024;

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
    /// Where the loaded rows start in their global batch (non-zero for all but the first of
    /// several workers): dropout and augmentation draw per batch position.
    pub(crate) row0: usize,
    /// An empty list whose allocation [`Sequential::step`] reuses for the parameter handles.
    param_list: Vec<Param<'static, B>>,
    /// Buffers for batch inference on several threads, one set per thread (made on first use).
    lanes: Vec<std::sync::Mutex<lanes::Lane<B>>>,
}

/// Empties `v` and returns its allocation as a list of handles of another lifetime (the two
/// element types have the same layout, so the standard library reuses the buffer in place).
fn recycle<'b, B: Backend>(mut v: Vec<Param<'_, B>>) -> Vec<Param<'b, B>> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the list is empty"))
        .collect()
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
            row0: 0,
            param_list: Vec::new(),
            lanes: Vec::new(),
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
        let ctx = Ctx {
            train,
            seed,
            row0: self.row0,
        };
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
        // The list of parameter handles reuses one allocation from step to step.
        let mut params = recycle(std::mem::take(&mut self.param_list));
        for s in &mut self.stages {
            s.params(&mut params);
        }
        let r = opt.update(&be, &mut params, lr);
        self.param_list = recycle(params);
        r
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
