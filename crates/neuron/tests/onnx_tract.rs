//! Exported ONNX graphs run by a second, independent runtime without Python: tract (pure Rust).
//! For every activation and loss, with robust scaling, clipping and imputation of the raw columns
//! in the graph, tract's outputs on raw inputs equal neuron's predictions within 1e-5, and the
//! label output names the class neuron predicts.

use neuron::data::csv::read_csv_bytes;
use neuron::data::preprocess::{Impute, Preprocessor, Task};
use neuron::data::scaling::Scaling;
use neuron::io::model_file::{ModelMeta, FORMAT};
use neuron::io::onnx::to_onnx_bytes;
use neuron::{classes_from_outputs, Activation, Cpu, Loss, Sequential};
use tract_onnx::prelude::*;

const ACTIVATIONS: [Activation; 6] = [
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::LeakyRelu { alpha: 0.1 },
    Activation::Gelu,
    Activation::Identity,
];

/// 60 rows of three skewed numeric columns (one cell missing in three) and a target.
fn table(kind: &str) -> String {
    let mut s = String::from("a,b,c,y\n");
    for i in 0..60 {
        let a = (i as f64 * 0.7).sin() * 3.0;
        let b = ((i * 13 % 17) as f64).exp() / 1e5;
        let c = if i % 3 == 1 {
            String::new()
        } else {
            format!("{}", i as f64 - 20.0)
        };
        let y = match kind {
            "multi" => ["red", "green", "blue"][i % 3].to_string(),
            "binary" => ["no", "yes"][usize::from(a > 0.0)].to_string(),
            _ => format!("{}", a * 10.0 + 100.0),
        };
        s.push_str(&format!("{a},{b},{c},{y}\n"));
    }
    s
}

/// Raw inputs as tract takes them: the cells as numbers, missing ones NaN.
fn raw_inputs(t: &neuron::data::csv::RawTable) -> (usize, Vec<f32>) {
    let x = t
        .rows
        .iter()
        .flat_map(|r| r[..3].iter().map(|c| c.parse::<f32>().unwrap_or(f32::NAN)))
        .collect();
    (t.rows.len(), x)
}

fn check(kind: &str, act: Activation) -> TractResult<()> {
    let t = read_csv_bytes(table(kind).into_bytes(), "t.csv").unwrap();
    let task = if kind == "value" {
        Task::Regress
    } else {
        Task::Classify
    };
    let pre = Preprocessor::fit_scaled(&t, None, Some(task), Scaling::Robust, Some(Impute::Median))
        .unwrap();
    let (loss, outputs) = match kind {
        "multi" => (Loss::cross_entropy(), 3),
        "binary" => (Loss::BinaryCrossEntropy, 1),
        _ => (Loss::Mse, 1),
    };
    let mut m = Sequential::builder(3)
        .dense(8)
        .activation(act)
        .dense(5)
        .activation(act)
        .dense(outputs)
        .loss(loss)
        .seed(7)
        .build(Cpu::<f32>::with_threads(1))
        .unwrap();
    let meta = ModelMeta {
        format: FORMAT.into(),
        input_dim: 3,
        layers: m.specs().to_vec(),
        loss,
        preprocessing: Some(pre.clone()),
        provenance: serde_json::Value::Null,
    };
    let bytes = to_onnx_bytes(&m, &meta).unwrap();
    let (n, raw) = raw_inputs(&t);
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])?
        .with_input_fact(0, f32::fact([n, 3]).into())?
        .into_optimized()?
        .into_runnable()?;
    let input = tract_ndarray::Array2::from_shape_vec((n, 3), raw)?;
    let result = plan.run(tvec!(Tensor::from(input).into_tvalue()))?;
    let out = m.predict(&pre.transform(&t, false).unwrap().x).unwrap();
    let got = result[0].to_plain_array_view::<f32>()?;
    let want: Vec<f64> = match loss {
        Loss::Mse => out
            .as_slice()
            .iter()
            .map(|&v| pre.unscale_value(v as f64))
            .collect(),
        Loss::BinaryCrossEntropy => {
            let p = loss.probabilities(&out).unwrap();
            p.as_slice()
                .iter()
                .flat_map(|&q| [1.0 - q as f64, q as f64])
                .collect()
        }
        _ => loss
            .probabilities(&out)
            .unwrap()
            .as_slice()
            .iter()
            .map(|&v| v as f64)
            .collect(),
    };
    assert_eq!(got.len(), want.len(), "{kind} {act:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
            "{kind} {act:?}: tract {g}, neuron {w}"
        );
    }
    if let Some(labels) = pre.labels() {
        let names = result[1].to_plain_array_view::<String>()?;
        let classes = classes_from_outputs(&out);
        for (name, &c) in names.iter().zip(&classes) {
            assert_eq!(name, &labels[c], "{kind} {act:?}");
        }
    }
    Ok(())
}

#[test]
fn tract_runs_every_exported_activation_and_loss_as_neuron_predicts() {
    for kind in ["multi", "binary", "value"] {
        for act in ACTIVATIONS {
            check(kind, act).unwrap_or_else(|e| panic!("{kind} {act:?}: {e:?}"));
        }
    }
}
