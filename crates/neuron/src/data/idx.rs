//! Reading MNIST-style IDX files (gzipped or raw): `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-…`. Pixels are scaled to [0, 1].

use std::path::{Path, PathBuf};

use crate::data::csv::maybe_gunzip;
use crate::error::{NeuronError, Result};
use crate::matrix::Matrix;

/// An IDX array of unsigned bytes: its dimensions and data.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// Row-major data.
    pub data: Vec<u8>,
}

/// Parses an IDX file's bytes (gzip-compressed or raw).
pub fn parse_idx(bytes: Vec<u8>, source: &str) -> Result<IdxArray> {
    let b = maybe_gunzip(bytes, source)?;
    let bad = |m: String| NeuronError::data(format!("{source}: {m}"));
    if b.len() < 4 || b[0] != 0 || b[1] != 0 {
        return Err(bad("not an IDX file (bad magic number)".into()));
    }
    if b[2] != 0x08 {
        return Err(bad(format!(
            "unsupported IDX element type 0x{:02x} (only unsigned bytes, 0x08)",
            b[2]
        )));
    }
    let nd = b[3] as usize;
    if nd == 0 || nd > 4 {
        return Err(bad(format!("unsupported number of dimensions {nd}")));
    }
    let head = 4 + 4 * nd;
    if b.len() < head {
        return Err(bad("truncated header".into()));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes([b[4 + 4 * i], b[5 + 4 * i], b[6 + 4 * i], b[7 + 4 * i]]) as usize
        })
        .collect();
    let len = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad("dimensions overflow".into()))?;
    if b.len() - head < len {
        return Err(bad(format!(
            "truncated: dimensions {dims:?} need {len} bytes of data, the file has {}",
            b.len() - head
        )));
    }
    if b.len() - head > len {
        return Err(bad(format!(
            "{} bytes of trailing data after {dims:?}",
            b.len() - head - len
        )));
    }
    Ok(IdxArray {
        dims,
        data: b[head..].to_vec(),
    })
}

/// Images and their labels.
#[derive(Clone, Debug)]
pub struct ImageSet {
    /// One row per image, pixels scaled to [0, 1].
    pub x: Matrix<f32>,
    /// One label per image.
    pub labels: Vec<u8>,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
}

/// Which files of an IDX directory to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `train-*`.
    Train,
    /// `t10k-*` (or `test-*`).
    Test,
}

fn find(dir: &Path, prefixes: &[&str], kind: &str) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).map_err(|e| NeuronError::io(dir, e))?;
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for p in prefixes {
        for n in &names {
            let f = n.file_name().and_then(|f| f.to_str()).unwrap_or("");
            if f.starts_with(&format!("{p}-{kind}")) && f.contains("ubyte") {
                return Ok(n.clone());
            }
        }
    }
    Err(NeuronError::data(format!(
        "{}: no {}-{kind}-idx*-ubyte[.gz] file",
        dir.display(),
        prefixes[0]
    )))
}

/// Reads the images and labels of one split from an MNIST-style directory.
pub fn load_idx_dir(dir: impl AsRef<Path>, split: Split) -> Result<ImageSet> {
    let dir = dir.as_ref();
    let prefixes: &[&str] = match split {
        Split::Train => &["train"],
        Split::Test => &["t10k", "test"],
    };
    let ip = find(dir, prefixes, "images")?;
    let lp = find(dir, prefixes, "labels")?;
    let read = |p: &Path| -> Result<IdxArray> {
        let bytes = std::fs::read(p).map_err(|e| NeuronError::io(p, e))?;
        parse_idx(bytes, &p.display().to_string())
    };
    let images = read(&ip)?;
    let labels = read(&lp)?;
    if images.dims.len() != 3 {
        return Err(NeuronError::data(format!(
            "{}: an image file must have 3 dimensions (count, height, width), this one has {:?}",
            ip.display(),
            images.dims
        )));
    }
    if labels.dims.len() != 1 {
        return Err(NeuronError::data(format!(
            "{}: a label file must have 1 dimension, this one has {:?}",
            lp.display(),
            labels.dims
        )));
    }
    let (n, h, w) = (images.dims[0], images.dims[1], images.dims[2]);
    if labels.dims[0] != n {
        return Err(NeuronError::data(format!(
            "{} has {n} images but {} has {} labels",
            ip.display(),
            lp.display(),
            labels.dims[0]
        )));
    }
    if n == 0 || h * w == 0 {
        return Err(NeuronError::data(format!("{}: no images", ip.display())));
    }
    let x = images.data.iter().map(|&p| p as f32 / 255.0).collect();
    Ok(ImageSet {
        x: Matrix::from_vec(n, h * w, x)?,
        labels: labels.data,
        height: h,
        width: w,
    })
}

/// Encodes an IDX array (the inverse of [`parse_idx`], uncompressed).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let raw = encode_idx(&[2, 2, 3], &[0, 255, 10, 20, 30, 40, 1, 2, 3, 4, 5, 6]);
        let a = parse_idx(raw.clone(), "x").unwrap();
        assert_eq!(a.dims, [2, 2, 3]);
        assert_eq!(a.data.len(), 12);
        let e = parse_idx(raw[..raw.len() - 1].to_vec(), "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        assert!(parse_idx(b"hello".to_vec(), "x")
            .unwrap_err()
            .to_string()
            .contains("magic"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        assert_eq!(parse_idx(gz.finish().unwrap(), "x.gz").unwrap(), a);
    }
}
