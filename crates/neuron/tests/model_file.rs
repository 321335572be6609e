//! Train → save → load → predict reproduces the in-memory predictions exactly.

use neuron::io::model_file::{load_model, save_model, ModelMeta, FORMAT};
use neuron::{
    Cpu, Dataset, FitConfig, Loss, Matrix, Optimizer, OptimizerConfig, Rng, Sequential, Silent,
};

#[test]
fn round_trip_reproduces_predictions_bit_for_bit() {
    let mut r = Rng::new(5);
    let x = Matrix::from_vec(300, 7, (0..2100).map(|_| r.normal() as f32).collect()).unwrap();
    let labels: Vec<usize> = (0..300)
        .map(|i| ((x.get(i, 0) > 0.0) as usize) + ((x.get(i, 3) > 0.5) as usize))
        .collect();
    let data = Dataset::classification(x.clone(), &labels).unwrap();
    let mut model = Sequential::builder(7)
        .dense(32)
        .gelu()
        .dropout(0.1)
        .dense(16)
        .leaky_relu(0.05)
        .dense(3)
        .loss(Loss::cross_entropy())
        .seed(8)
        .build(Cpu::<f32>::new())
        .unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::adam(1e-2)).unwrap();
    let cfg = FitConfig {
        epochs: 5,
        batch_size: 16,
        ..FitConfig::default()
    };
    model.fit(&mut opt, &data, None, &cfg, &mut Silent).unwrap();
    let before = model.predict(&x).unwrap();
    let proba = model.predict_proba(&x).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let meta = ModelMeta {
        format: FORMAT.into(),
        input_dim: 7,
        layers: model.specs().to_vec(),
        loss: model.loss(),
        preprocessing: None,
        provenance: serde_json::Value::Null,
    };
    save_model(&path, &model, &meta).unwrap();
    let (mut loaded, meta2) = load_model(&path).unwrap();
    assert_eq!(meta2, meta);
    assert_eq!(loaded.predict(&x).unwrap(), before);
    assert_eq!(loaded.predict_proba(&x).unwrap(), proba);
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
