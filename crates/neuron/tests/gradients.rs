//! Finite-difference gradient checks in f64 for every layer, activation and loss, at two shapes.

mod common;

use neuron::{check_gradients, Activation, Backend, Cpu, LayerSpec, Loss, Matrix, Rng, Sequential};

fn random(rows: usize, cols: usize, seed: u64) -> Matrix<f64> {
    let mut r = Rng::new(seed);
    Matrix::from_vec(rows, cols, (0..rows * cols).map(|_| r.normal()).collect()).unwrap()
}

fn targets(loss: &Loss, rows: usize, outputs: usize, seed: u64) -> Matrix<f64> {
    let mut r = Rng::new(seed);
    match loss {
        Loss::CrossEntropy { .. } => Matrix::from_vec(
            rows,
            1,
            (0..rows).map(|_| r.below(outputs) as f64).collect(),
        )
        .unwrap(),
        Loss::BinaryCrossEntropy => Matrix::from_vec(
            rows,
            outputs,
            (0..rows * outputs)
                .map(|_| (r.uniform() < 0.5) as u8 as f64)
                .collect(),
        )
        .unwrap(),
        Loss::Mse => random(rows, outputs, seed),
    }
}

/// Builds `input → hidden → [middle layers] → hidden → outputs` and checks every parameter, on
/// the CPU, on the emulated GPU backend and, with `--features cuda` and a GPU, on the GPU.
fn check(middle: &[LayerSpec], loss: Loss, shapes: &[(usize, usize, usize, usize)]) {
    check_on(&Cpu::<f64>::new(), middle, loss, shapes);
    // The emulator runs reductions as 256 real threads: the smaller shape keeps this quick.
    if let Some(e) = common::emu::emulated::<f64>() {
        check_on(&e, middle, loss, &shapes[..1]);
    }
    #[cfg(feature = "cuda")]
    if let Some(g) = common::gpu_f64() {
        check_on(&g, middle, loss, shapes);
    }
}

fn check_on<B: Backend<E = f64>>(
    be: &B,
    middle: &[LayerSpec],
    loss: Loss,
    shapes: &[(usize, usize, usize, usize)],
) {
    for &(batch, input, hidden, outputs) in shapes {
        let mut b = Sequential::builder(input).dense(hidden);
        for spec in middle {
            b = b.layer(spec.clone());
        }
        let mut model = b
            .dense(hidden)
            .tanh()
            .dense(outputs)
            .loss(loss)
            .seed(11)
            .build(be.clone())
            .unwrap();
        let x = random(batch, input, 1);
        let y = targets(&loss, batch, outputs, 2);
        let r = check_gradients(&mut model, &x, &y, 1e-4, 1e-6, None).unwrap();
        assert!(
            r.max_rel_error <= 1e-6,
            "{} {middle:?} {loss:?} at batch {batch}, {input}→{hidden}→{outputs}: {r:?}",
            be.name()
        );
        assert_eq!(r.checks, model.num_params());
    }
}

const SHAPES: &[(usize, usize, usize, usize)] = &[(5, 3, 4, 2), (9, 6, 7, 4)];

fn act(a: Activation) -> LayerSpec {
    LayerSpec::Activation { activation: a }
}

#[test]
fn every_activation_fused_after_dense() {
    for a in [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Gelu,
    ] {
        check(&[act(a)], Loss::Mse, SHAPES);
    }
}

#[test]
fn standalone_activations_after_dropout_and_softmax() {
    // An activation that does not directly follow a dense layer runs as its own layer.
    for a in [
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::LeakyRelu { alpha: 0.2 },
    ] {
        check(&[LayerSpec::Dropout { p: 0.0 }, act(a)], Loss::Mse, SHAPES);
    }
}

#[test]
fn softmax_layer() {
    check(&[LayerSpec::Softmax], Loss::Mse, SHAPES);
    // Softmax as the output layer, trained with MSE on probabilities.
    for &(batch, input, _, outputs) in SHAPES {
        let mut m = Sequential::builder(input)
            .dense(outputs)
            .softmax()
            .seed(3)
            .build(Cpu::<f64>::new())
            .unwrap();
        let r = check_gradients(
            &mut m,
            &random(batch, input, 4),
            &random(batch, outputs, 5),
            1e-4,
            1e-6,
            None,
        )
        .unwrap();
        assert!(r.max_rel_error <= 1e-6, "{r:?}");
    }
}

#[test]
fn dropout_layer_with_fixed_mask() {
    check(
        &[act(Activation::Relu), LayerSpec::Dropout { p: 0.3 }],
        Loss::Mse,
        SHAPES,
    );
}

#[test]
fn every_loss() {
    for loss in [
        Loss::Mse,
        Loss::cross_entropy(),
        Loss::CrossEntropy {
            label_smoothing: 0.1,
        },
        Loss::BinaryCrossEntropy,
    ] {
        check(&[act(Activation::Relu)], loss, SHAPES);
    }
}
