//! `neuron playground`: serves the local page that trains a small network live (see the
//! `neuron-playground` crate), prints its URL, and runs until Ctrl-C.

use std::net::IpAddr;

use anyhow::Context as _;
use clap::Args;

/// Options of `neuron playground`.
#[derive(Args, Debug)]
pub struct PlaygroundArgs {
    /// Address to listen on. Anything but a loopback address exposes the page to the network,
    /// and then every request must carry the random token printed in the URL.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0: any free port).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Most sessions (browser tabs) at once.
    #[arg(long, default_value_t = 64)]
    max_sessions: usize,
    /// Largest CSV upload, in KiB.
    #[arg(long, default_value_t = 1024)]
    max_upload_kib: usize,
}

/// Serves until Ctrl-C.
pub fn run(a: &PlaygroundArgs) -> anyhow::Result<()> {
    if a.max_sessions == 0 {
        anyhow::bail!("--max-sessions must be at least 1");
    }
    let opts = neuron_playground::Options {
        host: a.host,
        port: a.port,
        token: None,
        limits: neuron_playground::Limits {
            max_sessions: a.max_sessions,
            max_upload: a.max_upload_kib.max(1) * 1024,
            ..Default::default()
        },
    };
    let server = neuron_playground::spawn(opts)
        .with_context(|| format!("cannot listen on {}:{}", a.host, a.port))?;
    println!("neuron playground: open {}", server.url);
    println!("(Ctrl-C stops the server)");
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .context("cannot install the Ctrl-C handler")?;
    let _ = rx.recv();
    server.stop();
    Ok(())
}
