//! `neuron predict`: predictions of a saved model, as CSV. Tables (CSV or Parquet files, and
//! directories or globs of them) are read, predicted and written chunk by chunk, so a file of
//! any size takes bounded memory.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use neuron::data::csv::Cells as _;
use neuron::data::preprocess::{Encoded, Preprocessor, Task};
use neuron::data::records::CHUNK_ROWS;
use neuron::data::stream::TableStream;
use neuron::io::atomic::AtomicFile;
use neuron::io::model_file::ModelMeta;
use neuron::{Cpu, Matrix, Sequential};

use crate::data::{self, probabilities};
use neuron::classes_from_outputs;

/// Rows that streamed `predict` and `eval` predict at a time; they are read and encoded
/// [`CHUNK_ROWS`] at a time.
const PREDICT_ROWS: usize = 1 << 16;

/// Encoded rows waiting to be predicted together.
#[derive(Default)]
pub(crate) struct Pending {
    x: Vec<f32>,
    rows: usize,
}

impl Pending {
    /// Adds the encoded rows of `e`; true once [`PREDICT_ROWS`] rows wait.
    pub(crate) fn push(&mut self, e: &Encoded) -> bool {
        self.x.extend_from_slice(e.x.as_slice());
        self.rows += e.x.rows();
        self.rows >= PREDICT_ROWS
    }

    /// The waiting rows of `width` inputs as one matrix, none left waiting; `None` if none.
    pub(crate) fn take(&mut self, width: usize) -> Result<Option<Matrix<f32>>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let (rows, x) = (std::mem::take(&mut self.rows), std::mem::take(&mut self.x));
        Ok(Some(Matrix::from_vec(rows, width, x)?))
    }
}

#[derive(clap::Args)]
pub struct PredictArgs {
    /// The model file (from `neuron train`).
    #[arg(long)]
    pub model: PathBuf,
    /// Data to predict: a CSV file (the target column may be absent), an IDX directory, or builtin:NAME.
    #[arg(long)]
    pub data: String,
    /// The CSV delimiter: one character, or `tab` (default: detected among ',', ';', tab, '|').
    #[arg(long, value_parser = crate::data::parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Add one `p_<label>` probability column per class.
    #[arg(long)]
    pub proba: bool,
    /// Write the CSV here (atomically) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads to use (default: all cores; also NEURON_THREADS).
    #[arg(long, env = "NEURON_THREADS")]
    pub threads: Option<usize>,
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// How outputs become CSV: the header, then a chunk of rows at a time.
struct Format<'a> {
    pre: &'a Preprocessor,
    meta: &'a ModelMeta,
    proba: bool,
}

impl Format<'_> {
    fn header(&self, outputs: usize) -> Result<String> {
        match (self.pre.task(), self.pre.labels()) {
            (Task::Classify, Some(labels)) => {
                let mut h = "prediction".to_string();
                if self.proba {
                    for l in labels {
                        h.push(',');
                        h.push_str(&quote(&format!("p_{l}")));
                    }
                }
                Ok(h + "\n")
            }
            _ if self.proba => anyhow::bail!(
                "--proba needs a classification model; this one is a regression model"
            ),
            // One column per output (models imported from ONNX may have several).
            _ if outputs == 1 => Ok("prediction\n".into()),
            _ => {
                let cols: Vec<String> = (0..outputs).map(|j| format!("prediction_{j}")).collect();
                Ok(cols.join(",") + "\n")
            }
        }
    }

    fn rows(&self, out: &Matrix<f32>) -> String {
        let mut csv = String::new();
        if let (Task::Classify, Some(labels)) = (self.pre.task(), self.pre.labels()) {
            let classes = classes_from_outputs(out);
            let probs = self.proba.then(|| probabilities(out, self.meta.loss));
            for (r, &c) in classes.iter().enumerate() {
                csv.push_str(&quote(&labels[c]));
                if let Some(p) = &probs {
                    for v in p.row(r) {
                        let _ = write!(csv, ",{v:.6}");
                    }
                }
                csv.push('\n');
            }
            return csv;
        }
        for r in 0..out.rows() {
            let row: Vec<String> = out
                .row(r)
                .iter()
                .map(|&v| self.pre.unscale_value(v as f64).to_string())
                .collect();
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        csv
    }
}

/// Whether `src` is read as a table stream (a file or files of rows, not images or a built-in).
pub fn is_table_source(src: &str) -> bool {
    !src.starts_with("builtin:")
        && src != "fashion-mnist"
        && (neuron::data::table::table_files(src).is_ok_and(|f| f.is_some())
            || std::path::Path::new(src).is_file())
}

/// Counts of what the rows held that the model does not know, summed over chunks.
#[derive(Default)]
pub struct Warnings {
    ignored: Vec<String>,
    unseen: Vec<(String, usize)>,
}

impl Warnings {
    /// Adds a chunk's.
    pub fn add(&mut self, e: &data::Encoded) {
        if self.ignored.is_empty() {
            self.ignored = e.ignored.clone();
        }
        for (col, n) in &e.unseen {
            match self.unseen.iter_mut().find(|(c, _)| c == col) {
                Some((_, m)) => *m += n,
                None => self.unseen.push((col.clone(), *n)),
            }
        }
    }

    /// Prints them, as for a table read whole.
    pub fn print(self) {
        data::warn(&data::Encoded {
            x: Matrix::zeros(0, 0),
            classes: None,
            values: None,
            unseen: self.unseen,
            ignored: self.ignored,
        });
    }
}

pub fn run(a: &PredictArgs) -> Result<()> {
    let threads = crate::init_threads(a.threads)?;
    let (mut model, meta, pre) = crate::model::load(&a.model, threads)?;
    let fmt = Format {
        pre: &pre,
        meta: &meta,
        proba: a.proba,
    };
    let header = fmt.header(model.output_dim())?;
    let mut file = a.out.as_ref().map(AtomicFile::create).transpose()?;
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let sink: &mut dyn Write = match &mut file {
        Some(f) => f,
        None => &mut stdout,
    };
    sink.write_all(header.as_bytes())?;
    let n = if is_table_source(&a.data) {
        stream(a, &mut model, &fmt, sink)?
    } else {
        let raw = data::load(&a.data, false, a.delimiter)?;
        let e = data::encode(&raw, &pre, false)?;
        data::warn(&e);
        sink.write_all(fmt.rows(&model.predict(&e.x)?).as_bytes())?;
        e.x.rows()
    };
    sink.flush()?;
    if let (Some(f), Some(p)) = (file, &a.out) {
        f.commit()?;
        eprintln!("wrote {n} predictions to {}", p.display());
    }
    Ok(())
}

/// Predicts the pending rows (none left waiting) into `sink`.
fn predict_into(
    model: &mut Sequential<Cpu<f32>>,
    fmt: &Format,
    pending: &mut Pending,
    sink: &mut dyn Write,
) -> Result<()> {
    let Some(x) = pending.take(fmt.pre.input_width())? else {
        return Ok(());
    };
    sink.write_all(fmt.rows(&model.predict(&x)?).as_bytes())
        .context("writing the predictions")
}

/// Predicts a table chunk by chunk into `sink`; returns the number of rows.
fn stream(
    a: &PredictArgs,
    model: &mut Sequential<Cpu<f32>>,
    fmt: &Format,
    sink: &mut dyn Write,
) -> Result<usize> {
    let mut s = TableStream::open(&a.data, a.delimiter)?;
    // Parquet's number columns come as numbers, not text written to be parsed again.
    s.numbers_for(fmt.pre.numeric_inputs(s.headers()));
    let (mut n, mut warnings) = (0, Warnings::default());
    let mut chunk = neuron::data::records::RecordChunk::default();
    let mut pending = Pending::default();
    while s.next_records_into(&mut chunk, CHUNK_ROWS)? {
        let e = fmt.pre.transform(&chunk, false)?;
        warnings.add(&e);
        n += chunk.row_count();
        if pending.push(&e) {
            predict_into(model, fmt, &mut pending, sink)?;
        }
    }
    predict_into(model, fmt, &mut pending, sink)?;
    warnings.print();
    Ok(n)
}
