//! Whether overlapping the gradient's all-reduce with the backward pass would pay on this
//! machine: each process times training steps of a model (forward and backward on its share of a
//! batch, on one thread), then
//! - **in turn**: the step, then the all-reduce of a gradient of the model's size, as
//!   `neuron train` does under `mpirun`;
//! - **overlapped**: a non-blocking all-reduce (`MPI_Iallreduce`) started before the step and
//!   waited for after it: the most any overlap could hide (a real one must wait for each layer's
//!   gradient before sending it).
//!
//! Prints one JSON line (from rank 0): the medians over `REPS` steps of the step alone, the
//! all-reduce alone, and the two in turn and overlapped (each step's slowest process).
//!
//! `mpirun -np 2 target/release/examples/overlap MODEL ROWS [REPS]`, MODEL `small` or `wide`
//! (build: `cargo build --release -p neuron-cli --features mpi --example overlap`)

use std::time::Instant;

use neuron::mpi::collective::SystemOperation;
use neuron::mpi::traits::{Communicator, CommunicatorCollectives};
use neuron::{Cpu, Loss, Matrix, Sequential};

/// The slowest process's time of each step, sorted; its median.
fn median_of_slowest(world: &impl CommunicatorCollectives, times: &[f64]) -> f64 {
    let mut slowest = vec![0.0f64; times.len()];
    world.all_reduce_into(times, &mut slowest[..], SystemOperation::max());
    slowest.sort_by(f64::total_cmp);
    slowest[slowest.len() / 2]
}

fn main() -> neuron::Result<()> {
    let arg = |i: usize| std::env::args().nth(i);
    let model = arg(1).unwrap_or_else(|| "wide".into());
    let rows: usize = arg(2).and_then(|s| s.parse().ok()).unwrap_or(512).max(1);
    let reps: usize = arg(3).and_then(|s| s.parse().ok()).unwrap_or(20).max(1);
    let hidden: &[usize] = if model == "small" {
        &[256, 128]
    } else {
        &[1024, 1024, 1024]
    };
    let universe = neuron::mpi::initialize().expect("MPI could not be initialised");
    let world = universe.world();
    let mut b = Sequential::builder(784);
    for &h in hidden {
        b = b.dense(h).relu();
    }
    let be = Cpu::<f32>::with_threads(1);
    let mut m = b.dense(10).loss(Loss::cross_entropy()).seed(1).build(be)?;
    let x = Matrix::from_vec(
        rows,
        784,
        (0..rows * 784).map(|i| (i % 255) as f32 / 255.0).collect(),
    )?;
    let y = Matrix::from_vec(rows, 1, (0..rows).map(|i| (i % 10) as f32).collect())?;
    let floats: usize = m.params()?.iter().map(Vec::len).sum();
    let (send, mut sum) = (vec![1.0f32; floats], vec![0.0f32; floats]);
    // The step alone, the all-reduce alone, the two in turn, the two overlapped.
    let mut times: [Vec<f64>; 4] = Default::default();
    for i in 0..reps + 3 {
        world.barrier();
        let t = Instant::now();
        m.forward_backward(&x, &y)?;
        let step = t.elapsed().as_secs_f64();
        world.barrier();
        let t = Instant::now();
        world.all_reduce_into(&send[..], &mut sum[..], SystemOperation::sum());
        let ar = t.elapsed().as_secs_f64();
        world.barrier();
        let t = Instant::now();
        m.forward_backward(&x, &y)?;
        world.all_reduce_into(&send[..], &mut sum[..], SystemOperation::sum());
        let a = t.elapsed().as_secs_f64();
        world.barrier();
        let t = Instant::now();
        neuron::mpi::request::scope(|scope| {
            let op = SystemOperation::sum();
            let sent = world.immediate_all_reduce_into(scope, &send[..], &mut sum[..], op);
            let step = m.forward_backward(&x, &y);
            sent.wait();
            step
        })?;
        let b = t.elapsed().as_secs_f64();
        if i >= 3 {
            for (v, t) in times.iter_mut().zip([step, ar, a, b]) {
                v.push(t);
            }
        }
    }
    let [step, ar, a, b] = times.map(|t| median_of_slowest(&world, &t));
    if world.rank() == 0 {
        println!(
            "{{\"model\": \"{model}\", \"rows_per_process\": {rows}, \"processes\": {}, \"gradient_bytes\": {}, \"step_s\": {step:.6}, \"all_reduce_s\": {ar:.6}, \"in_turn_s\": {a:.6}, \"overlapped_s\": {b:.6}}}",
            world.size(),
            4 * floats
        );
    }
    Ok(())
}
