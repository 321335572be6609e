//! `neuron train --stream`: training on a table read from disk chunk by chunk, in bounded memory.
//! One pass fits the preprocessing (`Preprocessor::fit_stream`: mean and standard deviation,
//! categories, labels, rows); then each epoch reads the table again through a seeded shuffle
//! buffer (`StreamSource`). There is no validation split, cross-validation or checkpointing in
//! this mode: it trains `--epochs` epochs (10 by default).

use anyhow::{bail, Result};
use neuron::data::preprocess::{Impute, Preprocessor, Task};
use neuron::data::scaling::Scaling;
use neuron::data::stream::TableStream;
use neuron::io::model_file::{save_model, ModelMeta, FORMAT};
use neuron::train::Event;
use neuron::{Backend, Control, FitConfig, Optimizer, StreamSource, TrainRun};

use super::args::{ImputeArg, TaskArg};
use super::build::{fresh_model, output_width};
use super::recipe::{loss_for, resolve};
use super::TrainArgs;

/// Epochs when `--epochs` is not given.
const STREAM_EPOCHS: usize = 10;

/// Trains on `a.data` streamed, on `be`, and saves the model.
pub(super) fn train_streamed<B: Backend<E = f32>>(a: &TrainArgs, be: B) -> Result<()> {
    if a.init.is_some() || a.resume.is_some() {
        bail!("--stream starts a new model: --init and --resume are not supported with it");
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
    let r = resolve(a, false, rows)?;
    let loss = loss_for(a, &r, pre.task())?;
    let mut model = fresh_model(a, &r, &pre, loss, be)?;
    let outputs = output_width(&pre, loss);
    let mut src = StreamSource::with_rows(
        &a.data,
        a.delimiter,
        pre.clone(),
        (loss, outputs),
        a.shuffle_buffer,
        rows,
    )?;
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
            eprintln!("epoch {:>3}  loss {:.4}{acc}", rec.epoch, rec.loss);
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
            "shuffle_buffer": a.shuffle_buffer, "seed": a.seed,
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
