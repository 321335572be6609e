//! Batch inference on the CPU backend from Rust: `predict_rows` on 784-256-128-10 and
//! 784-1024-1024-1024-10 (random weights, f32), rows per second, median and best of the calls.
//!
//! ```sh
//! cargo run --release -p neuron --example infer_speed -- [threads] [small|wide|all] [rows]
//! ```
//! (defaults: 2 threads, both models, 1024 rows). `bench/onnx_speed.py` compares against ONNX
//! Runtime from Python.

use std::time::Instant;

use neuron::{Cpu, Loss, Sequential};

fn main() -> neuron::Result<()> {
    let arg = |i: usize| std::env::args().nth(i);
    let threads: usize = arg(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let only = arg(2).unwrap_or_default();
    let rows: usize = arg(3).and_then(|s| s.parse().ok()).unwrap_or(1024).max(1);
    for (name, hidden) in [
        ("small", &[256usize, 128][..]),
        ("wide", &[1024, 1024, 1024][..]),
    ] {
        if !only.is_empty() && only != "all" && only != name {
            continue;
        }
        let mut b = Sequential::builder(784);
        for &h in hidden {
            b = b.dense(h).relu();
        }
        let be = Cpu::<f32>::with_threads(threads);
        let mut m = b.dense(10).loss(Loss::cross_entropy()).seed(1).build(be)?;
        let x: Vec<f32> = (0..rows * 784).map(|i| (i % 255) as f32 / 255.0).collect();
        for _ in 0..5 {
            m.predict_rows(&x, rows)?;
        }
        let calls = (if name == "small" { 2_000_000 } else { 60_000 } / rows).max(5);
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
