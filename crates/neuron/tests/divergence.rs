//! A diverging epoch stops training with `Diverged` and returns the model and the optimizer to
//! their state at the start of that epoch, exactly.

mod common;

use neuron::{
    Backend, Cpu, Dataset, FitConfig, Loss, LrSchedule, Matrix, NeuronError, Optimizer,
    OptimizerConfig, Rng, Sequential, Silent,
};

fn diverging_epoch_is_rolled_back<B: Backend<E = f32>>(be: B) {
    let mut r = Rng::new(4);
    let x = Matrix::from_vec(120, 5, (0..600).map(|_| r.normal() as f32).collect()).unwrap();
    let y = Matrix::from_vec(120, 1, (0..120).map(|i| x.get(i, 0) * 3.0).collect()).unwrap();
    let data = Dataset::new(x, y).unwrap();
    let mut m = Sequential::builder(5)
        .dense(8)
        .tanh()
        .dense(1)
        .loss(Loss::Mse)
        .seed(2)
        .build(be.clone())
        .unwrap();
    let cfg = FitConfig {
        epochs: 1,
        batch_size: 8,
        seed: 1,
        ..FitConfig::default()
    };
    let mut opt = Optimizer::new(OptimizerConfig::adam(1e-2)).unwrap();
    m.fit(&mut opt, &data, None, &cfg, &mut Silent).unwrap();
    let (weights, state) = (m.params().unwrap(), opt.state(&be).unwrap());
    // The same optimizer state with an absurd learning rate: the next epoch diverges.
    let mut wild = state.clone();
    wild.config.lr = 1e30;
    let mut opt = Optimizer::new(OptimizerConfig::adam(1e-2)).unwrap();
    opt.load_state(wild.clone()).unwrap();
    let err = m.fit(&mut opt, &data, None, &cfg, &mut Silent).unwrap_err();
    assert!(matches!(err, NeuronError::Diverged(_)), "{err}");
    assert!(err.to_string().contains("epoch 1"), "{err}");
    assert_eq!(
        m.params().unwrap(),
        weights,
        "weights rolled back on {}",
        be.name()
    );
    let after = opt.state(&be).unwrap();
    assert_eq!((after.step, &after.slots), (wild.step, &wild.slots));
}

/// A later epoch of the same `fit` diverges (the learning rate grows 10³⁰-fold per epoch): the
/// model and optimizer return to where the previous epoch left them, as a one-epoch run shows.
fn later_diverging_epoch_is_rolled_back<B: Backend<E = f32>>(be: B) {
    let mut r = Rng::new(5);
    let x = Matrix::from_vec(96, 4, (0..384).map(|_| r.normal() as f32).collect()).unwrap();
    let y = Matrix::from_vec(96, 1, (0..96).map(|i| x.get(i, 1) - x.get(i, 2)).collect()).unwrap();
    let data = Dataset::new(x, y).unwrap();
    let build = || {
        Sequential::builder(4)
            .dense(6)
            .relu()
            .dense(1)
            .loss(Loss::Mse)
            .seed(3)
            .build(be.clone())
            .unwrap()
    };
    let config = OptimizerConfig::adam(1e-2).schedule(LrSchedule::Exponential { gamma: 1e30 });
    let cfg = |epochs| FitConfig {
        epochs,
        batch_size: 8,
        seed: 2,
        ..FitConfig::default()
    };
    let (mut one, mut opt_one) = (build(), Optimizer::new(config.clone()).unwrap());
    one.fit(&mut opt_one, &data, None, &cfg(1), &mut Silent)
        .unwrap();
    let (mut m, mut opt) = (build(), Optimizer::new(config).unwrap());
    let err = m
        .fit(&mut opt, &data, None, &cfg(3), &mut Silent)
        .unwrap_err();
    assert!(matches!(err, NeuronError::Diverged(_)), "{err}");
    assert!(err.to_string().contains("epoch 2"), "{err}");
    assert_eq!(
        m.params().unwrap(),
        one.params().unwrap(),
        "on {}",
        be.name()
    );
    let (got, want) = (opt.state(&be).unwrap(), opt_one.state(&be).unwrap());
    assert_eq!((got.step, &got.slots), (want.step, &want.slots));
}

#[test]
fn a_diverging_epoch_is_rolled_back_exactly() {
    diverging_epoch_is_rolled_back(Cpu::<f32>::new());
    later_diverging_epoch_is_rolled_back(Cpu::<f32>::new());
}

#[test]
fn a_diverging_epoch_is_rolled_back_exactly_on_the_emulated_gpu() {
    // The GPU backend checks the loss every 32 steps: the rollback must not depend on it.
    if let Some(g) = common::emu::emulated::<f32>() {
        diverging_epoch_is_rolled_back(g.clone());
        later_diverging_epoch_is_rolled_back(g);
    }
}

#[cfg(feature = "cuda")]
#[test]
fn a_diverging_epoch_is_rolled_back_exactly_on_the_gpu() {
    if let Some(g) = common::gpu_f32() {
        diverging_epoch_is_rolled_back(g.clone());
        later_diverging_epoch_is_rolled_back(g);
    }
}
