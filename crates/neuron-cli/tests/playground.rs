//! `neuron playground` as a user runs it: it prints its URL, serves the page there, stops on
//! Ctrl-C with exit code 0, and a port in use is one error line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_neuron");

#[test]
fn playground_prints_its_url_serves_the_page_and_stops_on_ctrl_c() {
    let mut child = Command::new(BIN)
        .args(["playground", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("neuron playground: open ")
        .expect(&line)
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.contains("token"),
        "{url}"
    );
    let page = ureq::get(&url).call().unwrap().into_string().unwrap();
    assert!(page.contains("<title>neuron playground</title>"));
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let busy = Command::new(BIN)
        .args(["playground", "--port", &port])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&busy.stderr);
    assert_eq!(busy.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("neuron: error: cannot listen on 127.0.0.1:"),
        "{err}"
    );
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn playground_refuses_bad_options_in_one_line() {
    let o = Command::new(BIN)
        .args(["playground", "--max-sessions", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        err.trim(),
        "neuron: error: --max-sessions must be at least 1"
    );
}
