//! The tutorial's own cases: table area, XOR with sigmoid units, the collapse of a network without
//! activations into one linear map, and softmax stability.

use neuron::{
    Backend, Cpu, Dataset, FitConfig, Loss, Matrix, Optimizer, OptimizerConfig, Rng, Sequential,
    Silent,
};

fn xor() -> (Matrix<f32>, Matrix<f32>) {
    (
        Matrix::from_vec(4, 2, vec![0., 0., 0., 1., 1., 0., 1., 1.]).unwrap(),
        Matrix::from_vec(4, 1, vec![0., 1., 1., 0.]).unwrap(),
    )
}

/// Features (a, b) ∈ [1, 10]², label s = a·b. Inputs are scaled to [0, 1] and the area by 1/100
/// (the model sees scaled values; errors are measured on the real areas).
fn table_area(n: usize, seed: u64) -> (Matrix<f32>, Vec<f32>) {
    let mut r = Rng::new(seed);
    let mut x = Vec::new();
    let mut s = Vec::new();
    for _ in 0..n {
        let (a, b) = (r.uniform_in(1.0, 10.0), r.uniform_in(1.0, 10.0));
        x.push(((a - 1.0) / 9.0) as f32);
        x.push(((b - 1.0) / 9.0) as f32);
        s.push((a * b) as f32);
    }
    (Matrix::from_vec(n, 2, x).unwrap(), s)
}

#[test]
fn table_area_is_learned_to_within_two_percent() {
    let (x, s) = table_area(4000, 1);
    let y = Matrix::from_vec(s.len(), 1, s.iter().map(|v| v / 100.0).collect()).unwrap();
    let data = Dataset::new(x, y).unwrap();
    let mut model = Sequential::builder(2)
        .dense(32)
        .tanh()
        .dense(32)
        .tanh()
        .dense(1)
        .seed(5)
        .build(Cpu::<f32>::new())
        .unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::adam(3e-3).schedule(
        neuron::LrSchedule::Cosine {
            warmup: 0.0,
            min_lr: 1e-5,
        },
    ))
    .unwrap();
    let cfg = FitConfig {
        epochs: 150,
        batch_size: 32,
        seed: 2,
        ..FitConfig::default()
    };
    model.fit(&mut opt, &data, None, &cfg, &mut Silent).unwrap();
    let (xt, st) = table_area(1000, 99);
    let p = model.predict(&xt).unwrap();
    let mre: f64 = p
        .as_slice()
        .iter()
        .zip(&st)
        .map(|(&p, &s)| ((p as f64 * 100.0 - s as f64) / s as f64).abs())
        .sum::<f64>()
        / st.len() as f64;
    assert!(mre < 0.02, "mean relative error {mre}");
}

#[test]
fn xor_with_sigmoid_units() {
    let (x, y) = xor();
    let data = Dataset::new(x.clone(), y).unwrap();
    let mut model = Sequential::builder(2)
        .dense(4)
        .sigmoid()
        .dense(1)
        .sigmoid()
        .seed(1)
        .build(Cpu::<f32>::new())
        .unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::momentum(2.0, 0.9)).unwrap();
    let cfg = FitConfig {
        epochs: 2000,
        batch_size: 4,
        ..FitConfig::default()
    };
    let h = model.fit(&mut opt, &data, None, &cfg, &mut Silent).unwrap();
    let p = model.predict(&x).unwrap();
    let want = [0.0, 1.0, 1.0, 0.0];
    for (i, w) in want.iter().enumerate() {
        assert!(
            (p.get(i, 0) - w).abs() < 0.1,
            "XOR({i}) = {} after loss {}",
            p.get(i, 0),
            h.epochs.last().unwrap().loss
        );
    }
}

#[test]
fn without_activations_a_deep_network_is_one_linear_map_and_cannot_fit_xor() {
    let mut model = Sequential::builder(3)
        .dense(5)
        .dense(4)
        .dense(2)
        .seed(9)
        .build(Cpu::<f64>::new())
        .unwrap();
    // Collapse: W = W3·W2·W1, b = W3·(W2·b1 + b2) + b3.
    let p = model.params().unwrap();
    let (w1, b1, w2, b2, w3, b3) = (&p[0], &p[1], &p[2], &p[3], &p[4], &p[5]);
    let mm = |a: &[f64], b: &[f64], n: usize, k: usize, m: usize| -> Vec<f64> {
        // a: [n, k], b: [k, m]
        let mut out = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                out[i * m + j] = (0..k).map(|l| a[i * k + l] * b[l * m + j]).sum();
            }
        }
        out
    };
    let w = mm(&mm(w3, w2, 2, 4, 5), w1, 2, 5, 3);
    let mv = |a: &[f64], v: &[f64], n: usize, k: usize| mm(a, v, n, k, 1);
    let add = |a: Vec<f64>, b: &[f64]| a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<_>>();
    let b = add(mv(w3, &add(mv(w2, b1, 4, 5), b2), 2, 4), b3);
    let mut r = Rng::new(3);
    let x = Matrix::from_vec(6, 3, (0..18).map(|_| r.normal()).collect()).unwrap();
    let out = model.predict(&x).unwrap();
    for i in 0..6 {
        for j in 0..2 {
            let lin: f64 = (0..3).map(|k| w[j * 3 + k] * x.get(i, k)).sum::<f64>() + b[j];
            assert!((out.get(i, j) - lin).abs() < 1e-12, "row {i} output {j}");
        }
    }

    // And however long it trains, it cannot fit XOR: the best linear fit predicts 0.5 everywhere.
    let (x, y) = xor();
    let data = Dataset::new(x.clone(), y).unwrap();
    let mut linear = Sequential::builder(2)
        .dense(8)
        .dense(8)
        .dense(1)
        .seed(4)
        .build(Cpu::<f32>::new())
        .unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let cfg = FitConfig {
        epochs: 1000,
        batch_size: 4,
        ..FitConfig::default()
    };
    let h = linear
        .fit(&mut opt, &data, None, &cfg, &mut Silent)
        .unwrap();
    assert!(
        h.epochs.last().unwrap().loss > 0.249,
        "a linear model fitted XOR?"
    );
    let p = linear.predict(&x).unwrap();
    let wrong = (0..4)
        .filter(|&i| (p.get(i, 0) > 0.5) != (i == 1 || i == 2))
        .count();
    assert!(wrong >= 1);
}

#[test]
fn softmax_rows_sum_to_one_and_stay_finite_for_huge_logits() {
    let cpu = Cpu::<f32>::new();
    let logits = [
        1000.0f32, 999.0, -1000.0, 999.0, -1000.0, -1000.0, -999.0, 1000.0, 3.0,
    ];
    let x = cpu.upload(&logits).unwrap();
    let mut y = cpu.alloc(9).unwrap();
    cpu.softmax(3, 3, &x, &mut y);
    for r in 0..3 {
        let row = &y[r * 3..r * 3 + 3];
        assert!(row.iter().all(|v| v.is_finite() && *v >= 0.0), "{row:?}");
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?}");
    }
    assert!((y[0] - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);

    // Through a model: huge weights give logits of about ±1000; probabilities stay finite.
    let mut m = Sequential::builder(1)
        .dense(3)
        .loss(Loss::cross_entropy())
        .build(Cpu::<f32>::new())
        .unwrap();
    m.set_param(0, &[1000.0, -1000.0, 0.0]).unwrap();
    let p = m
        .predict_proba(&Matrix::from_vec(2, 1, vec![1.0, -1.0]).unwrap())
        .unwrap();
    for r in 0..2 {
        assert!(p.row(r).iter().all(|v| v.is_finite()));
        assert!((p.row(r).iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    // And the loss on them is finite too.
    let y = Matrix::from_vec(2, 1, vec![1.0, 0.0]).unwrap();
    let l = m
        .forward_backward(&Matrix::from_vec(2, 1, vec![1.0, -1.0]).unwrap(), &y)
        .unwrap();
    assert!(l.is_finite() && (l - 2000.0).abs() < 1e-3, "{l}");
}
