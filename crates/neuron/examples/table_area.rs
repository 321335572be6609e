//! The tutorial's worked example: learn the area of a table, s = a·b, from its length a and
//! width b (both in [1, 10]), then report the error on points the network never saw.
//!
//! Run with `cargo run --release -p neuron --example table_area`.

use neuron::{
    Cpu, Dataset, FitConfig, LrSchedule, Matrix, Optimizer, OptimizerConfig, Rng, Sequential,
    Silent,
};

fn samples(n: usize, seed: u64) -> (Matrix<f32>, Vec<f32>) {
    let mut r = Rng::new(seed);
    let mut x = Vec::with_capacity(2 * n);
    let mut s = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b) = (r.uniform_in(1.0, 10.0), r.uniform_in(1.0, 10.0));
        // Inputs scaled to [0, 1]; the network predicts area / 100.
        x.extend([((a - 1.0) / 9.0) as f32, ((b - 1.0) / 9.0) as f32]);
        s.push((a * b) as f32);
    }
    (Matrix::from_vec(n, 2, x).expect("2 values per row"), s)
}

fn main() -> neuron::Result<()> {
    let (x, s) = samples(4000, 1);
    let y = Matrix::from_vec(s.len(), 1, s.iter().map(|v| v / 100.0).collect())?;
    let train = Dataset::new(x, y)?;
    let mut model = Sequential::builder(2)
        .dense(32)
        .tanh()
        .dense(32)
        .tanh()
        .dense(1)
        .seed(5)
        .build(Cpu::<f32>::new())?;
    let mut opt = Optimizer::new(OptimizerConfig::adam(3e-3).schedule(LrSchedule::Cosine {
        warmup: 0.0,
        min_lr: 1e-5,
    }))?;
    let cfg = FitConfig {
        epochs: 150,
        batch_size: 32,
        seed: 2,
        ..FitConfig::default()
    };
    let history = model.fit(&mut opt, &train, None, &cfg, &mut Silent)?;
    let last = history.epochs.last().expect("at least one epoch");
    println!(
        "trained {} epochs, final training MSE {:.2e}",
        history.epochs.len(),
        last.loss
    );

    let (xt, st) = samples(1000, 99);
    let p = model.predict(&xt)?;
    let mut total = 0.0;
    for (i, (&p, &s)) in p.as_slice().iter().zip(&st).enumerate() {
        let area = p * 100.0;
        total += ((area - s) / s).abs() as f64;
        if i < 5 {
            let (a, b) = (xt.get(i, 0) * 9.0 + 1.0, xt.get(i, 1) * 9.0 + 1.0);
            println!("{a:5.2} × {b:5.2} = {s:6.2}   predicted {area:6.2}");
        }
    }
    println!(
        "mean relative error on 1000 unseen tables: {:.2} %",
        100.0 * total / st.len() as f64
    );
    Ok(())
}
