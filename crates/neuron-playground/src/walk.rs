//! The walk-through of one training point: one plain gradient-descent step of the engine on that
//! point alone, with every value the tutorial's formulas name, read from the engine's per-step
//! observation (no second implementation of the network here or in the page).

use neuron::{
    Control, Dataset, DatasetSource, Event, FitConfig, Optimizer, OptimizerConfig, Sequential,
    StepView, TrainRun,
};
use serde::Serialize;

use crate::config::Config;
use crate::datasets::Points;
use crate::error::ApiError;
use crate::network::{self, Be, Prepared};

/// Everything the walk-through shows.
#[derive(Serialize)]
pub struct Walk {
    /// The point: its index among the points, coordinates and label.
    pub point: usize,
    /// `(x, y)`.
    pub xy: [f64; 2],
    /// Its label (class name or value).
    pub label: String,
    /// The input features' names.
    pub features: Vec<String>,
    /// x⁽¹⁾: the encoded (standardised) features fed to the network.
    pub inputs: Vec<f64>,
    /// The learning rate α of the step.
    pub lr: f64,
    /// `"cross-entropy"`, `"mse-softmax"` or `"mse"`.
    pub loss_kind: &'static str,
    /// L for this point.
    pub loss: f64,
    /// The network's output ŷ (probabilities, or the standardised value) and the target y.
    pub yhat: Vec<f64>,
    /// The target, one-hot for classes.
    pub target: Vec<f64>,
    /// The dense layers, input side first.
    pub layers: Vec<WalkLayer>,
}

/// One dense layer in the walk-through (j indexes its neurons, k its inputs).
#[derive(Serialize, Default)]
pub struct WalkLayer {
    /// The activation's name (`"none"` for none; `"softmax"` on an output followed by softmax).
    pub activation: String,
    /// x⁽ⁱ⁾: the layer's input.
    pub x: Vec<f64>,
    /// w before the step, `[j][k]`.
    pub w: Vec<Vec<f64>>,
    /// b before the step.
    pub b: Vec<f64>,
    /// z_j = w_j · x + b_j.
    pub z: Vec<f64>,
    /// g(z_j): the layer's output.
    pub a: Vec<f64>,
    /// ∂L/∂g(z_j) (hidden layers: Σ over the next layer's neurons of ∂L/∂z · w).
    pub da: Vec<f64>,
    /// g′(z_j) (hidden layers).
    pub gprime: Vec<f64>,
    /// ∂L/∂z_j, the engine's gradient.
    pub dz: Vec<f64>,
    /// ∂L/∂w `[j][k]`, the engine's gradient.
    pub dw: Vec<Vec<f64>>,
    /// ∂L/∂b.
    pub db: Vec<f64>,
    /// w after the step.
    pub w_new: Vec<Vec<f64>>,
    /// b after the step.
    pub b_new: Vec<f64>,
}

/// What the step observer read from the engine, per run-time layer:
/// (spec index, input, pre-activation, output, [(value after, gradient)]).
type Seen = Vec<(
    usize,
    Vec<f64>,
    Option<Vec<f64>>,
    Vec<f64>,
    Vec<(Vec<f64>, Vec<f64>)>,
)>;

/// Walks training row `row` through one step of gradient descent on a copy of `model`.
pub fn walk(
    model: &Sequential<Be>,
    cfg: &Config,
    p: &Points,
    prep: &Prepared,
    row: usize,
) -> Result<Walk, ApiError> {
    if row >= prep.train.len() {
        return Err(ApiError::bad(format!(
            "point: training row {row} does not exist (there are {})",
            prep.train.len()
        )));
    }
    let old = model.params()?;
    let inputs = model.input_dim();
    let specs = network::specs(cfg, p, inputs, false);
    let mut m = Sequential::from_specs(
        Be::with_threads(1),
        inputs,
        specs.clone(),
        model.loss(),
        cfg.seed,
        Some(&old),
    )?;
    let one = prep.train.subset(&[row]);
    let yhat = match m.loss() {
        neuron::Loss::CrossEntropy { .. } => m.predict_proba(&one.x)?,
        _ => m.forward(&one.x, false)?,
    };
    let (seen, loss) = step_once(&mut m, &one, cfg.lr)?;
    let point = prep.train_idx[row];
    let target = match &p.classes {
        Some(c) => (0..c.len())
            .map(|k| f64::from(u8::from(p.label[point] as usize == k)))
            .collect(),
        None => one.y.as_slice().to_vec(),
    };
    let label = match &p.classes {
        Some(c) => c[p.label[point] as usize].clone(),
        None => p.label[point].to_string(),
    };
    Ok(Walk {
        point,
        xy: p.xy[point],
        label,
        features: cfg.features.clone(),
        inputs: one.x.as_slice().to_vec(),
        lr: cfg.lr,
        loss_kind: loss_kind(&m, p),
        loss,
        yhat: yhat.as_slice().to_vec(),
        target,
        layers: layers(&specs, cfg, &old, seen),
    })
}

fn loss_kind(m: &Sequential<Be>, p: &Points) -> &'static str {
    match (m.loss(), &p.classes) {
        (neuron::Loss::CrossEntropy { .. }, _) => "cross-entropy",
        (_, Some(_)) => "mse-softmax",
        _ => "mse",
    }
}

/// One step of plain gradient descent at learning rate `lr` on the one-row set `one`, seen by a
/// step observer. Returns what it read and the step's loss.
fn step_once(m: &mut Sequential<Be>, one: &Dataset<f64>, lr: f64) -> Result<(Seen, f64), ApiError> {
    let mut opt: Optimizer<Be> = Optimizer::new(OptimizerConfig::sgd(lr))?;
    let mut source = DatasetSource::new(m.backend(), one)?;
    let cfg = FitConfig {
        epochs: 1,
        batch_size: 1,
        shuffle: false,
        ..FitConfig::default()
    };
    let mut seen: Seen = Vec::new();
    let mut failed = None;
    let mut inspector = |s: &StepView<'_, Be>| {
        let read = || -> neuron::Result<Seen> {
            s.layers()
                .into_iter()
                .map(|l| {
                    let params = l
                        .params
                        .iter()
                        .map(|(v, g)| Ok((v.read()?, g.read()?)))
                        .collect::<neuron::Result<_>>()?;
                    let z = l.pre_activation.as_ref().map(|z| z.read()).transpose()?;
                    Ok((l.index, l.input.read()?, z, l.output.read()?, params))
                })
                .collect()
        };
        match read() {
            Ok(v) => seen = v,
            Err(e) => failed = Some(e),
        }
        Control::Continue
    };
    let mut loss = f64::NAN;
    let mut observer = |e: &Event<'_>| {
        if let Event::Batch { running_loss, .. } = e {
            loss = *running_loss;
        }
        Control::Continue
    };
    TrainRun::new(m, &mut opt, &mut source, &cfg)?
        .observer(&mut observer)
        .inspect(&mut inspector)
        .run()?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok((seen, loss))
}

/// Groups the run-time layers into dense layers and adds the chain rule's factors.
fn layers(
    specs: &[neuron::LayerSpec],
    cfg: &Config,
    old: &[Vec<f64>],
    seen: Seen,
) -> Vec<WalkLayer> {
    let mut out: Vec<WalkLayer> = Vec::new();
    for (index, input, z, output, params) in seen {
        let dense = matches!(specs[index], neuron::LayerSpec::Dense { .. });
        if dense {
            let d = out.len();
            let (w, b) = (&old[2 * d], &old[2 * d + 1]);
            let cols = input.len();
            let rows = |v: &[f64]| v.chunks(cols).map(|r| r.to_vec()).collect::<Vec<_>>();
            let activation = cfg
                .layers
                .get(d)
                .map_or("none".to_string(), |l| l.activation.clone());
            out.push(WalkLayer {
                activation,
                x: input,
                w: rows(w),
                b: b.clone(),
                z: z.unwrap_or_else(|| output.clone()),
                a: output,
                dz: params[1].1.clone(),
                dw: rows(&params[0].1),
                db: params[1].1.clone(),
                w_new: rows(&params[0].0),
                b_new: params[1].0.clone(),
                ..WalkLayer::default()
            });
        } else if let Some(last) = out.last_mut() {
            // A standalone activation or the output's softmax: its output is the layer's g(z).
            last.a = output;
            if matches!(specs[index], neuron::LayerSpec::Softmax) {
                last.activation = "softmax".into();
            }
        }
    }
    chain_factors(&mut out);
    out
}

/// ∂L/∂g(z) from the next layer's ∂L/∂z and weights, and g′(z) = (∂L/∂z) / (∂L/∂g(z)) where
/// that is defined (else from the activation's formula).
fn chain_factors(layers: &mut [WalkLayer]) {
    for d in (0..layers.len().saturating_sub(1)).rev() {
        let (head, tail) = layers.split_at_mut(d + 1);
        let (l, next) = (&mut head[d], &tail[0]);
        l.da = (0..l.z.len())
            .map(|j| next.w.iter().zip(&next.dz).map(|(wk, dk)| wk[j] * dk).sum())
            .collect();
        l.gprime = (0..l.z.len())
            .map(|j| derivative(&l.activation, l.z[j], l.a[j], l.dz[j], l.da[j]))
            .collect();
    }
}

fn derivative(act: &str, z: f64, a: f64, dz: f64, da: f64) -> f64 {
    match act {
        "sigmoid" => a * (1.0 - a),
        "tanh" => 1.0 - a * a,
        "relu" => f64::from(u8::from(z > 0.0)),
        "leaky_relu" => {
            if z > 0.0 {
                1.0
            } else {
                0.01
            }
        }
        "none" => 1.0,
        _ if da != 0.0 => dz / da,
        _ => f64::NAN,
    }
}
