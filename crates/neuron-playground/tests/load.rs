//! Load on loopback: many sessions training at once, each with its frame stream open. Reports
//! frames per second, training steps per second and memory; checks that every session keeps
//! receiving fresh frames (none starves). `NEURON_LOAD_SESSIONS` (default 50) and
//! `NEURON_LOAD_SECONDS` (default 10; CI runs 60) size it.

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neuron_playground::{Config, Limits, Options, Running};
use serde_json::{json, Value};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn open(s: &Running, cfg: &Value) -> String {
    let r = ureq::post(&format!("http://{}/api/sessions", s.addr))
        .set("content-type", "application/json")
        .send_string(&cfg.to_string())
        .unwrap();
    let v: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    ureq::post(&format!("http://{}/api/sessions/{id}/control", s.addr))
        .set("content-type", "application/json")
        .send_string(r#"{"action":"play"}"#)
        .unwrap();
    id
}

/// Reads frames of session `id` for `secs` seconds: (frames, first step, last step).
fn watch(addr: std::net::SocketAddr, id: &str, secs: f64) -> (u64, u64, u64) {
    let r = ureq::get(&format!("http://{addr}/api/sessions/{id}/frames?fps=30"))
        .timeout(Duration::from_secs_f64(secs + 30.0))
        .call()
        .unwrap();
    let t = Instant::now();
    let (mut n, mut first, mut last) = (0u64, None, 0u64);
    for line in BufReader::new(r.into_reader()).lines() {
        let Ok(line) = line else { break };
        if let Some(data) = line.strip_prefix("data: ") {
            let step = data
                .split("\"step\":")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            n += 1;
            first.get_or_insert(step);
            last = step;
        }
        if t.elapsed().as_secs_f64() >= secs {
            break;
        }
    }
    (n, first.unwrap_or(0), last)
}

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn fifty_sessions_at_once_all_receive_frames() {
    let (n, secs) = (
        env("NEURON_LOAD_SESSIONS", 50) as usize,
        env("NEURON_LOAD_SECONDS", 10) as f64,
    );
    let limits = Limits {
        max_sessions: n,
        ..Limits::default()
    };
    let s = Arc::new(
        neuron_playground::spawn(Options {
            port: 0,
            limits,
            ..Options::default()
        })
        .unwrap(),
    );
    let mut cfg = serde_json::to_value(Config::default()).unwrap();
    cfg["dataset"] = json!("xor");
    let rss0 = rss_mib();
    let ids: Vec<String> = (0..n)
        .map(|i| {
            cfg["seed"] = json!(i);
            open(&s, &cfg)
        })
        .collect();
    let readers: Vec<_> = ids
        .iter()
        .map(|id| {
            let (addr, id) = (s.addr, id.clone());
            std::thread::spawn(move || watch(addr, &id, secs))
        })
        .collect();
    let mut peak = rss_mib();
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < secs {
        std::thread::sleep(Duration::from_millis(500));
        peak = peak.max(rss_mib());
    }
    let results: Vec<(u64, u64, u64)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let mut fps: Vec<f64> = results.iter().map(|r| r.0 as f64 / secs).collect();
    let mut steps: Vec<f64> = results.iter().map(|r| (r.2 - r.1) as f64 / secs).collect();
    let total_steps: f64 = steps.iter().sum();
    let (min_fps, min_steps) = (
        fps.iter().cloned().fold(f64::MAX, f64::min),
        steps.iter().cloned().fold(f64::MAX, f64::min),
    );
    println!(
        "{n} sessions × {secs} s: frames/s per session median {:.1}, min {min_fps:.1}; steps/s per session median {:.0}, min {min_steps:.0}, all sessions {total_steps:.0}; memory {rss0:.0} MiB before, peak {peak:.0} MiB",
        median(&mut fps),
        median(&mut steps)
    );
    for (i, (frames, first, last)) in results.iter().enumerate() {
        assert!(
            *frames as f64 >= secs,
            "session {i} starved: {frames} frames in {secs} s"
        );
        assert!(
            last > first,
            "session {i} did not train: step {first} → {last}"
        );
    }
}

#[test]
fn one_session_trains_a_2_8_8_1_network_while_streaming() {
    let s = neuron_playground::spawn(Options {
        port: 0,
        ..Options::default()
    })
    .unwrap();
    let mut cfg = serde_json::to_value(Config::default()).unwrap();
    cfg["dataset"] = json!("plane");
    cfg["loss"] = json!("mse");
    cfg["layers"] =
        json!([{ "units": 8, "activation": "tanh" }, { "units": 8, "activation": "tanh" }]);
    let id = open(&s, &cfg);
    let secs = env("NEURON_SPEED_SECONDS", 5) as f64;
    let (frames, first, last) = watch(s.addr, &id, secs);
    println!(
        "2-8-8-1, batch 10, one session: {:.0} steps/s, {:.1} frames/s streamed",
        (last - first) as f64 / secs,
        frames as f64 / secs
    );
    assert!(last > first && frames > 0);
}
