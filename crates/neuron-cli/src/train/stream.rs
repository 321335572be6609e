//! `neuron train --stream`: training on a table read from disk chunk by chunk, in bounded memory.
//! One pass fits the preprocessing (`Preprocessor::fit_stream`: mean and standard deviation,
//! categories, labels, rows); then each epoch reads the table again through a seeded shuffle
//! buffer (`StreamSource`), or, with `--cache DIR`, reads the encoded rows from a cache that the
//! first run builds (`RowCache`). There is no validation split, cross-validation or checkpointing in
//! this mode: it trains `--epochs` epochs (10 by default).

use anyhow::{bail, Result};
use neuron::data::cache::{cache_key, RowCache, BLOCK_ROWS};
use neuron::data::preprocess::{Impute, Preprocessor, Task};
use neuron::data::scaling::Scaling;
use neuron::data::stream::TableStream;
use neuron::io::model_file::{save_model, ModelMeta, FORMAT};
use neuron::train::Event;
use neuron::{Backend, Control, FitConfig, Loss, Optimizer, StreamSource, TrainRun};
use serde_json::Value;

use super::args::{ImputeArg, TaskArg};
use super::build::{fresh_model, output_width};
use super::recipe::{loss_for, resolve};
use super::TrainArgs;

/// Epochs when `--epochs` is not given.
const STREAM_EPOCHS: usize = 10;

/// The fitted preprocessing and the row count: from a valid cache (returned too), or from one
/// pass over the table.
fn prepare(a: &TrainArgs, key: Option<&Value>) -> Result<(Preprocessor, usize, Option<RowCache>)> {
    if let (Some(dir), Some(key)) = (&a.cache, key) {
        if let Some(c) = RowCache::open(dir, key)? {
            if !a.quiet {
                eprintln!(
                    "reading the encoded rows from the cache in {}",
                    dir.display()
                );
            }
            return Ok((c.meta().preprocessor.clone(), c.meta().rows, Some(c)));
        }
    }
    let task = match a.task {
        TaskArg::Auto => None,
        TaskArg::Classify => Some(Task::Classify),
        TaskArg::Regress => Some(Task::Regress),
    };
    let scaling = if a.no_standardize {
        Scaling::None
    } else {
        Scaling::Standard
    };
    let impute = match a.impute {
        None => None,
        Some(ImputeArg::Mean) => Some(Impute::Mean),
        Some(ImputeArg::Median) => bail!("--stream imputes with the mean: use --impute mean"),
    };
    let mut s = TableStream::open(&a.data, a.delimiter)?;
    let (pre, rows) = Preprocessor::fit_stream(&mut s, a.target.as_deref(), task, scaling, impute)?;
    Ok((pre, rows, None))
}

/// The key of `--cache`: the data's files, and every option that shapes the encoded rows.
fn cache_key_of(a: &TrainArgs) -> Result<Option<Value>> {
    if a.cache.is_none() {
        return Ok(None);
    }
    let opts = serde_json::json!({
        "target": a.target, "task": a.task, "no_standardize": a.no_standardize,
        "impute": a.impute, "delimiter": a.delimiter, "loss": a.loss,
    });
    Ok(Some(cache_key(&a.data, opts)?))
}

/// The batch source: the cache (built first if need be), or the table's text.
fn source(
    a: &TrainArgs,
    (pre, rows): (&Preprocessor, usize),
    spec: (Loss, usize),
    (cache, key): (Option<RowCache>, Option<Value>),
) -> Result<StreamSource> {
    let cache = match (cache, &a.cache, key) {
        (Some(c), _, _) => Some(c),
        (None, Some(dir), Some(key)) => {
            if !a.quiet {
                eprintln!("caching the encoded rows in {}", dir.display());
            }
            let mut s = TableStream::open(&a.data, a.delimiter)?;
            Some(RowCache::build(dir, key, &mut s, pre, spec, BLOCK_ROWS)?)
        }
        _ => None,
    };
    Ok(match cache {
        Some(c) => StreamSource::from_cache(&c, spec, a.shuffle_buffer)?,
        None => StreamSource::with_rows(
            &a.data,
            a.delimiter,
            pre.clone(),
            spec,
            a.shuffle_buffer,
            rows,
        )?,
    })
}

/// Trains on `a.data` streamed, on `be`, and saves the model.
pub(super) fn train_streamed<B: Backend<E = f32>>(a: &TrainArgs, be: B) -> Result<()> {
    if a.init.is_some() || a.resume.is_some() {
        bail!("--stream starts a new model: --init and --resume are not supported with it");
    }
    let key = cache_key_of(a)?;
    let (pre, rows, cache) = prepare(a, key.as_ref())?;
    let r = resolve(a, false, rows)?;
    let loss = loss_for(a, &r, pre.task())?;
    let mut model = fresh_model(a, &r, &pre, loss, be)?;
    let outputs = output_width(&pre, loss);
    let mut src = source(a, (&pre, rows), (loss, outputs), (cache, key))?;
    let mut opt = Optimizer::new(r.optimizer.clone())?;
    let cfg = FitConfig {
        epochs: a.epochs.unwrap_or(STREAM_EPOCHS),
        batch_size: r.batch,
        shuffle: !a.no_shuffle,
        seed: a.seed,
        ..FitConfig::default()
    };
    if !a.quiet {
        eprintln!(
            "training on {} streamed ({rows} rows, {} features, shuffle buffer {} rows), {} epochs, batch {}",
            a.data,
            pre.input_width(),
            a.shuffle_buffer,
            cfg.epochs,
            cfg.batch_size
        );
    }
    let quiet = a.quiet;
    let mut progress = move |e: &Event<'_>| {
        if let (Event::EpochEnd(rec), false) = (e, quiet) {
            let acc = rec
                .accuracy
                .map_or(String::new(), |v| format!("  acc {:.2}%", v * 100.0));
            eprintln!(
                "epoch {:>3}  loss {:.4}{acc}  {:.2}s",
                rec.epoch, rec.loss, rec.seconds
            );
        }
        Control::Continue
    };
    let started = std::time::Instant::now();
    let history = TrainRun::new(&mut model, &mut opt, &mut src, &cfg)?
        .observer(&mut progress)
        .run()?;
    let meta = ModelMeta {
        format: FORMAT.into(),
        input_dim: model.input_dim(),
        layers: model.specs().to_vec(),
        loss: model.loss(),
        preprocessing: Some(pre),
        provenance: serde_json::json!({
            "data": a.data, "streamed": true, "rows": rows, "epochs": history.epochs.len(),
            "shuffle_buffer": a.shuffle_buffer, "seed": a.seed, "cache": a.cache,
            "train_seconds": started.elapsed().as_secs_f64(),
            "final_loss": history.epochs.last().map(|e| e.loss),
            "neuron": env!("CARGO_PKG_VERSION"),
        }),
    };
    save_model(&a.out, &model, &meta)?;
    if !a.quiet {
        eprintln!(
            "trained {} epochs in {:.1}s; saved {}",
            history.epochs.len(),
            started.elapsed().as_secs_f64(),
            a.out.display()
        );
    }
    Ok(())
}
