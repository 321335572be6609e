//! Times the gradient sum of one training step in an MPI job: one `MPI_Allreduce` of a buffer of
//! `FLOATS` f32 values through [`neuron::MpiSync`], as every step of `neuron train` under
//! `mpirun` does. Prints one JSON line (from rank 0) with the median and 90th percentile over
//! `REPS` timed calls, each started together after a barrier.
//!
//! `mpirun -np 2 target/release/examples/allreduce FLOATS [REPS]`
//! (build: `cargo build --release -p neuron-cli --features mpi --example allreduce`)

use std::time::Instant;

use neuron::mpi::traits::{Communicator, CommunicatorCollectives};
use neuron::GradientSync;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: allreduce FLOATS [REPS]"))
        .collect();
    let floats = args.first().copied().unwrap_or(235_146);
    let reps = args.get(1).copied().unwrap_or(100).max(1);
    let universe = neuron::mpi::initialize().expect("MPI could not be initialised");
    let world = universe.world();
    let mut sync = neuron::MpiSync::<f32>::new(universe.world());
    let mut buf = vec![1.0f32; floats];
    let mut times = Vec::with_capacity(reps);
    for i in 0..reps + 5 {
        buf.fill(1.0);
        world.barrier();
        let t = Instant::now();
        sync.all_reduce_sum(&mut buf).expect("all-reduce");
        if i >= 5 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    assert!(buf.iter().all(|&v| v == world.size() as f32), "wrong sum");
    // A step waits for the slowest process: take each call's longest time over the ranks.
    let mut slowest = vec![0.0f64; reps];
    world.all_reduce_into(
        &times[..],
        &mut slowest[..],
        neuron::mpi::collective::SystemOperation::max(),
    );
    slowest.sort_by(f64::total_cmp);
    if world.rank() == 0 {
        let at = |q: f64| slowest[((reps - 1) as f64 * q).round() as usize];
        println!(
            "{{\"floats\": {floats}, \"bytes\": {}, \"ranks\": {}, \"reps\": {reps}, \"median_s\": {:.9}, \"p90_s\": {:.9}}}",
            4 * floats,
            world.size(),
            at(0.5),
            at(0.9)
        );
    }
}
