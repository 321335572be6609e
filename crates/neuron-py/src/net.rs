//! `neuron._core.Net`: a network in f32 or f64 for the Python estimators.

use numpy::{
    Element, IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray, PyReadonlyArray1,
    PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use neuron::nn::layer::LayerSpec;
use neuron::{Activation, Float, Init, Loss, NeuronError, OptimizerConfig, OptimizerKind};

use crate::core::{Core, EpochArgs};
use crate::errors::{guard, to_py};

/// The network in the element type of the data it was built for.
pub(crate) enum Engine {
    F32(Core<f32>),
    F64(Core<f64>),
}

/// Runs `$body` with `$c` bound to the engine's core, whatever its element type.
macro_rules! with_core {
    ($engine:expr, $c:ident => $body:expr) => {
        match $engine {
            Engine::F32($c) => $body,
            Engine::F64($c) => $body,
        }
    };
}

/// A feed-forward network and its optimizer (see `neuron.sklearn` for the estimators).
#[pyclass(module = "neuron._core")]
pub struct Net {
    pub(crate) engine: Engine,
}

/// The layer descriptions of an MLP: per hidden layer a dense layer, its activation and an
/// optional dropout, then the output layer. Weights start as scikit-learn's do (Glorot uniform).
fn mlp_specs(
    input: usize,
    hidden: &[usize],
    acts: &[String],
    outputs: usize,
    dropout: f64,
) -> PyResult<Vec<LayerSpec>> {
    if acts.len() != hidden.len() {
        return Err(PyValueError::new_err(format!(
            "{} activations for {} hidden layers",
            acts.len(),
            hidden.len()
        )));
    }
    let mut specs = Vec::new();
    let mut width = input;
    for (&h, a) in hidden.iter().zip(acts) {
        let activation = Activation::parse(a)
            .ok_or_else(|| PyValueError::new_err(format!("unknown activation '{a}'")))?;
        specs.push(LayerSpec::Dense {
            inputs: width,
            outputs: h,
            init: Init::XavierUniform,
        });
        specs.push(LayerSpec::Activation { activation });
        if dropout > 0.0 {
            specs.push(LayerSpec::Dropout { p: dropout });
        }
        width = h;
    }
    specs.push(LayerSpec::Dense {
        inputs: width,
        outputs,
        init: Init::XavierUniform,
    });
    Ok(specs)
}

fn parse_loss(loss: &str, label_smoothing: f64) -> PyResult<Loss> {
    match loss {
        "cross_entropy" => Ok(Loss::CrossEntropy { label_smoothing }),
        "bce" => Ok(Loss::BinaryCrossEntropy),
        "mse" => Ok(Loss::Mse),
        _ => Err(PyValueError::new_err(format!("unknown loss '{loss}'"))),
    }
}

#[pymethods]
impl Net {
    /// A new network: `input` features, `hidden` widths with one activation name each, `outputs`
    /// outputs, trained with `loss` (`cross_entropy`, `bce` or `mse`), in `dtype` (`float32` or
    /// `float64`), on `threads` threads (0: every core).
    #[new]
    #[pyo3(signature = (input, hidden, activations, outputs, loss, seed, threads=0, dtype="float32", dropout=0.0, label_smoothing=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        input: usize,
        hidden: Vec<usize>,
        activations: Vec<String>,
        outputs: usize,
        loss: &str,
        seed: u64,
        threads: usize,
        dtype: &str,
        dropout: f64,
        label_smoothing: f64,
    ) -> PyResult<Self> {
        let specs = mlp_specs(input, &hidden, &activations, outputs, dropout)?;
        let loss = parse_loss(loss, label_smoothing)?;
        let engine = match dtype {
            "float32" => Engine::F32(Core::new(input, specs, loss, seed, threads).map_err(to_py)?),
            "float64" => Engine::F64(Core::new(input, specs, loss, seed, threads).map_err(to_py)?),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "dtype must be float32 or float64, got {dtype}"
                )))
            }
        };
        Ok(Net { engine })
    }

    /// `float32` or `float64`.
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.engine {
            Engine::F32(_) => "float32",
            Engine::F64(_) => "float64",
        }
    }

    /// Sets the update rule (`sgd`, `momentum`, `nesterov`, `adam`, `adamw`, `rmsprop`) and its
    /// settings; when only `lr` differs from the current one, the optimizer keeps its state.
    #[pyo3(signature = (kind, lr, weight_decay=0.0, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8, clip_norm=None))]
    #[allow(clippy::too_many_arguments)]
    fn set_optimizer(
        &mut self,
        kind: &str,
        lr: f64,
        weight_decay: f64,
        momentum: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        clip_norm: Option<f64>,
    ) -> PyResult<()> {
        let kind = match kind {
            "sgd" => OptimizerKind::Sgd,
            "momentum" => OptimizerKind::Momentum { momentum },
            "nesterov" => OptimizerKind::Nesterov { momentum },
            "adam" => OptimizerKind::Adam { beta1, beta2, eps },
            "adamw" => OptimizerKind::AdamW { beta1, beta2, eps },
            "rmsprop" => OptimizerKind::RmsProp { rho: 0.99, eps },
            _ => return Err(PyValueError::new_err(format!("unknown optimizer '{kind}'"))),
        };
        let mut cfg = OptimizerConfig::new(kind, lr).weight_decay(weight_decay);
        cfg.clip_norm = clip_norm;
        cfg.validate().map_err(to_py)?;
        with_core!(&mut self.engine, c => c.set_optimizer(cfg).map_err(to_py))
    }

    /// Trains one epoch on `x` `[n, inputs]` and `y` `[n, target columns]` (C-contiguous, of the
    /// network's dtype), with optional per-row weights. Returns `(mean loss, interrupted)`; the
    /// GIL is released while training, and Ctrl-C interrupts within one step.
    #[pyo3(signature = (x, y, sample_weight, batch_size, shuffle, seed))]
    #[allow(clippy::too_many_arguments)]
    fn fit_epoch(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
    ) -> PyResult<(f64, bool)> {
        let opts = (batch_size, shuffle, seed);
        with_core!(&mut self.engine, c => fit_typed(py, c, x, y, sample_weight, opts))
    }

    /// The outputs for `x` `[n, inputs]`: class probabilities, or values for regression. With
    /// `check_finite`, `None` when `x` holds a NaN or an infinite value (checked as the rows are
    /// taken in, so that the caller can skip a pass of its own and then explain the value).
    #[pyo3(signature = (x, check_finite=false))]
    fn predict<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        check_finite: bool,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        with_core!(&mut self.engine, c => predict_typed(py, c, x, check_finite))
    }

    /// The parameter tensors in PyTorch's layout: each weight `[outputs, inputs]`, then its bias.
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        with_core!(&self.engine, c => params_typed(py, c))
    }

    /// Overwrites the parameter tensors (same order and sizes as `params()`).
    fn set_params(&mut self, values: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        with_core!(&mut self.engine, c => set_params_typed(c, &values))
    }

    /// Optimizer updates done so far.
    fn steps(&self) -> u64 {
        with_core!(&self.engine, c => c.steps())
    }
}

type Opts = (usize, bool, u64);

fn contiguous<'a, T: Element, D: numpy::ndarray::Dimension>(
    a: &'a PyReadonlyArray<'_, T, D>,
    what: &str,
) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be a C-contiguous array")))
}

fn fit_typed<E: Float + Element>(
    py: Python<'_>,
    core: &mut Core<E>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    w: Option<&Bound<'_, PyAny>>,
    (batch_size, shuffle, seed): Opts,
) -> PyResult<(f64, bool)> {
    let x: PyReadonlyArray2<'_, E> = x.extract()?;
    let y: PyReadonlyArray2<'_, E> = y.extract()?;
    let w: Option<PyReadonlyArray1<'_, E>> = w.map(|w| w.extract()).transpose()?;
    let (xs, ys) = (contiguous(&x, "X")?, contiguous(&y, "y")?);
    let ws = match &w {
        Some(w) => Some(contiguous(w, "sample_weight")?),
        None => None,
    };
    let args = EpochArgs {
        x: xs,
        y: ys,
        weights: ws,
        batch_size,
        shuffle,
        seed,
    };
    let result = py.detach(|| {
        let mut stop = || Python::attach(|py| py.check_signals().is_err());
        guard(|| core.fit_epoch(args, &mut stop))
    })?;
    Ok((result.loss, result.interrupted))
}

fn predict_typed<'py, E: Float + Element>(
    py: Python<'py>,
    core: &mut Core<E>,
    x: &Bound<'py, PyAny>,
    finite: bool,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let x: PyReadonlyArray2<'py, E> = x.extract()?;
    let rows = x.shape()[0];
    let xs = contiguous(&x, "X")?;
    let cols = core.model.output_dim();
    let run = || match core.predict(xs, rows, finite) {
        Err(NeuronError::NonFinite { .. }) => Ok(None),
        other => other.map(Some),
    };
    let out = if rows <= 64 {
        // Small inputs: releasing the GIL costs more than the work.
        guard(run)?
    } else {
        py.detach(|| guard(run))?
    };
    let Some(out) = out else { return Ok(None) };
    let out = numpy::ndarray::Array2::from_shape_vec((rows, cols), out)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(Some(out.into_pyarray(py).into_any()))
}

fn params_typed<'py, E: Float + Element>(
    py: Python<'py>,
    core: &Core<E>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let info = core.model.param_info();
    let values = core.model.params().map_err(to_py)?;
    info.iter()
        .zip(values)
        .map(|(p, v)| {
            Ok(PyArray1::from_vec(py, v)
                .reshape(p.shape.as_slice())?
                .into_any())
        })
        .collect()
}

fn set_params_typed<E: Float + Element>(
    core: &mut Core<E>,
    values: &[Bound<'_, PyAny>],
) -> PyResult<()> {
    let mut host = Vec::with_capacity(values.len());
    for v in values {
        let a: PyReadonlyArray<'_, E, numpy::IxDyn> = v.extract()?;
        host.push(a.as_array().iter().copied().collect::<Vec<E>>());
    }
    core.model.set_params(&host).map_err(to_py)
}
