//! `neuron playground`: a local web page that trains a small network on neuron's engine and
//! shows, live, every neuron's output over the plane, the weights, the loss curves, and a
//! walk-through of one training point with the tutorial's formulas filled in by the engine's
//! own values.
//!
//! The server is axum on tokio; frames go to the page as server-sent events. Each tab has its
//! own session, trained by its own thread through [`neuron::TrainRun`].
#![warn(missing_docs)]

pub mod api;
pub mod config;
pub mod datasets;
mod download;
pub mod error;
pub mod frame;
pub mod network;
pub mod session;
pub mod trainer;
pub mod walk;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use config::Config;
pub use session::Limits;

/// How to serve.
#[derive(Clone, Debug)]
pub struct Options {
    /// The address to listen on (127.0.0.1 unless the user exposes it).
    pub host: IpAddr,
    /// The port (0: any free one).
    pub port: u16,
    /// Require this token on every request. `None`: a random one when `host` is not a loopback
    /// address, none otherwise.
    pub token: Option<String>,
    /// Sessions and uploads.
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8765,
            token: None,
            limits: Limits::default(),
        }
    }
}

/// A server running on its own threads.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The URL to open (with the token, when there is one).
    pub url: String,
    /// The shared state (sessions), for tests and reports.
    pub app: Arc<api::App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops the server and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// 64 random bits from the operating system's hashing keys.
fn random64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

/// Binds and serves in the background.
pub fn spawn(opts: Options) -> std::io::Result<Running> {
    let token = opts.token.clone().or_else(|| {
        (!opts.host.is_loopback()).then(|| format!("{:016x}{:016x}", random64(), random64()))
    });
    let app = Arc::new(api::App {
        sessions: session::Sessions::new(opts.limits.clone(), random64()),
        token: token.clone(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = std::net::TcpListener::bind((opts.host, opts.port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let shown = if opts.host.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        opts.host
    };
    let url = match &token {
        Some(t) => format!("http://{}/?token={t}", SocketAddr::new(shown, addr.port())),
        None => format!("http://{}/", SocketAddr::new(shown, addr.port())),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = api::router(app.clone());
    let reaper = app.clone();
    let thread = std::thread::Builder::new()
        .name("playground-server".into())
        .spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_secs(15)).await;
                        reaper.sessions.reap();
                    }
                });
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        })?;
    Ok(Running {
        addr,
        url,
        app,
        stop: Some(stop),
        thread: Some(thread),
    })
}
