//! Parquet's number columns streamed as numbers (no text written and parsed again) give exactly
//! what their text gives: the statistics pass fits the same preprocessing as on a CSV holding the
//! cells' text, and streamed training (from the file or from a row cache built from it) equals
//! in-memory training on the same rows in the same order, bit for bit, for float, double and
//! integer columns.

use std::sync::Arc;

use neuron::data::cache::{cache_key, RowCache};
use neuron::data::csv::read_csv_bytes;
use neuron::data::holdout::Holdout;
use neuron::data::parquet::read_parquet_path;
use neuron::data::preprocess::Preprocessor;
use neuron::data::scaling::Scaling;
use neuron::data::stream::TableStream;
use neuron::{
    Cpu, Dataset, DatasetSource, FitConfig, Loss, Optimizer, OptimizerConfig, Sequential,
    StreamSource, TrainRun,
};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// Rows; column `w` then has 12,000 distinct values, more than the statistics pass counts
/// (10,000), so that both of its ways with numbers are taken.
const ROWS: usize = 15_000;

/// Row `i`: a float with no short decimal, a double, a small integer, a float of many distinct
/// values (every fifth one missing), and a class given by a circle.
fn row(i: usize) -> (f32, f64, i32, Option<f32>, &'static str) {
    let u = ((i * 37) % 1001) as f32 / 250.3 - 2.0;
    let v = ((i * 53) % 997) as f64 / 240.7 - 2.0;
    let w = (i % 5 != 2).then(|| (i as f32 * 0.731).sin() * 3.0);
    let class = if f64::from(u).powi(2) + v * v < 1.6 {
        "in"
    } else {
        "out"
    };
    (u, v, (i % 17) as i32 - 8, w, class)
}

fn write_parquet(path: &std::path::Path) {
    // Two row groups.
    write_groups(path, &[0..5_000, 5_000..ROWS]);
}

/// Writes rows [`row`] in row groups of the given rows.
fn write_groups(path: &std::path::Path, groups: &[std::ops::Range<usize>]) {
    let schema = "message t { required float u; required double v; required int32 k;
        optional float w; required binary class (UTF8); }";
    let schema = Arc::new(parse_message_type(schema).unwrap());
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, schema, Default::default()).unwrap();
    for rows in groups.iter().cloned() {
        let r: Vec<_> = rows.map(row).collect();
        let mut g = w.next_row_group().unwrap();
        let mut c = g.next_column().unwrap().unwrap();
        let u: Vec<f32> = r.iter().map(|r| r.0).collect();
        c.typed::<FloatType>().write_batch(&u, None, None).unwrap();
        c.close().unwrap();
        let mut c = g.next_column().unwrap().unwrap();
        let v: Vec<f64> = r.iter().map(|r| r.1).collect();
        c.typed::<DoubleType>().write_batch(&v, None, None).unwrap();
        c.close().unwrap();
        let mut c = g.next_column().unwrap().unwrap();
        let k: Vec<i32> = r.iter().map(|r| r.2).collect();
        c.typed::<Int32Type>().write_batch(&k, None, None).unwrap();
        c.close().unwrap();
        let mut c = g.next_column().unwrap().unwrap();
        let defs: Vec<i16> = r.iter().map(|r| i16::from(r.3.is_some())).collect();
        let w: Vec<f32> = r.iter().filter_map(|r| r.3).collect();
        c.typed::<FloatType>()
            .write_batch(&w, Some(&defs), None)
            .unwrap();
        c.close().unwrap();
        let mut c = g.next_column().unwrap().unwrap();
        let class: Vec<ByteArray> = r.iter().map(|r| ByteArray::from(r.4)).collect();
        c.typed::<ByteArrayType>()
            .write_batch(&class, None, None)
            .unwrap();
        c.close().unwrap();
        g.close().unwrap();
    }
    w.close().unwrap();
}

/// The same rows as CSV, each number written as the text Parquet's cells read as (a float as
/// its exact value).
fn csv() -> String {
    let mut s = String::from("u,v,k,w,class\n");
    for i in 0..ROWS {
        let (u, v, k, w, class) = row(i);
        let w = w.map_or(String::new(), |w| f64::from(w).to_string());
        s.push_str(&format!("{},{v},{k},{w},{class}\n", f64::from(u)));
    }
    s
}

fn model() -> Sequential<Cpu<f32>> {
    Sequential::builder(4)
        .dense(8)
        .relu()
        .dense(2)
        .loss(Loss::cross_entropy())
        .seed(5)
        .build(Cpu::<f32>::with_threads(1))
        .unwrap()
}

fn cfg() -> FitConfig {
    FitConfig {
        epochs: 2,
        batch_size: 64,
        seed: 9,
        shuffle: false,
        ..FitConfig::default()
    }
}

fn fitted(path: &str) -> Preprocessor {
    let mut s = TableStream::open(path, None).unwrap();
    let impute = Some(neuron::data::preprocess::Impute::Mean);
    let (pre, rows) =
        Preprocessor::fit_stream(&mut s, None, None, Scaling::Standard, impute).unwrap();
    assert_eq!(rows, ROWS);
    pre
}

#[test]
fn parquet_numbers_read_as_numbers_fit_and_train_as_their_text_does() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("t.parquet");
    write_parquet(&pq);
    let csv_path = dir.path().join("t.csv");
    std::fs::write(&csv_path, csv()).unwrap();
    let (pq, csv_path) = (pq.to_str().unwrap(), csv_path.to_str().unwrap());

    // The statistics pass: numbers straight from Parquet, or the same values as CSV text.
    let pre = fitted(pq);
    let json = |p: &Preprocessor| serde_json::to_string(p).unwrap();
    assert_eq!(json(&pre), json(&fitted(csv_path)));
    assert_eq!(pre.columns.len(), 4, "{}", json(&pre));

    // In memory (every cell as text) and streamed (numbers as numbers): the same model.
    let t = read_parquet_path(pq).unwrap();
    assert_eq!(
        t.rows,
        read_csv_bytes(csv().into_bytes(), "t.csv").unwrap().rows
    );
    let e = pre.transform(&t, true).unwrap();
    let data = Dataset::new(e.x.clone(), e.targets(Loss::cross_entropy(), 2).unwrap()).unwrap();
    let mut m = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let be = m.backend().clone();
    let mut src = DatasetSource::new(&be, &data).unwrap();
    TrainRun::new(&mut m, &mut opt, &mut src, &cfg())
        .unwrap()
        .run()
        .unwrap();
    for path in [pq, csv_path] {
        let mut s = model();
        let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
        let mut src =
            StreamSource::new(path, None, pre.clone(), Loss::cross_entropy(), 2, 1000).unwrap();
        TrainRun::new(&mut s, &mut opt, &mut src, &cfg())
            .unwrap()
            .run()
            .unwrap();
        assert_eq!(s.params().unwrap(), m.params().unwrap(), "{path}");
    }

    // A row cache built from the Parquet file: the same rows, so the same model again.
    let mut s = TableStream::open(pq, None).unwrap();
    let key = cache_key(pq, serde_json::json!({"test": 1})).unwrap();
    let none = Holdout::none();
    let spec = (Loss::cross_entropy(), 2);
    let cache = RowCache::build(
        &dir.path().join("c"),
        key,
        &mut s,
        (&pre, &none),
        spec,
        4096,
    );
    let cache = cache.unwrap();
    assert_eq!(cache.meta().rows, ROWS);
    let mut c = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let mut src = StreamSource::from_cache(&cache, spec, 1000).unwrap();
    TrainRun::new(&mut c, &mut opt, &mut src, &cfg())
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(c.params().unwrap(), m.params().unwrap(), "cache");
}

/// A Parquet file of many row groups is cut into segments at row groups: streamed in order it
/// trains exactly what its rows in memory train, and shuffled, 2 and 3 workers, each reading its
/// own segments, train what one does.
#[test]
fn a_parquet_file_is_cut_into_segments_at_its_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("t.parquet");
    let groups: Vec<_> = (0..10).map(|g| g * 15_000..(g + 1) * 15_000).collect();
    write_groups(&pq, &groups);
    let pq = pq.to_str().unwrap();
    let mut s = TableStream::open(pq, None).unwrap();
    let impute = Some(neuron::data::preprocess::Impute::Mean);
    let (pre, rows) =
        Preprocessor::fit_stream(&mut s, None, None, Scaling::Standard, impute).unwrap();
    assert_eq!(rows, 150_000);
    let source = || StreamSource::new(pq, None, pre.clone(), Loss::cross_entropy(), 2, 1000);
    let segments = source().unwrap().segments().to_vec();
    assert!(segments.len() >= 5, "{segments:?}");
    for g in &segments {
        assert_eq!((g.start.1.max(1) - 1) % 15_000, 0, "{segments:?}");
    }
    let train = |src: &mut StreamSource, cfg: &FitConfig| {
        let mut m = model();
        let mut opt = Optimizer::new(OptimizerConfig::momentum(0.05, 0.9)).unwrap();
        TrainRun::new(&mut m, &mut opt, src, cfg)
            .unwrap()
            .run()
            .unwrap();
        m.params().unwrap()
    };
    // In order: the rows in memory, in the same order.
    let cfg = FitConfig {
        epochs: 1,
        batch_size: 500,
        ..cfg()
    };
    let t = read_parquet_path(pq).unwrap();
    let e = pre.transform(&t, true).unwrap();
    let data = Dataset::new(e.x.clone(), e.targets(Loss::cross_entropy(), 2).unwrap()).unwrap();
    let mut m = model();
    let mut opt = Optimizer::new(OptimizerConfig::momentum(0.05, 0.9)).unwrap();
    let be = m.backend().clone();
    let mut mem = DatasetSource::new(&be, &data).unwrap();
    TrainRun::new(&mut m, &mut opt, &mut mem, &cfg)
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(train(&mut source().unwrap(), &cfg), m.params().unwrap());
    // Shuffled, on workers (30 steps: over hundreds, momentum makes the sums' other order grow
    // past 1e-5).
    let cfg = FitConfig {
        shuffle: true,
        batch_size: 5000,
        ..cfg
    };
    let one = train(&mut source().unwrap(), &cfg);
    for workers in [2, 3] {
        let all: Vec<Vec<Vec<f32>>> = neuron::ThreadSync::group(workers)
            .into_iter()
            .enumerate()
            .map(|(k, mut sync)| {
                let (mut src, cfg) = (source().unwrap().shard(k, workers).unwrap(), cfg.clone());
                std::thread::spawn(move || {
                    let mut m = model();
                    let mut opt = Optimizer::new(OptimizerConfig::momentum(0.05, 0.9)).unwrap();
                    let run = TrainRun::new(&mut m, &mut opt, &mut src, &cfg).unwrap();
                    run.sync(&mut sync).run().unwrap();
                    m.params().unwrap()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        for (p, q) in all[0].iter().flatten().zip(one.iter().flatten()) {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(1.0),
                "{workers} workers: {p} vs {q}"
            );
        }
    }
}
