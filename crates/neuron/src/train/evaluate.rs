//! Evaluating a model on a data set, and data sets kept on the device for repeated evaluation.

#[allow(unused_imports)]
use num_traits::{Float as _, Zero as _};

use super::Evaluation;
use crate::backend::Backend;
use crate::data::dataset::Dataset;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::metrics::regression_report;
use crate::nn::loss::Loss;
use crate::nn::sequential::{Sequential, EVAL_CHUNK};

impl<B: Backend> Sequential<B> {
    pub(crate) fn check_data(&self, d: &Dataset<B::E>, what: &str) -> Result<()> {
        if d.is_empty() {
            return Err(NeuronError::data(format!("the {what} data set is empty")));
        }
        if d.x.cols() != self.input_dim() {
            return Err(NeuronError::shape(
                &format!("{what} features"),
                format!("{} columns", self.input_dim()),
                format!("{} columns", d.x.cols()),
            ));
        }
        let tc = self.loss().target_cols(self.output_dim());
        if d.y.cols() != tc {
            return Err(NeuronError::shape(
                &format!("{what} targets"),
                format!("{tc} columns"),
                format!("{} columns", d.y.cols()),
            ));
        }
        self.check_target_values(&d.y, what)
    }

    /// Mean loss and metrics on `data` (inference mode, batched).
    pub fn evaluate(&mut self, data: &Dataset<B::E>) -> Result<Evaluation> {
        self.check_data(data, "evaluation")?;
        let resident = Resident::upload(&self.be, data)?;
        self.evaluate_resident(&resident)
    }

    /// [`Sequential::evaluate`] on a data set already on the backend's device (checked by the
    /// caller), so that evaluating every epoch moves no data to the device.
    pub(crate) fn evaluate_resident(&mut self, set: &Resident<'_, B>) -> Result<Evaluation> {
        let (data, xs, ys, idx) = (set.data, &set.x, &set.y, &set.idx);
        let be = self.be.clone();
        let n = data.len();
        let chunk = EVAL_CHUNK.min(n);
        self.reserve(chunk)?;
        let (xc, yc) = (data.x.cols(), data.y.cols());
        let out_dim = self.output_dim();
        let regression = self.loss() == Loss::Mse;
        let mut preds = if regression {
            vec![B::E::zero(); n * out_dim]
        } else {
            Vec::new()
        };
        be.fill(2, B::E::zero(), &mut self.acc);
        for first in (0..n).step_by(chunk.max(1)) {
            let rows = chunk.min(n - first);
            be.gather_rows(xc, xs, idx, first, rows, &mut self.x);
            be.gather_rows(yc, ys, idx, first, rows, &mut self.t);
            self.forward_loaded(rows, false);
            self.loss_loaded(rows);
            if regression {
                let s = first * out_dim;
                be.download(self.output_buf(), &mut preds[s..s + rows * out_dim])?;
            }
        }
        let mut acc = [B::E::zero(); 2];
        be.download(&self.acc, &mut acc)?;
        let loss = acc[0].f64() / n as f64;
        Ok(Evaluation {
            loss,
            accuracy: (!regression).then(|| acc[1].f64() / n as f64),
            regression: regression.then(|| {
                let t: Vec<f64> = data.y.as_slice().iter().map(|v| v.f64()).collect();
                let p: Vec<f64> = preds.iter().map(|v| v.f64()).collect();
                regression_report(&t, &p, out_dim)
            }),
        })
    }
}

/// A data set uploaded to a backend's device once, with the identity order of its rows, for
/// repeated evaluation.
pub(crate) struct Resident<'a, B: Backend> {
    data: &'a Dataset<B::E>,
    x: B::Buf,
    y: B::Buf,
    idx: B::Idx,
}

impl<'a, B: Backend> Resident<'a, B> {
    pub(crate) fn upload(be: &B, data: &'a Dataset<B::E>) -> Result<Self> {
        Ok(Resident {
            data,
            x: be.upload(data.x.as_slice())?,
            y: be.upload(data.y.as_slice())?,
            idx: be.upload_indices(&(0..data.len()).collect::<Vec<_>>())?,
        })
    }
}
