//! `neuron train`: fit a model on a data source, save it, report test metrics.
//!
//! The steps, one file each: [`prepare`] reads and encodes the data, [`recipe`] resolves the
//! defaults, [`build`] makes the network, [`setup`] the training set, optimizer and
//! configuration, [`session`] runs the training (with [`refit`] for cross-validation), and
//! [`finish`] saves and reports.

mod args;
mod build;
mod finish;
mod memory;
mod prepare;
mod recipe;
mod refit;
mod session;
mod setup;
mod stream;
mod stream_state;

pub use args::*;
use prepare::{prepare, Prepared};
use recipe::{resolve, Resolved};

use anyhow::{bail, Context, Result};

use neuron::data::preprocess::Preprocessor;
use neuron::io::checkpoint::{load_checkpoint, Checkpoint};
use neuron::io::model_file::ModelMeta;
use neuron::{Backend, Cpu, Sequential};

use crate::device::OnBackend;
use crate::distributed::Cluster;

/// Default number of epochs for image data.
const IMAGE_EPOCHS: usize = 80;

/// The checkpoint file inside a `--checkpoint` directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

pub fn run(given: &TrainArgs) -> Result<()> {
    let cluster = crate::distributed::join(given.distributed)?;
    let out = run_in(given, cluster.as_ref());
    if let (Ok(()), Some(c)) = (&out, cluster) {
        c.finalize();
    }
    out
}

/// `neuron train` as this process of `cluster` (alone when `None`).
fn run_in(given: &TrainArgs, cluster: Option<&Cluster>) -> Result<()> {
    let read = read_options(given, cluster);
    let (a, ck) = match cluster {
        Some(c) => c.agree(read)?,
        None => read?,
    };
    let a = &a;
    let threads = crate::init_threads(a.threads)?;
    let init = match &a.init {
        Some(p) => Some(crate::model::load(p, threads)?),
        None => None,
    };
    let known_pre = match &ck {
        Some(c) => Some(
            c.model
                .preprocessing
                .clone()
                .context("the checkpoint has no preprocessing description")?,
        ),
        None => init.as_ref().map(|(_, _, p)| p.clone()),
    };
    let tf32 = crate::device::tf32(&a.precision)?;
    let job = TrainJob {
        a,
        ck,
        init,
        known_pre,
        threads,
        cluster,
    };
    crate::device::dispatch(&a.device, threads, tf32, job)
}

/// The options of the run (those of the checkpoint when resuming) and the checkpoint, after the
/// checks that need no data.
fn read_options(
    given: &TrainArgs,
    cluster: Option<&Cluster>,
) -> Result<(TrainArgs, Option<Checkpoint>)> {
    // Resuming takes every option from the checkpoint.
    let (mut a, ck) = match &given.resume {
        Some(dir) => {
            let path = dir.join(CHECKPOINT_FILE);
            if !path.exists() {
                bail!("{}: no checkpoint to resume from", path.display());
            }
            let ck = load_checkpoint(&path)?;
            let mut a: TrainArgs = serde_json::from_value(ck.extra["args"].clone())
                .with_context(|| format!("{}: unreadable training options", path.display()))?;
            a.resume = None;
            a.init = None;
            a.checkpoint = Some(dir.clone());
            a.quiet = given.quiet;
            a.distributed = given.distributed;
            (a, Some(ck))
        }
        None => (given.clone(), None),
    };
    if let Some(c) = cluster {
        distributed_options(&mut a, c)?;
    }
    check_writable("--out", &a.out)?;
    for (flag, path) in [("--metrics-json", &a.metrics_json), ("--plot", &a.plot)] {
        if let Some(p) = path {
            check_writable(flag, p)?;
        }
    }
    if a.checkpoint_every == 0 {
        bail!("--checkpoint-every must be at least 1");
    }
    Ok((a, ck))
}

/// What changes when training as one of several processes: only process 0 prints.
fn distributed_options(a: &mut TrainArgs, c: &Cluster) -> Result<()> {
    a.quiet |= c.rank > 0;
    Ok(())
}

/// Fails unless a global batch of `batch` rows gives each of `processes` at least one row.
fn check_batch_covers(batch: usize, processes: usize) -> Result<()> {
    if batch < processes {
        bail!(
            "the global batch of {batch} rows is smaller than the {processes} processes: each needs at least one row (raise --batch-size to {processes} or more, or start fewer processes)"
        );
    }
    Ok(())
}

/// Fails before training when `path` could not be written: its directory is missing or refuses
/// a new file.
fn check_writable(flag: &str, path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "{flag} {}: the directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let probe = dir.join(format!(".neuron-write-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "{flag} {}: cannot write in {}: {e}",
            path.display(),
            dir.display()
        ),
    }
}

/// Everything `run` has read before a backend is chosen.
struct TrainJob<'a> {
    a: &'a TrainArgs,
    ck: Option<Checkpoint>,
    init: Option<(Sequential<Cpu<f32>>, ModelMeta, Preprocessor)>,
    known_pre: Option<Preprocessor>,
    threads: usize,
    cluster: Option<&'a Cluster>,
}

impl OnBackend for TrainJob<'_> {
    type Out = ();
    fn run<B: Backend<E = f32>>(self, be: B) -> Result<()> {
        train_on(self, be)
    }
}

/// What every step of a training job works with once the data is read and the recipe resolved.
struct Job<'a, B> {
    a: &'a TrainArgs,
    r: Resolved,
    prep: Prepared,
    be: B,
    threads: usize,
    /// The job of several processes this one trains in, if any.
    cluster: Option<&'a Cluster>,
}

fn train_on<B: Backend<E = f32>>(tj: TrainJob<'_>, be: B) -> Result<()> {
    if tj.a.stream {
        return stream::train_streamed(tj.a, tj.ck, be, tj.cluster);
    }
    let cluster = tj.cluster;
    let set = set_up(tj, be);
    let (job, model, train, mut opt, resume) = match cluster {
        Some(c) => c.agree(set)?,
        None => set?,
    };
    if let Some(c) = cluster {
        c.check_same(
            "training data, preprocessing or initial weights",
            setup::digest(&job, &model, &train)?,
        )?;
    }
    let cfg = setup::fit_config(&job);
    setup::announce(&job, &model, train.len());
    let meta = setup::base_meta(&job, &model);
    let trained = session::train(&job, model, &mut opt, &train, cfg, resume, &meta)?;
    if cluster.is_some_and(|c| c.rank > 0) {
        return Ok(());
    }
    finish::finish(&job, trained, meta, train.len())
}

/// What [`set_up`] makes: the job, the network, its training rows, the optimizer, and the state
/// to resume.
type SetUp<'a, B> = (
    Job<'a, B>,
    Sequential<B>,
    neuron::Dataset<f32>,
    neuron::Optimizer<B>,
    Option<neuron::Resume<f32>>,
);

/// Reads and encodes the data, resolves the recipe, and builds the network and optimizer.
fn set_up<B: Backend<E = f32>>(tj: TrainJob<'_>, be: B) -> Result<SetUp<'_, B>> {
    let TrainJob {
        a,
        ck,
        init,
        known_pre,
        threads,
        cluster,
    } = tj;
    let prep = prepare(a, known_pre.as_ref())?;
    let r = resolve(a, prep.images, prep.train.x.rows())?;
    check_batch_covers(
        r.batch.min(prep.train.x.rows()),
        cluster.map_or(1, |c| c.size),
    )?;
    let job = Job {
        a,
        r,
        prep,
        be,
        threads,
        cluster,
    };
    let model = build::model(&job, ck.as_ref(), init.map(|(m, _, _)| m))?;
    let train = setup::training_set(&job, model.loss(), &model)?;
    let (opt, resume) = setup::optimizer(&job, ck)?;
    Ok((job, model, train, opt, resume))
}
