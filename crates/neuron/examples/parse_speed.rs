//! Reading speed of a CSV or Parquet table on one thread, stage by stage: the text split into
//! cells (`TableStream`), the statistics pass (`Preprocessor::fit_stream`), and reading plus
//! encoding into network rows (what each streamed epoch does).
//!
//!     cargo run --release -p neuron --example parse_speed -- table.csv [repeats]

use std::time::Instant;

use neuron::data::cache::{encode_into, target_cols};
use neuron::data::csv::RawTable;
use neuron::data::preprocess::Preprocessor;
use neuron::data::records::{RecordChunk, CHUNK_ROWS};
use neuron::data::scaling::Scaling;
use neuron::data::stream::TableStream;
use neuron::Loss;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> neuron::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: parse_speed TABLE [repeats]");
    let repeats: usize = args.get(2).map_or(3, |r| r.parse().unwrap_or(3));
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64;
    let mut times = [Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..repeats {
        let t = Instant::now();
        let mut s = TableStream::open(path, None)?;
        let mut chunk = RawTable::default();
        let mut rows = 0;
        while s.next_chunk_into(&mut chunk, 1 << 14)? {
            rows += chunk.rows.len();
        }
        times[0].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut s = TableStream::open(path, None)?;
        let (p, n) = Preprocessor::fit_stream(&mut s, None, None, Scaling::Standard, None)?;
        assert_eq!(n, rows);
        times[1].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut s = TableStream::open(path, None)?;
        let mut records = RecordChunk::default();
        while s.next_records_into(&mut records, CHUNK_ROWS)? {}
        times[3].push(t.elapsed().as_secs_f64());
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let classes = p.labels().map_or(1, |l| l.len());
        let loss = Loss::CrossEntropy {
            label_smoothing: 0.0,
        };
        let spec = (loss, classes, target_cols(&p, loss, classes));
        // As an epoch reads (Parquet's number columns as numbers), then with every cell as text.
        for (stage, numbers) in [(2, true), (4, false)] {
            let t = Instant::now();
            let mut s = TableStream::open(path, None)?;
            if numbers {
                s.numbers_for(p.numeric_inputs(s.headers()));
            }
            while s.next_records_into(&mut records, CHUNK_ROWS)? {
                x.clear();
                y.clear();
                encode_into(&p, &records, spec, &mut x, &mut y)?;
            }
            times[stage].push(t.elapsed().as_secs_f64());
        }
    }
    let stages = [
        "cells",
        "statistics",
        "records + encoding",
        "records",
        "same, all as text",
    ];
    for (name, t) in stages.iter().zip(times) {
        let s = median(t);
        println!("{name:>18}: {s:.3} s, {:.1} MB/s", bytes / s / 1e6);
    }
    Ok(())
}
