//! The same seed and thread count give bit-identical weights; different seeds give different ones.

use neuron::{
    Cpu, Dataset, FitConfig, Loss, Matrix, Optimizer, OptimizerConfig, Rng, Sequential, Silent,
};

fn train(model_seed: u64, data_seed: u64) -> Vec<Vec<f32>> {
    let mut r = Rng::new(0);
    let x = Matrix::from_vec(200, 6, (0..1200).map(|_| r.normal() as f32).collect()).unwrap();
    let labels: Vec<usize> = (0..200)
        .map(|i| (x.get(i, 0) + x.get(i, 1) > 0.0) as usize)
        .collect();
    let data = Dataset::classification(x, &labels).unwrap();
    let mut m = Sequential::builder(6)
        .dense(16)
        .relu()
        .dropout(0.2)
        .dense(2)
        .loss(Loss::cross_entropy())
        .seed(model_seed)
        .build(Cpu::<f32>::new())
        .unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::adam(1e-2)).unwrap();
    let cfg = FitConfig {
        epochs: 3,
        batch_size: 16,
        seed: data_seed,
        validation_split: 0.2,
        ..FitConfig::default()
    };
    m.fit(&mut opt, &data, None, &cfg, &mut Silent).unwrap();
    m.params().unwrap()
}

#[test]
fn same_seeds_give_bit_identical_weights() {
    let a = train(1, 2);
    let b = train(1, 2);
    assert_eq!(a, b);
    assert_ne!(a, train(3, 2), "model seed changes nothing");
    assert_ne!(a, train(1, 4), "data seed changes nothing");
}
