//! Data sources: a CSV (optionally gzipped) or Parquet file, a directory or glob of them, an
//! MNIST-style IDX directory, `fashion-mnist`,
//! or `builtin:NAME`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use neuron::data::csv::RawTable;
use neuron::data::idx::{load_idx_dir, ImageSet, Split};
use neuron::data::table::{read_table, read_table_file, table_files};

/// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Raw data, before preprocessing.
pub enum Raw {
    /// Rows of strings (CSV files, built-ins).
    Table(RawTable),
    /// Images with labels (IDX).
    Images(ImageSet),
}

/// Which IDX files an image source reads.
pub fn idx_split(train: bool) -> Split {
    if train {
        Split::Train
    } else {
        Split::Test
    }
}

fn idx_dir(src: &str) -> Option<PathBuf> {
    if src == "fashion-mnist" {
        return Some(PathBuf::from(FASHION_MNIST_DIR));
    }
    let p = Path::new(src);
    p.is_dir().then(|| p.to_path_buf())
}

/// `--delimiter`: one ASCII character, or `tab`.
pub fn parse_delimiter(s: &str) -> std::result::Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() && !matches!(s, "\"" | "\n" | "\r") => {
            Ok(s.as_bytes()[0])
        }
        _ => Err(format!(
            "'{s}' is not a delimiter: give one character (',', ';', '|', ...) or 'tab'"
        )),
    }
}

/// Loads `src`, a CSV file read with `delimiter` (detected when `None`). Image sources read
/// their training files when `train`, else their test files.
pub fn load(src: &str, train: bool, delimiter: Option<u8>) -> Result<Raw> {
    if let Some(name) = src.strip_prefix("builtin:") {
        return Ok(Raw::Table(neuron::data::builtin::load(name)?));
    }
    if src == "fashion-mnist" && !Path::new(FASHION_MNIST_DIR).is_dir() {
        bail!(
            "Fashion-MNIST is not installed: install it with `apt-get install dataset-fashion-mnist` (it goes to {FASHION_MNIST_DIR}), or pass the directory holding its IDX files"
        );
    }
    if table_files(src)?.is_some() {
        return Ok(Raw::Table(read_table(src, delimiter)?));
    }
    if let Some(dir) = idx_dir(src) {
        let set = load_idx_dir(&dir, idx_split(train))
            .with_context(|| format!("reading IDX files in {}", dir.display()))?;
        return Ok(Raw::Images(set));
    }
    if !Path::new(src).exists() {
        bail!(
            "{src}: no such file or directory (a data source is a CSV or Parquet file, a directory or glob of them, a directory of IDX files, fashion-mnist, or builtin:{})",
            neuron::data::builtin::NAMES.join("|builtin:")
        );
    }
    Ok(Raw::Table(read_table_file(src, delimiter)?))
}

/// Rows encoded for the network: the library's [`neuron::data::preprocess::Encoded`].
pub use neuron::data::preprocess::Encoded;

/// Warns on stderr about ignored columns and categories unseen in training.
pub fn warn(e: &Encoded) {
    if !e.ignored.is_empty() {
        eprintln!(
            "neuron: warning: ignoring {} column(s) that the model does not use: {}",
            e.ignored.len(),
            e.ignored.join(", ")
        );
    }
    for (col, n) in &e.unseen {
        eprintln!("neuron: warning: column '{col}': {n} cell(s) with categories unseen in training, or dates that cannot be read (encoded as all zeros)");
    }
}

/// Applies a fitted preprocessor to raw data.
pub fn encode(
    raw: &Raw,
    pre: &neuron::data::preprocess::Preprocessor,
    need_target: bool,
) -> Result<Encoded> {
    match raw {
        Raw::Table(t) => Ok(pre.transform(t, need_target)?),
        Raw::Images(set) => {
            if set.x.cols() != pre.input_width() {
                bail!(
                    "the model expects {} features, the images have {} pixels ({}×{})",
                    pre.input_width(),
                    set.x.cols(),
                    set.height,
                    set.width
                );
            }
            let labels = pre
                .labels()
                .context("the model is a regression model; image data have class labels")?;
            let mut classes = Vec::with_capacity(set.labels.len());
            for (i, l) in set.labels.iter().enumerate() {
                let s = l.to_string();
                match labels.iter().position(|x| *x == s) {
                    Some(k) => classes.push(k),
                    None => bail!(
                        "image {i}: label {s} was not seen in training (classes: {})",
                        labels.join(", ")
                    ),
                }
            }
            Ok(Encoded {
                x: set.x.clone(),
                classes: Some(classes),
                values: None,
                unseen: Vec::new(),
                ignored: Vec::new(),
            })
        }
    }
}

/// Network targets for the given loss: class indices, 0/1, one-hot, or values.
pub fn targets(e: &Encoded, loss: neuron::Loss, outputs: usize) -> Result<neuron::Matrix<f32>> {
    Ok(e.targets(loss, outputs)?)
}

/// Class probabilities `[n, classes]` from a classification model's outputs: the library's
/// softmax or sigmoid, with a single binary output spread over its two classes.
pub fn probabilities(out: &neuron::Matrix<f32>, loss: neuron::Loss) -> neuron::Matrix<f32> {
    use neuron::{Loss, Matrix};
    let (n, k) = (out.rows(), out.cols());
    // Only MSE has no probabilities, and it has its own arm below.
    let library = || loss.probabilities(out).unwrap_or_else(|_| out.clone());
    match loss {
        Loss::BinaryCrossEntropy if k == 1 => {
            let p = library();
            let mut two = Matrix::zeros(n, 2);
            for r in 0..n {
                two.set(r, 0, 1.0 - p.get(r, 0));
                two.set(r, 1, p.get(r, 0));
            }
            two
        }
        Loss::CrossEntropy { .. } | Loss::BinaryCrossEntropy => library(),
        Loss::Mse => {
            // Outputs regressed onto one-hot targets: clip to [0, 1] and normalise.
            let mut p = out.clone();
            for r in 0..n {
                let row = p.row_mut(r);
                row.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
                let s: f32 = row.iter().sum();
                if s > 0.0 {
                    row.iter_mut().for_each(|v| *v /= s);
                } else {
                    row.iter_mut().for_each(|v| *v = 1.0 / k as f32);
                }
            }
            p
        }
    }
}
