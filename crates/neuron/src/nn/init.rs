//! Weight initialisation schemes (seeded).

use serde::{Deserialize, Serialize};

use crate::nn::activation::Activation;
use crate::rng::Rng;

/// How a dense layer's weights `W[out, in]` are drawn. Biases start at zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Chosen from the activation that follows: He (normal) for ReLU-like units, Xavier (uniform)
    /// otherwise.
    #[default]
    Auto,
    /// Glorot & Bengio: `U(−a, a)`, `a = √(6 / (in + out))`.
    XavierUniform,
    /// Glorot & Bengio: `N(0, 2 / (in + out))`.
    XavierNormal,
    /// He et al.: `U(−a, a)`, `a = √(6 / in)`.
    HeUniform,
    /// He et al.: `N(0, 2 / in)`.
    HeNormal,
}

impl Init {
    /// Replaces [`Init::Auto`] by the scheme that suits `next` (the activation after the layer).
    pub fn resolve(self, next: Option<Activation>) -> Init {
        match self {
            Init::Auto => match next {
                Some(Activation::Relu | Activation::LeakyRelu { .. } | Activation::Gelu) => {
                    Init::HeNormal
                }
                _ => Init::XavierUniform,
            },
            other => other,
        }
    }

    /// Draws `outputs × inputs` weights.
    pub fn sample(self, inputs: usize, outputs: usize, rng: &mut Rng) -> Vec<f64> {
        let (fi, fo) = (inputs as f64, outputs as f64);
        let n = inputs * outputs;
        match self.resolve(None) {
            Init::XavierUniform => {
                let a = (6.0 / (fi + fo)).sqrt();
                (0..n).map(|_| rng.uniform_in(-a, a)).collect()
            }
            Init::XavierNormal => {
                let s = (2.0 / (fi + fo)).sqrt();
                (0..n).map(|_| s * rng.normal()).collect()
            }
            Init::HeUniform => {
                let a = (6.0 / fi).sqrt();
                (0..n).map(|_| rng.uniform_in(-a, a)).collect()
            }
            Init::HeNormal | Init::Auto => {
                let s = (2.0 / fi).sqrt();
                (0..n).map(|_| s * rng.normal()).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(v: &[f64]) -> f64 {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
    }

    #[test]
    fn variances_match_the_schemes() {
        let mut rng = Rng::new(0);
        let (i, o) = (300, 200);
        for (init, want) in [
            (Init::XavierUniform, 2.0 / 500.0),
            (Init::XavierNormal, 2.0 / 500.0),
            (Init::HeUniform, 2.0 / 300.0),
            (Init::HeNormal, 2.0 / 300.0),
        ] {
            let w = init.sample(i, o, &mut rng);
            let v = var(&w);
            assert!((v / want - 1.0).abs() < 0.03, "{init:?}: {v} vs {want}");
        }
        assert_eq!(Init::Auto.resolve(Some(Activation::Relu)), Init::HeNormal);
        assert_eq!(
            Init::Auto.resolve(Some(Activation::Tanh)),
            Init::XavierUniform
        );
    }
}
