//! `neuron eval`: metrics of a saved model on labelled data.

use std::path::PathBuf;

use anyhow::Result;

use neuron::data::csv::Cells as _;
use neuron::data::preprocess::Preprocessor;
use neuron::data::records::{RecordChunk, CHUNK_ROWS};
use neuron::data::stream::TableStream;
use neuron::metrics::{ClassificationTally, RegressionTally};
use neuron::{classes_from_outputs, Cpu, Sequential};

use crate::data;
use crate::model::load;
use crate::report::{compute, print, to_json, Report};

/// Encoded rows waiting to be scored together, with their targets.
#[derive(Default)]
struct Pending {
    rows: crate::predict::Pending,
    classes: Vec<usize>,
    values: Vec<f32>,
}

/// What the scored rows add up to so far.
struct Tallies {
    classes: ClassificationTally,
    values: RegressionTally,
}

/// Scores the pending rows (emptied) into `t`.
fn score(
    model: &mut Sequential<Cpu<f32>>,
    pre: &Preprocessor,
    p: &mut Pending,
    t: &mut Tallies,
) -> Result<()> {
    let Some(x) = p.rows.take(pre.input_width())? else {
        return Ok(());
    };
    let out = model.predict(&x)?;
    if pre.labels().is_some() {
        t.classes.add(&p.classes, &classes_from_outputs(&out));
    } else {
        let unscale = |x: f64| pre.unscale_value(x);
        let v: Vec<f64> = p.values.iter().map(|&x| unscale(x as f64)).collect();
        let o: Vec<f64> = out.as_slice().iter().map(|&x| unscale(x as f64)).collect();
        t.values.add(&v, &o);
    }
    p.classes.clear();
    p.values.clear();
    Ok(())
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The model file (from `neuron train`).
    #[arg(long)]
    pub model: PathBuf,
    /// Labelled data: a CSV file, an IDX directory (its test files), fashion-mnist, or builtin:NAME.
    #[arg(long)]
    pub data: String,
    /// The CSV delimiter: one character, or `tab` (default: detected among ',', ';', tab, '|').
    #[arg(long, value_parser = crate::data::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// A bad row in a table (a wrong number of fields, a cell the model cannot read, a class it
    /// does not know): stop at the first, naming its file, line and column, or skip them all and
    /// say how many.
    #[arg(long, value_enum, default_value = "stop")]
    pub bad_rows: crate::train::BadRowsArg,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
    /// Threads to use (default: all cores; also NEURON_THREADS).
    #[arg(long, env = "NEURON_THREADS")]
    pub threads: Option<usize>,
}

pub fn run(a: &EvalArgs) -> Result<()> {
    let threads = crate::init_threads(a.threads)?;
    let (mut model, _, pre) = load(&a.model, threads)?;
    if pre.labels().is_none() && model.output_dim() > 1 {
        anyhow::bail!(
            "{}: the model predicts {} values per row; eval scores one target column (use neuron predict)",
            a.model.display(),
            model.output_dim()
        );
    }
    let r = if crate::predict::is_table_source(&a.data) {
        stream(a, &mut model, &pre)?
    } else {
        let raw = data::load(&a.data, false, a.delimiter)?;
        let e = data::encode(&raw, &pre, true)?;
        data::warn(&e);
        compute(&mut model, &pre, &e)?
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&r))?);
    } else {
        print(&r);
    }
    Ok(())
}

/// Scores a table chunk by chunk, in bounded memory.
fn stream(a: &EvalArgs, model: &mut Sequential<Cpu<f32>>, pre: &Preprocessor) -> Result<Report> {
    let skip = a.bad_rows == crate::train::BadRowsArg::Skip;
    let mut s = TableStream::open(&a.data, a.delimiter)?.skipping_malformed(skip);
    if !skip {
        // Parquet's number columns as numbers (skipping bad rows reads every cell's text).
        s.numbers_for(pre.numeric_inputs(s.headers()));
    }
    let mut warnings = crate::predict::Warnings::default();
    let (mut bad, mut first_bad) = (0, None);
    let labels = pre.labels();
    let mut tallies = Tallies {
        classes: ClassificationTally::new(labels.map_or(0, <[String]>::len)),
        values: RegressionTally::default(),
    };
    let (mut chunk, mut pending) = (RecordChunk::default(), Pending::default());
    while s.next_records_into(&mut chunk, CHUNK_ROWS)? {
        if skip {
            let (n, first) = pre.drop_bad_rows(&mut chunk)?;
            bad += n;
            first_bad = first_bad.or(first);
            if chunk.row_count() == 0 {
                continue;
            }
        }
        let e = pre.transform(&chunk, true)?;
        warnings.add(&e);
        match (&e.classes, &e.values) {
            (Some(c), _) => pending.classes.extend_from_slice(c),
            (_, Some(v)) => pending.values.extend_from_slice(v),
            _ => anyhow::bail!("the data have no target column"),
        }
        if pending.rows.push(&e) {
            score(model, pre, &mut pending, &mut tallies)?;
        }
    }
    score(model, pre, &mut pending, &mut tallies)?;
    warnings.print();
    let (malformed, first_malformed) = s.malformed();
    if bad + malformed > 0 {
        let first = first_malformed.map(str::to_string).or(first_bad);
        eprintln!(
            "neuron: warning: skipped {} bad rows ({malformed} malformed; the first: {})",
            bad + malformed,
            first.unwrap_or_default()
        );
    }
    Ok(match labels {
        Some(l) => Report::Classification(tallies.classes.report(), l.to_vec()),
        None => Report::Regression(tallies.values.report()),
    })
}
