//! Element-wise activations g(z) and their derivatives: the value that layers and backend
//! kernels share (the layer itself is in `activation_layer.rs`).
//!
//! Forward `Y = g(Z)`, backward `∂L/∂Z = ∂L/∂Y ⊙ g′(Z)`, shapes `[batch, width]` both ways.
//! When an activation directly follows a dense layer the model fuses the two
//! (one pass computes `Z + b` and `g`), which is why the kernels take an [`Activation`] value.

use serde::{Deserialize, Serialize};

/// An element-wise activation function.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activation {
    /// g(z) = z.
    Identity,
    /// g(z) = 1 / (1 + e^(−z)); g′ = g(1 − g).
    Sigmoid,
    /// g(z) = tanh z; g′ = 1 − g².
    Tanh,
    /// g(z) = max(0, z); g′ = 1 for z > 0, else 0.
    Relu,
    /// g(z) = z for z > 0, else α·z.
    LeakyRelu {
        /// Slope for negative inputs (PyTorch's default is 0.01).
        alpha: f64,
    },
    /// g(z) = z·Φ(z) with Φ the standard normal CDF (exact, erf-based, as PyTorch's default).
    Gelu,
}

impl Activation {
    /// The lower-case name used on the command line and in model files.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky-relu",
            Activation::Gelu => "gelu",
        }
    }

    /// Parses a name as printed by [`Activation::name`] (`leaky-relu` gets α = 0.01).
    pub fn parse(s: &str) -> Option<Activation> {
        Some(match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "identity" | "linear" | "none" => Activation::Identity,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky-relu" | "leakyrelu" => Activation::LeakyRelu { alpha: 0.01 },
            "gelu" => Activation::Gelu,
            _ => return None,
        })
    }

    /// g(z), in f64 (reference implementation used by kernels and tests).
    #[inline(always)]
    pub fn apply(&self, z: f64) -> f64 {
        match *self {
            Activation::Identity => z,
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.max(0.0),
            Activation::LeakyRelu { alpha } => {
                if z > 0.0 {
                    z
                } else {
                    alpha * z
                }
            }
            Activation::Gelu => 0.5 * z * (1.0 + libm::erf(z / std::f64::consts::SQRT_2)),
        }
    }

    /// g′(z), given z and y = g(z).
    #[inline(always)]
    pub fn derivative(&self, z: f64, y: f64) -> f64 {
        match *self {
            Activation::Identity => 1.0,
            Activation::Sigmoid => y * (1.0 - y),
            Activation::Tanh => 1.0 - y * y,
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if z > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
            Activation::Gelu => {
                let cdf = 0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2));
                let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
                cdf + z * pdf
            }
        }
    }
}
