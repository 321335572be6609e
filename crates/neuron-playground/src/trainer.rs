//! A session's trainer: a thread that owns the model, drives neuron's training loop
//! ([`TrainRun::step`]) while the page plays, answers the page's requests between steps, and
//! publishes a [`Frame`] at most [`MAX_FPS`] times a second.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neuron::{DatasetSource, EpochEnd, FitConfig, Sequential, TrainRun};
use tokio::sync::watch;

use crate::config::Config;
use crate::datasets::Points;
use crate::error::ApiError;
use crate::frame::{dense_layers, pictures, score, Frame};
use crate::network::{self, Be, Prepared};
use crate::walk::{walk, Walk};

/// Most frames a trainer publishes per second.
pub const MAX_FPS: f64 = 30.0;
/// Epochs per training run; a new run (with a new shuffling seed) continues where one ends, so
/// that a run's history stays small however long the page plays.
const EPOCHS_PER_RUN: usize = 200;

/// What the server asks a trainer.
pub enum Cmd {
    /// Train continuously.
    Play,
    /// Stop training (the model stays).
    Pause,
    /// Train one step and stop.
    Step,
    /// Train at most this many steps per second while playing (0: as fast as possible).
    Speed(u32),
    /// The walk-through of training row `.0`.
    Walk(usize, SyncSender<Result<Walk, ApiError>>),
    /// The model's weights, for a download.
    Params(SyncSender<Result<Sequential<Be>, ApiError>>),
    /// End the trainer (the session was closed).
    Quit,
}

/// Everything a trainer needs, built before its thread starts (so that a bad set-up is the
/// request's error, not the thread's).
pub struct Job {
    /// The set-up.
    pub cfg: Config,
    /// The points.
    pub points: Arc<Points>,
    /// The encoded data.
    pub prep: Arc<Prepared>,
    /// Where frames go.
    pub frames: Arc<watch::Sender<Arc<str>>>,
    /// The set-up's number within its session.
    pub generation: u64,
}

/// Counters of the run so far.
struct Progress {
    step: u64,
    playing: bool,
    error: Option<String>,
    /// Steps per second allowed (0: no limit), and since when and from which step it counts.
    speed: (u32, Instant, u64),
    rate: (Instant, u64, f64),
}

/// Starts the trainer thread; it ends when every sender of its commands is dropped.
pub fn spawn(job: Job, rx: Receiver<Cmd>) -> std::io::Result<()> {
    let m = network::build(&job.cfg, &job.points, job.prep.train.x.cols(), true);
    let view = network::build(&job.cfg, &job.points, job.prep.train.x.cols(), false);
    let opt = network::optimizer(&job.cfg);
    std::thread::Builder::new()
        .name("playground-trainer".into())
        .spawn(move || {
            if let (Ok(m), Ok(view), Ok(opt)) = (m, view, opt) {
                let _ = Trainer {
                    job,
                    view,
                    rx,
                    p: Progress {
                        step: 0,
                        playing: false,
                        error: None,
                        speed: (0, Instant::now(), 0),
                        rate: (Instant::now(), 0, 0.0),
                    },
                    last: None,
                    cost: Duration::ZERO,
                }
                .run(m, opt);
            }
        })?;
    Ok(())
}

struct Trainer {
    job: Job,
    view: Sequential<Be>,
    rx: Receiver<Cmd>,
    p: Progress,
    last: Option<Instant>,
    /// How long the last frame took to compute (frames get at most a quarter of the time).
    cost: Duration,
}

impl Trainer {
    fn run(
        mut self,
        mut model: Sequential<Be>,
        mut opt: neuron::Optimizer<Be>,
    ) -> Result<(), ApiError> {
        let mut source = DatasetSource::new(model.backend(), &self.job.prep.train)?;
        self.publish(&model)?;
        for chunk in 0u64.. {
            let fc = FitConfig {
                epochs: EPOCHS_PER_RUN,
                batch_size: self.job.cfg.batch,
                seed: self.job.cfg.seed.wrapping_add(chunk),
                ..FitConfig::default()
            };
            let mut run = TrainRun::new(&mut model, &mut opt, &mut source, &fc)?;
            while self.serve(&mut run)? {}
        }
        Ok(())
    }

    /// Handles one command or one slice of training. `Ok(false)` when the run is over.
    fn serve(&mut self, run: &mut TrainRun<'_, Be>) -> Result<bool, ApiError> {
        let cmd = match self.wait() {
            None => match self.rx.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return Err(gone()),
            },
            Some(wait) => match self.rx.recv_timeout(wait) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Err(gone()),
            },
        };
        let mut steps = 0;
        let mut changed = false;
        match cmd {
            Some(Cmd::Play) => {
                (self.p.playing, self.p.error, changed) = (true, None, true);
                self.p.speed = (self.p.speed.0, Instant::now(), self.p.step);
            }
            Some(Cmd::Speed(v)) => self.p.speed = (v, Instant::now(), self.p.step),
            Some(Cmd::Pause) => (self.p.playing, changed) = (false, true),
            Some(Cmd::Step) => (self.p.playing, steps, changed) = (false, 1, true),
            Some(Cmd::Walk(row, reply)) => {
                let _ = reply.send(walk(
                    run.model(),
                    &self.job.cfg,
                    &self.job.points,
                    &self.job.prep,
                    row,
                ));
            }
            Some(Cmd::Params(reply)) => {
                let _ = reply.send(run.model().params().map_err(ApiError::from).and_then(|w| {
                    let m = run.model();
                    Ok(Sequential::from_specs(
                        Be::with_threads(1),
                        m.input_dim(),
                        m.specs().to_vec(),
                        m.loss(),
                        m.seed(),
                        Some(&w),
                    )?)
                }));
            }
            Some(Cmd::Quit) => return Err(gone()),
            None => {}
        }
        let more = self.train(run, steps)?;
        let watched = self.job.frames.receiver_count() > 0;
        let due = self.last.is_none_or(|t| t.elapsed() >= self.period());
        if changed || (self.p.playing && due && watched) || !more {
            self.publish(run.model())?;
        }
        Ok(more)
    }

    /// How long to wait for a command: not at all while training at full speed, until the next
    /// allowed step or frame while training at a set speed, a while when paused.
    fn wait(&self) -> Option<Duration> {
        if !self.p.playing {
            return Some(Duration::from_secs(1));
        }
        if self.allowed() > 0 {
            return None;
        }
        let (speed, ..) = self.p.speed;
        Some(Duration::from_secs_f64(
            (1.0 / speed.max(1) as f64).min(1.0 / MAX_FPS),
        ))
    }

    /// Steps the speed limit allows now (`u64::MAX` without a limit).
    fn allowed(&self) -> u64 {
        let (speed, since, from) = self.p.speed;
        if speed == 0 {
            return u64::MAX;
        }
        let total = (since.elapsed().as_secs_f64() * speed as f64) as u64;
        total.saturating_sub(self.p.step - from)
    }

    /// The time between frames: 1/[`MAX_FPS`], or longer when frames are slow to compute (on a
    /// busy machine), so that computing frames never takes more than a quarter of the time.
    fn period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / MAX_FPS).max(self.cost * 4)
    }

    /// Trains `steps` steps, or while playing until the next frame is due (or the speed limit).
    fn train(&mut self, run: &mut TrainRun<'_, Be>, steps: usize) -> Result<bool, ApiError> {
        let now = Instant::now();
        let until = (self.last.unwrap_or(now) + self.period()).max(now + self.cost * 3);
        let mut done = 0;
        while (self.p.playing && Instant::now() < until && self.allowed() > 0) || done < steps {
            match run.step() {
                Ok(end) => {
                    self.p.step += 1;
                    done += 1;
                    if end == EpochEnd::Finished {
                        return Ok(false);
                    }
                }
                Err(e) => {
                    (self.p.playing, self.p.error) = (false, Some(e.to_string()));
                    return Ok(true);
                }
            }
        }
        Ok(true)
    }

    /// Computes and sends a frame.
    fn publish(&mut self, model: &Sequential<Be>) -> Result<(), ApiError> {
        let now = Instant::now();
        let (t0, s0, _) = self.p.rate;
        let dt = now.duration_since(t0).as_secs_f64();
        if dt >= 1.0 || !self.p.playing {
            let r = if self.p.playing {
                (self.p.step - s0) as f64 / dt
            } else {
                0.0
            };
            self.p.rate = (now, self.p.step, r);
        }
        let rate = self.p.rate.2;
        self.view.set_params(&model.params()?)?;
        let prep = &self.job.prep;
        let labels = prep.labels.as_ref();
        let (train_loss, train_acc) =
            score(&mut self.view, &prep.train, labels.map(|l| &l[0][..]))?;
        let (test_loss, test_acc) = score(&mut self.view, &prep.test, labels.map(|l| &l[1][..]))?;
        let (neurons, output) = pictures(&mut self.view, prep, labels.is_some())?;
        let frame = Frame {
            generation: self.job.generation,
            step: self.p.step,
            epoch: self.p.step
                / prep
                    .train
                    .len()
                    .div_ceil(self.job.cfg.batch.min(prep.train.len())) as u64,
            playing: self.p.playing,
            steps_per_s: rate,
            loss: [train_loss, test_loss],
            accuracy: train_acc.zip(test_acc).map(|(a, b)| [a, b]),
            error: self.p.error.clone(),
            layers: dense_layers(model)?,
            neurons,
            output,
        };
        let json = serde_json::to_string(&frame).map_err(|e| ApiError::bad(e.to_string()))?;
        self.job.frames.send_replace(Arc::from(json));
        self.last = Some(now);
        self.cost = now.elapsed();
        Ok(())
    }
}

fn gone() -> ApiError {
    ApiError::not_found("the session was closed".into())
}
