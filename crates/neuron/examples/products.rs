//! The CPU backend's matrix products alone, on the shapes of `neuron bench`'s models, with the
//! operands in cache ("hot") and after 64 MiB of other data were touched ("cold", as in a training
//! step, where the batch and the gradients come from the last-level cache). GFLOP/s, median and
//! best of 7 rounds. `bench/products_torch.py` does the same with PyTorch (MKL).
//!
//! ```sh
//! cargo run --release -p neuron --example products -- 2     # threads (default: all cores)
//! ```

use std::time::Instant;

use neuron::{Backend, Cpu, Operand};

/// name, m, n, k, A transposed, B transposed: `C[m×n] = op(A)·op(B)`.
const SHAPES: &[(&str, usize, usize, usize, bool, bool)] = &[
    ("b1024 forward X·Wᵀ 784→256", 1024, 256, 784, false, true),
    ("b1024 weight grad Gᵀ·X", 256, 784, 1024, true, false),
    ("b1024 input grad G·W 256→128", 1024, 256, 128, false, false),
    ("wide forward 1024→1024", 1024, 1024, 1024, false, true),
    ("wide weight grad", 1024, 1024, 1024, true, false),
    ("wide input grad", 1024, 1024, 1024, false, false),
    ("b128 forward 784→256", 128, 256, 784, false, true),
    ("b128 weight grad 784→256", 256, 784, 128, true, false),
];

fn main() -> neuron::Result<()> {
    let cpu = match std::env::args().nth(1).and_then(|s| s.parse().ok()) {
        Some(t) => Cpu::<f32>::with_threads(t),
        None => Cpu::<f32>::new(),
    };
    println!("{}; GFLOP/s, median and best of 7", cpu.name());
    let mut junk = vec![1f32; 16 << 20];
    for &(name, m, n, k, ta, tb) in SHAPES {
        let a = cpu.upload(
            &(0..m * k)
                .map(|i| (i % 13) as f32 * 0.01)
                .collect::<Vec<_>>(),
        )?;
        let b = cpu.upload(
            &(0..k * n)
                .map(|i| (i % 11) as f32 * 0.01)
                .collect::<Vec<_>>(),
        )?;
        let mut c = cpu.alloc(m * n)?;
        let flops = 2.0 * (m * n * k) as f64;
        let reps = ((1e10 / flops) as usize).max(3);
        let mut rates = [Vec::new(), Vec::new()];
        for round in 0..14 {
            let cold = round % 2;
            let mut seconds = 0.0;
            for _ in 0..reps {
                if cold == 1 {
                    junk.iter_mut().step_by(16).for_each(|v| *v += 1.0);
                }
                let t0 = Instant::now();
                let (oa, ob) = (
                    Operand {
                        buf: &a,
                        transposed: ta,
                    },
                    Operand {
                        buf: &b,
                        transposed: tb,
                    },
                );
                cpu.matmul(m, n, k, oa, ob, &mut c, false);
                seconds += t0.elapsed().as_secs_f64();
            }
            rates[cold].push(flops * reps as f64 / seconds / 1e9);
        }
        for r in rates.iter_mut() {
            r.sort_by(f64::total_cmp);
        }
        println!(
            "{name:<32} hot {:6.1} {:6.1}   cold {:6.1} {:6.1}",
            rates[0][3], rates[0][6], rates[1][3], rates[1][6]
        );
    }
    std::hint::black_box(&junk);
    Ok(())
}
