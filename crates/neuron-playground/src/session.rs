//! Sessions: one per browser tab, each with its own trainer. Their number is bounded, each one's
//! data is bounded by the configuration's limits, and a session nobody has asked for in a while
//! is freed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neuron::data::csv::RawTable;
use neuron::Rng;
use serde_json::json;
use tokio::sync::watch;

use crate::config::Config;
use crate::datasets::{self, Points};
use crate::error::ApiError;
use crate::network::{self, Prepared};
use crate::trainer::{self, Cmd, Job};

/// The limits of a server.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most sessions at once.
    pub max_sessions: usize,
    /// A session without requests or an open frame stream for this long is freed.
    pub idle: Duration,
    /// Largest CSV upload, in bytes.
    pub max_upload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: 64,
            idle: Duration::from_secs(600),
            max_upload: 1 << 20,
        }
    }
}

/// One tab's session.
pub struct Session {
    /// Its current set-up and trainer.
    pub state: Mutex<State>,
    /// The latest frame (the trainer replaces it; streams send the newest they find).
    pub frames: Arc<watch::Sender<Arc<str>>>,
    /// Open frame streams.
    pub streams: AtomicUsize,
    /// Set when the session is closed or freed: its streams end.
    pub closed: AtomicBool,
    /// When a request last came.
    pub seen: Mutex<Instant>,
}

/// A session's set-up and the handle of its trainer.
pub struct State {
    /// The set-up.
    pub cfg: Config,
    /// Its points.
    pub points: Arc<Points>,
    /// Its encoded data.
    pub prep: Arc<Prepared>,
    /// The last uploaded CSV.
    pub upload: Option<Arc<RawTable>>,
    /// Commands to the trainer.
    pub tx: SyncSender<Cmd>,
    /// The set-up's number.
    pub generation: u64,
}

/// All sessions of a server.
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
    /// The limits.
    pub limits: Limits,
    ids: Mutex<Rng>,
}

impl Sessions {
    /// No sessions yet.
    pub fn new(limits: Limits, seed: u64) -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
            limits,
            ids: Mutex::new(Rng::new(seed)),
        }
    }

    /// Opens a session with `cfg` (a built-in data set).
    pub fn open(&self, cfg: Config) -> Result<(String, serde_json::Value), ApiError> {
        cfg.validate()?;
        if cfg.dataset == "upload" {
            return Err(ApiError::bad(
                "dataset: a new session starts on a built-in set; upload a CSV to it afterwards"
                    .into(),
            ));
        }
        self.reap();
        if lock(&self.map).len() >= self.limits.max_sessions {
            return Err(ApiError::with(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server already has {} sessions, its limit; close a tab or try later",
                    self.limits.max_sessions
                ),
            ));
        }
        let (frames, _) = watch::channel(Arc::from("{}"));
        let frames = Arc::new(frames);
        let (state, info) = start(cfg, None, None, frames.clone(), 1)?;
        let session = Arc::new(Session {
            state: Mutex::new(state),
            frames,
            streams: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            seen: Mutex::new(Instant::now()),
        });
        let id = {
            let mut r = lock(&self.ids);
            format!("{:016x}{:016x}", r.next_u64(), r.next_u64())
        };
        lock(&self.map).insert(id.clone(), session);
        Ok((id, info))
    }

    /// The session `id`, marked as used now.
    pub fn get(&self, id: &str) -> Result<Arc<Session>, ApiError> {
        let s = lock(&self.map).get(id).cloned().ok_or_else(|| {
            ApiError::not_found(format!(
                "no session '{id}' (it may have been idle and freed; reload the page)"
            ))
        })?;
        *lock(&s.seen) = Instant::now();
        Ok(s)
    }

    /// Closes session `id`.
    pub fn close(&self, id: &str) -> Result<(), ApiError> {
        let s = lock(&self.map)
            .remove(id)
            .ok_or_else(|| ApiError::not_found(format!("no session '{id}'")))?;
        s.closed.store(true, Ordering::Relaxed);
        let _ = lock(&s.state).tx.try_send(Cmd::Quit);
        Ok(())
    }

    /// Number of open sessions.
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frees the sessions idle for longer than the limit (dropping a session stops its trainer).
    pub fn reap(&self) {
        let idle = self.limits.idle;
        lock(&self.map)
            .retain(|_, s| s.streams.load(Ordering::Relaxed) > 0 || lock(&s.seen).elapsed() < idle);
    }
}

impl Session {
    /// Sends a command to the trainer.
    pub fn send(&self, cmd: Cmd) -> Result<(), ApiError> {
        lock(&self.state).tx.try_send(cmd).map_err(|_| {
            ApiError::with(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "the session is busy; try again".into(),
            )
        })
    }

    /// Replaces the set-up (new points only when the data settings changed).
    pub fn reconfigure(&self, cfg: Config) -> Result<serde_json::Value, ApiError> {
        cfg.validate()?;
        let mut st = lock(&self.state);
        let keep = st.cfg.same_data(&cfg).then(|| st.points.clone());
        let (new, info) = start(
            cfg,
            keep,
            st.upload.clone(),
            self.frames.clone(),
            st.generation + 1,
        )?;
        *st = new;
        Ok(info)
    }

    /// Keeps an uploaded CSV for a later set-up with `dataset: "upload"`; returns its columns
    /// and which of them hold numbers.
    pub fn upload(&self, t: RawTable) -> Result<serde_json::Value, ApiError> {
        if t.rows.len() < 4 {
            return Err(ApiError::bad(
                "the CSV needs a header and at least 4 rows".into(),
            ));
        }
        let numeric: Vec<&String> = (0..t.headers.len())
            .filter(|&c| {
                t.rows
                    .iter()
                    .take(datasets::MAX_UPLOAD_ROWS)
                    .all(|r| r[c].trim().parse::<f64>().is_ok_and(f64::is_finite))
            })
            .map(|c| &t.headers[c])
            .collect();
        if numeric.len() < 2 {
            return Err(ApiError::bad(
                "the CSV needs at least two columns of numbers to plot".into(),
            ));
        }
        let info = json!({ "columns": t.headers, "numeric": numeric, "rows": t.rows.len().min(datasets::MAX_UPLOAD_ROWS) });
        let mut st = lock(&self.state);
        st.upload = Some(Arc::new(t));
        // The next set-up on the upload reads the new table, even with the same column names.
        st.cfg.columns = None;
        Ok(info)
    }
}

/// Makes the points (or keeps `keep`), encodes them and starts a trainer.
fn start(
    cfg: Config,
    keep: Option<Arc<Points>>,
    upload: Option<Arc<RawTable>>,
    frames: Arc<watch::Sender<Arc<str>>>,
    generation: u64,
) -> Result<(State, serde_json::Value), ApiError> {
    let points = match keep {
        Some(p) => p,
        None => Arc::new(match (&cfg.columns, &upload) {
            (Some(c), Some(t)) => datasets::from_table(t, &c.x, &c.y, &c.label)?,
            (Some(_), None) => return Err(ApiError::bad("dataset: upload a CSV first".into())),
            (None, _) => datasets::builtin(&cfg.dataset, cfg.points, cfg.noise, cfg.seed)?,
        }),
    };
    let prep = Arc::new(network::prepare(&cfg, &points)?);
    let (tx, rx) = sync_channel(16);
    let job = Job {
        cfg: cfg.clone(),
        points: points.clone(),
        prep: prep.clone(),
        frames,
        generation,
    };
    trainer::spawn(job, rx).map_err(|e| {
        ApiError::with(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot start a trainer: {e}"),
        )
    })?;
    let info = info(&cfg, &points, &prep, generation);
    Ok((
        State {
            cfg,
            points,
            prep,
            upload,
            tx,
            generation,
        },
        info,
    ))
}

/// What the page draws once per set-up: the points (with their training row, or −1 for test
/// points), the classes, the plane, and the layer sizes.
fn info(cfg: &Config, p: &Points, prep: &Prepared, generation: u64) -> serde_json::Value {
    let mut row = vec![-1i64; p.xy.len()];
    for (r, &i) in prep.train_idx.iter().enumerate() {
        row[i] = r as i64;
    }
    let points: Vec<_> = (0..p.xy.len())
        .map(|i| json!([p.xy[i][0], p.xy[i][1], p.label[i], row[i]]))
        .collect();
    json!({
        "generation": generation,
        "config": cfg,
        "points": points,
        "classes": p.classes,
        "extent": p.extent,
        "names": p.names,
        "grid": network::GRID,
        "small": crate::frame::SMALL,
        "inputs": prep.train.x.cols(),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
