//! From a [`Config`] and its [`Points`] to what the engine trains: the feature table encoded by
//! neuron's own preprocessing (so the downloaded model takes the same columns), the train and
//! test sets, the grid the heatmaps are drawn on, and the network's layers.

use neuron::data::csv::RawTable;
use neuron::data::preprocess::{Preprocessor, Task};
use neuron::{Activation, Cpu, Dataset, LayerSpec, Loss, Matrix, Optimizer, OptimizerConfig, Rng};
use neuron::{Init, Sequential};

use crate::config::Config;
use crate::datasets::Points;
use crate::error::ApiError;

/// Cells per side of the grid the output heatmap is drawn on.
pub const GRID: usize = 40;

/// The backend every session trains on: one thread (sessions run side by side), f64 so that the
/// walk-through's numbers are exact to the digits shown.
pub type Be = Cpu<f64>;

/// The data of a session, encoded.
pub struct Prepared {
    /// The fitted preprocessing (feature standardisation, class labels or target scaling).
    pub pre: Preprocessor,
    /// Training rows.
    pub train: Dataset<f64>,
    /// Test rows.
    pub test: Dataset<f64>,
    /// Which point each training row is.
    pub train_idx: Vec<usize>,
    /// Which point each test row is.
    pub test_idx: Vec<usize>,
    /// The encoded inputs of the `GRID × GRID` cell centres, row by row from the top.
    pub grid: Matrix<f64>,
    /// The class of each training and test row (classification).
    pub labels: Option<[Vec<usize>; 2]>,
}

/// The value of input feature `name` at `(x, y)`.
pub fn feature(name: &str, x: f64, y: f64) -> f64 {
    match name {
        "x" => x,
        "y" => y,
        "x2" => x * x,
        "y2" => y * y,
        "xy" => x * y,
        "sin_x" => x.sin(),
        _ => y.sin(),
    }
}

fn table(cfg: &Config, rows: impl Iterator<Item = ([f64; 2], String)>) -> RawTable {
    let mut t = RawTable {
        source: "playground".into(),
        headers: cfg.features.clone(),
        ..RawTable::default()
    };
    t.headers.push("label".into());
    for (i, ([x, y], label)) in rows.enumerate() {
        let mut r: Vec<String> = cfg
            .features
            .iter()
            .map(|f| feature(f, x, y).to_string())
            .collect();
        r.push(label);
        t.rows.push(r);
        t.lines.push(i as u64 + 2);
    }
    t
}

/// Splits, encodes and lays out the grid.
pub fn prepare(cfg: &Config, p: &Points) -> Result<Prepared, ApiError> {
    let n = p.xy.len();
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(cfg.seed ^ 0x7E57).shuffle(&mut order);
    let cut = ((n as f64 * cfg.train_ratio).round() as usize).clamp(1, n - 1);
    let (train_idx, test_idx) = (order[..cut].to_vec(), order[cut..].to_vec());
    let label = |i: usize| match &p.classes {
        Some(c) => c[p.label[i] as usize].clone(),
        None => p.label[i].to_string(),
    };
    let rows = |idx: &[usize]| {
        table(
            cfg,
            idx.iter()
                .map(|&i| (p.xy[i], label(i)))
                .collect::<Vec<_>>()
                .into_iter(),
        )
    };
    let train_t = rows(&train_idx);
    let task = if p.classes.is_some() {
        Task::Classify
    } else {
        Task::Regress
    };
    let pre = Preprocessor::fit(&train_t, Some("label"), Some(task), true, None)?;
    if let (Some(c), Some(l)) = (&p.classes, pre.labels()) {
        if c != l {
            return Err(ApiError::bad(format!(
                "the training points hold {} of the {} classes; use more points or a larger training share",
                l.len(),
                c.len()
            )));
        }
    }
    let loss = loss_of(cfg, p);
    let outputs = outputs_of(p);
    let encode = |t: &RawTable| -> Result<Dataset<f64>, ApiError> {
        let e = pre.transform(t, true)?;
        Ok(Dataset::new(e.x.clone(), e.targets(loss, outputs)?)?.cast())
    };
    let train = encode(&train_t)?;
    let test = encode(&rows(&test_idx))?;
    let [x0, x1, y0, y1] = p.extent;
    let cell = |k: usize, lo: f64, hi: f64| lo + (k as f64 + 0.5) / GRID as f64 * (hi - lo);
    let centres = (0..GRID * GRID).map(|i| {
        (
            [cell(i % GRID, x0, x1), cell(GRID - 1 - i / GRID, y0, y1)],
            label(0),
        )
    });
    let grid = pre.transform(&table(cfg, centres), false)?.x;
    let grid = Matrix::from_vec(
        grid.rows(),
        grid.cols(),
        grid.as_slice().iter().map(|&v| v as f64).collect(),
    )?;
    let labels = p.classes.as_ref().map(|_| {
        let of = |idx: &[usize]| idx.iter().map(|&i| p.label[i] as usize).collect();
        [of(&train_idx), of(&test_idx)]
    });
    Ok(Prepared {
        pre,
        train,
        test,
        train_idx,
        test_idx,
        grid,
        labels,
    })
}

/// The loss a configuration trains with.
pub fn loss_of(cfg: &Config, p: &Points) -> Loss {
    match (&p.classes, cfg.loss.as_str()) {
        (Some(_), "cross-entropy") => Loss::cross_entropy(),
        _ => Loss::Mse,
    }
}

/// Output neurons: one per class, or one value.
pub fn outputs_of(p: &Points) -> usize {
    p.classes.as_ref().map_or(1, |c| c.len())
}

/// The layers: each hidden layer's dense part, activation and dropout, then the output layer
/// (softmax after it when classes are trained with mean squared error, as in the tutorial).
pub fn specs(cfg: &Config, p: &Points, inputs: usize, dropout: bool) -> Vec<LayerSpec> {
    let mut s = Vec::new();
    let mut width = inputs;
    for l in &cfg.layers {
        s.push(LayerSpec::Dense {
            inputs: width,
            outputs: l.units,
            init: Init::Auto,
        });
        if let Some(a) = activation(&l.activation) {
            s.push(LayerSpec::Activation { activation: a });
        }
        if dropout && cfg.dropout > 0.0 {
            s.push(LayerSpec::Dropout { p: cfg.dropout });
        }
        width = l.units;
    }
    s.push(LayerSpec::Dense {
        inputs: width,
        outputs: outputs_of(p),
        init: Init::Auto,
    });
    if p.classes.is_some() && loss_of(cfg, p) == Loss::Mse {
        s.push(LayerSpec::Softmax);
    }
    s
}

/// The activation named on the page (`None` for "none").
pub fn activation(name: &str) -> Option<Activation> {
    Some(match name {
        "relu" => Activation::Relu,
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        "leaky_relu" => Activation::LeakyRelu { alpha: 0.01 },
        "gelu" => Activation::Gelu,
        _ => return None,
    })
}

/// The model a configuration describes, initialised from its seed.
pub fn build(
    cfg: &Config,
    p: &Points,
    inputs: usize,
    dropout: bool,
) -> Result<Sequential<Be>, ApiError> {
    let specs = specs(cfg, p, inputs, dropout);
    Ok(Sequential::from_specs(
        Be::with_threads(1),
        inputs,
        specs,
        loss_of(cfg, p),
        cfg.seed,
        None,
    )?)
}

/// The optimizer a configuration names.
pub fn optimizer(cfg: &Config) -> Result<Optimizer<Be>, ApiError> {
    let c = match cfg.optimizer.as_str() {
        "sgd" => OptimizerConfig::sgd(cfg.lr),
        "momentum" => OptimizerConfig::momentum(cfg.lr, 0.9),
        "rmsprop" => OptimizerConfig::rmsprop(cfg.lr),
        _ => OptimizerConfig::adam(cfg.lr),
    };
    Ok(Optimizer::new(c.weight_decay(cfg.l2))?)
}
