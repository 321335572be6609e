//! Combining gradients across workers: the [`GradientSync`] seam of the training loop, and
//! [`ThreadSync`], workers that are threads of one process.
//!
//! With `N` workers, each computes the gradient of the mean loss over its share of a global batch
//! of `R` rows (`r_k` rows). The loop weighs each by `r_k / R` and the sync sums them, which gives
//! exactly the gradient of the mean loss over the whole batch:
//!
//! ```text
//! ∂L/∂θ = (1/R) Σ_rows ∂l/∂θ = Σ_k (r_k / R) · g_k
//! ```
//!
//! Every worker then applies the same update, so all keep the same weights.

use std::sync::{Arc, Barrier, Mutex};

use crate::error::{NeuronError, Result};
use crate::float::Float;

/// Sums buffers across the workers of a training run, once per step (the gradients, and a flag
/// that any worker's loss diverged) and once per epoch (the loss sums).
///
/// Every worker calls [`GradientSync::all_reduce_sum`] the same number of times with buffers of
/// the same length. A run with `workers() == 1` never calls it: one process trains exactly as if
/// there were no sync at all.
pub trait GradientSync<E: Float> {
    /// How many workers take part (1: this one alone).
    fn workers(&self) -> usize;
    /// This worker's index, from 0 (only worker 0 reports and saves).
    fn rank(&self) -> usize;
    /// Replaces each element of `buf` by its sum over all workers.
    fn all_reduce_sum(&mut self, buf: &mut [E]) -> Result<()>;
}

/// One worker alone: nothing to combine.
pub struct NoSync;

impl<E: Float> GradientSync<E> for NoSync {
    fn workers(&self) -> usize {
        1
    }
    fn rank(&self) -> usize {
        0
    }
    fn all_reduce_sum(&mut self, _: &mut [E]) -> Result<()> {
        Ok(())
    }
}

/// A group of workers that are threads of one process, meeting at a barrier every step. The sums
/// are taken in worker order, so every worker gets bit-identical results, run after run.
///
/// If one worker stops calling (an error before its step), the others wait for it forever: use
/// it where every worker runs the same steps, as in tests and on one machine.
pub struct ThreadSync<E> {
    rank: usize,
    workers: usize,
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    slots: Mutex<Vec<Vec<E>>>,
    barrier: Barrier,
}

impl<E: Float> ThreadSync<E> {
    /// `n` workers (at least 1), one handle each, in rank order.
    pub fn group(n: usize) -> Vec<ThreadSync<E>> {
        let n = n.max(1);
        let shared = Arc::new(Shared {
            slots: Mutex::new(vec![Vec::new(); n]),
            barrier: Barrier::new(n),
        });
        (0..n)
            .map(|rank| ThreadSync {
                rank,
                workers: n,
                shared: shared.clone(),
            })
            .collect()
    }
}

impl<E: Float> GradientSync<E> for ThreadSync<E> {
    fn workers(&self) -> usize {
        self.workers
    }

    fn rank(&self) -> usize {
        self.rank
    }

    fn all_reduce_sum(&mut self, buf: &mut [E]) -> Result<()> {
        let poisoned = |_| NeuronError::arg("a worker thread panicked during a sync");
        {
            let mut slots = self.shared.slots.lock().map_err(poisoned)?;
            slots[self.rank].clear();
            slots[self.rank].extend_from_slice(buf);
        }
        self.shared.barrier.wait();
        let result = {
            let slots = self.shared.slots.lock().map_err(poisoned)?;
            if slots.iter().any(|s| s.len() != buf.len()) {
                Err(NeuronError::arg(
                    "workers synced buffers of different lengths (different models?)",
                ))
            } else {
                for (i, v) in buf.iter_mut().enumerate() {
                    *v = slots.iter().fold(E::zero(), |acc, s| acc + s[i]);
                }
                Ok(())
            }
        };
        // Nobody writes the next step's buffer before everyone has read this one.
        self.shared.barrier.wait();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_sum_in_worker_order() {
        let group = ThreadSync::<f64>::group(3);
        let handles: Vec<_> = group
            .into_iter()
            .map(|mut s| {
                std::thread::spawn(move || {
                    let r = s.rank() as f64;
                    let mut buf = vec![r, 10.0 * r];
                    s.all_reduce_sum(&mut buf).unwrap();
                    let mut again = vec![1.0];
                    s.all_reduce_sum(&mut again).unwrap();
                    (s.workers(), buf, again)
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), (3, vec![3.0, 30.0], vec![3.0]));
        }
    }

    #[test]
    fn different_lengths_are_an_error_for_everyone() {
        let handles: Vec<_> = ThreadSync::<f32>::group(2)
            .into_iter()
            .map(|mut s| {
                std::thread::spawn(move || {
                    let mut buf = vec![0.0; 1 + s.rank()];
                    s.all_reduce_sum(&mut buf).is_err()
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
    }
}
