//! The HTTP API: a session trains and streams frames, the walk-through and the model download
//! work, and every kind of bad request gets a 4xx with a message while the server lives on.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use neuron_playground::{Config, Limits, Options, Running};
use serde_json::{json, Value};

fn server(token: Option<&str>) -> Running {
    let limits = Limits {
        max_sessions: 3,
        max_upload: 4096,
        ..Limits::default()
    };
    neuron_playground::spawn(Options {
        port: 0,
        token: token.map(String::from),
        limits,
        ..Options::default()
    })
    .unwrap()
}

fn base(s: &Running) -> String {
    format!("http://{}", s.addr)
}

/// Status and JSON body of a request (4xx and 5xx included).
fn call(req: ureq::Request, body: Option<&str>) -> (u16, Value) {
    let r = match body {
        Some(b) => req.set("content-type", "application/json").send_string(b),
        None => req.call(),
    };
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sends a control action to session `id`; returns the status.
fn control(s: &Running, id: &str, action: &str) -> u16 {
    let url = format!("{}/api/sessions/{id}/control", base(s));
    call(
        ureq::post(&url),
        Some(&json!({ "action": action }).to_string()),
    )
    .0
}

/// The model file of session `id`.
fn download(s: &Running, id: &str) -> Vec<u8> {
    let r = ureq::get(&format!("{}/api/sessions/{id}/model", base(s)))
        .call()
        .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut bytes).unwrap();
    bytes
}

fn small_config() -> Value {
    let mut c = serde_json::to_value(Config::default()).unwrap();
    c["layers"] =
        json!([{ "units": 8, "activation": "tanh" }, { "units": 8, "activation": "tanh" }]);
    c["dataset"] = json!("circles");
    c["points"] = json!(200);
    c
}

fn open(s: &Running) -> String {
    let (status, body) = call(
        ureq::post(&format!("{}/api/sessions", base(s))),
        Some(&small_config().to_string()),
    );
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The next frame of a session's event stream.
fn frames(s: &Running, id: &str, n: usize) -> Vec<Value> {
    let r = ureq::get(&format!("{}/api/sessions/{id}/frames?fps=30", base(s)))
        .timeout(Duration::from_secs(20))
        .call()
        .unwrap();
    let mut out = Vec::new();
    for line in BufReader::new(r.into_reader()).lines() {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            out.push(serde_json::from_str(data).unwrap());
            if out.len() == n {
                break;
            }
        }
    }
    out
}

#[test]
fn a_session_trains_streams_walks_and_downloads() {
    let s = server(None);
    let id = open(&s);
    let ctl = |action: &str| control(&s, &id, action);
    assert_eq!(ctl("play"), 204);
    std::thread::sleep(Duration::from_millis(1500));
    let f = frames(&s, &id, 3);
    assert!(f.iter().all(|f| f["playing"] == json!(true)));
    let (s0, s2) = (
        f[0]["step"].as_u64().unwrap(),
        f[2]["step"].as_u64().unwrap(),
    );
    assert!(s2 > s0, "steps advance between frames: {s0} then {s2}");
    assert!(
        f[2]["accuracy"][1].as_f64().unwrap() > 0.9,
        "circles are learned: {}",
        f[2]["accuracy"]
    );
    assert_eq!(
        f[2]["neurons"].as_array().unwrap().len(),
        3,
        "two hidden layers and the output"
    );
    assert_eq!(ctl("pause"), 204);
    let (status, walk) = call(
        ureq::get(&format!("{}/api/sessions/{id}/walk?row=0", base(&s))),
        None,
    );
    assert_eq!(status, 200, "{walk}");
    assert_eq!(walk["layers"].as_array().unwrap().len(), 3);
    let l0 = &walk["layers"][0];
    let (dz, x) = (l0["dz"][0].as_f64().unwrap(), l0["x"][1].as_f64().unwrap());
    assert!(
        (l0["dw"][0][1].as_f64().unwrap() - dz * x).abs() < 1e-12,
        "∂L/∂w = ∂L/∂z · x"
    );
    let (w, g, lr) = (
        l0["w"][0][1].as_f64().unwrap(),
        l0["dw"][0][1].as_f64().unwrap(),
        walk["lr"].as_f64().unwrap(),
    );
    assert!(
        (l0["w_new"][0][1].as_f64().unwrap() - (w - lr * g)).abs() < 1e-12,
        "w ← w − α ∂L/∂w"
    );
    let bytes = download(&s, &id);
    let (model, meta) = neuron::io::model_file::from_bytes(&bytes, "download").unwrap();
    assert_eq!(model.input_dim(), 2);
    let pre = meta.preprocessing.unwrap();
    assert_eq!(pre.labels().unwrap(), ["0", "1"]);
    assert_eq!(
        call(
            ureq::delete(&format!("{}/api/sessions/{id}", base(&s))),
            None
        )
        .0,
        204
    );
    assert_eq!(
        call(
            ureq::get(&format!("{}/api/sessions/{id}/walk?row=0", base(&s))),
            None
        )
        .0,
        404
    );
}

#[test]
fn bad_requests_get_a_4xx_with_a_message_and_the_server_lives_on() {
    let s = server(None);
    let id = open(&s);
    let sessions = format!("{}/api/sessions", base(&s));
    let with = |k: &str, v: Value| {
        let mut c = small_config();
        c[k] = v;
        c.to_string()
    };
    let cases: Vec<(String, Option<String>, u16, &str)> = vec![
        (
            sessions.clone(),
            Some(with(
                "layers",
                json!([{ "units": 17, "activation": "relu" }]),
            )),
            400,
            "units",
        ),
        (
            sessions.clone(),
            Some(with(
                "layers",
                json!(vec![json!({ "units": 2, "activation": "relu" }); 7]),
            )),
            400,
            "at most 6",
        ),
        (
            sessions.clone(),
            Some(with(
                "layers",
                json!([{ "units": 4, "activation": "swish" }]),
            )),
            400,
            "activation",
        ),
        (
            sessions.clone(),
            Some(small_config().to_string().replace("0.01", "NaN")),
            400,
            "not a valid set-up",
        ),
        (
            sessions.clone(),
            Some(with("lr", json!("NaN"))),
            400,
            "not a valid set-up",
        ),
        (sessions.clone(), Some(with("lr", json!(0.0))), 400, "lr"),
        (sessions.clone(), Some(with("lr", json!(1e300))), 400, "lr"),
        (
            sessions.clone(),
            Some(with("batch", json!(0))),
            400,
            "batch",
        ),
        (
            sessions.clone(),
            Some(with("dataset", json!("moons"))),
            400,
            "dataset",
        ),
        (
            sessions.clone(),
            Some(with("features", json!([]))),
            400,
            "features",
        ),
        (
            sessions.clone(),
            Some(with("features", json!(["x", "x"]))),
            400,
            "twice",
        ),
        (
            sessions.clone(),
            Some(with("dropout", json!(1.0))),
            400,
            "dropout",
        ),
        (
            sessions.clone(),
            Some("{\"dataset\": ".into()),
            400,
            "not a valid set-up",
        ),
        (
            sessions.clone(),
            Some(with("surprise", json!(1))),
            400,
            "unknown field",
        ),
        (
            format!("{sessions}/nope/control"),
            Some("{\"action\":\"play\"}".into()),
            404,
            "no session",
        ),
        (
            format!("{sessions}/{id}/control"),
            Some("{\"action\":\"fly\"}".into()),
            400,
            "action",
        ),
        (
            format!("{sessions}/{id}/control"),
            Some("{\"action\":\"speed\",\"value\":-1}".into()),
            400,
            "speed",
        ),
    ];
    for (url, body, want, words) in cases {
        let (status, msg) = call(ureq::post(&url), body.as_deref());
        assert_eq!(status, want, "{url} {body:?}: {msg}");
        let text = msg["error"].as_str().unwrap_or_default();
        assert!(
            text.contains(words),
            "{body:?}: message '{text}' should mention '{words}'"
        );
    }
    let get = |path: &str| call(ureq::get(&format!("{}{path}", base(&s))), None);
    assert_eq!(get(&format!("/api/sessions/{id}/walk?row=99999")).0, 400);
    assert_eq!(get(&format!("/api/sessions/{id}/walk?row=-1")).0, 400);
    assert_eq!(get(&format!("/api/sessions/{id}/frames?fps=1000")).0, 400);
    assert_eq!(get("/api/sessions/nope/frames").0, 404);
    assert_eq!(get("/etc/passwd").0, 404);
    assert_eq!(get("/../Cargo.toml").0, 404);
    let csv = format!("{sessions}/{id}/csv");
    let post_csv = |body: &[u8]| match ureq::post(&csv)
        .set("content-type", "text/csv")
        .send_bytes(body)
    {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    };
    let big = "a,b,c\n".to_string() + &"1,2,3\n".repeat(1000);
    let (st, msg) = post_csv(big.as_bytes());
    assert_eq!(st, 413, "{msg}");
    assert!(msg.contains("limit"), "{msg}");
    let (st, msg) = post_csv(&[0x89, b'P', b'N', b'G', 0, 0, 0xff, 0xfe]);
    assert_eq!(st, 415, "{msg}");
    let (st, msg) = post_csv(b"only,one\n1,2\n");
    assert_eq!(st, 400, "{msg}");
    let (st, msg) = post_csv(b"a,b,kind\n1,2,x\n2,1,y\n3,3,x\n0,1,y\n5,5,x\n");
    assert_eq!(st, 200, "{msg}");
    let mut up = small_config();
    up["dataset"] = json!("upload");
    up["columns"] = json!({ "x": "a", "y": "b", "label": "kind" });
    let (st, info) = call(
        ureq::put(&format!("{sessions}/{id}")),
        Some(&up.to_string()),
    );
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["classes"], json!(["x", "y"]));
    up["columns"]["label"] = json!("missing");
    assert_eq!(
        call(
            ureq::put(&format!("{sessions}/{id}")),
            Some(&up.to_string())
        )
        .0,
        400
    );
    // Still serving, and the session count is bounded.
    let _b = open(&s);
    let _c = open(&s);
    let (st, msg) = call(ureq::post(&sessions), Some(&small_config().to_string()));
    assert_eq!(st, 503, "{msg}");
    assert!(msg["error"].as_str().unwrap().contains("limit"));
}

#[test]
fn an_exposed_server_requires_its_token() {
    let s = server(Some("s3cret"));
    assert!(s.url.ends_with("/?token=s3cret"), "{}", s.url);
    assert_eq!(call(ureq::get(&format!("{}/", base(&s))), None).0, 403);
    assert_eq!(
        call(ureq::get(&format!("{}/?token=wrong", base(&s))), None).0,
        403
    );
    assert_eq!(
        call(
            ureq::post(&format!("{}/api/sessions", base(&s))),
            Some(&small_config().to_string())
        )
        .0,
        403
    );
    let ok = ureq::get(&format!("{}/?token=s3cret", base(&s)))
        .call()
        .unwrap();
    assert!(ok.into_string().unwrap().contains("neuron"));
    let r = ureq::post(&format!("{}/api/sessions", base(&s)))
        .set("x-token", "s3cret")
        .set("content-type", "application/json")
        .send_string(&small_config().to_string());
    assert_eq!(r.unwrap().status(), 201);
    let open = neuron_playground::spawn(Options {
        host: "0.0.0.0".parse().unwrap(),
        port: 0,
        ..Options::default()
    })
    .unwrap();
    assert!(
        open.url.contains("?token="),
        "a server on every interface gets a random token: {}",
        open.url
    );
}

#[test]
fn idle_sessions_are_freed_and_a_closed_session_ends_its_stream() {
    let limits = Limits {
        idle: Duration::from_millis(200),
        ..Limits::default()
    };
    let s = neuron_playground::spawn(Options {
        port: 0,
        limits,
        ..Options::default()
    })
    .unwrap();
    let idle = open(&s);
    std::thread::sleep(Duration::from_millis(400));
    s.app.sessions.reap();
    assert_eq!(
        call(
            ureq::get(&format!("{}/api/sessions/{idle}/walk?row=0", base(&s))),
            None
        )
        .0,
        404
    );
    let id = open(&s);
    let url = format!("{}/api/sessions/{id}/frames?fps=30", base(&s));
    let reader = std::thread::spawn(move || {
        let r = ureq::get(&url)
            .timeout(Duration::from_secs(30))
            .call()
            .unwrap();
        BufReader::new(r.into_reader())
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.starts_with("data: "))
            .count()
    });
    std::thread::sleep(Duration::from_millis(300));
    s.app.sessions.reap();
    assert_eq!(
        s.app.sessions.len(),
        1,
        "a session with an open stream is not idle"
    );
    assert_eq!(
        call(
            ureq::delete(&format!("{}/api/sessions/{id}", base(&s))),
            None
        )
        .0,
        204
    );
    let frames = reader.join().unwrap();
    assert!(frames >= 1, "the stream sent the current frame, then ended");
    assert!(s.app.sessions.is_empty());
}

#[test]
fn the_downloaded_model_predicts_what_the_page_showed() {
    let s = server(None);
    let id = open(&s);
    let ctl = |action: &str| control(&s, &id, action);
    assert_eq!(ctl("play"), 204);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(ctl("pause"), 204);
    std::thread::sleep(Duration::from_millis(200));
    let frame = frames(&s, &id, 1).remove(0);
    let bytes = download(&s, &id);
    let (mut model, meta) = neuron::io::model_file::from_bytes(&bytes, "download").unwrap();
    // What `neuron predict` does with a CSV of the feature columns: the model's preprocessing,
    // then the network.
    let points = neuron_playground::datasets::builtin("circles", 200, 0.0, 1).unwrap();
    let csv: String = std::iter::once("x,y,label".to_string())
        .chain(
            points
                .xy
                .iter()
                .zip(&points.label)
                .map(|(p, l)| format!("{},{},{l}", p[0], p[1])),
        )
        .collect::<Vec<_>>()
        .join("\n");
    let t = neuron::data::csv::read_csv_bytes(csv.into_bytes(), "points.csv").unwrap();
    let pre = meta.preprocessing.unwrap();
    let enc = pre.transform(&t, true).unwrap();
    let k = model.predict_classes(&enc.x).unwrap();
    let truth = enc.classes.unwrap();
    let acc = k.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
    let shown = frame["accuracy"].as_array().unwrap();
    let mean = (shown[0].as_f64().unwrap() + shown[1].as_f64().unwrap()) / 2.0;
    assert!(
        (acc - mean).abs() < 0.02,
        "downloaded model: {acc}, page: {mean}"
    );
}
