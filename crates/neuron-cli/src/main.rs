//! The `neuron` command: train, evaluate and predict with multi-layer perceptrons on CSV files,
//! MNIST-style image directories, or built-in data sets.

mod bench;
mod columns;
mod data;
mod device;
mod distributed;
mod eval;
mod export;
mod gradcheck;
mod model;
mod playground;
mod plot;
mod predict;
mod progress;
mod report;
mod summary;
mod train;

use clap::{Parser, Subcommand};

/// Build, train, evaluate and ship multi-layer perceptrons.
#[derive(Parser)]
#[command(name = "neuron", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (defaults: the built-in digits, saved to model.safetensors).
    Train(Box<train::TrainArgs>),
    /// Evaluate a saved model on labelled data.
    Eval(eval::EvalArgs),
    /// Predict with a saved model; writes CSV.
    Predict(predict::PredictArgs),
    /// Describe a saved model: layers, shapes, parameters, preprocessing, provenance.
    Summary(summary::SummaryArgs),
    /// Write a saved model as a standard ONNX model (opset 17) for ONNX Runtime and others.
    Export(export::ExportArgs),
    /// Measure training speed and prediction latency (Fashion-MNIST or random data).
    Bench(bench::BenchArgs),
    /// Check backpropagated gradients against finite differences on random networks.
    Gradcheck(gradcheck::GradcheckArgs),
    /// Serve a local page that trains a small network live and shows every neuron computing.
    Playground(playground::PlaygroundArgs),
}

/// The number of threads to compute with: `--threads`, else `NEURON_THREADS`, else every
/// available core.
pub(crate) fn init_threads(threads: Option<usize>) -> anyhow::Result<usize> {
    match threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

fn main() {
    // Never a backtrace: an unexpected panic becomes one line and exit code 101.
    std::panic::set_hook(Box::new(|info| {
        if neuron::data::parquet::in_guarded_call() {
            // A corrupt Parquet file tripped the decoder: the reader reports it as an error.
            return;
        }
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            // The reader went away (`neuron predict … | head`): stop quietly, as other Unix
            // tools do, with the status a shell reports for a tool ended by SIGPIPE.
            std::process::exit(141);
        }
        eprintln!("neuron: internal error: {msg} (please report this)");
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        None => train::run(&train::TrainArgs::default_args()),
        Some(Command::Train(a)) => train::run(&a),
        Some(Command::Eval(a)) => eval::run(&a),
        Some(Command::Predict(a)) => predict::run(&a),
        Some(Command::Summary(a)) => summary::run(&a),
        Some(Command::Export(a)) => export::run(&a),
        Some(Command::Gradcheck(a)) => gradcheck::run(&a),
        Some(Command::Bench(a)) => bench::run(&a),
        Some(Command::Playground(a)) => playground::run(&a),
    };
    if let Err(e) = result {
        let pipe = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        if pipe {
            // The same, for output written through a writer rather than `print!`.
            std::process::exit(141);
        }
        if e.is::<distributed::Reported>() {
            std::process::exit(1);
        }
        let line = match distributed::place() {
            Some((rank, size)) if rank > 0 => {
                format!("process {rank} of {size}: {}", error_line(&e))
            }
            _ => error_line(&e),
        };
        // One write: under mpirun, a line written in pieces can be split by mpirun's own output.
        let line = format!("neuron: error: {line}\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        std::process::exit(1);
    }
}

/// An error as one line: the context chain, skipping causes already spelled out by their parent.
pub(crate) fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain().map(|c| c.to_string()) {
        if !line.contains(&cause) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&cause);
        }
    }
    line.replace('\n', " ")
}
