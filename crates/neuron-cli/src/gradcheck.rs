//! `neuron gradcheck`: gradients of random networks covering every layer, activation and loss,
//! against finite differences, in f64.

use anyhow::Result;
use neuron::{check_gradients, Activation, Cpu, LayerSpec, Loss, Matrix, Rng, Sequential};
use serde_json::json;

/// Relative error above which a check fails.
const TOLERANCE: f64 = 1e-6;

#[derive(clap::Args)]
pub struct GradcheckArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Seed for the random networks and data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn cases() -> Vec<(String, Vec<LayerSpec>, Loss)> {
    let act = |a| LayerSpec::Activation { activation: a };
    let mut out = Vec::new();
    for a in [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Gelu,
    ] {
        out.push((format!("dense+{}", a.name()), vec![act(a)], Loss::Mse));
    }
    out.push(("softmax layer".into(), vec![LayerSpec::Softmax], Loss::Mse));
    out.push((
        "dropout 0.3".into(),
        vec![act(Activation::Relu), LayerSpec::Dropout { p: 0.3 }],
        Loss::Mse,
    ));
    out.push((
        "standalone gelu".into(),
        vec![LayerSpec::Dropout { p: 0.0 }, act(Activation::Gelu)],
        Loss::Mse,
    ));
    out.push((
        "cross-entropy".into(),
        vec![act(Activation::Tanh)],
        Loss::cross_entropy(),
    ));
    out.push((
        "cross-entropy, smoothing 0.1".into(),
        vec![act(Activation::Relu)],
        Loss::CrossEntropy {
            label_smoothing: 0.1,
        },
    ));
    out.push((
        "binary cross-entropy".into(),
        vec![act(Activation::Sigmoid)],
        Loss::BinaryCrossEntropy,
    ));
    out
}

pub fn run(a: &GradcheckArgs) -> Result<()> {
    let mut rng = Rng::new(a.seed);
    let mut results = Vec::new();
    let mut worst = 0.0f64;
    let mut checks = 0;
    for (name, middle, loss) in cases() {
        for (batch, input, hidden, outputs) in [(4, 3, 5, 3), (8, 6, 7, 4)] {
            let mut spec = vec![LayerSpec::Dense {
                inputs: input,
                outputs: hidden,
                init: Default::default(),
            }];
            spec.extend(middle.iter().cloned());
            spec.push(LayerSpec::Dense {
                inputs: hidden,
                outputs,
                init: Default::default(),
            });
            let mut m =
                Sequential::from_specs(Cpu::<f64>::new(), input, spec, loss, rng.next_u64(), None)?;
            let x = Matrix::from_vec(
                batch,
                input,
                (0..batch * input).map(|_| rng.normal()).collect(),
            )?;
            let y = match loss {
                Loss::CrossEntropy { .. } => Matrix::from_vec(
                    batch,
                    1,
                    (0..batch).map(|_| rng.below(outputs) as f64).collect(),
                )?,
                Loss::BinaryCrossEntropy => Matrix::from_vec(
                    batch,
                    outputs,
                    (0..batch * outputs)
                        .map(|_| (rng.uniform() < 0.5) as u8 as f64)
                        .collect(),
                )?,
                Loss::Mse => Matrix::from_vec(
                    batch,
                    outputs,
                    (0..batch * outputs).map(|_| rng.normal()).collect(),
                )?,
            };
            let r = check_gradients(&mut m, &x, &y, 1e-4, 1e-6, None)?;
            worst = worst.max(r.max_rel_error);
            checks += r.checks;
            if !a.json {
                println!(
                    "{:<30} {:>2}×{}→{}→{}  {:>4} checks  max rel error {:.2e}  {}",
                    name,
                    batch,
                    input,
                    hidden,
                    outputs,
                    r.checks,
                    r.max_rel_error,
                    if r.max_rel_error <= TOLERANCE {
                        "ok"
                    } else {
                        "FAIL"
                    }
                );
            }
            results.push(json!({"case": name, "shape": [batch, input, hidden, outputs], "checks": r.checks,
                "max_rel_error": r.max_rel_error, "worst_param": r.worst_param, "worst_index": r.worst_index}));
        }
    }
    let ok = worst <= TOLERANCE;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"max_rel_error": worst, "checks": checks, "tolerance": TOLERANCE, "ok": ok, "cases": results})
            )?
        );
    } else {
        println!("{checks} gradient entries checked; worst relative error {worst:.2e} (tolerance {TOLERANCE:.0e})");
    }
    if !ok {
        anyhow::bail!(
            "gradient check failed: worst relative error {worst:.2e} exceeds {TOLERANCE:.0e}"
        );
    }
    Ok(())
}
