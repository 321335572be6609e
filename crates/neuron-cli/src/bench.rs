//! `neuron bench`: training speed (s/epoch, samples/s, GFLOP/s, share of the machine's peak) and
//! prediction latency, on Fashion-MNIST or, when it is absent, random data of the same shapes.

use std::time::Instant;

use anyhow::Result;
use neuron::profile::Profiled;
use neuron::{
    Backend, Control, Dataset, Event, FitConfig, Loss, Matrix, Optimizer, OptimizerConfig, Rng,
    Sequential,
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
    /// Also print where each configuration's training time goes, operation by operation.
    #[arg(long)]
    pub ops: bool,
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
    let t0 = Instant::now();
    // One OS thread per core, so every core really runs its share at the same time.
    let (total, lanes) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| s.spawn(move || fma_chains(ITERS, i as f32 * 1e-9)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((0.0, 0)))
            .fold((0.0f32, 0), |(t, l), (v, lanes)| (t + v, l.max(lanes)))
    });
    std::hint::black_box(total);
    let secs = t0.elapsed().as_secs_f64();
    threads as f64 * ITERS as f64 * 12.0 * lanes as f64 * 2.0 / secs / 1e9
}

/// 12 chains of `iters` multiply-adds at the widest vector width this CPU has (the width the
/// product kernels use): their sum, and the `f32` lanes per multiply-add.
fn fma_chains(iters: usize, seed: f32) -> (f32, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was just detected.
            return (unsafe { fma_chains_avx512(iters, seed) }, 16);
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the features were just detected.
            return (unsafe { fma_chains_avx2(iters, seed) }, 8);
        }
    }
    (fma_chains_generic(iters, seed), 8)
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
        let set =
            neuron::data::idx::load_idx_dir(FASHION_MNIST_DIR, neuron::data::idx::Split::Train)?;
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

/// Trains one configuration for a warm-up epoch and `epochs` timed ones, in one `fit` so the data
/// are uploaded once, as in real training; `warmed_up` runs when the warm-up epoch ends and
/// `trained` when training ends. Returns the timed epochs' seconds and the training accuracy.
fn train_config<C: Backend<E = f32>>(
    be: C,
    hidden: &[usize],
    batch: usize,
    epochs: usize,
    data: &Dataset<f32>,
    mut warmed_up: impl FnMut(),
    trained: impl FnOnce(),
) -> Result<(Vec<f64>, f64)> {
    let mut b = Sequential::builder(784);
    for &h in hidden {
        b = b.dense(h).relu();
    }
    let mut model = b.dense(10).loss(Loss::cross_entropy()).seed(1).build(be)?;
    let mut opt = Optimizer::new(OptimizerConfig::adam(1e-3))?;
    let cfg = FitConfig {
        epochs: epochs + 1,
        batch_size: batch,
        seed: 0,
        drop_last: true,
        ..FitConfig::default()
    };
    let mut observer = |e: &Event<'_>| {
        if matches!(e, Event::EpochEnd(r) if r.epoch == 1) {
            warmed_up();
        }
        Control::Continue
    };
    let history = model.fit(&mut opt, data, None, &cfg, &mut observer)?;
    trained();
    let times = history.epochs.iter().skip(1).map(|r| r.seconds).collect();
    Ok((times, model.evaluate(data)?.accuracy.unwrap_or(0.0)))
}

/// The operations of `epochs` timed epochs that took `total` seconds, the slowest first; those
/// under 0.1 % of the time are summed on one line.
fn print_ops(ops: &[neuron::profile::OpTime], total: f64, epochs: usize) {
    let e = epochs as f64;
    let (shown, rest): (Vec<_>, Vec<_>) = ops.iter().partition(|o| o.seconds >= 1e-3 * total);
    for o in &shown {
        println!(
            "    {:<32} {:>8.4} s/epoch {:>6.1}% {:>9.0} calls/epoch",
            o.name,
            o.seconds / e,
            100.0 * o.seconds / total,
            o.calls as f64 / e
        );
    }
    let rest_s: f64 = rest.iter().map(|o| o.seconds).sum();
    let measured: f64 = ops.iter().map(|o| o.seconds).sum();
    println!(
        "    {:<32} {:>8.4} s/epoch {:>6.1}%\n    {:<32} {:>8.4} s/epoch {:>6.1}%",
        format!("{} other operations", rest.len()),
        rest_s / e,
        100.0 * rest_s / total,
        "outside the backend",
        (total - measured).max(0.0) / e,
        100.0 * (total - measured).max(0.0) / total
    );
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
        let (times, acc, ops) = if a.ops {
            let p = Profiled::new(be.clone());
            let mut report = Vec::new();
            let (times, acc) = train_config(
                p.clone(),
                hidden,
                batch,
                a.epochs,
                &data,
                || p.reset(),
                || report = p.report(),
            )?;
            (times, acc, Some(report))
        } else {
            let (times, acc) =
                train_config(be.clone(), hidden, batch, a.epochs, &data, || {}, || {})?;
            (times, acc, None)
        };
        let s = median(times.clone());
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        let samples = (data.len() / batch * batch) as f64;
        let mut widths = vec![784];
        widths.extend_from_slice(hidden);
        widths.push(10);
        let gflops = 2.0 * train_macs_per_sample(&widths) * samples / s / 1e9;
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
        let mut result = json!({"config": name, "layers": widths, "batch": batch, "s_per_epoch": s, "s_per_epoch_all": times,
            "samples_per_s": samples / s, "gflops": gflops, "share_of_peak": if cpu { json!(gflops / peak) } else { json!(null) }, "train_accuracy": acc});
        if let Some(ops) = ops {
            let total: f64 = times.iter().sum();
            let per_epoch = |x: f64| x / times.len() as f64;
            if !a.json {
                print_ops(&ops, total, times.len());
            }
            result["ops"] = ops
                .iter()
                .map(|o| {
                    json!({"op": o.name, "calls_per_epoch": per_epoch(o.calls as f64),
                    "s_per_epoch": per_epoch(o.seconds), "share": o.seconds / total})
                })
                .collect();
        }
        results.push(result);
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
