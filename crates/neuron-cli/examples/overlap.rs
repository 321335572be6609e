//! Whether overlapping the gradient's all-reduce with the backward pass would pay on this
//! machine: each process times training steps of a model (forward and backward on its share of a
//! batch, on one thread), then
//! - **in turn**: the step, then the all-reduce of a gradient of the model's size, as
//!   `neuron train` does under `mpirun`;
//! - **overlapped**, the most any overlap could hide (a real one must wait for each layer's
//!   gradient before sending it), two ways: a non-blocking all-reduce (`MPI_Iallreduce`) started
//!   before the step and waited for after it, and a blocking one on a second thread of the
//!   process while the step computes.
//!
//! Prints one JSON line (from rank 0): the medians over `REPS` steps of the step alone, the
//! all-reduce alone, the two in turn, and the two overlapped each way (each step's slowest
//! process).
//!
//! `mpirun -np 2 target/release/examples/overlap MODEL ROWS [REPS]`, MODEL `small` or `wide`
//! (build: `cargo build --release -p neuron-cli --features mpi --example overlap`)

use std::time::Instant;

use neuron::mpi::collective::SystemOperation;
use neuron::mpi::topology::SimpleCommunicator;
use neuron::mpi::traits::{Communicator, CommunicatorCollectives};
use neuron::mpi::Threading;
use neuron::{Cpu, Loss, Matrix, Result, Sequential};

/// The slowest process's time of each step, sorted; its median.
fn median_of_slowest(world: &SimpleCommunicator, times: &[f64]) -> f64 {
    let mut slowest = vec![0.0f64; times.len()];
    world.all_reduce_into(times, &mut slowest[..], SystemOperation::max());
    slowest.sort_by(f64::total_cmp);
    slowest[slowest.len() / 2]
}

/// Seconds that `f` takes, started together on every process.
fn timed(world: &SimpleCommunicator, f: impl FnOnce() -> Result<()>) -> Result<f64> {
    world.barrier();
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// The sum of `send` over the processes into `sum`.
fn all_reduce(world: &SimpleCommunicator, send: &[f32], sum: &mut [f32]) -> Result<()> {
    world.all_reduce_into(send, sum, SystemOperation::sum());
    Ok(())
}

/// The network: 784 inputs, `hidden` ReLU layers, 10 classes; one thread.
fn network(hidden: &[usize]) -> Result<Sequential<Cpu<f32>>> {
    let mut b = Sequential::builder(784);
    for &h in hidden {
        b = b.dense(h).relu();
    }
    let be = Cpu::<f32>::with_threads(1);
    b.dense(10).loss(Loss::cross_entropy()).seed(1).build(be)
}

fn main() -> Result<()> {
    let arg = |i: usize| std::env::args().nth(i);
    let model = arg(1).unwrap_or_else(|| "wide".into());
    let rows: usize = arg(2).and_then(|s| s.parse().ok()).unwrap_or(512).max(1);
    let reps: usize = arg(3).and_then(|s| s.parse().ok()).unwrap_or(20).max(1);
    let hidden: &[usize] = if model == "small" {
        &[256, 128]
    } else {
        &[1024, 1024, 1024]
    };
    let (universe, level) = neuron::mpi::initialize_with_threading(Threading::Serialized)
        .expect("MPI could not be initialised");
    assert!(level >= Threading::Serialized, "MPI offers only {level:?}");
    let world = universe.world();
    let mut m = network(hidden)?;
    let pixels = (0..rows * 784).map(|i| (i % 255) as f32 / 255.0).collect();
    let x = Matrix::from_vec(rows, 784, pixels)?;
    let y = Matrix::from_vec(rows, 1, (0..rows).map(|i| (i % 10) as f32).collect())?;
    let floats: usize = m.params()?.iter().map(Vec::len).sum();
    let (send, mut sum) = (vec![1.0f32; floats], vec![0.0f32; floats]);
    // The step alone, the all-reduce alone, the two in turn, non-blocking, on a thread.
    let mut times: [Vec<f64>; 5] = Default::default();
    for i in 0..reps + 3 {
        let w = &world;
        let step = timed(w, || m.forward_backward(&x, &y).map(drop))?;
        let ar = timed(w, || all_reduce(w, &send, &mut sum))?;
        let in_turn = timed(w, || {
            m.forward_backward(&x, &y)?;
            all_reduce(w, &send, &mut sum)
        })?;
        let immediate = timed(w, || {
            neuron::mpi::request::scope(|scope| {
                let op = SystemOperation::sum();
                let sent = w.immediate_all_reduce_into(scope, &send[..], &mut sum[..], op);
                let step = m.forward_backward(&x, &y);
                sent.wait();
                step.map(drop)
            })
        })?;
        let threaded = timed(w, || {
            std::thread::scope(|s| {
                let comm = s.spawn(|| all_reduce(&SimpleCommunicator::world(), &send, &mut sum));
                let step = m.forward_backward(&x, &y);
                comm.join().expect("the all-reduce thread")?;
                step.map(drop)
            })
        })?;
        if i >= 3 {
            for (v, t) in times
                .iter_mut()
                .zip([step, ar, in_turn, immediate, threaded])
            {
                v.push(t);
            }
        }
    }
    let [step, ar, a, b, c] = times.map(|t| median_of_slowest(&world, &t));
    if world.rank() == 0 {
        println!(
            "{{\"model\": \"{model}\", \"rows_per_process\": {rows}, \"processes\": {}, \"gradient_bytes\": {}, \"step_s\": {step:.6}, \"all_reduce_s\": {ar:.6}, \"in_turn_s\": {a:.6}, \"immediate_s\": {b:.6}, \"thread_s\": {c:.6}}}",
            world.size(),
            4 * floats
        );
    }
    Ok(())
}
