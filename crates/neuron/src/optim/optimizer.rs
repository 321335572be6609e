//! The optimizer bound to a backend: per-parameter state and the update step.
//!
//! The update formulas are documented in [`crate::optim::sgd`], [`crate::optim::adam`] and [`crate::optim::rmsprop`];
//! the kernels are in the backend. Gradient clipping by global norm is folded into the update as a
//! gradient scale, so it costs one reduction and no extra pass.

#[allow(unused_imports)]
use num_traits::{Float as _, One as _, Zero as _};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::nn::layer::Param;
use crate::optim::adam::AdamHyper;
use crate::optim::rmsprop::RmsPropHyper;
use crate::optim::sgd::SgdHyper;

use super::config::{OptimizerConfig, OptimizerKind};

/// A host copy of an optimizer's complete state, exact (f64 holds every f32 exactly).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// The configuration.
    pub config: OptimizerConfig,
    /// Number of updates done.
    pub step: u64,
    /// Per parameter, per slot (velocity; or first and second moments; or mean square).
    pub slots: Vec<Vec<Vec<f64>>>,
}

/// What changes as an optimizer runs: the step counter and the state buffers. An optimizer and
/// its snapshots hold one each.
struct Running<B: Backend> {
    step: u64,
    /// Per parameter, per slot, on the backend.
    slots: Vec<Vec<B::Buf>>,
    /// Per parameter, its length.
    lens: Vec<usize>,
    /// A host state loaded by [`Optimizer::load_state`], uploaded at the next update.
    pending: Option<Vec<Vec<Vec<f64>>>>,
}

/// A copy of an optimizer's step counter and state buffers, kept where the backend computes (see
/// [`Optimizer::snapshot`]).
pub struct OptimizerSnapshot<B: Backend>(Running<B>);

/// An optimizer bound to a backend: configuration, step counter, and state buffers.
pub struct Optimizer<B: Backend> {
    config: OptimizerConfig,
    run: Running<B>,
}

impl<B: Backend> Optimizer<B> {
    /// An optimizer with fresh state. Fails if a hyper-parameter is out of range.
    pub fn new(config: OptimizerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Optimizer {
            config,
            run: Running {
                step: 0,
                slots: Vec::new(),
                lens: Vec::new(),
                pending: None,
            },
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Changes the base learning rate, keeping the optimizer's state (a learning rate adapted
    /// between epochs by the caller).
    pub fn set_lr(&mut self, lr: f64) -> Result<()> {
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(NeuronError::arg(format!(
                "learning rate must be a positive number, got {lr}"
            )));
        }
        self.config.lr = lr;
        Ok(())
    }

    /// Number of updates done so far.
    pub fn steps(&self) -> u64 {
        self.run.step
    }

    /// Applies one update to `params` with learning rate `lr`. Returns the global gradient norm
    /// when clipping is on (it is computed only then).
    pub(crate) fn update(
        &mut self,
        be: &B,
        params: &mut [Param<'_, B>],
        lr: f64,
    ) -> Result<Option<f64>> {
        let nslots = self.config.kind.slots();
        if let Some(host) = self.run.pending.take() {
            if host.len() != params.len()
                || host
                    .iter()
                    .zip(params.iter())
                    .any(|(s, p)| s.len() != nslots || s.iter().any(|v| v.len() != p.len))
            {
                return Err(NeuronError::Model(
                    "optimizer state does not match the model's parameters".into(),
                ));
            }
            self.run.slots = host
                .iter()
                .map(|s| {
                    s.iter()
                        .map(|v| be.upload(&v.iter().map(|&x| B::E::of(x)).collect::<Vec<_>>()))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()?;
        }
        if !self
            .run
            .lens
            .iter()
            .copied()
            .eq(params.iter().map(|p| p.len))
        {
            self.run.lens = params.iter().map(|p| p.len).collect();
        }
        if self.run.slots.len() != params.len() {
            self.run.slots = params
                .iter()
                .map(|p| {
                    (0..nslots)
                        .map(|_| be.alloc(p.len))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()?;
        }
        let mut norm = None;
        let mut scale = 1.0;
        if let Some(max) = self.config.clip_norm {
            let n = params
                .iter()
                .map(|p| be.sum_squares(p.len, p.grad))
                .sum::<f64>()
                .sqrt();
            if n > max {
                scale = max / (n + 1e-6);
            }
            norm = Some(n);
        }
        self.run.step += 1;
        let wd = self.config.weight_decay;
        for (p, slots) in params.iter_mut().zip(self.run.slots.iter_mut()) {
            match self.config.kind {
                OptimizerKind::Sgd
                | OptimizerKind::Momentum { .. }
                | OptimizerKind::Nesterov { .. } => {
                    let (momentum, nesterov) = match self.config.kind {
                        OptimizerKind::Momentum { momentum } => (momentum, false),
                        OptimizerKind::Nesterov { momentum } => (momentum, true),
                        _ => (0.0, false),
                    };
                    let h = SgdHyper {
                        lr,
                        momentum,
                        nesterov,
                        weight_decay: wd,
                        grad_scale: scale,
                    };
                    be.sgd_update(p.len, &h, p.value, p.grad, slots.first_mut());
                }
                OptimizerKind::Adam { beta1, beta2, eps }
                | OptimizerKind::AdamW { beta1, beta2, eps } => {
                    let h = AdamHyper {
                        lr,
                        beta1,
                        beta2,
                        eps,
                        weight_decay: wd,
                        decoupled: matches!(self.config.kind, OptimizerKind::AdamW { .. }),
                        step: self.run.step,
                        grad_scale: scale,
                    };
                    let (m, v) = slots.split_at_mut(1);
                    be.adam_update(p.len, &h, p.value, p.grad, &mut m[0], &mut v[0]);
                }
                OptimizerKind::RmsProp { rho, eps } => {
                    let h = RmsPropHyper {
                        lr,
                        rho,
                        eps,
                        weight_decay: wd,
                        grad_scale: scale,
                    };
                    be.rmsprop_update(p.len, &h, p.value, p.grad, &mut slots[0]);
                }
            }
        }
        Ok(norm)
    }

    /// A copy of the step counter and state buffers on the backend itself (no transfer to the
    /// host); [`Optimizer::restore`] puts it back.
    pub fn snapshot(&self, be: &B) -> Result<OptimizerSnapshot<B>> {
        let mut slots = Vec::with_capacity(self.run.slots.len());
        for (s, &len) in self.run.slots.iter().zip(&self.run.lens) {
            slots.push((0..s.len()).map(|_| be.alloc(len)).collect::<Result<_>>()?);
        }
        let mut snap = OptimizerSnapshot(Running {
            step: 0,
            slots,
            lens: self.run.lens.clone(),
            pending: None,
        });
        self.copy_to(be, &mut snap.0);
        Ok(snap)
    }

    /// [`Optimizer::snapshot`] into `snap`, reusing its buffers when they have the sizes of this
    /// optimizer's state (as from one epoch to the next), so that it allocates nothing then.
    pub fn snapshot_into(&self, be: &B, snap: &mut Option<OptimizerSnapshot<B>>) -> Result<()> {
        match snap {
            Some(OptimizerSnapshot(s))
                if s.lens == self.run.lens
                    && s.slots.len() == self.run.slots.len()
                    && s.slots
                        .iter()
                        .zip(&self.run.slots)
                        .all(|(a, b)| a.len() == b.len()) =>
            {
                self.copy_to(be, s);
            }
            _ => *snap = Some(self.snapshot(be)?),
        }
        Ok(())
    }

    /// Copies the state into `snap`, whose buffers have its sizes.
    fn copy_to(&self, be: &B, snap: &mut Running<B>) {
        for ((s, c), &len) in self
            .run
            .slots
            .iter()
            .zip(&mut snap.slots)
            .zip(&self.run.lens)
        {
            for (buf, copy) in s.iter().zip(c) {
                be.copy(len, buf, copy);
            }
        }
        snap.step = self.run.step;
        snap.pending.clone_from(&self.run.pending);
    }

    /// Returns to the state saved by [`Optimizer::snapshot`].
    pub fn restore(&mut self, snap: OptimizerSnapshot<B>) {
        self.run = snap.0;
    }

    /// A host copy of the complete state (for checkpoints and inspection).
    pub fn state(&self, be: &B) -> Result<OptimizerState> {
        let slots = match &self.run.pending {
            Some(h) => h.clone(),
            None => {
                let mut out = Vec::new();
                for (s, &len) in self.run.slots.iter().zip(&self.run.lens) {
                    let mut per = Vec::new();
                    for buf in s {
                        let mut host = vec![B::E::zero(); len];
                        be.download(buf, &mut host)?;
                        per.push(host.iter().map(|x| x.f64()).collect());
                    }
                    out.push(per);
                }
                out
            }
        };
        Ok(OptimizerState {
            config: self.config.clone(),
            step: self.run.step,
            slots,
        })
    }

    /// Restores a state saved by [`Optimizer::state`]; it is checked against the model's parameters
    /// at the next update.
    pub fn load_state(&mut self, state: OptimizerState) -> Result<()> {
        state.config.validate()?;
        self.config = state.config;
        self.run.step = state.step;
        self.run.slots.clear();
        self.run.pending = if state.slots.is_empty() {
            None
        } else {
            Some(state.slots)
        };
        Ok(())
    }
}
