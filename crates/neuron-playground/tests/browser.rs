//! The page in a real browser: Debian's chromium, headless, driven by chromedriver over
//! WebDriver. It trains the spirals past 90 % test accuracy, opens the walk-through of one
//! training point, and checks the z, g(z) and ∂L/∂w shown for one neuron against neuron's engine
//! run on that point with the same weights. Skipped when chromedriver is missing, unless
//! `NEURON_REQUIRE_BROWSER=1` (as in CI).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::{Client, ClientBuilder, Locator};
use neuron::{Cpu, LayerSpec, Loss, Matrix, Sequential};
use serde_json::{json, Value};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn chromedriver() -> Option<String> {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    if found.is_none() && std::env::var("NEURON_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("chromedriver is required (NEURON_REQUIRE_BROWSER=1) but not installed: apt-get install chromium chromium-driver");
    }
    found.map(String::from)
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

async fn wait_for(c: &Client, script: &str, what: &str, secs: u64) -> Value {
    let t = Instant::now();
    loop {
        let v = js(c, script).await;
        if !v.is_null() && v != json!(false) {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_learns_the_spirals_and_its_walk_through_shows_the_engine_values() {
    let Some(driver) = chromedriver() else {
        eprintln!("skipped: no chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let server = neuron_playground::spawn(neuron_playground::Options {
        port: 0,
        ..Default::default()
    })
    .unwrap();
    let port = free_port();
    let _driver = Driver(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let caps = json!({ "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1250", "--disable-background-networking", "--no-first-run"]
    }});
    let caps = caps.as_object().unwrap().clone();
    let t = Instant::now();
    let c = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(e) if t.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot reach chromedriver: {e}"),
        }
    };
    c.goto(&server.url).await.unwrap();
    wait_for(
        &c,
        "return window.playground && window.playground.frame !== null",
        "the first frame",
        30,
    )
    .await;
    assert_eq!(
        js(&c, "return window.playground.cfg.dataset").await,
        json!("spirals")
    );
    c.find(Locator::Id("play"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let acc = wait_for(&c, "const t = document.getElementById('test-acc').textContent; const v = parseFloat(t); return v > 90 ? v : null", "test accuracy over 90 %", 240).await;
    println!("test accuracy shown: {acc} %");
    c.find(Locator::Id("play"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "return window.playground.frame && !window.playground.frame.playing",
        "pause",
        20,
    )
    .await;
    // The training point the network is least sure of (its grid cell's probability), so the
    // walk-through's gradients are far from zero.
    let xy = js(&c, "const S = window.playground, [x0, x1, y0, y1] = S.info.extent, n = S.info.grid, px = atob(S.frame.output.px); let best = -1, conf = 999; S.info.points.forEach((p, i) => { if (p[3] < 0) return; const col = Math.min(n - 1, Math.floor((p[0] - x0) / (x1 - x0) * n)), row = Math.min(n - 1, Math.floor((y1 - p[1]) / (y1 - y0) * n)), c = px.charCodeAt(2 * (row * n + col) + 1); if (c < conf) { conf = c; best = i; } }); const p = S.info.points[best]; return [best, (p[0] - x0) / (x1 - x0) * 320 - 160, (y1 - p[1]) / (y1 - y0) * 320 - 160]").await;
    let plane = c.find(Locator::Id("plane")).await.unwrap();
    let (dx, dy) = (
        xy[1].as_f64().unwrap().round() as i64,
        xy[2].as_f64().unwrap().round() as i64,
    );
    let click = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: plane,
            duration: None,
            x: dx,
            y: dy,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(click).await.unwrap();
    let walk = wait_for(
        &c,
        "return !document.getElementById('walk').hidden && window.playground.walk",
        "the walk-through",
        30,
    )
    .await;
    check_against_engine(&c, &walk).await;
    for _ in 0..6 {
        c.find(Locator::Id("wnext"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    let png = c.screenshot().await.unwrap();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("playground.png");
    std::fs::write(&out, png).unwrap();
    println!("screenshot: {}", out.display());
    c.find(Locator::Id("play"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    measure_drawing(&c).await;
    check_link(&c, &server.url).await;
    c.close().await.unwrap();
    server.stop();
}

/// How fast the page draws the frames while training goes on (reported, not asserted).
async fn measure_drawing(c: &Client) {
    let secs = 10;
    js(c, "const s = window.playground.stats; s.mark = [s.received, s.drawn]; s.drawMs = []; return null").await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let v = js(c, "const s = window.playground.stats; const d = s.drawMs.slice().sort((a, b) => a - b); return [s.received - s.mark[0], s.drawn - s.mark[1], d[Math.floor(d.length / 2)], d[Math.floor(d.length * 0.9)], window.playground.frame.steps_per_s]").await;
    let (got, drawn) = (v[0].as_f64().unwrap(), v[1].as_f64().unwrap());
    println!(
        "page, {secs} s while training: {:.1} frames/s received, {:.1} drawn; draw time median {} ms, p90 {} ms; server {} steps/s",
        got / secs as f64, drawn / secs as f64, v[2], v[3], v[4]
    );
    assert_eq!(got, drawn, "every frame received was drawn");
}

/// A link carries the whole set-up: opening it gives the same data and network.
async fn check_link(c: &Client, url: &str) {
    let cfg = json!({ "dataset": "xor", "seed": 7, "layers": [{ "units": 3, "activation": "none" }], "lr": 0.03 });
    let link = format!(
        "{url}#cfg={}",
        js(
            c,
            &format!("return encodeURIComponent(JSON.stringify({cfg}))")
        )
        .await
        .as_str()
        .unwrap()
    );
    c.goto("about:blank").await.unwrap();
    c.goto(&link).await.unwrap();
    wait_for(c, "return window.playground && window.playground.frame !== null && window.playground.cfg.dataset === 'xor'", "the first frame of the link", 30).await;
    let got = js(c, "return window.playground.cfg").await;
    assert_eq!(
        (&got["dataset"], &got["seed"], &got["lr"]),
        (&json!("xor"), &json!(7), &json!(0.03))
    );
    assert_eq!(got["layers"], cfg["layers"]);
    assert_eq!(
        js(
            c,
            "return document.querySelectorAll('#netbody .neuron').length"
        )
        .await,
        json!(7 + 3 + 2)
    );
}

/// Rebuilds the network from the walk-through's weights (before the step), runs neuron's engine
/// on the point, and compares with the numbers in the page.
async fn check_against_engine(c: &Client, walk: &Value) {
    let cfg = js(c, "return window.playground.cfg").await;
    let layers = walk["layers"].as_array().unwrap();
    let inputs: Vec<f64> = serde_json::from_value(walk["inputs"].clone()).unwrap();
    let mut specs = Vec::new();
    let mut weights = Vec::new();
    let mut width = inputs.len();
    for (i, l) in layers.iter().enumerate() {
        let w: Vec<Vec<f64>> = serde_json::from_value(l["w"].clone()).unwrap();
        specs.push(LayerSpec::Dense {
            inputs: width,
            outputs: w.len(),
            init: Default::default(),
        });
        if let Some(h) = cfg["layers"].as_array().unwrap().get(i) {
            assert_eq!(h["activation"], json!("tanh"));
            specs.push(LayerSpec::Activation {
                activation: neuron::Activation::Tanh,
            });
        }
        width = w.len();
        weights.push(w.concat());
        weights.push(serde_json::from_value(l["b"].clone()).unwrap());
    }
    let mut m = Sequential::from_specs(
        Cpu::<f64>::with_threads(1),
        inputs.len(),
        specs,
        Loss::cross_entropy(),
        0,
        Some(&weights),
    )
    .unwrap();
    let x = Matrix::from_vec(1, inputs.len(), inputs.clone()).unwrap();
    let trace = m.trace(&x).unwrap();
    let target: Vec<f64> = serde_json::from_value(walk["target"].clone()).unwrap();
    let class = target.iter().position(|&v| v == 1.0).unwrap() as f64;
    m.forward_backward(&x, &Matrix::from_vec(1, 1, vec![class]).unwrap())
        .unwrap();
    let engine = [
        ("z", trace[0].pre_activation.as_ref().unwrap().get(0, 0), ""),
        ("a", trace[0].output.get(0, 0), ""),
        ("dw", m.grad(0).unwrap()[0], "[data-m='0']"),
    ];
    for (k, want, extra) in engine {
        let sel = format!("#wbody [data-k='{k}'][data-l='0'][data-j='0']{extra}");
        let shown = js(c, &format!("const e = document.querySelector(\"{sel}\"); return [e.getAttribute('data-v'), e.textContent]")).await;
        let full: f64 = shown[0].as_str().unwrap().parse().unwrap();
        let text: f64 = shown[1].as_str().unwrap().parse().unwrap();
        println!("{k} of neuron 1, layer 1: page {full} (shown as {text}), engine {want}");
        assert!(
            (full - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{k}: page {full}, engine {want}"
        );
        assert!(
            (text - want).abs() <= 1e-3 * want.abs().max(1e-3),
            "{k}: shown {text}, engine {want}"
        );
    }
}
