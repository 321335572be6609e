//! `neuron train --stream`: training on a table read from disk chunk by chunk, in bounded memory.
//! One pass fits the preprocessing (`Preprocessor::fit_stream`: mean and standard deviation,
//! categories, labels, the table's segments and their rows); then each epoch reads the table again
//! through seeded shuffle buffers, one per segment (`StreamSource`), or, with `--cache DIR`, reads
//! the encoded rows from a cache that the
//! first run builds (`RowCache`). Rows held out by a hash of their place validate and test; there
//! is no cross-validation. Checkpoints (`--checkpoint`, `--checkpoint-steps` within an epoch) resume
//! in the middle of an epoch: the reader reads the epoch's earlier batches again without training.

use anyhow::{bail, Result};
use neuron::data::cache::{cache_key, encode_held, target_cols, RowCache, BLOCK_ROWS};
use neuron::data::holdout::{HeldRows, Holdout};
use neuron::data::preprocess::{ColumnRules, Impute, Preprocessor, StreamFit, Task};
use neuron::data::scaling::Scaling;
use neuron::data::segments::Segment;
use neuron::data::stream::TableStream;
use neuron::io::checkpoint::Checkpoint;
use neuron::{Backend, Dataset, FitConfig, Loss, StreamSource, TrainRun};
use serde_json::Value;

use super::args::{BadRowsArg, ImputeArg, TaskArg};
use super::build::output_width;
use super::recipe::{loss_for, resolve};
use super::session::dir_checkpointer;
use super::stream_state::{conclude, model_and_optimizer, model_meta, stream_progress};
use super::TrainArgs;
use crate::distributed::Cluster;

/// Epochs when `--epochs` is not given.
const STREAM_EPOCHS: usize = 10;
/// Share of rows held out for validation when `--val-split` is not given.
pub(super) const STREAM_VALIDATION: f64 = 0.05;
/// Seed of the hash that picks the held-out rows.
const HOLDOUT_SEED: u64 = 0x5EED_D47A;

/// What a streamed run starts from: the fitted preprocessing, the training row count, the
/// held-out rows as text (when the table was read), or the cache they all came from.
struct Prepared {
    pre: Preprocessor,
    rows: usize,
    /// The table's segments and their training rows (none when read from a cache).
    segments: Vec<Segment>,
    held: HeldRows,
    /// Validation and test rows held out in all.
    held_out: (usize, usize),
    cache: Option<RowCache>,
}

/// The fitted preprocessing and the row count: from a valid cache, or from one pass over the
/// table that also collects the held-out rows.
fn prepare(a: &TrainArgs, key: Option<&Value>, holdout: &Holdout) -> Result<Prepared> {
    if let (Some(dir), Some(key)) = (&a.cache, key) {
        if let Some(c) = RowCache::open(dir, key)? {
            if !a.quiet {
                let bad = c.meta().bad_rows;
                let skipped = if bad > 0 {
                    format!(" ({bad} bad rows were skipped building it)")
                } else {
                    String::new()
                };
                eprintln!(
                    "reading the encoded rows from the cache in {}{skipped}",
                    dir.display()
                );
            }
            return Ok(Prepared {
                pre: c.meta().preprocessor.clone(),
                rows: c.meta().rows,
                segments: Vec::new(),
                held: HeldRows::default(),
                held_out: c.meta().held_out,
                cache: Some(c),
            });
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
    let skip = a.bad_rows == BadRowsArg::Skip;
    let mut s = TableStream::open(&a.data, a.delimiter)?.skipping_malformed(skip);
    let mut held = HeldRows::default();
    let opts = StreamFit {
        target: a.target.as_deref(),
        task,
        scaling,
        impute,
        skip_bad_rows: skip,
        rules: ColumnRules {
            drop: a.drop.clone(),
            keep: a.keep.clone(),
            categorical: a.categorical.clone(),
            infer: !a.keep_all_columns,
        },
    };
    let f = Preprocessor::fit_stream_with(&mut s, &opts, holdout, &mut held)?;
    let (malformed, first_malformed) = s.malformed();
    let bad = f.bad_rows + malformed;
    if bad > 0 && !a.quiet {
        let first = first_malformed.map(str::to_string).or(f.first_bad);
        eprintln!(
            "skipping {bad} bad rows ({malformed} malformed; the first: {})",
            first.unwrap_or_default()
        );
    }
    Ok(Prepared {
        pre: f.pre,
        rows: f.rows,
        segments: f.segments,
        held_out: (held.validation_seen, held.test_seen),
        held,
        cache: None,
    })
}

/// The rows held out by `--val-split` and `--test-split`, picked by a hash of each row's file
/// name and line with a fixed seed (the same rows whatever `--seed`).
fn holdout_of(a: &TrainArgs) -> Result<Holdout> {
    Ok(Holdout::new(
        HOLDOUT_SEED,
        a.val_split.unwrap_or(STREAM_VALIDATION),
        a.test_split,
    )?)
}

/// The validation and test sets, encoded: from the cache, or from the rows the first pass kept.
fn held_sets(
    p: &Prepared,
    cache: Option<&RowCache>,
    spec: (Loss, usize, usize),
    skip: bool,
) -> Result<[Option<Dataset<f32>>; 2]> {
    if let Some(c) = cache {
        return Ok([c.held(false)?, c.held(true)?]);
    }
    let mut out = [None, None];
    for (slot, t) in out.iter_mut().zip([&p.held.validation, &p.held.test]) {
        let (data, dropped) = encode_held(&p.pre, t, spec, skip)?;
        if dropped > 0 {
            eprintln!(
                "neuron: warning: {dropped} held-out rows left out (bad, or of classes never seen in training)"
            );
        }
        *slot = data;
    }
    Ok(out)
}

/// The key of `--cache`: the data's files, and every option that shapes the encoded rows.
fn cache_key_of(a: &TrainArgs) -> Result<Option<Value>> {
    if a.cache.is_none() {
        return Ok(None);
    }
    let opts = serde_json::json!({
        "target": a.target, "task": a.task, "no_standardize": a.no_standardize,
        "impute": a.impute, "delimiter": a.delimiter, "loss": a.loss,
        "holdout": holdout_of(a)?, "bad_rows": a.bad_rows,
        "drop": a.drop, "keep": a.keep, "categorical": a.categorical,
        "keep_all_columns": a.keep_all_columns,
    });
    Ok(Some(cache_key(&a.data, opts)?))
}

/// The batch source: the cache (built first if need be), or the table's text.
fn source(
    a: &TrainArgs,
    (p, holdout): (&mut Prepared, &Holdout),
    spec: (Loss, usize),
    key: Option<Value>,
) -> Result<(StreamSource, Option<RowCache>)> {
    let cache = match (p.cache.take(), &a.cache, key) {
        (Some(c), _, _) => Some(c),
        (None, Some(dir), Some(key)) => {
            if !a.quiet {
                eprintln!("caching the encoded rows in {}", dir.display());
            }
            let skip = a.bad_rows == BadRowsArg::Skip;
            let mut s = TableStream::open(&a.data, a.delimiter)?.skipping_malformed(skip);
            let what = (&p.pre, holdout);
            Some(RowCache::build(dir, key, &mut s, what, spec, BLOCK_ROWS)?)
        }
        _ => None,
    };
    if cache.is_some() {
        // Read from the cache, the table's segments play no part (and a process that found the
        // cache built has none).
        p.segments.clear();
    }
    let src = match &cache {
        Some(c) => StreamSource::from_cache(c, spec, a.shuffle_buffer)?,
        None => StreamSource::with_segments(
            &a.data,
            a.delimiter,
            p.pre.clone(),
            spec,
            a.shuffle_buffer,
            p.segments.clone(),
        )?
        .holding_out(*holdout)
        .skipping_bad_rows(a.bad_rows == BadRowsArg::Skip),
    };
    Ok((src, cache))
}

/// Everything a streamed run trains with, once the table's statistics are known.
struct StreamSetUp<B: Backend<E = f32>> {
    p: Prepared,
    cfg: FitConfig,
    model: neuron::Sequential<B>,
    opt: neuron::Optimizer<B>,
    resume: Option<neuron::Resume<f32>>,
    src: StreamSource,
    val: Option<Dataset<f32>>,
    test: Option<Dataset<f32>>,
}

/// Reads the statistics (or opens the cache), builds the network and optimizer, the batch source
/// and the held-out sets; `workers` processes will share each batch.
fn set_up<B: Backend<E = f32>>(
    a: &TrainArgs,
    ck: Option<Checkpoint>,
    be: B,
    workers: usize,
) -> Result<StreamSetUp<B>> {
    if a.init.is_some() {
        bail!("--stream starts a new model or resumes one: --init is not supported with it");
    }
    let (key, holdout) = (cache_key_of(a)?, holdout_of(a)?);
    let mut p = prepare(a, key.as_ref(), &holdout)?;
    if ck
        .as_ref()
        .is_some_and(|c| c.model.preprocessing.as_ref() != Some(&p.pre))
    {
        bail!(
            "{}: the table's statistics differ from those in the checkpoint (did the data change?): a streamed run resumes on the same table",
            a.data
        );
    }
    let r = resolve(a, false, p.rows)?;
    super::check_batch_covers(r.batch.min(p.rows), workers)?;
    let loss = loss_for(a, &r, p.pre.task())?;
    let (model, opt, resume) = model_and_optimizer(a, &r, (&p.pre, loss), ck, be)?;
    let outputs = output_width(&p.pre, loss);
    let (src, cache) = source(a, (&mut p, &holdout), (loss, outputs), key)?;
    let spec = (loss, outputs, target_cols(&p.pre, loss, outputs));
    let skip = a.bad_rows == BadRowsArg::Skip;
    let [val, test] = held_sets(&p, cache.as_ref(), spec, skip)?;
    let cfg = FitConfig {
        epochs: a.epochs.unwrap_or(STREAM_EPOCHS),
        batch_size: r.batch,
        shuffle: !a.no_shuffle,
        seed: a.seed,
        patience: a.patience.filter(|&n| n > 0 && val.is_some()),
        ..FitConfig::default()
    };
    #[rustfmt::skip]
    let s = StreamSetUp { p, cfg, model, opt, resume, src, val, test };
    Ok(s)
}

/// [`set_up`] on every process of `c`, failing on all when one fails. With `--cache`, process 0
/// builds the cache (or finds it valid) while the others wait, then they read it.
fn set_up_in<B: Backend<E = f32>>(
    a: &TrainArgs,
    ck: Option<Checkpoint>,
    be: B,
    c: &Cluster,
) -> Result<StreamSetUp<B>> {
    let cached = a.cache.is_some();
    if cached && c.rank > 0 {
        c.agree(Ok(()))?;
    }
    let mut set = set_up(a, ck, be, c.size);
    if cached && c.rank == 0 {
        set = Ok(c.agree(set)?);
    }
    let s = c.agree(set)?;
    let mut digest = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hasher::write(&mut digest, serde_json::to_string(&s.p.pre)?.as_bytes());
    std::hash::Hasher::write_usize(&mut digest, s.p.rows);
    std::hash::Hash::hash(&s.p.segments, &mut digest);
    let digest = std::hash::Hasher::finish(&digest);
    c.check_same("table statistics or row counts", digest)?;
    Ok(s)
}

/// Trains on `a.data` streamed, on `be` (continuing `ck` when resuming), and saves the model. In a
/// job of several processes each reads its own segments of the table and trains on the rows of
/// every batch that come from them (from a cache, each reads all of it and trains on its slice of
/// every batch); process 0 alone writes checkpoints and the model.
pub(super) fn train_streamed<B: Backend<E = f32>>(
    a: &TrainArgs,
    ck: Option<Checkpoint>,
    be: B,
    cluster: Option<&Cluster>,
) -> Result<()> {
    let s = match cluster {
        Some(c) => set_up_in(a, ck, be, c)?,
        None => set_up(a, ck, be, 1)?,
    };
    let StreamSetUp {
        p,
        cfg,
        mut model,
        mut opt,
        resume,
        src,
        val,
        test,
    } = s;
    let (rank, size) = cluster.map_or((0, 1), |c| (c.rank, c.size));
    let mut src = src.shard(rank, size)?;
    announce(a, &p, &cfg, (val.as_ref(), test.as_ref()));
    let meta = model_meta(&model, &p.pre, Value::Null);
    let mut checkpointer = dir_checkpointer(a, &meta, rank == 0)?;
    let mut progress = stream_progress(a.quiet, cluster.is_none());
    let mut sync = cluster.map(|c| c.sync());
    let started = std::time::Instant::now();
    let mut run = TrainRun::new(&mut model, &mut opt, &mut src, &cfg)?.observer(&mut progress);
    if let Some(v) = &val {
        run = run.validation(v)?;
    }
    if let Some(r) = resume {
        run = run.resume(r);
    }
    if let Some(c) = checkpointer.as_mut() {
        run = run.checkpointer(c);
    }
    if let Some(s) = crate::distributed::as_dyn(&mut sync) {
        run = run.sync(s);
    }
    let history = run.run();
    if rank > 0 {
        return crate::distributed::reported_by_zero(history).map(drop);
    }
    let seconds = started.elapsed().as_secs_f64();
    let run_info = (&history?, seconds);
    conclude(a, &mut model, (p.pre, p.rows), run_info, test.as_ref())
}

/// Says what is about to be trained.
fn announce(
    a: &TrainArgs,
    p: &Prepared,
    cfg: &FitConfig,
    (val, test): (Option<&Dataset<f32>>, Option<&Dataset<f32>>),
) {
    if a.quiet {
        return;
    }
    crate::columns::eprint_columns(&p.pre);
    let held = |d: Option<&Dataset<f32>>, of: usize, what: &str| match d {
        Some(d) if d.x.rows() < of => format!(", {what} on {} of {of} held-out rows", d.x.rows()),
        Some(d) => format!(", {} {what} rows", d.x.rows()),
        None => String::new(),
    };
    eprintln!(
        "training on {} streamed ({} training rows{}{}, {} features, shuffle buffer {} rows), {} epochs, batch {}",
        a.data,
        p.rows,
        held(val, p.held_out.0, "validation"),
        held(test, p.held_out.1, "test"),
        p.pre.input_width(),
        a.shuffle_buffer,
        cfg.epochs,
        cfg.batch_size
    );
}
