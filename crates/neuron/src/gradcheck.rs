//! Gradient checking: analytic gradients (backpropagation) against central finite differences.

#[allow(unused_imports)]
use num_traits::{Float as _, One as _, Zero as _};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::matrix::Matrix;
use crate::nn::sequential::Sequential;

/// The outcome of [`check_gradients`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradCheckReport {
    /// Number of parameter entries compared.
    pub checks: usize,
    /// The worst relative error `|a − n| / max(|a|, |n|, floor)`.
    pub max_rel_error: f64,
    /// The parameter tensor where it occurred (e.g. `"2.weight"`).
    pub worst_param: String,
    /// The flat index within that tensor.
    pub worst_index: usize,
    /// The analytic gradient there.
    pub analytic: f64,
    /// The numerical gradient there.
    pub numeric: f64,
}

/// Compares backpropagated gradients with fourth-order central differences
/// `(8[L(θ+ε) − L(θ−ε)] − [L(θ+2ε) − L(θ−2ε)]) / 12ε` for every parameter entry (or, with
/// `max_per_tensor`, an evenly spaced sample of each tensor). `ε = 1e-4` is a good choice in f64.
///
/// Use an `f64` backend: in `f32` finite differences are too coarse to check anything. Dropout
/// masks are held fixed across the evaluations. `floor` (e.g. `1e-6`) keeps the relative error of
/// gradients that are both ~0 from being dominated by rounding.
///
/// ```
/// use neuron::{check_gradients, Cpu, Loss, Matrix, Sequential};
/// let mut m = Sequential::builder(3).dense(4).tanh().dense(2)
///     .loss(Loss::cross_entropy()).seed(1).build(Cpu::<f64>::new()).unwrap();
/// let x = Matrix::from_vec(2, 3, vec![0.1, -0.2, 0.3, 0.5, 0.4, -0.6]).unwrap();
/// let y = Matrix::from_vec(2, 1, vec![0.0, 1.0]).unwrap();
/// let r = check_gradients(&mut m, &x, &y, 1e-4, 1e-6, None).unwrap();
/// assert!(r.max_rel_error < 1e-6);
/// ```
pub fn check_gradients<B: Backend<E = f64>>(
    model: &mut Sequential<B>,
    x: &Matrix<f64>,
    y: &Matrix<f64>,
    eps: f64,
    floor: f64,
    max_per_tensor: Option<usize>,
) -> Result<GradCheckReport> {
    if !(eps > 0.0 && floor > 0.0) {
        return Err(NeuronError::arg("eps and floor must be positive"));
    }
    let steps = model.train_steps;
    let loss_at = |m: &mut Sequential<B>| -> Result<f64> {
        m.train_steps = steps;
        m.forward_backward(x, y)
    };
    loss_at(model)?;
    let info = model.param_info();
    let analytic: Vec<Vec<f64>> = (0..info.len())
        .map(|i| model.grad(i))
        .collect::<Result<_>>()?;
    let mut report = GradCheckReport {
        checks: 0,
        max_rel_error: 0.0,
        worst_param: String::new(),
        worst_index: 0,
        analytic: 0.0,
        numeric: 0.0,
    };
    for (p, pinfo) in info.iter().enumerate() {
        let mut values = model.param(p)?;
        let len = values.len();
        let stride = max_per_tensor.map_or(1, |k| len.div_ceil(k.max(1)).max(1));
        for j in (0..len).step_by(stride) {
            let orig = values[j];
            let mut at = |offset: f64| -> Result<f64> {
                values[j] = orig + offset;
                model.set_param(p, &values)?;
                loss_at(model)
            };
            // Fourth-order central difference: error O(ε⁴) instead of O(ε²).
            let (p1, m1, p2, m2) = (at(eps)?, at(-eps)?, at(2.0 * eps)?, at(-2.0 * eps)?);
            values[j] = orig;
            model.set_param(p, &values)?;
            let num = (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * eps);
            let a = analytic[p][j];
            let rel = (a - num).abs() / a.abs().max(num.abs()).max(floor);
            report.checks += 1;
            if rel >= report.max_rel_error {
                report.max_rel_error = rel;
                report.worst_param = pinfo.name.clone();
                report.worst_index = j;
                report.analytic = a;
                report.numeric = num;
            }
        }
    }
    // Leave the model's gradients as the analytic ones at the original parameters.
    loss_at(model)?;
    Ok(report)
}
