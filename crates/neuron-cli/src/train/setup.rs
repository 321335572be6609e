//! What a run trains on and how: the training set, the optimizer (restored when resuming), the
//! fit configuration, the model description saved with the weights, and the opening line.

use anyhow::{bail, Result};
use neuron::data::augment::Augment;
use neuron::data::preprocess::Task;
use neuron::io::checkpoint::Checkpoint;
use neuron::io::model_file::{ModelMeta, FORMAT};
use neuron::{Backend, Dataset, FitConfig, Loss, Optimizer, Resume, Sequential};

use super::Job;
use crate::data;

/// The training rows with targets in the form `loss` wants; refuses a validation split that
/// would leave no row on either side.
pub(super) fn training_set<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    loss: Loss,
    model: &Sequential<B>,
) -> Result<Dataset<f32>> {
    let prep = &job.prep;
    let y = data::targets(&prep.train, loss, model.output_dim())?;
    let train = Dataset::new(prep.train.x.clone(), y)?;
    let split = job.r.val_split;
    if split > 0.0 {
        let n_val = (train.len() as f64 * split).round() as usize;
        if n_val == 0 || n_val >= train.len() {
            bail!(
                "{} training rows are too few to hold out a {:.0} % validation split (use --val-split 0)",
                train.len(),
                split * 100.0
            );
        }
    }
    Ok(train)
}

/// The optimizer, with the checkpoint's state and the point to resume from when there is one.
pub(super) fn optimizer<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    ck: Option<Checkpoint>,
) -> Result<(Optimizer<B>, Option<Resume<f32>>)> {
    let mut opt = Optimizer::new(job.r.optimizer.clone())?;
    let resume = match ck {
        Some(c) => Some(restore(&mut opt, c)?),
        None => None,
    };
    Ok((opt, resume))
}

/// Gives `opt` the checkpoint's optimizer state, and returns where training stood.
pub(super) fn restore<B: Backend<E = f32>>(
    opt: &mut Optimizer<B>,
    c: Checkpoint,
) -> Result<Resume<f32>> {
    opt.load_state(c.optimizer)?;
    Ok(Resume {
        state: c.state,
        best_weights: c.best_weights,
    })
}

/// How to train, from the resolved recipe.
pub(super) fn fit_config<B: Backend<E = f32>>(job: &Job<'_, B>) -> FitConfig {
    let (a, r) = (job.a, &job.r);
    FitConfig {
        epochs: r.epochs,
        batch_size: r.batch,
        shuffle: !a.no_shuffle,
        seed: a.seed,
        validation_split: r.val_split,
        patience: if r.val_split > 0.0 { r.patience } else { None },
        min_delta: 0.0,
        drop_last: false,
        augment: match (r.augment, job.prep.pre.image) {
            (true, Some([height, width])) => Some(Augment {
                height,
                width,
                max_shift: a.augment_shift,
                flip: true,
            }),
            _ => None,
        },
    }
}

/// The description saved with the weights (provenance is added at the end).
pub(super) fn base_meta<B: Backend<E = f32>>(job: &Job<'_, B>, model: &Sequential<B>) -> ModelMeta {
    ModelMeta {
        format: FORMAT.into(),
        input_dim: model.input_dim(),
        layers: model.specs().to_vec(),
        loss: model.loss(),
        preprocessing: Some(job.prep.pre.clone()),
        provenance: serde_json::Value::Null,
    }
}

/// The opening line: task, data, network, loss, optimizer, batch, epochs and device.
pub(super) fn announce<B: Backend<E = f32>>(job: &Job<'_, B>, model: &Sequential<B>, rows: usize) {
    let (a, r) = (job.a, &job.r);
    if a.quiet {
        return;
    }
    let pre = &job.prep.pre;
    if pre.image.is_none() && !pre.positional {
        crate::columns::eprint_columns(pre);
    }
    if let Some(c) = job.cluster {
        let b = r.batch.min(rows);
        eprintln!(
            "training as {} processes: each global batch of {b} rows is shared out, about {} rows per process",
            c.size,
            b.div_ceil(c.size)
        );
    }
    let o = &r.optimizer;
    let layers: Vec<String> = model.specs().iter().map(|s| s.torch_name()).collect();
    eprintln!(
        "training {} on {} ({rows} samples, {} features) → {}: {} parameters, {}, {} {} lr {}, batch {}, up to {} epochs, on {}",
        match job.prep.pre.task() {
            Task::Classify => "a classifier",
            Task::Regress => "a regressor",
        },
        a.data,
        job.prep.pre.input_width(),
        layers.join(" → "),
        model.num_params(),
        model.loss().name(),
        o.kind.name(),
        if o.weight_decay > 0.0 { format!("(weight decay {})", o.weight_decay) } else { String::new() },
        o.lr,
        r.batch,
        r.epochs,
        job.be.name()
    );
}

/// A digest of what every process of a job must agree on: the training rows, the fitted
/// preprocessing and the network's initial weights.
pub(super) fn digest<B: Backend<E = f32>>(
    job: &Job<'_, B>,
    model: &Sequential<B>,
    train: &Dataset<f32>,
) -> Result<u64> {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut bytes = Vec::with_capacity(4 * 4096);
    let params = model.params()?;
    let values = [train.x.as_slice(), train.y.as_slice()]
        .into_iter()
        .chain(params.iter().map(|p| p.as_slice()));
    for part in values {
        h.write_usize(part.len());
        for chunk in part.chunks(4096) {
            bytes.clear();
            bytes.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
            h.write(&bytes);
        }
    }
    h.write(serde_json::to_string(&job.prep.pre)?.as_bytes());
    Ok(h.finish())
}
