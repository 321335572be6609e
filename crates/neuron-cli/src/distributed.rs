//! `neuron train` as one process of several: an MPI job started by `mpirun` or `srun` (with the
//! `mpi` feature). Every process reads the same data and encodes it the same way (checked), trains
//! on its share of each global batch, and the gradients are summed with `MPI_Allreduce`; process 0
//! alone prints and writes files.
//!
//! A process that fails exits with status 1 without finalizing MPI, so the launcher ends the
//! whole job instead of letting the others wait for it.

use std::sync::OnceLock;

use anyhow::{bail, Result};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// `--distributed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum DistributedArg {
    /// Join the MPI job when started by mpirun or srun with several processes.
    #[default]
    Auto,
    /// Train as one process, even under a launcher.
    Off,
}

/// This process's rank and the job's size, once it has joined a job of several processes.
static PLACE: OnceLock<(usize, usize)> = OnceLock::new();

/// `(rank, size)` when this process is one of several in a job.
pub fn place() -> Option<(usize, usize)> {
    PLACE.get().copied()
}

/// An error that process 0 has already reported for the whole job: the others exit quietly.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reported by process 0")
    }
}

impl std::error::Error for Reported {}

/// A run's result on a process other than 0: every process stops on a diverged loss, and process
/// 0 reports it, so here it becomes [`Reported`]; other errors stay as they are.
pub fn reported_by_zero<T>(fitted: neuron::Result<T>) -> Result<T> {
    fitted.map_err(|e| match e {
        neuron::NeuronError::Diverged(_) => anyhow::anyhow!(Reported),
        e => e.into(),
    })
}

/// The gradient sync held in `sync` (from [`Cluster::sync`]), as the training loop takes it.
pub fn as_dyn(
    sync: &mut Option<Box<dyn neuron::GradientSync<f32>>>,
) -> Option<&mut dyn neuron::GradientSync<f32>> {
    sync.as_mut()
        .map(|s| s.as_mut() as &mut dyn neuron::GradientSync<f32>)
}

/// The number of processes a launcher started, and the launcher's name, read from the variables
/// that mpirun (Open MPI), MPICH's launcher and srun set.
fn launched() -> Option<(usize, &'static str)> {
    let vars = [
        ("OMPI_COMM_WORLD_SIZE", "mpirun"),
        ("PMI_SIZE", "the MPI launcher"),
        ("SLURM_STEP_NUM_TASKS", "srun"),
    ];
    vars.iter().find_map(|(var, who)| {
        let n = std::env::var(var).ok()?.trim().parse::<usize>().ok()?;
        Some((n, *who))
    })
}

/// A job of several processes that this one has joined.
pub struct Cluster {
    /// This process's rank, from 0.
    pub rank: usize,
    /// How many processes train together.
    pub size: usize,
    #[cfg(feature = "mpi")]
    /// Taken by [`Cluster::finalize`]; never dropped otherwise (see [`Drop`]).
    universe: Option<neuron::mpi::environment::Universe>,
}

/// Joins the job this process was started in, if any: `None` when it runs alone (no launcher,
/// a launcher with one process, or `--distributed off`).
pub fn join(mode: DistributedArg) -> Result<Option<Cluster>> {
    let Some((n, who)) = launched().filter(|(n, _)| *n > 1) else {
        return Ok(None);
    };
    if mode == DistributedArg::Off {
        return Ok(None);
    }
    connect(n, who)
}

#[cfg(not(feature = "mpi"))]
fn connect(n: usize, who: &str) -> Result<Option<Cluster>> {
    bail!(
        "started by {who} as one of {n} processes, but this neuron was built without MPI: build it with `cargo build --release --features mpi`, or pass --distributed off to train {n} separate copies"
    )
}

#[cfg(feature = "mpi")]
fn connect(n: usize, who: &str) -> Result<Option<Cluster>> {
    use neuron::mpi::environment::Threading;
    use neuron::mpi::traits::Communicator;
    let Some((universe, _)) = neuron::mpi::initialize_with_threading(Threading::Funneled) else {
        bail!("started by {who} as one of {n} processes, but MPI was already initialised");
    };
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let _ = PLACE.set((rank, size));
    Ok(Some(Cluster {
        rank,
        size,
        universe: Some(universe),
    }))
}

#[cfg(not(feature = "mpi"))]
impl Cluster {
    /// Never called: without MPI there is no cluster to join.
    pub fn sync(&self) -> Box<dyn neuron::GradientSync<f32>> {
        Box::new(neuron::NoSync)
    }

    /// Never called: without MPI there is no cluster to join.
    pub fn agree<T>(&self, outcome: Result<T>) -> Result<T> {
        outcome
    }

    /// Never called: without MPI there is no cluster to join.
    pub fn check_same(&self, _what: &str, _digest: u64) -> Result<()> {
        Ok(())
    }

    /// Never called: without MPI there is no cluster to join.
    pub fn finalize(self) {}
}

#[cfg(feature = "mpi")]
impl Cluster {
    /// The gradient sum over the job's processes.
    pub fn sync(&self) -> Box<dyn neuron::GradientSync<f32>> {
        Box::new(neuron::MpiSync::<f32>::new(self.world()))
    }

    /// Every process's `outcome` of a set-up step, agreed on: when any failed, all fail, process
    /// 0 reports the first failure (naming its process unless every one failed the same way), and
    /// the others return [`Reported`].
    pub fn agree<T>(&self, outcome: Result<T>) -> Result<T> {
        use neuron::mpi::traits::{Communicator, CommunicatorCollectives, Root};
        let world = self.world();
        let mut failed = vec![0u8; self.size];
        world.all_gather_into(&u8::from(outcome.is_err()), &mut failed[..]);
        let Some(first) = failed.iter().position(|&f| f == 1) else {
            return outcome;
        };
        let mut message = match &outcome {
            Err(e) => crate::error_line(e).into_bytes(),
            Ok(_) => Vec::new(),
        };
        let mut len = message.len() as u64;
        let root = world.process_at_rank(first as i32);
        root.broadcast_into(&mut len);
        message.resize(len as usize, 0);
        root.broadcast_into(&mut message[..]);
        if self.rank != 0 {
            bail!(Reported);
        }
        let text = String::from_utf8_lossy(&message).into_owned();
        match failed.iter().all(|&f| f == 1) {
            true => bail!("{text}"),
            false => bail!("process {first} of {}: {text}", self.size),
        }
    }

    /// Fails on every process unless all computed the same `digest` of `what`.
    pub fn check_same(&self, what: &str, digest: u64) -> Result<()> {
        use neuron::mpi::traits::CommunicatorCollectives;
        let mut all = vec![0u64; self.size];
        self.world().all_gather_into(&digest, &mut all[..]);
        let Some(other) = all.iter().position(|&d| d != all[0]) else {
            return Ok(());
        };
        if self.rank != 0 {
            bail!(Reported);
        }
        bail!(
            "process {other} of {} has different {what} from process 0: start every process with the same --data and options",
            self.size
        )
    }

    /// Ends MPI after a successful run (a failed process exits without it, so that the launcher
    /// ends the job rather than wait).
    pub fn finalize(mut self) {
        drop(self.universe.take());
    }

    fn world(&self) -> neuron::mpi::topology::SimpleCommunicator {
        match &self.universe {
            Some(u) => u.world(),
            None => unreachable!("the universe lives until finalize, which consumes the cluster"),
        }
    }
}

#[cfg(feature = "mpi")]
impl Drop for Cluster {
    /// A process leaving on an error does not finalize MPI: finalizing waits for the others, who
    /// may be waiting for this one. Its exit status makes the launcher end the job.
    fn drop(&mut self) {
        std::mem::forget(self.universe.take());
    }
}
