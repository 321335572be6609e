//! `neuron bench`: training speed (s/epoch, samples/s, GFLOP/s, share of the machine's peak) and
//! prediction latency, on Fashion-MNIST or, when it is absent, random data of the same shapes.

use std::time::Instant;

use anyhow::Result;
use neuron::{
    Backend, Dataset, FitConfig, Loss, Matrix, Optimizer, OptimizerConfig, Rng, Sequential, Silent,
};
use serde_json::json;

use crate::data::FASHION_MNIST_DIR;
use crate::device::OnBackend;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Threads (default: all cores; also NEURON_THREADS).
    #[arg(long, env = "NEURON_THREADS")]
    pub threads: Option<usize>,
    /// Timed epochs per configuration (after one warm-up epoch); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Only these configurations: small-128, small-1024, wide-1024 (comma-separated).
    #[arg(long)]
    pub only: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Use random data even when Fashion-MNIST is installed.
    #[arg(long)]
    pub synthetic: bool,
    /// Where to run: cpu, cuda or cuda:N (needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Precision of the GPU's matrix products: f32 or tf32.
    #[arg(long, default_value = "f32")]
    pub precision: String,
}

/// The benchmark configurations: name, hidden widths, batch size.
pub const CONFIGS: &[(&str, &[usize], usize)] = &[
    ("small-128", &[256, 128], 128),
    ("small-1024", &[256, 128], 1024),
    ("wide-1024", &[1024, 1024, 1024], 1024),
];

/// Multiply-adds of one training step per sample: forward X·Wᵀ for every layer, ∂W = Gᵀ·X for
/// every layer, ∂X = G·W for every layer but the first.
fn train_macs_per_sample(widths: &[usize]) -> f64 {
    let mut macs = 0.0;
    for (i, w) in widths.windows(2).enumerate() {
        let m = (w[0] * w[1]) as f64;
        macs += if i == 0 { 2.0 * m } else { 3.0 * m };
    }
    macs
}

/// Peak fp32 multiply-add throughput of this machine with `threads` threads, in GFLOP/s
/// (2 FLOPs per FMA), measured with independent FMA chains.
pub fn measure_peak(threads: usize) -> f64 {
    // The best of three runs: a shared machine only ever makes a run slower.
    (0..3).map(|_| peak_once(threads)).fold(0.0, f64::max)
}

fn peak_once(threads: usize) -> f64 {
    const ITERS: usize = 20_000_000;
    let lanes = fma_lanes();
    let t0 = Instant::now();
    // One OS thread per core, so every core really runs its share at the same time.
    let total: f32 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| s.spawn(move || fma_chains(ITERS, i as f32 * 1e-9)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    });
    std::hint::black_box(total);
    let secs = t0.elapsed().as_secs_f64();
    threads as f64 * ITERS as f64 * 12.0 * lanes as f64 * 2.0 / secs / 1e9
}

/// `f32` lanes of the widest FMA this CPU has (the width the product kernels use).
fn fma_lanes() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return 16;
        }
    }
    8
}

fn fma_chains(iters: usize, seed: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was just detected.
            return unsafe { fma_chains_avx512(iters, seed) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the features were just detected.
            return unsafe { fma_chains_avx2(iters, seed) };
        }
    }
    fma_chains_generic(iters, seed)
}

/// [`fma_chains_generic`] 16 lanes wide, written with intrinsics (the compiler turns the plain
/// loop at this width into one latency-bound chain).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn fma_chains_avx512(iters: usize, seed: f32) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_ps(seed); 12];
    let a = _mm512_set1_ps(std::hint::black_box(0.999_999f32));
    let b = _mm512_set1_ps(std::hint::black_box(1e-7f32));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    acc.iter().map(|&v| _mm512_reduce_add_ps(v)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains_avx2(iters: usize, seed: f32) -> f32 {
    fma_chains_generic(iters, seed)
}

/// 12 independent chains of 8-lane multiply-adds (enough to hide the FMA latency on two units).
#[inline(always)]
fn fma_chains_generic(iters: usize, seed: f32) -> f32 {
    let mut acc = [[seed; 8]; 12];
    let (a, b) = (
        std::hint::black_box(0.999_999f32),
        std::hint::black_box(1e-7f32),
    );
    for _ in 0..iters {
        for chain in acc.iter_mut() {
            for v in chain.iter_mut() {
                *v = v.mul_add(a, b);
            }
        }
    }
    acc.iter().flatten().sum()
}

fn load(synthetic: bool) -> Result<(Dataset<f32>, bool)> {
    if !synthetic && std::path::Path::new(FASHION_MNIST_DIR).is_dir() {
        let set = neuron::idx::load_idx_dir(FASHION_MNIST_DIR, neuron::idx::Split::Train)?;
        let labels: Vec<usize> = set.labels.iter().map(|&l| l as usize).collect();
        return Ok((Dataset::classification(set.x, &labels)?, true));
    }
    let mut r = Rng::new(1);
    let x = Matrix::from_vec(
        60000,
        784,
        (0..60000 * 784).map(|_| r.uniform() as f32).collect(),
    )?;
    let labels: Vec<usize> = (0..60000).map(|_| r.below(10)).collect();
    Ok((Dataset::classification(x, &labels)?, false))
}

/// The `q`-quantile of sorted, non-empty values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile(&v, 0.5)
}

pub fn run(a: &BenchArgs) -> Result<()> {
    let threads = crate::init_threads(a.threads)?;
    if a.epochs == 0 {
        anyhow::bail!("--epochs must be at least 1");
    }
    let tf32 = crate::device::tf32(&a.precision)?;
    crate::device::dispatch(&a.device, threads, tf32, BenchJob { a, threads })
}

struct BenchJob<'a> {
    a: &'a BenchArgs,
    threads: usize,
}

impl OnBackend for BenchJob<'_> {
    type Out = ();
    fn run<B: Backend<E = f32>>(self, be: B) -> Result<()> {
        bench_on(self.a, self.threads, be)
    }
}

fn bench_on<B: Backend<E = f32>>(a: &BenchArgs, threads: usize, be: B) -> Result<()> {
    let cpu = a.device == "cpu";
    let (data, real) = load(a.synthetic)?;
    let on = be.name();
    if !a.json {
        if real {
            println!("Fashion-MNIST, 60000 training images, Adam lr 1e-3, ReLU, softmax cross-entropy, on {on}");
        } else if a.synthetic {
            println!("random data of Fashion-MNIST's shapes (--synthetic), on {on}");
        } else {
            println!("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): random data of the same shapes, on {on}");
        }
    }
    // The share of peak is reported for the CPU, whose peak is measured here.
    let peak = if cpu { measure_peak(threads) } else { f64::NAN };
    if !a.json {
        if cpu {
            println!("measured fp32 FMA peak: {peak:.0} GFLOP/s\n");
        } else {
            println!();
        }
        println!(
            "{:<11} {:>9} {:>10} {:>9} {:>7} {:>10} {:>12}",
            "config", "s/epoch", "samples/s", "GFLOP/s", "peak", "train acc", "min s/epoch"
        );
    }
    let only: Option<Vec<&str>> = a.only.as_deref().map(|s| s.split(',').collect());
    let mut results = Vec::new();
    for &(name, hidden, batch) in CONFIGS {
        if only.as_ref().is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let mut b = Sequential::builder(784);
        for &h in hidden {
            b = b.dense(h).relu();
        }
        let mut model = b
            .dense(10)
            .loss(Loss::cross_entropy())
            .seed(1)
            .build(be.clone())?;
        let mut opt = Optimizer::new(OptimizerConfig::adam(1e-3))?;
        // One fit of warm-up + timed epochs: the data are uploaded once, as in real training.
        let cfg = FitConfig {
            epochs: a.epochs + 1,
            batch_size: batch,
            seed: 0,
            drop_last: true,
            ..FitConfig::default()
        };
        let history = model.fit(&mut opt, &data, None, &cfg, &mut Silent)?;
        let times: Vec<f64> = history.epochs.iter().skip(1).map(|r| r.seconds).collect();
        let s = median(times.clone());
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        let samples = (data.len() / batch * batch) as f64;
        let mut widths = vec![784];
        widths.extend_from_slice(hidden);
        widths.push(10);
        let gflops = 2.0 * train_macs_per_sample(&widths) * samples / s / 1e9;
        let acc = model.evaluate(&data)?.accuracy.unwrap_or(0.0);
        if !a.json {
            println!(
                "{name:<11} {s:>9.3} {:>10.0} {gflops:>9.1} {:>7} {:>9.2}% {min:>12.3}",
                samples / s,
                if cpu {
                    format!("{:.1}%", 100.0 * gflops / peak)
                } else {
                    "-".into()
                },
                acc * 100.0
            );
        }
        results.push(json!({"config": name, "layers": widths, "batch": batch, "s_per_epoch": s, "s_per_epoch_all": times,
            "samples_per_s": samples / s, "gflops": gflops, "share_of_peak": if cpu { json!(gflops / peak) } else { json!(null) }, "train_accuracy": acc}));
    }
    // Prediction latency and throughput of the small model.
    let mut model = Sequential::builder(784)
        .dense(256)
        .relu()
        .dense(128)
        .relu()
        .dense(10)
        .loss(Loss::cross_entropy())
        .seed(1)
        .build(be.clone())?;
    let one = Matrix::from_vec(1, 784, data.x.row(0).to_vec())?;
    for _ in 0..200 {
        model.predict(&one)?;
    }
    let n = 5000;
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let row = Matrix::from_vec(1, 784, data.x.row(i % data.len()).to_vec())?;
        let t0 = Instant::now();
        std::hint::black_box(model.predict(&row)?);
        lat.push(t0.elapsed().as_secs_f64() * 1e6);
    }
    lat.sort_by(f64::total_cmp);
    let (latency, p10, p90) = (
        quantile(&lat, 0.5),
        quantile(&lat, 0.1),
        quantile(&lat, 0.9),
    );
    let t0 = Instant::now();
    let k = 10000.min(data.len());
    let xs = data.x.select_rows(&(0..k).collect::<Vec<_>>());
    std::hint::black_box(model.predict(&xs)?);
    let throughput = k as f64 / t0.elapsed().as_secs_f64();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
            "data": if real { "fashion-mnist" } else { "random" }, "threads": threads, "device": on,
            "peak_gflops": if cpu { json!(peak) } else { json!(null) },
            "configs": results, "predict_latency_us": latency, "predict_latency_p10_us": p10,
            "predict_latency_p90_us": p90, "predict_samples_per_s": throughput}))?
        );
    } else {
        println!("\nprediction, 784-256-128-10: single sample {latency:.1} µs (median of {n}; 10 % of calls under {p10:.1}, 90 % under {p90:.1}), batches of 1024: {throughput:.0} samples/s");
    }
    Ok(())
}
