//! End-to-end: the digits data set (1,797 8×8 images) is learned to ≥ 97 % accuracy on a held-out
//! 20 %.

mod common;

use neuron::data::csv::read_csv_bytes;
use neuron::{
    Backend, Cpu, Dataset, FitConfig, Loss, Matrix, Optimizer, OptimizerConfig, Sequential, Silent,
};

#[test]
fn digits_reach_97_percent_on_held_out_data() {
    digits_on(Cpu::<f32>::new());
}

/// The same recipe trained on the GPU (`--features cuda`).
#[cfg(feature = "cuda")]
#[test]
fn digits_reach_97_percent_on_the_gpu() {
    if let Some(g) = common::gpu_f32() {
        digits_on(g);
    }
}

fn digits_on<B: Backend<E = f32>>(be: B) {
    // Embedded, so the test executable also runs where the source tree is not (a GPU machine).
    let t = read_csv_bytes(include_bytes!("../data/digits.csv.gz").to_vec(), "digits").unwrap();
    let cols = t.headers.len() - 1;
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for row in &t.rows {
        x.extend(row[..cols].iter().map(|v| v.parse::<f32>().unwrap() / 16.0));
        labels.push(row[cols].parse::<usize>().unwrap());
    }
    let data =
        Dataset::classification(Matrix::from_vec(labels.len(), cols, x).unwrap(), &labels).unwrap();
    let (mut train, mut test) = data.split(0.2, 42).unwrap();
    // Standardise each pixel with the training rows' mean and deviation.
    for c in 0..cols {
        let col: Vec<f32> = (0..train.len()).map(|r| train.x.get(r, c)).collect();
        let mean = col.iter().sum::<f32>() / col.len() as f32;
        let sd = (col.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / col.len() as f32).sqrt();
        let sd = if sd > 1e-6 { sd } else { 1.0 };
        for d in [&mut train, &mut test] {
            for r in 0..d.len() {
                d.x.set(r, c, (d.x.get(r, c) - mean) / sd);
            }
        }
    }
    let mut model = Sequential::builder(cols)
        .dense(512)
        .relu()
        .dropout(0.2)
        .dense(256)
        .relu()
        .dropout(0.2)
        .dense(10)
        .loss(Loss::CrossEntropy {
            label_smoothing: 0.1,
        })
        .seed(1)
        .build(be.clone())
        .unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::adamw(2e-3, 1e-2).schedule(
        neuron::LrSchedule::Cosine {
            warmup: 2.0,
            min_lr: 0.0,
        },
    ))
    .unwrap();
    let cfg = FitConfig {
        epochs: 60,
        batch_size: 32,
        seed: 7,
        ..FitConfig::default()
    };
    let h = model
        .fit(&mut opt, &train, None, &cfg, &mut Silent)
        .unwrap();
    let e = model.evaluate(&test).unwrap();
    let acc = e.accuracy.unwrap();
    eprintln!("digits on {}: held-out accuracy {acc:.4}", be.name());
    assert!(
        acc >= 0.97,
        "test accuracy {acc} (train loss {})",
        h.epochs.last().unwrap().loss
    );
    // predict_classes agrees with evaluate's accuracy.
    let pred = model.predict_classes(&test.x).unwrap();
    let r = neuron::metrics::classification_report(&test.labels(), &pred, 10);
    assert!((r.accuracy - acc).abs() < 1e-9);
}
