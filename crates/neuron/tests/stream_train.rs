//! Training from a table streamed from disk (`StreamSource`): without shuffling it trains exactly
//! the model that in-memory training gives on the same rows in the same order; with a shuffle
//! buffer it is seeded (the same seed, the same model) and learns.

use neuron::data::cache::{cache_key, RowCache};
use neuron::data::csv::read_csv_bytes;
use neuron::data::holdout::{HeldRows, Holdout, Part};
use neuron::data::preprocess::Preprocessor;
use neuron::data::stream::TableStream;
use neuron::{
    Cpu, Dataset, DatasetSource, FitConfig, Loss, Optimizer, OptimizerConfig, Sequential,
    StreamSource, TrainRun,
};

/// 500 rows: two features, a class given by a circle, in CSV.
fn csv() -> String {
    csv_of(500)
}

/// `n` rows of [`csv`]'s kind.
fn csv_of(n: usize) -> String {
    let mut s = String::from("u,v,class\n");
    for i in 0..n {
        let (u, v) = (
            ((i * 37) % 101) as f64 / 25.0 - 2.0,
            ((i * 53) % 97) as f64 / 24.0 - 2.0,
        );
        let class = if u * u + v * v < 1.6 { "in" } else { "out" };
        s.push_str(&format!("{u:.4},{v:.4},{class}\n"));
    }
    s
}

fn model() -> Sequential<Cpu<f32>> {
    Sequential::builder(2)
        .dense(16)
        .relu()
        .dense(2)
        .loss(Loss::cross_entropy())
        .seed(5)
        .build(Cpu::<f32>::with_threads(1))
        .unwrap()
}

fn cfg(shuffle: bool) -> FitConfig {
    FitConfig {
        epochs: 3,
        batch_size: 32,
        seed: 9,
        shuffle,
        ..FitConfig::default()
    }
}

/// Trains on the streamed file; returns the weights.
fn streamed(path: &str, pre: &Preprocessor, shuffle: bool, buffer: usize) -> Vec<Vec<f32>> {
    let mut m = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let mut src =
        StreamSource::new(path, None, pre.clone(), Loss::cross_entropy(), 2, buffer).unwrap();
    TrainRun::new(&mut m, &mut opt, &mut src, &cfg(shuffle))
        .unwrap()
        .run()
        .unwrap();
    m.params().unwrap()
}

#[test]
fn streamed_training_equals_in_memory_training_on_the_same_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv()).unwrap();
    let t = read_csv_bytes(csv().into_bytes(), "t.csv").unwrap();
    let pre = Preprocessor::fit(&t, None, None, true, None).unwrap();
    let e = pre.transform(&t, true).unwrap();
    let data = Dataset::new(e.x.clone(), e.targets(Loss::cross_entropy(), 2).unwrap()).unwrap();
    let mut m = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let be = m.backend().clone();
    let mut src = DatasetSource::new(&be, &data).unwrap();
    TrainRun::new(&mut m, &mut opt, &mut src, &cfg(false))
        .unwrap()
        .run()
        .unwrap();
    let path = path.to_str().unwrap();
    // File order, whatever the buffer: bit for bit the in-memory model.
    for buffer in [1, 100, 10_000] {
        assert_eq!(
            streamed(path, &pre, false, buffer),
            m.params().unwrap(),
            "buffer {buffer}"
        );
    }
    // Shuffled through a buffer: seeded, and it learns the circle.
    let a = streamed(path, &pre, true, 64);
    assert_eq!(a, streamed(path, &pre, true, 64));
    assert_ne!(a, m.params().unwrap());
    let mut learned = model();
    learned.set_params(&a).unwrap();
    let classes = learned.predict_classes(&e.x).unwrap();
    let truth = e.classes.as_ref().unwrap();
    let right = classes.iter().zip(truth).filter(|(p, t)| p == t).count();
    assert!(right as f64 / truth.len() as f64 > 0.8, "{right} of 500");
}

/// Trains on the rows of `cache`; returns the weights.
fn cached(cache: &RowCache, shuffle: bool, buffer: usize) -> Vec<Vec<f32>> {
    let mut m = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let mut src = StreamSource::from_cache(cache, (Loss::cross_entropy(), 2), buffer).unwrap();
    TrainRun::new(&mut m, &mut opt, &mut src, &cfg(shuffle))
        .unwrap()
        .run()
        .unwrap();
    m.params().unwrap()
}

fn build(dir: &std::path::Path, src: &str, pre: &Preprocessor, block: usize) -> RowCache {
    let key = cache_key(src, serde_json::json!({"test": 1})).unwrap();
    let mut s = TableStream::open(src, None).unwrap();
    let none = Holdout::none();
    RowCache::build(
        dir,
        key,
        &mut s,
        (pre, &none),
        (Loss::cross_entropy(), 2),
        block,
    )
    .unwrap()
}

#[test]
fn a_row_cache_trains_the_same_model_as_the_text_and_is_rebuilt_when_the_source_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv()).unwrap();
    let src = path.to_str().unwrap();
    let t = read_csv_bytes(csv().into_bytes(), "t.csv").unwrap();
    let pre = Preprocessor::fit(&t, None, None, true, None).unwrap();
    let cdir = dir.path().join("cache");
    // Blocks of 64 rows, the last one short (500 = 7 × 64 + 52).
    let cache = build(&cdir, src, &pre, 64);
    assert_eq!((cache.meta().rows, cache.meta().x_cols), (500, 2));
    // In file order the cached rows are the text's rows: bit for bit the same model.
    let text = streamed(src, &pre, false, 100);
    assert_eq!(cached(&cache, false, 100), text);
    assert_eq!(cached(&cache, false, 1), text);
    // Shuffled (block order and buffer): seeded, different from file order.
    let a = cached(&cache, true, 64);
    assert_eq!(a, cached(&cache, true, 64));
    assert_ne!(a, text);
    // The cache is found again for the same source and options ...
    let key = |opts| cache_key(src, opts).unwrap();
    let same = key(serde_json::json!({"test": 1}));
    let again = RowCache::open(&cdir, &same)
        .unwrap()
        .expect("a valid cache");
    assert_eq!(cached(&again, false, 100), text);
    // ... but not for other options, nor once the file changed, nor after an interrupted build.
    assert!(RowCache::open(&cdir, &key(serde_json::json!({"test": 2})))
        .unwrap()
        .is_none());
    std::fs::write(&path, csv() + "0.1,0.2,in\n").unwrap();
    assert!(RowCache::open(&cdir, &key(serde_json::json!({"test": 1})))
        .unwrap()
        .is_none());
    let rebuilt = build(&cdir, src, &pre, 64);
    assert_eq!(rebuilt.meta().rows, 501);
    let rows = cdir.join("rows.f32");
    let len = std::fs::metadata(&rows).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&rows)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    assert!(RowCache::open(&cdir, &key(serde_json::json!({"test": 1})))
        .unwrap()
        .is_none());
}

#[test]
fn shards_in_name_order_are_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = csv();
    let mut rows = text.lines();
    let header = rows.next().unwrap().to_string();
    let rows: Vec<&str> = rows.collect();
    for (k, part) in rows.chunks(100).enumerate() {
        let body = format!("{header}\n{}\n", part.join("\n"));
        std::fs::write(dir.path().join(format!("part-{k}.csv")), body).unwrap();
    }
    let src = dir.path().to_str().unwrap();
    let t = read_csv_bytes(csv().into_bytes(), "t.csv").unwrap();
    let pre = Preprocessor::fit(&t, None, None, true, None).unwrap();
    // In name order the shards are the whole file.
    let other = tempfile::tempdir().unwrap();
    let whole = other.path().join("whole.csv");
    std::fs::write(&whole, csv()).unwrap();
    assert_eq!(
        streamed(src, &pre, false, 10),
        streamed(whole.to_str().unwrap(), &pre, false, 10)
    );
}

/// Every row a source gives in one epoch, inputs then targets, in order.
fn drain(src: &mut StreamSource, be: &Cpu<f32>) -> Vec<Vec<f32>> {
    drain_epoch(src, be, None)
}

/// Every row a source gives in one epoch: shuffled with `seed`, or in order.
fn drain_epoch(src: &mut StreamSource, be: &Cpu<f32>, seed: Option<u64>) -> Vec<Vec<f32>> {
    use neuron::train::BatchSource;
    use neuron::Backend;
    let mut rng = neuron::Rng::new(seed.unwrap_or(1));
    BatchSource::<Cpu<f32>>::begin_epoch(src, be, &mut rng, seed.is_some()).unwrap();
    let (xc, yc, n) = (
        BatchSource::<Cpu<f32>>::x_cols(src),
        BatchSource::<Cpu<f32>>::y_cols(src),
        BatchSource::<Cpu<f32>>::rows(src),
    );
    let mut x = be.alloc(xc).unwrap();
    let mut y = be.alloc(yc).unwrap();
    let mut rows = Vec::new();
    for i in 0..n {
        src.load(be, i..i + 1, &mut x, &mut y).unwrap();
        let mut r = vec![0.0; xc + yc];
        be.download(&x, &mut r[..xc]).unwrap();
        be.download(&y, &mut r[xc..]).unwrap();
        rows.push(r);
    }
    rows
}

#[test]
fn held_out_rows_never_reach_training_or_its_statistics_and_the_cache_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let h = Holdout::new(11, 0.2, 0.1).unwrap();
    // Held-out rows carry a marker value (1000) in `u`: it must not appear in training.
    let mut text = String::from("u,v,class\n");
    let mut held = 0;
    for i in 0..3000u64 {
        let line = i + 2;
        let v = (i % 17) as f64 / 8.0 - 1.0;
        let u = if h.part("t.csv", line) == Part::Train {
            (i % 13) as f64 / 6.0 - 1.0
        } else {
            held += 1;
            1000.0
        };
        let class = if u > v { "a" } else { "b" };
        text.push_str(&format!("{u},{v},{class}\n"));
    }
    let path = dir.path().join("t.csv");
    std::fs::write(&path, &text).unwrap();
    let src = path.to_str().unwrap();
    let mut s = TableStream::open(src, None).unwrap();
    let mut kept = HeldRows::default();
    let opts = neuron::data::preprocess::StreamFit {
        target: None,
        task: None,
        scaling: neuron::data::scaling::Scaling::Standard,
        impute: None,
        skip_bad_rows: false,
        rules: Default::default(),
    };
    let f = Preprocessor::fit_stream_with(&mut s, &opts, &h, &mut kept).unwrap();
    let (pre, rows, segments) = (f.pre, f.rows, f.segments);
    assert_eq!(rows + held, 3000);
    assert_eq!(kept.validation_seen + kept.test_seen, held);
    assert!(kept.validation.rows.iter().all(|r| r[0] == "1000"));
    // Standardised with the training rows' statistics only: every input is small.
    let be = Cpu::<f32>::with_threads(1);
    let spec = (Loss::cross_entropy(), 2);
    let mut text_src = StreamSource::with_segments(src, None, pre.clone(), spec, 500, segments)
        .unwrap()
        .holding_out(h);
    let trained = drain(&mut text_src, &be);
    assert_eq!(trained.len(), rows);
    let bad: Vec<_> = trained
        .iter()
        .filter(|r| r[0].abs() >= 5.0)
        .take(3)
        .collect();
    let nbad = trained.iter().filter(|r| r[0].abs() >= 5.0).count();
    assert!(
        bad.is_empty(),
        "a held-out row was trained on: {nbad} of {} {held} {bad:?}",
        trained.len()
    );
    // The cache stores the same training rows, and the held-out ones apart.
    let key = cache_key(src, serde_json::json!({})).unwrap();
    let mut s = TableStream::open(src, None).unwrap();
    let cache = RowCache::build(&dir.path().join("c"), key, &mut s, (&pre, &h), spec, 256).unwrap();
    assert_eq!(
        drain(
            &mut StreamSource::from_cache(&cache, spec, 500).unwrap(),
            &be
        ),
        trained
    );
    let val = cache.held(false).unwrap().unwrap();
    assert_eq!(val.x.rows(), kept.validation_seen);
    assert_eq!(cache.held(true).unwrap().unwrap().x.rows(), kept.test_seen);
}

/// Keeps the state a checkpoint would save after `at` steps within an epoch.
struct Keep {
    at: Option<u64>,
    saved: Option<(Vec<Vec<f32>>, neuron::OptimizerState, neuron::TrainState)>,
}

impl neuron::Checkpointer<Cpu<f32>> for Keep {
    fn due(&mut self, _epoch: usize) -> bool {
        false
    }

    fn due_within_epoch(&mut self, steps: u64, _batch: usize) -> bool {
        Some(steps) == self.at
    }

    fn save(
        &mut self,
        model: &Sequential<Cpu<f32>>,
        opt: &Optimizer<Cpu<f32>>,
        state: &neuron::TrainState,
        _best: Option<&[Vec<f32>]>,
    ) -> neuron::Result<()> {
        // The first save (the one in the middle of an epoch); the run's final save is not kept.
        if self.saved.is_none() {
            let st = opt.state(model.backend())?;
            self.saved = Some((model.params()?, st, state.clone()));
        }
        Ok(())
    }
}

#[test]
fn a_stream_checkpointed_mid_epoch_resumes_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv()).unwrap();
    let path = path.to_str().unwrap();
    let t = read_csv_bytes(csv().into_bytes(), "t.csv").unwrap();
    let pre = Preprocessor::fit(&t, None, None, true, None).unwrap();
    let source = || StreamSource::new(path, None, pre.clone(), Loss::cross_entropy(), 2, 64);
    // Uninterrupted, saving in the middle of the second epoch (500 rows: 16 steps an epoch).
    let mut m = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let mut keep = Keep {
        at: Some(16 + 7),
        saved: None,
    };
    let mut src = source().unwrap();
    let run = TrainRun::new(&mut m, &mut opt, &mut src, &cfg(true)).unwrap();
    run.checkpointer(&mut keep).run().unwrap();
    let reference = m.params().unwrap();
    let (weights, ostate, state) = keep.saved.expect("saved mid-epoch");
    assert_eq!((state.epoch, state.batch), (2, 7));
    // Resumed from that state with a new reader: the epoch's first 7 batches are read again and
    // drawn, not trained on, so the shuffle buffer and every later batch are the same.
    let mut m = model();
    m.set_params(&weights).unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    opt.load_state(ostate).unwrap();
    let mut src = source().unwrap();
    let resume = neuron::Resume {
        state,
        best_weights: None,
    };
    let run = TrainRun::new(&mut m, &mut opt, &mut src, &cfg(true)).unwrap();
    run.resume(resume).run().unwrap();
    assert_eq!(m.params().unwrap(), reference);
}

/// The weights each of `workers` threads trains, each streaming `path` (shuffled through a buffer
/// of 64 rows) and training on its share of every batch, the gradients summed across them. With
/// momentum, not Adam: Adam's step hardly changes if every worker trained on the whole batch.
fn streamed_on_workers(path: &str, pre: &Preprocessor, workers: usize) -> Vec<Vec<Vec<f32>>> {
    on_workers(path, pre, workers, (model, cfg(true)))
}

/// The weights each of `workers` threads trains a network made by `net` with `cfg` (see
/// [`streamed_on_workers`]).
fn on_workers(
    path: &str,
    pre: &Preprocessor,
    workers: usize,
    (net, cfg): (fn() -> Sequential<Cpu<f32>>, FitConfig),
) -> Vec<Vec<Vec<f32>>> {
    let threads: Vec<_> = neuron::ThreadSync::group(workers)
        .into_iter()
        .enumerate()
        .map(|(k, mut sync)| {
            let (path, pre, cfg) = (path.to_string(), pre.clone(), cfg.clone());
            std::thread::spawn(move || {
                let mut m = net();
                let mut opt = Optimizer::new(OptimizerConfig::momentum(0.1, 0.9)).unwrap();
                let src = StreamSource::new(&path, None, pre, Loss::cross_entropy(), 2, 64);
                let mut src = src.unwrap().shard(k, workers).unwrap();
                TrainRun::new(&mut m, &mut opt, &mut src, &cfg)
                    .unwrap()
                    .sync(&mut sync)
                    .run()
                    .unwrap();
                m.params().unwrap()
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// The weights of all workers are the same, and within 1e-5 relative of `one`'s.
fn assert_agree(all: &[Vec<Vec<f32>>], one: &[Vec<f32>]) {
    let workers = all.len();
    for params in all {
        assert_eq!(params, &all[0], "workers disagree");
        for (p, q) in params.iter().flatten().zip(one.iter().flatten()) {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(1.0),
                "{workers} workers: {p} vs {q}"
            );
        }
    }
}

#[test]
fn workers_sharing_a_stream_train_the_model_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, csv()).unwrap();
    let t = read_csv_bytes(csv().into_bytes(), "t.csv").unwrap();
    let pre = Preprocessor::fit(&t, None, None, true, None).unwrap();
    let path = path.to_str().unwrap();
    let one = streamed_on_workers(path, &pre, 1).remove(0);
    assert_ne!(one, model().params().unwrap(), "nothing was trained");
    // 3 cuts each batch of 32 unevenly (10, 11, 11), and the last batch of 20 too.
    for workers in [2, 3] {
        let all = streamed_on_workers(path, &pre, workers);
        assert_agree(&all, &one);
        assert_eq!(streamed_on_workers(path, &pre, workers)[0], all[0]);
    }
}

/// A table of several segments: each worker reads only its own, the rows of a batch are
/// arranged by segment, and dropout is drawn per position of the global batch, so 1, 2 and 3
/// workers (3 own unequal numbers of segments) train the same network.
#[test]
fn workers_reading_their_own_segments_train_the_model_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    let text = csv_of(40_000);
    std::fs::write(&path, &text).unwrap();
    let path = path.to_str().unwrap();
    let mut s = TableStream::open(path, None).unwrap();
    let (pre, _) = Preprocessor::fit_stream(
        &mut s,
        None,
        None,
        neuron::data::scaling::Scaling::Standard,
        None,
    )
    .unwrap();
    let src = StreamSource::new(path, None, pre.clone(), Loss::cross_entropy(), 2, 64).unwrap();
    assert!(src.segments().len() >= 3, "{:?}", src.segments());
    fn net() -> Sequential<Cpu<f32>> {
        Sequential::builder(2)
            .dense(16)
            .relu()
            .dropout(0.2)
            .dense(2)
            .loss(Loss::cross_entropy())
            .seed(5)
            .build(Cpu::<f32>::with_threads(1))
            .unwrap()
    }
    let cfg = FitConfig {
        epochs: 1,
        batch_size: 250,
        ..cfg(true)
    };
    let one = on_workers(path, &pre, 1, (net, cfg.clone())).remove(0);
    assert_ne!(one, net().params().unwrap(), "nothing was trained");
    for workers in [2, 3] {
        assert_agree(&on_workers(path, &pre, workers, (net, cfg.clone())), &one);
    }
}

/// Shuffled, an epoch gives every row once, its first rows come from all over the table (the
/// segments of four large shards), in a new seeded order each epoch.
#[test]
fn a_shuffled_epoch_mixes_rows_from_all_over_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let shards = 4;
    let rows = 100_000;
    for k in 0..shards {
        let mut text = String::from("id,u,class\n");
        for i in k * rows / shards..(k + 1) * rows / shards {
            text.push_str(&format!("{i},{}.{},{}\n", i % 17, i % 7, ["a", "b"][i % 2]));
        }
        std::fs::write(dir.path().join(format!("part-{k}.csv")), text).unwrap();
    }
    let src = dir.path().to_str().unwrap();
    let opts = neuron::data::preprocess::StreamFit {
        target: None,
        task: None,
        scaling: neuron::data::scaling::Scaling::None,
        impute: None,
        skip_bad_rows: false,
        rules: Default::default(),
    };
    let mut s = TableStream::open(src, None).unwrap();
    let f =
        Preprocessor::fit_stream_with(&mut s, &opts, &Holdout::none(), &mut HeldRows::default())
            .unwrap();
    assert!(f.segments.len() >= shards, "{:?}", f.segments);
    let be = Cpu::<f32>::with_threads(1);
    let spec = (Loss::cross_entropy(), 2);
    let mut firsts = Vec::new();
    for seed in [1, 2] {
        let mut src =
            StreamSource::with_segments(src, None, f.pre.clone(), spec, 1000, f.segments.clone())
                .unwrap();
        let mut ids: Vec<usize> = drain_epoch(&mut src, &be, Some(seed))
            .iter()
            .map(|r| r[0] as usize)
            .collect();
        let mut from: Vec<usize> = ids[..20].iter().map(|i| i * shards / rows).collect();
        from.sort();
        from.dedup();
        assert_eq!(
            from.len(),
            shards,
            "the first rows come from shards {from:?}"
        );
        firsts.push(ids[..20].to_vec());
        ids.sort();
        assert_eq!(ids, (0..rows).collect::<Vec<_>>());
    }
    assert_ne!(firsts[0], firsts[1]);
}
