//! The training loop's seams: several workers that combine their gradients train the same model
//! as one worker with the whole batch; a run driven step by step trains the same model as `fit`;
//! a step observer sees each layer's real inputs, outputs and gradients.

use neuron::{
    Control, Cpu, Dataset, DatasetSource, EpochEnd, FitConfig, Loss, Matrix, Optimizer,
    OptimizerConfig, Rng, Sequential, StepView, ThreadSync, TrainRun,
};

const ROWS: usize = 100;

/// 100 rows of 5 features, 3 classes by the sign pattern of two linear scores.
fn data() -> Dataset<f64> {
    let mut rng = Rng::new(11);
    let x: Vec<f64> = (0..ROWS * 5).map(|_| rng.uniform() * 2.0 - 1.0).collect();
    let y: Vec<f64> = x
        .chunks(5)
        .map(|r| {
            let a = r[0] + 0.5 * r[1] - r[2];
            let b = r[3] - r[4];
            (usize::from(a > 0.0) + usize::from(b > 0.2)) as f64
        })
        .collect();
    Dataset::new(
        Matrix::from_vec(ROWS, 5, x).unwrap(),
        Matrix::from_vec(ROWS, 1, y).unwrap(),
    )
    .unwrap()
}

fn model() -> Sequential<Cpu<f64>> {
    build(0.0)
}

/// With dropout: masks are drawn per position in the global batch, so workers draw one
/// worker's.
fn dropout_model() -> Sequential<Cpu<f64>> {
    build(0.3)
}

fn build(dropout: f64) -> Sequential<Cpu<f64>> {
    let b = Sequential::builder(5).dense(16).tanh();
    let b = if dropout > 0.0 { b.dropout(dropout) } else { b };
    b.dense(3)
        .loss(Loss::cross_entropy())
        .seed(7)
        .build(Cpu::<f64>::with_threads(1))
        .unwrap()
}

fn cfg() -> FitConfig {
    FitConfig {
        epochs: 2,
        batch_size: 32,
        seed: 3,
        ..FitConfig::default()
    }
}

fn optimizers() -> Vec<OptimizerConfig> {
    vec![
        OptimizerConfig::momentum(0.1, 0.9),
        OptimizerConfig::adam(0.01).clip_norm(1.0),
    ]
}

/// Weights and epoch losses after training on `workers` threads, one result per worker.
fn train_on_workers(oc: &OptimizerConfig, workers: usize) -> Vec<(Vec<Vec<f64>>, Vec<f64>)> {
    let data = data();
    let threads: Vec<_> = ThreadSync::group(workers)
        .into_iter()
        .enumerate()
        .map(|(k, mut sync)| {
            let (data, oc) = (data.clone(), oc.clone());
            std::thread::spawn(move || {
                let mut m = dropout_model();
                let mut opt = Optimizer::new(oc).unwrap();
                let be = m.backend().clone();
                let src = DatasetSource::new(&be, &data).unwrap();
                let mut src = src.shard(k, workers).unwrap();
                let run = TrainRun::new(&mut m, &mut opt, &mut src, &cfg()).unwrap();
                let h = run.sync(&mut sync).run().unwrap();
                let losses = h.epochs.iter().map(|e| e.loss).collect();
                (m.params().unwrap(), losses)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-6 * x.abs().max(y.abs()) + 1e-12,
            "{what}: {x} vs {y}"
        );
    }
}

#[test]
fn n_workers_with_a_share_of_the_batch_train_the_model_of_one_worker() {
    for oc in optimizers() {
        let mut one = dropout_model();
        let mut opt = Optimizer::new(oc.clone()).unwrap();
        let h = one
            .fit(&mut opt, &data(), None, &cfg(), &mut neuron::Silent)
            .unwrap();
        let reference = one.params().unwrap();
        let ref_losses: Vec<f64> = h.epochs.iter().map(|e| e.loss).collect();
        // 3 cuts the batch unevenly; 8 leaves some workers without rows in the last batch of 4.
        for workers in [2, 3, 4, 8] {
            let results = train_on_workers(&oc, workers);
            for (params, losses) in &results {
                assert_eq!(params, &results[0].0, "workers disagree");
                assert_close(losses, &ref_losses, "epoch loss");
                for (p, r) in params.iter().zip(&reference) {
                    assert_close(p, r, &format!("{workers} workers, {:?}", oc.kind));
                }
            }
            assert_ne!(
                results[0].0,
                model().params().unwrap(),
                "nothing was trained"
            );
            // The sums are taken in worker order: the same bits every time.
            assert_eq!(train_on_workers(&oc, workers)[0].0, results[0].0);
        }
    }
}

#[test]
fn a_run_driven_step_by_step_and_paused_trains_the_model_fit_does() {
    let data = data();
    let mut a = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    a.fit(&mut opt, &data, None, &cfg(), &mut neuron::Silent)
        .unwrap();

    let mut b = model();
    let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
    let be = b.backend().clone();
    let mut src = DatasetSource::new(&be, &data).unwrap();
    // Stops after every second step; each following step continues where it stopped.
    let mut count = 0;
    let mut pause = |_: &StepView<'_, Cpu<f64>>| {
        count += 1;
        match count % 2 {
            0 => Control::Stop,
            _ => Control::Continue,
        }
    };
    let mut run = TrainRun::new(&mut b, &mut opt, &mut src, &cfg())
        .unwrap()
        .inspect(&mut pause);
    let mut ends = Vec::new();
    loop {
        let end = run.step().unwrap();
        ends.push(end);
        if end == EpochEnd::Finished {
            break;
        }
    }
    assert_eq!(run.state().history.epochs.len(), 2);
    run.finish().unwrap();
    assert_eq!(a.params().unwrap(), b.params().unwrap());
    // 4 batches per epoch: steps 2 and 6 stop mid-epoch; steps 4 and 8 end an epoch.
    use EpochEnd::*;
    assert_eq!(
        ends,
        [
            Continue,
            Interrupted,
            Continue,
            Continue,
            Continue,
            Interrupted,
            Continue,
            Finished
        ]
    );
}

#[test]
fn the_step_observer_sees_the_batch_the_outputs_and_the_gradients() {
    let data = data();
    let mut m = model();
    // What one full-batch step should show: the outputs and gradients before the update.
    let mut probe = model();
    let outputs = probe.forward(&data.x, true).unwrap();
    probe.forward_backward(&data.x, &data.y).unwrap();
    let grads: Vec<Vec<f64>> = (0..4).map(|i| probe.grad(i).unwrap()).collect();

    let mut opt = Optimizer::new(OptimizerConfig::sgd(0.1)).unwrap();
    let be = m.backend().clone();
    let mut src = DatasetSource::new(&be, &data).unwrap();
    let cfg = FitConfig {
        epochs: 1,
        batch_size: ROWS,
        shuffle: false,
        ..FitConfig::default()
    };
    let mut seen = Vec::new();
    let mut look = |s: &StepView<'_, Cpu<f64>>| {
        let layers = s.layers();
        assert_eq!(layers.len(), 2, "dense+tanh and dense are one stage each");
        assert_eq!(layers[0].input.read().unwrap(), data.x.as_slice());
        assert_eq!(layers[1].output.shape, vec![ROWS, 3]);
        assert!(layers[0].pre_activation.is_some() && layers[1].pre_activation.is_none());
        seen.push((
            layers[1].output.read().unwrap(),
            layers
                .iter()
                .flat_map(|l| l.params.iter().map(|(_, g)| g.read().unwrap()))
                .collect::<Vec<_>>(),
            s.rows(),
        ));
        Control::Continue
    };
    TrainRun::new(&mut m, &mut opt, &mut src, &cfg)
        .unwrap()
        .inspect(&mut look)
        .run()
        .unwrap();
    assert_eq!(seen.len(), 1);
    let (out, g, rows) = &seen[0];
    assert_eq!(*rows, ROWS);
    assert_close(out, outputs.as_slice(), "outputs");
    for (a, b) in g.iter().zip(&grads) {
        assert_close(a, b, "gradients");
    }
}

#[test]
fn integer_sample_weights_train_the_model_that_repeated_rows_train() {
    let data = data();
    let counts: Vec<f64> = (0..ROWS).map(|i| (i % 4) as f64).collect();
    let keep: Vec<usize> = (0..ROWS)
        .flat_map(|i| std::iter::repeat_n(i, counts[i] as usize))
        .collect();
    let repeated = data.subset(&keep);
    for (loss, y) in [
        (Loss::cross_entropy(), None),
        (Loss::Mse, Some(data.x.clone())),
    ] {
        let cfg = |rows| FitConfig {
            epochs: 5,
            batch_size: rows,
            shuffle: false,
            ..FitConfig::default()
        };
        let build = || {
            let b = Sequential::builder(5).dense(8).tanh();
            let b = match loss {
                Loss::Mse => b.dense(5),
                _ => b.dense(3),
            };
            b.loss(loss)
                .seed(1)
                .build(Cpu::<f64>::with_threads(1))
                .unwrap()
        };
        // For regression, the targets are the inputs themselves (5 columns).
        let with_y = |d: &Dataset<f64>| match &y {
            Some(_) => Dataset::new(d.x.clone(), d.x.clone()).unwrap(),
            None => d.clone(),
        };
        let (data, repeated) = (with_y(&data), with_y(&repeated));
        let mut a = build();
        let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
        let ha = a
            .fit(
                &mut opt,
                &repeated,
                None,
                &cfg(keep.len()),
                &mut neuron::Silent,
            )
            .unwrap();
        let mut b = build();
        let mut opt = Optimizer::new(OptimizerConfig::adam(0.01)).unwrap();
        let be = b.backend().clone();
        let mut src = DatasetSource::new(&be, &data)
            .unwrap()
            .with_weights(counts.clone())
            .unwrap();
        let hb = TrainRun::new(&mut b, &mut opt, &mut src, &cfg(ROWS))
            .unwrap()
            .run()
            .unwrap();
        for (ea, eb) in ha.epochs.iter().zip(&hb.epochs) {
            assert!((ea.loss - eb.loss).abs() < 1e-10 * ea.loss, "{loss:?}");
        }
        for (p, q) in a.params().unwrap().iter().zip(&b.params().unwrap()) {
            assert_close(p, q, "weighted against repeated");
        }
    }
    let be = Cpu::<f64>::with_threads(1);
    let src = DatasetSource::new(&be, &data).unwrap();
    assert!(src.with_weights(vec![1.0; 3]).is_err());
    let src = DatasetSource::new(&be, &data).unwrap();
    assert!(src.with_weights(vec![-1.0; ROWS]).is_err());
}
