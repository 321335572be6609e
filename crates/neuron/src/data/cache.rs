//! A cache of a table's encoded rows, so that epochs after the first read compact binary rows
//! instead of parsing text again (`neuron train --stream --cache DIR`).
//!
//! A cache directory holds two files:
//! - `rows.f32`: the encoded, standardised rows in blocks of [`BLOCK_ROWS`] rows (the last block
//!   may be shorter) of the training rows; each block holds its rows' inputs (row-major,
//!   little-endian `f32`), then their targets;
//! - `validation.f32` and `test.f32`: the held-out rows kept ([`HeldRows`]), encoded, each
//!   file all its rows' inputs, then their targets;
//! - `cache.json`: what the rows are ([`CacheMeta`]): the key they were made for (the source
//!   files' paths, sizes and modification times, and the options that shape the encoding), the
//!   fitted [`Preprocessor`], and the row and column counts.
//!
//! Building removes `cache.json` first and writes it last, each file appearing whole
//! ([`AtomicFile`]), so a build that was interrupted leaves no cache that looks valid. A cache
//! whose key differs (a source file changed, grew, or the options are not the same) is rebuilt.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::csv::{Cells, RawTable};
use super::dataset::Dataset;
use super::holdout::{HeldRows, Holdout};
use super::preprocess::Preprocessor;
use super::records::{RecordChunk, CHUNK_ROWS};
use super::stream::TableStream;
use super::table::table_files;
use crate::error::{NeuronError, Result};
use crate::io::atomic::AtomicFile;
use crate::matrix::Matrix;
use crate::nn::loss::Loss;
use crate::rng::Rng;

/// Rows per block of `rows.f32`: the unit in which the cache is read and shuffled.
pub const BLOCK_ROWS: usize = 1 << 14;
const FORMAT: &str = "neuron-row-cache-1";
const META: &str = "cache.json";
const ROWS: &str = "rows.f32";
const VALIDATION: &str = "validation.f32";
const TEST: &str = "test.f32";

/// The description of a cache, stored in `cache.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CacheMeta {
    /// The cache format's name and version.
    pub format: String,
    /// What the rows were made from ([`cache_key`]).
    pub key: Value,
    /// The preprocessing that encoded them.
    pub preprocessor: Preprocessor,
    /// Rows in the cache.
    pub rows: usize,
    /// Input columns per row.
    pub x_cols: usize,
    /// Target columns per row.
    pub y_cols: usize,
    /// Rows per block.
    pub block_rows: usize,
    /// Validation rows stored (`validation.f32`).
    #[serde(default)]
    pub validation_rows: usize,
    /// Test rows stored (`test.f32`).
    #[serde(default)]
    pub test_rows: usize,
    /// Validation and test rows held out in all (at most [`crate::data::holdout::HELD_ROWS_KEPT`]
    /// of each are stored).
    #[serde(default)]
    pub held_out: (usize, usize),
    /// Training rows skipped as bad (malformed, or not encodable) when the stream skips them.
    #[serde(default)]
    pub bad_rows: usize,
}

/// The key of a cache of `src`: each source file's path, size and modification time, with
/// `options` (anything else that shapes the encoded rows: target, scaling, loss, ...).
pub fn cache_key(src: &str, options: Value) -> Result<Value> {
    let files = table_files(src)?.unwrap_or_else(|| vec![PathBuf::from(src)]);
    let mut list = Vec::with_capacity(files.len());
    for f in files {
        let m = std::fs::metadata(&f).map_err(|e| NeuronError::io(&f, e))?;
        let modified = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let path = std::fs::canonicalize(&f).unwrap_or(f);
        list.push(serde_json::json!({
            "path": path.display().to_string(),
            "bytes": m.len(),
            "modified_ns": modified.to_string(),
        }));
    }
    Ok(serde_json::json!({ "files": list, "options": options }))
}

/// The number of target columns the network's targets take for `loss` and `outputs` outputs.
pub fn target_cols(pre: &Preprocessor, loss: Loss, outputs: usize) -> usize {
    match (pre.labels(), loss) {
        (Some(_), Loss::CrossEntropy { .. }) => 1,
        (Some(_), Loss::BinaryCrossEntropy) if outputs == 1 => 1,
        (Some(_), _) => outputs,
        (None, _) => 1,
    }
}

/// Encodes `chunk` with `pre` and appends its inputs to `x` and its targets (`y_cols` per row)
/// to `y`.
pub fn encode_into(
    pre: &Preprocessor,
    chunk: &impl Cells,
    (loss, outputs, y_cols): (Loss, usize, usize),
    x: &mut Vec<f32>,
    y: &mut Vec<f32>,
) -> Result<()> {
    let e = pre.transform(chunk, true)?;
    let t = e.targets(loss, outputs)?;
    if t.cols() != y_cols {
        return Err(NeuronError::shape("targets", y_cols, t.cols()));
    }
    x.extend_from_slice(e.x.as_slice());
    y.extend_from_slice(t.as_slice());
    Ok(())
}

/// Encodes held-out records `t` (validation or test rows) with `pre`, as [`encode_into`] does;
/// records of a class that the training rows never showed are left out, and with `skip_bad`
/// every record that cannot be encoded. Returns the dataset
/// (`None` when no record is left) and the number left out.
pub fn encode_held(
    pre: &Preprocessor,
    t: &RawTable,
    spec: (Loss, usize, usize),
    skip_bad: bool,
) -> Result<(Option<Dataset<f32>>, usize)> {
    let mut t = t.clone();
    let dropped = if skip_bad && !t.rows.is_empty() {
        pre.drop_bad_rows(&mut t)?.0
    } else if let (Some(labels), false) = (pre.labels(), t.rows.is_empty()) {
        let tc = t.column_index(pre.target_name())?;
        let keep: Vec<bool> = t
            .rows
            .iter()
            .map(|row| labels.iter().any(|l| *l == row[tc]))
            .collect();
        t.retain_rows(&keep);
        keep.iter().filter(|&&k| !k).count()
    } else {
        0
    };
    if t.rows.is_empty() {
        return Ok((None, dropped));
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    encode_into(pre, &t, spec, &mut x, &mut y)?;
    let n = t.rows.len();
    let data = Dataset::new(
        Matrix::from_vec(n, x.len() / n, x)?,
        Matrix::from_vec(n, spec.2, y)?,
    )?;
    Ok((Some(data), dropped))
}

/// A complete cache, ready to read.
#[derive(Debug)]
pub struct RowCache {
    dir: PathBuf,
    meta: CacheMeta,
}

impl RowCache {
    /// The cache in `dir` if it is complete and was made for `key`; `None` when it is absent,
    /// stale or incomplete.
    pub fn open(dir: &Path, key: &Value) -> Result<Option<RowCache>> {
        let Ok(text) = std::fs::read_to_string(dir.join(META)) else {
            return Ok(None);
        };
        let Ok(meta) = serde_json::from_str::<CacheMeta>(&text) else {
            return Ok(None);
        };
        let want = (meta.rows * (meta.x_cols + meta.y_cols) * 4) as u64;
        let have = std::fs::metadata(dir.join(ROWS)).map_or(u64::MAX, |m| m.len());
        if meta.format != FORMAT || &meta.key != key || have != want || meta.block_rows == 0 {
            return Ok(None);
        }
        Ok(Some(RowCache {
            dir: dir.to_path_buf(),
            meta,
        }))
    }

    /// Reads `stream` to its end, encodes every training row (those `holdout` does not hold
    /// out) with `pre` for `loss` and `outputs` network outputs, and writes the cache for `key`
    /// into `dir` (created if need be), in blocks of `block_rows` rows ([`BLOCK_ROWS`] suits any
    /// table). The held-out rows kept ([`HeldRows`]) are stored encoded beside them. A stream
    /// that skips malformed records also has the rows `pre` cannot encode skipped.
    pub fn build(
        dir: &Path,
        key: Value,
        stream: &mut TableStream,
        (pre, holdout): (&Preprocessor, &Holdout),
        (loss, outputs): (Loss, usize),
        block_rows: usize,
    ) -> Result<RowCache> {
        let block_rows = block_rows.max(1);
        std::fs::create_dir_all(dir).map_err(|e| NeuronError::io(dir, e))?;
        match std::fs::remove_file(dir.join(META)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(NeuronError::io(dir.join(META), e))
            }
            _ => {}
        }
        let spec = (loss, outputs, target_cols(pre, loss, outputs));
        let mut out = AtomicFile::create(dir.join(ROWS))?;
        let (mut chunk, mut held) = (RecordChunk::default(), HeldRows::default());
        let (mut x, mut y, mut rows, mut bad) = (Vec::new(), Vec::new(), 0, 0);
        let (xc, yc) = (pre.input_width(), spec.2);
        if !stream.skips_malformed() {
            // Parquet's number columns as numbers (finding bad rows reads every cell's text).
            stream.numbers_for(pre.numeric_inputs(stream.headers()));
        }
        loop {
            let more = stream.next_records_into(&mut chunk, block_rows.min(CHUNK_ROWS))?;
            if holdout.holds_out() {
                for r in 0..chunk.row_count() {
                    held.take(holdout.part_of(&chunk, r), &chunk, r);
                }
                holdout.keep_training(&mut chunk);
            }
            if stream.skips_malformed() && chunk.row_count() > 0 {
                bad += pre.drop_bad_rows(&mut chunk)?.0;
            }
            if chunk.row_count() > 0 {
                encode_into(pre, &chunk, spec, &mut x, &mut y)?;
            }
            // Whole blocks, and the rest at the end.
            while y.len() / yc >= block_rows || (!more && !y.is_empty()) {
                let n = block_rows.min(y.len() / yc);
                write_f32s(&mut out, &x[..n * xc], dir)?;
                write_f32s(&mut out, &y[..n * yc], dir)?;
                x.drain(..n * xc);
                y.drain(..n * yc);
                rows += n;
            }
            if !more {
                break;
            }
        }
        stream.numbers_for(Vec::new());
        out.commit()?;
        let mut meta = CacheMeta {
            format: FORMAT.into(),
            key,
            preprocessor: pre.clone(),
            rows,
            x_cols: xc,
            y_cols: yc,
            block_rows,
            validation_rows: 0,
            test_rows: 0,
            held_out: (held.validation_seen, held.test_seen),
            bad_rows: bad + stream.malformed().0,
        };
        for (name, t) in [(VALIDATION, &held.validation), (TEST, &held.test)] {
            let data = encode_held(pre, t, spec, stream.skips_malformed())?.0;
            let n = data.as_ref().map_or(0, |d| d.x.rows());
            if name == VALIDATION {
                meta.validation_rows = n;
            } else {
                meta.test_rows = n;
            }
            let mut f = AtomicFile::create(dir.join(name))?;
            if let Some(d) = data {
                write_f32s(&mut f, d.x.as_slice(), dir)?;
                write_f32s(&mut f, d.y.as_slice(), dir)?;
            }
            f.commit()?;
        }
        let text = serde_json::to_string(&meta)
            .map_err(|e| NeuronError::data(format!("cache description: {e}")))?;
        let mut m = AtomicFile::create(dir.join(META))?;
        m.write_all(text.as_bytes())
            .map_err(|e| NeuronError::io(dir.join(META), e))?;
        m.commit()?;
        Ok(RowCache {
            dir: dir.to_path_buf(),
            meta,
        })
    }

    /// The held-out validation rows (`test`: the test rows) stored with the cache, if any.
    pub fn held(&self, test: bool) -> Result<Option<Dataset<f32>>> {
        let (name, n) = if test {
            (TEST, self.meta.test_rows)
        } else {
            (VALIDATION, self.meta.validation_rows)
        };
        if n == 0 {
            return Ok(None);
        }
        let path = self.dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| NeuronError::io(&path, e))?;
        let (xc, yc) = (self.meta.x_cols, self.meta.y_cols);
        if bytes.len() != n * (xc + yc) * 4 {
            return Err(NeuronError::data(format!(
                "{}: {} bytes, expected {}",
                path.display(),
                bytes.len(),
                n * (xc + yc) * 4
            )));
        }
        let mut f: Vec<f32> = le_f32s(&bytes).collect();
        let y = f.split_off(n * xc);
        Ok(Some(Dataset::new(
            Matrix::from_vec(n, xc, f)?,
            Matrix::from_vec(n, yc, y)?,
        )?))
    }

    /// What the cache holds.
    pub fn meta(&self) -> &CacheMeta {
        &self.meta
    }

    /// A reader of the rows, block by block.
    pub fn reader(&self) -> Result<CacheReader> {
        let path = self.dir.join(ROWS);
        let file = File::open(&path).map_err(|e| NeuronError::io(&path, e))?;
        let blocks = self.meta.rows.div_ceil(self.meta.block_rows);
        Ok(CacheReader {
            path,
            file,
            meta: self.meta.clone(),
            order: (0..blocks).collect(),
            next: 0,
            bytes: Vec::new(),
        })
    }
}

/// The little-endian `f32`s that `bytes` holds (as [`write_f32s`] writes them).
fn le_f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fn write_f32s(out: &mut AtomicFile, v: &[f32], dir: &Path) -> Result<()> {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for f in v {
        bytes.extend_from_slice(&f.to_le_bytes());
    }
    out.write_all(&bytes)
        .map_err(|e| NeuronError::io(dir.join(ROWS), e))
}

/// Reads a [`RowCache`] block by block, in file order or in a seeded random order of blocks.
pub struct CacheReader {
    path: PathBuf,
    file: File,
    meta: CacheMeta,
    order: Vec<usize>,
    next: usize,
    bytes: Vec<u8>,
}

impl CacheReader {
    /// Starts a pass over every block: in file order, or shuffled by `rng`.
    pub fn begin(&mut self, rng: Option<&mut Rng>) {
        self.order.sort_unstable();
        if let Some(rng) = rng {
            rng.shuffle(&mut self.order);
        }
        self.next = 0;
    }

    /// Appends the next block's inputs to `x` and targets to `y`; false when the pass is done.
    pub fn next_block_into(&mut self, x: &mut Vec<f32>, y: &mut Vec<f32>) -> Result<bool> {
        let Some(&b) = self.order.get(self.next) else {
            return Ok(false);
        };
        self.next += 1;
        let m = &self.meta;
        let rows = m.block_rows.min(m.rows - b * m.block_rows);
        let (nx, ny) = (rows * m.x_cols, rows * m.y_cols);
        let at = (b * m.block_rows * (m.x_cols + m.y_cols) * 4) as u64;
        self.bytes.resize((nx + ny) * 4, 0);
        let io = |e| NeuronError::io(&self.path, e);
        self.file.seek(SeekFrom::Start(at)).map_err(io)?;
        self.file.read_exact(&mut self.bytes).map_err(io)?;
        let mut floats = le_f32s(&self.bytes);
        x.extend(floats.by_ref().take(nx));
        y.extend(floats.take(ny));
        Ok(true)
    }
}
