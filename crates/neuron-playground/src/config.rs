//! What a page asks for: the data, the network and how to train it, with the limits every
//! request is checked against.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Most hidden layers a network may have.
pub const MAX_LAYERS: usize = 6;
/// Most neurons in one hidden layer.
pub const MAX_UNITS: usize = 16;
/// Fewest and most points a built-in data set may have.
pub const POINTS: (usize, usize) = (20, 2000);
/// The input features a network may take, named as in the page and in model files.
pub const FEATURES: [&str; 7] = ["x", "y", "x2", "y2", "xy", "sin_x", "sin_y"];

/// A page's whole set-up (also what its URL encodes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A built-in data set ([`crate::datasets::BUILTIN`]) or `"upload"`.
    pub dataset: String,
    /// Noise, from 0 (none) to 1.
    pub noise: f64,
    /// Share of the points used for training; the rest are the test points.
    pub train_ratio: f64,
    /// Number of points to generate.
    pub points: usize,
    /// Seed of the data and of the initial weights.
    pub seed: u64,
    /// Input features, a non-empty subset of [`FEATURES`].
    pub features: Vec<String>,
    /// Hidden layers, input side first.
    pub layers: Vec<HiddenLayer>,
    /// `"cross-entropy"` or `"mse"` (classification); regression always uses `"mse"`.
    pub loss: String,
    /// `"sgd"`, `"momentum"`, `"adam"` or `"rmsprop"`.
    pub optimizer: String,
    /// Learning rate α.
    pub lr: f64,
    /// Samples per mini-batch.
    pub batch: usize,
    /// L2 penalty (weight decay).
    pub l2: f64,
    /// Dropout probability after each hidden layer.
    pub dropout: f64,
    /// For `"upload"`: which columns of the uploaded CSV are x, y and the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<UploadColumns>,
}

/// One hidden layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HiddenLayer {
    /// Its number of neurons.
    pub units: usize,
    /// `"relu"`, `"tanh"`, `"sigmoid"`, `"leaky_relu"`, `"gelu"` or `"none"`.
    pub activation: String,
}

/// The columns of an uploaded CSV that make the points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadColumns {
    /// The column plotted across.
    pub x: String,
    /// The column plotted up.
    pub y: String,
    /// The label (classes) or value (regression) column.
    pub label: String,
}

/// The activations a hidden layer may have.
pub const ACTIVATIONS: [&str; 6] = ["relu", "tanh", "sigmoid", "leaky_relu", "gelu", "none"];
const OPTIMIZERS: [&str; 4] = ["sgd", "momentum", "adam", "rmsprop"];

impl Default for Config {
    fn default() -> Self {
        Config {
            dataset: "spirals".into(),
            noise: 0.0,
            train_ratio: 0.5,
            points: 600,
            seed: 1,
            features: vec!["x".into(), "y".into()],
            layers: vec![
                HiddenLayer {
                    units: 12,
                    activation: "tanh".into(),
                },
                HiddenLayer {
                    units: 12,
                    activation: "tanh".into(),
                },
                HiddenLayer {
                    units: 8,
                    activation: "tanh".into(),
                },
            ],
            loss: "cross-entropy".into(),
            optimizer: "adam".into(),
            lr: 0.01,
            batch: 10,
            l2: 0.0,
            dropout: 0.0,
            columns: None,
        }
    }
}

impl Config {
    /// Checks every field against its range; the message names the field.
    pub fn validate(&self) -> Result<(), ApiError> {
        let bad = |m: String| Err(ApiError::bad(m));
        if !crate::datasets::BUILTIN.contains(&self.dataset.as_str()) && self.dataset != "upload" {
            return bad(format!(
                "dataset: unknown '{}'; one of {} or 'upload'",
                self.dataset,
                crate::datasets::BUILTIN.join(", ")
            ));
        }
        if (self.dataset == "upload") != self.columns.is_some() {
            return bad(
                "columns: give x, y and label columns exactly when dataset is 'upload'".into(),
            );
        }
        in_range("noise", self.noise, 0.0, 1.0)?;
        in_range("train_ratio", self.train_ratio, 0.1, 0.9)?;
        if !(POINTS.0..=POINTS.1).contains(&self.points) {
            return bad(format!(
                "points: {} is outside {}..={}",
                self.points, POINTS.0, POINTS.1
            ));
        }
        self.check_features()?;
        self.check_layers()?;
        if !["cross-entropy", "mse"].contains(&self.loss.as_str()) {
            return bad(format!(
                "loss: unknown '{}'; 'cross-entropy' or 'mse'",
                self.loss
            ));
        }
        if !OPTIMIZERS.contains(&self.optimizer.as_str()) {
            return bad(format!(
                "optimizer: unknown '{}'; one of {}",
                self.optimizer,
                OPTIMIZERS.join(", ")
            ));
        }
        if !(self.lr > 0.0 && self.lr <= 10.0) {
            return bad(format!("lr: {} must be a number in (0, 10]", self.lr));
        }
        if !(1..=1000).contains(&self.batch) {
            return bad(format!("batch: {} is outside 1..=1000", self.batch));
        }
        in_range("l2", self.l2, 0.0, 1.0)?;
        in_range("dropout", self.dropout, 0.0, 0.9)
    }

    fn check_features(&self) -> Result<(), ApiError> {
        if self.features.is_empty() {
            return Err(ApiError::bad("features: choose at least one".into()));
        }
        for (i, f) in self.features.iter().enumerate() {
            if !FEATURES.contains(&f.as_str()) {
                return Err(ApiError::bad(format!(
                    "features: unknown '{f}'; any of {}",
                    FEATURES.join(", ")
                )));
            }
            if self.features[..i].contains(f) {
                return Err(ApiError::bad(format!("features: '{f}' is listed twice")));
            }
        }
        Ok(())
    }

    fn check_layers(&self) -> Result<(), ApiError> {
        if self.layers.len() > MAX_LAYERS {
            return Err(ApiError::bad(format!(
                "layers: {} hidden layers; at most {MAX_LAYERS}",
                self.layers.len()
            )));
        }
        for (i, l) in self.layers.iter().enumerate() {
            if !(1..=MAX_UNITS).contains(&l.units) {
                return Err(ApiError::bad(format!(
                    "layers[{i}].units: {} is outside 1..={MAX_UNITS}",
                    l.units
                )));
            }
            if !ACTIVATIONS.contains(&l.activation.as_str()) {
                return Err(ApiError::bad(format!(
                    "layers[{i}].activation: unknown '{}'; one of {}",
                    l.activation,
                    ACTIVATIONS.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether `other` needs new points (as opposed to only a new network or new training
    /// settings on the same points).
    pub fn same_data(&self, other: &Config) -> bool {
        (
            &self.dataset,
            self.noise,
            self.train_ratio,
            self.points,
            self.seed,
            &self.columns,
        ) == (
            &other.dataset,
            other.noise,
            other.train_ratio,
            other.points,
            other.seed,
            &other.columns,
        )
    }
}

fn in_range(name: &str, v: f64, lo: f64, hi: f64) -> Result<(), ApiError> {
    if v >= lo && v <= hi {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "{name}: {v} must be a number in [{lo}, {hi}]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_each_limit_is_enforced() {
        Config::default().validate().unwrap();
        let bad = |f: &dyn Fn(&mut Config), word: &str| {
            let mut c = Config::default();
            f(&mut c);
            let e = c.validate().unwrap_err();
            assert!(e.message.contains(word), "{}", e.message);
        };
        bad(&|c| c.lr = f64::NAN, "lr");
        bad(&|c| c.lr = f64::INFINITY, "lr");
        bad(&|c| c.noise = -0.1, "noise");
        bad(&|c| c.points = 1_000_000, "points");
        bad(&|c| c.layers[0].units = 0, "units");
        bad(&|c| c.loss = "hinge".into(), "loss");
        bad(&|c| c.optimizer = "lbfgs".into(), "optimizer");
        bad(&|c| c.dataset = "upload".into(), "columns");
        let mut c = Config::default();
        c.layers.clear();
        c.validate().unwrap();
    }

    #[test]
    fn same_data_ignores_the_network_and_training_settings() {
        let a = Config::default();
        let mut b = a.clone();
        b.lr = 0.3;
        b.layers.pop();
        assert!(a.same_data(&b));
        b.seed += 1;
        assert!(!a.same_data(&b));
    }
}
