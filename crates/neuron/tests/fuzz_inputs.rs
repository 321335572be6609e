//! Replays the fuzz seeds and every input the fuzzers ever found (`fuzz/seeds`, `fuzz/regressions`)
//! through the same code the fuzz targets run, on the stable toolchain: none may panic.

use std::path::Path;

use neuron::data::csv::read_csv_bytes;
use neuron::data::preprocess::{Impute, Preprocessor};
use neuron::{Cpu, Matrix};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = root.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n != "README") {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[test]
fn csv_reader_inputs() {
    let all = inputs("csv_reader");
    assert!(!all.is_empty());
    for (_, data) in all {
        if let Ok(table) = read_csv_bytes(data, "fuzz.csv") {
            for (standardize, impute) in [(true, None), (false, Some(Impute::Median))] {
                if let Ok(p) = Preprocessor::fit(&table, None, None, standardize, impute) {
                    let _ = p.transform(&table, true);
                    let _ = p.transform(&table, false);
                }
            }
            let _ = Preprocessor::fit(&table, Some("0"), None, true, Some(Impute::Mean));
        }
    }
}

#[test]
fn idx_reader_inputs() {
    let all = inputs("idx_reader");
    assert!(!all.is_empty());
    for (name, data) in all {
        if let Ok(a) = neuron::data::idx::parse_idx(data, &name) {
            assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
        }
    }
}

#[test]
fn model_loader_inputs() {
    let all = inputs("model_loader");
    assert!(!all.is_empty());
    for (name, data) in all {
        if let Ok((mut model, _)) =
            neuron::io::model_file::from_bytes_on(&data, &name, Cpu::with_threads(1))
        {
            let n = model.input_dim();
            if n <= 4096 {
                let _ = model.predict(&Matrix::from_vec(2, n, vec![0.5f32; 2 * n]).unwrap());
            }
        }
    }
}

#[test]
fn onnx_loader_inputs() {
    let all = inputs("onnx_loader");
    assert!(!all.is_empty());
    for (name, data) in all {
        if let Ok((mut model, _)) =
            neuron::io::onnx::from_onnx_bytes(&data, &name, Cpu::with_threads(1))
        {
            let n = model.input_dim();
            if n <= 4096 {
                let _ = model.predict(&Matrix::from_vec(2, n, vec![0.5f32; 2 * n]).unwrap());
            }
        }
    }
}

#[test]
fn parquet_reader_inputs() {
    let all = inputs("parquet_reader");
    assert!(!all.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.parquet");
    let path_str = path.to_str().unwrap();
    let mut streamed = 0;
    for (name, data) in all {
        std::fs::write(&path, &data).unwrap();
        let _ = neuron::data::parquet::read_parquet_bytes(data, &name);
        // Streamed, as an epoch reads: number columns as numbers.
        streamed += usize::from(read_streamed(path_str).is_ok());
    }
    // The seeds include readable files, so the streaming reader's success path runs too.
    assert!(streamed > 0);
}

/// Every chunk of the file at `path`, streamed, integer and float columns as numbers.
fn read_streamed(path: &str) -> neuron::Result<usize> {
    let mut s = neuron::data::stream::TableStream::open(path, None)?;
    s.numbers_for(vec![true; s.headers().len()]);
    let mut chunk = neuron::data::records::RecordChunk::default();
    let mut chunks = 0;
    while s.next_records_into(&mut chunk, 7)? {
        chunks += 1;
    }
    Ok(chunks)
}
