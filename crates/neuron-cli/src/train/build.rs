//! The network to train: continued from a checkpoint, fine-tuned from `--init`, or new.

use anyhow::Result;
use neuron::data::preprocess::Preprocessor;
use neuron::io::checkpoint::Checkpoint;
use neuron::{Backend, Cpu, Loss, Sequential};

use super::recipe::{loss_for, Resolved};
use super::{memory, Job, TrainArgs};

/// The network's output width: one per class, one for a two-class BCE model or a regression.
pub(super) fn output_width(pre: &Preprocessor, loss: Loss) -> usize {
    match (pre.labels(), loss) {
        (Some(l), Loss::BinaryCrossEntropy) if l.len() == 2 => 1,
        (Some(l), _) => l.len(),
        (None, _) => 1,
    }
}

/// A new, seeded network of the resolved architecture for the preprocessed data.
pub(super) fn fresh_model<B: Backend<E = f32>>(
    a: &TrainArgs,
    r: &Resolved,
    pre: &Preprocessor,
    loss: Loss,
    be: B,
) -> Result<Sequential<B>> {
    let mut b = Sequential::builder(pre.input_width());
    for &h in &r.hidden {
        b = b.dense(h).activation(r.activation);
        if r.dropout > 0.0 {
            b = b.dropout(r.dropout);
        }
    }
    Ok(b.dense(output_width(pre, loss))
        .loss(loss)
        .seed(a.seed)
        .build(be)?)
}

/// The checkpoint's network, with its weights, on `be`.
pub(super) fn from_checkpoint<B: Backend<E = f32>>(
    be: B,
    c: &Checkpoint,
    seed: u64,
) -> Result<Sequential<B>> {
    let m = &c.model;
    let layers = m.layers.clone();
    Ok(Sequential::from_specs(
        be,
        m.input_dim,
        layers,
        m.loss,
        seed,
        Some(&c.weights),
    )?)
}

/// The network: the checkpoint's when resuming, the `--init` model's (with any new
/// label smoothing) when fine-tuning, else a new one, once its memory is known to fit.
pub(super) fn model<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    ck: Option<&Checkpoint>,
    init: Option<Sequential<Cpu<f32>>>,
) -> Result<Sequential<B>> {
    let (a, be) = (job.a, job.be.clone());
    if let Some(c) = ck {
        return from_checkpoint(be, c, a.seed);
    }
    if let Some(cpu_model) = init {
        let mut m = cpu_model.to_backend(be, a.seed)?;
        if let (Some(ls), Loss::CrossEntropy { .. }) = (a.label_smoothing, m.loss()) {
            m.set_loss(Loss::CrossEntropy {
                label_smoothing: ls,
            })?;
        }
        return Ok(m);
    }
    let (r, pre) = (&job.r, &job.prep.pre);
    let loss = loss_for(a, r, pre.task())?;
    let widths: Vec<usize> = r
        .hidden
        .iter()
        .copied()
        .chain([output_width(pre, loss)])
        .collect();
    let rows = job.prep.train.x.rows();
    memory::check(pre.input_width(), &widths, r.batch, rows)?;
    fresh_model(a, r, pre, loss, be)
}
