//! Batch inference on the CPU backend from Rust: `predict_rows` on 784-256-128-10 and
//! 784-1024-1024-1024-10 with ReLU (random weights, f32), or on a network given as
//! `784-300-100-10:tanh` (widths from input to output, the hidden layers' activation); rows per
//! second, median and best of the calls.
//!
//! ```sh
//! cargo run --release -p neuron --example infer_speed -- [threads] [small|wide|all|NETWORK] [rows]
//! ```
//! (defaults: 2 threads, both models, 1024 rows). `bench/onnx_speed.py` compares against ONNX
//! Runtime from Python.

use std::time::Instant;

use neuron::{Activation, Cpu, Loss, Sequential};

/// `784-300-100-10:tanh` as widths and activation (ReLU when none is given).
fn network(spec: &str) -> Option<(Vec<usize>, Activation)> {
    let (widths, act) = spec.split_once(':').unwrap_or((spec, "relu"));
    let widths: Vec<usize> = widths
        .split('-')
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    (widths.len() >= 2).then_some((widths, Activation::parse(act)?))
}

fn main() -> neuron::Result<()> {
    let arg = |i: usize| std::env::args().nth(i);
    let threads: usize = arg(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let only = arg(2).unwrap_or_default();
    let rows: usize = arg(3).and_then(|s| s.parse().ok()).unwrap_or(1024).max(1);
    let mut nets = vec![
        (
            "small".to_string(),
            vec![784, 256, 128, 10],
            Activation::Relu,
        ),
        (
            "wide".to_string(),
            vec![784, 1024, 1024, 1024, 10],
            Activation::Relu,
        ),
    ];
    if let Some((widths, act)) = network(&only) {
        nets = vec![(only.clone(), widths, act)];
    } else if !only.is_empty() && only != "all" {
        nets.retain(|(name, ..)| *name == only);
    }
    for (name, widths, act) in nets {
        let (inputs, outputs) = (widths[0], widths[widths.len() - 1]);
        let mut b = Sequential::builder(inputs);
        for &h in &widths[1..widths.len() - 1] {
            b = b.dense(h).activation(act);
        }
        let be = Cpu::<f32>::with_threads(threads);
        let mut m = b
            .dense(outputs)
            .loss(Loss::cross_entropy())
            .seed(1)
            .build(be)?;
        let x: Vec<f32> = (0..rows * inputs)
            .map(|i| (i % 255) as f32 / 255.0)
            .collect();
        for _ in 0..5 {
            m.predict_rows(&x, rows)?;
        }
        let flops: usize = widths.windows(2).map(|w| 2 * w[0] * w[1]).sum();
        let calls = (1_000_000_000_000 / (flops * rows).max(1)).clamp(20, 5000);
        let mut t: Vec<f64> = (0..calls)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(m.predict_rows(&x, rows)).map(|_| t0.elapsed().as_secs_f64())
            })
            .collect::<neuron::Result<_>>()?;
        t.sort_by(f64::total_cmp);
        let rate = |s: f64| rows as f64 / s;
        println!(
            "{name}, {rows} rows, {threads} threads: median {:.0} rows/s, best {:.0}",
            rate(t[t.len() / 2]),
            rate(t[0])
        );
    }
    Ok(())
}
