//! Training from a table streamed from disk (`StreamSource`): without shuffling it trains exactly
//! the model that in-memory training gives on the same rows in the same order; with a shuffle
//! buffer it is seeded (the same seed, the same model) and learns.

use neuron::data::csv::read_csv_bytes;
use neuron::data::preprocess::Preprocessor;
use neuron::{
    Cpu, Dataset, DatasetSource, FitConfig, Loss, Optimizer, OptimizerConfig, Sequential,
    StreamSource, TrainRun,
};

/// 500 rows: two features, a class given by a circle, in CSV.
fn csv() -> String {
    let mut s = String::from("u,v,class\n");
    for i in 0..500 {
        let (u, v) = (
            ((i * 37) % 101) as f64 / 25.0 - 2.0,
            ((i * 53) % 97) as f64 / 24.0 - 2.0,
        );
        let class = if u * u + v * v < 1.6 { "in" } else { "out" };
        s.push_str(&format!("{u:.4},{v:.4},{class}\n"));
    }
    s
}

fn model() -> Sequential<Cpu<f32>> {
    Sequential::builder(2)
        .dense(16)
        .relu()
        .dense(2)
        .loss(Loss::cross_entropy())
        .seed(5)
        .build(Cpu::<f32>::with_threads(1))
        .unwrap()
}

fn cfg(shuffle: bool) -> FitConfig {
    FitConfig {
        epochs: 3,
        batch_size: 32,
        seed: 9,
        shuffle,
        ..FitConfig::default()
    }
}

/// Trains on the streamed file; returns the weights.
fn streamed(path: &str, pre: &Preprocessor, shuffle: bool, buffer: usize) -> Vec<Vec<f32>> {
    let mut m = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let mut src =
        StreamSource::new(path, None, pre.clone(), Loss::cross_entropy(), 2, buffer).unwrap();
    TrainRun::new(&mut m, &mut opt, &mut src, &cfg(shuffle))
        .unwrap()
        .run()
        .unwrap();
    m.params().unwrap()
}

#[test]
fn streamed_training_equals_in_memory_training_on_the_same_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv()).unwrap();
    let t = read_csv_bytes(csv().into_bytes(), "t.csv").unwrap();
    let pre = Preprocessor::fit(&t, None, None, true, None).unwrap();
    let e = pre.transform(&t, true).unwrap();
    let data = Dataset::new(e.x.clone(), e.targets(Loss::cross_entropy(), 2).unwrap()).unwrap();
    let mut m = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let be = m.backend().clone();
    let mut src = DatasetSource::new(&be, &data).unwrap();
    TrainRun::new(&mut m, &mut opt, &mut src, &cfg(false))
        .unwrap()
        .run()
        .unwrap();
    let path = path.to_str().unwrap();
    // File order, whatever the buffer: bit for bit the in-memory model.
    for buffer in [1, 100, 10_000] {
        assert_eq!(
            streamed(path, &pre, false, buffer),
            m.params().unwrap(),
            "buffer {buffer}"
        );
    }
    // Shuffled through a buffer: seeded, and it learns the circle.
    let a = streamed(path, &pre, true, 64);
    assert_eq!(a, streamed(path, &pre, true, 64));
    assert_ne!(a, m.params().unwrap());
    let mut learned = model();
    learned.set_params(&a).unwrap();
    let classes = learned.predict_classes(&e.x).unwrap();
    let truth = e.classes.as_ref().unwrap();
    let right = classes.iter().zip(truth).filter(|(p, t)| p == t).count();
    assert!(right as f64 / truth.len() as f64 > 0.8, "{right} of 500");
}
