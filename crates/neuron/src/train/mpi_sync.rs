//! [`MpiSync`]: workers that are the processes of an MPI job (started by `mpirun` or `srun`),
//! combining their gradients with `MPI_Allreduce` on one flat buffer per step.
//!
//! The crate re-exports [`mpi`] (rsmpi) so that front ends set the job up with the same bindings.

use mpi::collective::SystemOperation;
use mpi::datatype::Equivalence;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};

use super::sync::GradientSync;
use crate::error::{NeuronError, Result};
use crate::float::Float;

/// One process's handle on the gradient sum of an MPI job. Every process calls
/// [`GradientSync::all_reduce_sum`] at the same step with the same length; MPI sums in an order
/// fixed by the job's size, so repeated runs with the same number of processes are bit-identical.
///
/// A process that dies makes the launcher end the whole job (MPI's default error handler), so
/// the others never wait forever.
pub struct MpiSync<E> {
    world: SimpleCommunicator,
    send: Vec<E>,
}

impl<E: Float + Equivalence> MpiSync<E> {
    /// The sum over the processes of `world` (usually the universe's world).
    pub fn new(world: SimpleCommunicator) -> Self {
        MpiSync {
            world,
            send: Vec::new(),
        }
    }
}

impl<E: Float + Equivalence> GradientSync<E> for MpiSync<E> {
    fn workers(&self) -> usize {
        self.world.size() as usize
    }

    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn all_reduce_sum(&mut self, buf: &mut [E]) -> Result<()> {
        if i32::try_from(buf.len()).is_err() {
            return Err(NeuronError::arg(format!(
                "a gradient of {} values is too large for one MPI message",
                buf.len()
            )));
        }
        self.send.clear();
        self.send.extend_from_slice(buf);
        self.world
            .all_reduce_into(&self.send[..], buf, SystemOperation::sum());
        Ok(())
    }
}
