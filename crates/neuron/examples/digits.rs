//! Classify 8×8 handwritten digits (1,797 images, 10 classes): train on 80 %, test on 20 %.
//!
//! Run with `cargo run --release -p neuron --example digits`.

use neuron::data::csv::read_csv_path;
use neuron::metrics::classification_report;
use neuron::{
    Cpu, Dataset, EpochRecord, Event, FitConfig, Loss, LrSchedule, Matrix, Optimizer,
    OptimizerConfig, Sequential,
};

fn main() -> neuron::Result<()> {
    let t = read_csv_path(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz"))?;
    let cols = t.headers.len() - 1;
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for row in &t.rows {
        x.extend(
            row[..cols]
                .iter()
                .map(|v| v.parse::<f32>().unwrap_or(0.0) / 16.0),
        );
        labels.push(row[cols].parse::<usize>().unwrap_or(0));
    }
    let data = Dataset::classification(Matrix::from_vec(labels.len(), cols, x)?, &labels)?;
    let (train, test) = data.split(0.2, 42)?;

    let mut model = Sequential::builder(cols)
        .dense(256)
        .relu()
        .dropout(0.2)
        .dense(128)
        .relu()
        .dropout(0.2)
        .dense(10)
        .loss(Loss::CrossEntropy {
            label_smoothing: 0.1,
        })
        .seed(1)
        .build(Cpu::<f32>::new())?;
    let mut opt = Optimizer::new(OptimizerConfig::adamw(2e-3, 1e-2).schedule(
        LrSchedule::Cosine {
            warmup: 2.0,
            min_lr: 0.0,
        },
    ))?;
    let cfg = FitConfig {
        epochs: 60,
        batch_size: 32,
        seed: 7,
        validation_split: 0.1,
        ..FitConfig::default()
    };
    let mut print_epoch = |e: &Event<'_>| {
        if let Event::EpochEnd(EpochRecord {
            epoch,
            loss,
            val_accuracy: Some(va),
            ..
        }) = e
        {
            if epoch % 10 == 0 {
                println!(
                    "epoch {epoch:3}  loss {loss:.4}  validation accuracy {:.2} %",
                    va * 100.0
                );
            }
        }
        neuron::Control::Continue
    };
    model.fit(&mut opt, &train, None, &cfg, &mut print_epoch)?;
    let pred = model.predict_classes(&test.x)?;
    let r = classification_report(&test.labels(), &pred, 10);
    println!(
        "test accuracy {:.2} % on {} held-out digits",
        r.accuracy * 100.0,
        r.n
    );
    for (digit, row) in r.confusion.iter().enumerate() {
        println!("  {digit}: {row:?}");
    }
    Ok(())
}
