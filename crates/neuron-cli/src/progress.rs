//! Training progress: a live bar on a terminal, one plain line per epoch otherwise.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use neuron::{Control, EpochRecord, Event, Observer};

/// Prints training progress to stderr.
pub struct Progress {
    quiet: bool,
    bar: Option<ProgressBar>,
    tty: bool,
    epochs: usize,
    epoch_start: Instant,
    pub interrupted: Option<&'static std::sync::atomic::AtomicBool>,
}

impl Progress {
    pub fn new(quiet: bool, epochs: usize) -> Self {
        Progress {
            quiet,
            bar: None,
            tty: std::io::stderr().is_terminal(),
            epochs,
            epoch_start: Instant::now(),
            interrupted: None,
        }
    }

    fn line(&self, r: &EpochRecord) -> String {
        let mut s = format!("epoch {:>3}/{}  loss {:.4}", r.epoch, self.epochs, r.loss);
        if let Some(a) = r.accuracy {
            s += &format!("  acc {:.2}%", a * 100.0);
        }
        if let Some(v) = r.val_loss {
            s += &format!("  val_loss {v:.4}");
        }
        if let Some(a) = r.val_accuracy {
            s += &format!("  val_acc {:.2}%", a * 100.0);
        }
        if let Some(m) = r.val_mae {
            s += &format!("  val_mae {m:.4}");
        }
        if let Some(r2) = r.val_r2 {
            s += &format!("  val_r2 {r2:.4}");
        }
        s + &format!("  lr {:.2e}  {:.2}s", r.lr, r.seconds)
    }
}

impl Observer for Progress {
    fn on_event(&mut self, e: &Event<'_>) -> Control {
        // Ctrl-C stops at a step or an epoch's start. A stop at an epoch's end would end the run
        // as finished (an observer's early stop), not as an interruption to resume.
        if let (Some(flag), false) = (self.interrupted, matches!(e, Event::EpochEnd(_))) {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                return Control::Stop;
            }
        }
        if self.quiet {
            return Control::Continue;
        }
        match e {
            Event::EpochStart { epoch, samples, .. } => {
                self.epoch_start = Instant::now();
                if self.tty {
                    let bar = ProgressBar::new(*samples as u64);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(format!("{epoch}/{}", self.epochs));
                    self.bar = Some(bar);
                }
            }
            Event::Batch {
                batch,
                running_loss,
                samples,
                ..
            } => {
                if let Some(bar) = &self.bar {
                    if batch % 8 == 0 || *batch == 1 {
                        let rate =
                            *samples as f64 / self.epoch_start.elapsed().as_secs_f64().max(1e-9);
                        bar.set_position(*samples as u64);
                        bar.set_message(format!("loss {running_loss:.4} {rate:.0} samples/s"));
                    }
                }
            }
            Event::EpochEnd(r) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                eprintln!("{}", self.line(r));
            }
        }
        Control::Continue
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use neuron::{Control, EpochRecord, Event, Observer};

    use super::Progress;

    #[test]
    fn ctrl_c_stops_at_a_step_or_an_epoch_start_never_at_an_epoch_end() {
        static FLAG: AtomicBool = AtomicBool::new(true);
        let mut p = Progress::new(true, 3);
        p.interrupted = Some(&FLAG);
        let record = EpochRecord {
            epoch: 1,
            loss: 0.5,
            accuracy: None,
            val_loss: None,
            val_accuracy: None,
            val_mae: None,
            val_r2: None,
            lr: 0.1,
            seconds: 0.0,
        };
        assert_eq!(p.on_event(&Event::EpochEnd(&record)), Control::Continue);
        let start = Event::EpochStart {
            epoch: 2,
            batches: 1,
            samples: 1,
        };
        assert_eq!(p.on_event(&start), Control::Stop);
        let batch = Event::Batch {
            epoch: 2,
            batch: 1,
            running_loss: 0.5,
            samples: 1,
        };
        assert_eq!(p.on_event(&batch), Control::Stop);
    }
}
