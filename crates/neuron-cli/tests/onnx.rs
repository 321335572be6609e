//! ONNX import through the real binary: models exported by PyTorch (both `torch.onnx.export`
//! paths, two opsets) and by skl2onnx give the original framework's outputs within 1e-5
//! (`tests/data/onnx/`, written by `scripts/make_onnx_fixtures.py`); they can be summarised,
//! evaluated and fine-tuned; neuron's own export reads back exactly; bad files fail cleanly.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_neuron");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/onnx");

const MODELS: [&str; 13] = [
    "torch_script_softmax",
    "torch_dynamo_softmax",
    "torch_script_opset17_sigmoid",
    "torch_dynamo_opset17_sigmoid",
    "torch_script_opset17_logsoftmax",
    "torch_dynamo_logsoftmax",
    "torch_script_regression",
    "torch_dynamo_regression",
    "sklearn_binary_zipmap",
    "sklearn_pipeline_tanh_labels",
    "sklearn_logistic_plain",
    "sklearn_regressor",
    "sklearn_regressor_two_outputs",
];

fn neuron(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NEURON_THREADS")
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let o = neuron(args);
    assert!(
        o.status.success(),
        "neuron {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn fixture(name: &str, ext: &str) -> String {
    format!("{FIXTURES}/{name}.{ext}")
}

/// Header and numeric rows of a CSV (non-numeric cells, the predicted labels, are skipped).
fn table(text: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').filter_map(|c| c.parse().ok()).collect())
        .collect();
    (header, rows)
}

#[test]
fn imported_models_give_the_original_frameworks_outputs() {
    for name in MODELS {
        let (want_h, want) =
            table(&std::fs::read_to_string(fixture(name, "expected.csv")).unwrap());
        let classifier = want_h[0].starts_with("p_");
        let model = fixture(name, "onnx");
        let inputs = fixture(name, "inputs.csv");
        let mut args = vec!["predict", "--model", &model, "--data", &inputs];
        if classifier {
            args.push("--proba");
        }
        let (got_h, got) = table(&ok(&args));
        let got_h = if classifier { &got_h[1..] } else { &got_h[..] };
        assert_eq!(got_h, &want_h[..], "{name}: columns (and class labels)");
        assert_eq!(got.len(), want.len(), "{name}: rows");
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            let g = if classifier && g.len() > w.len() {
                &g[1..]
            } else {
                &g[..]
            };
            assert_eq!(g.len(), w.len(), "{name}: row {r}");
            for (a, b) in g.iter().zip(w) {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{name} row {r}: neuron {a}, original {b}"
                );
            }
        }
    }
}

#[test]
fn imported_models_summarise_and_report_what_they_are() {
    let s = ok(&[
        "summary",
        "--model",
        &fixture("torch_dynamo_softmax", "onnx"),
    ]);
    assert!(
        s.contains("GELU()") && s.contains("Tanh()") && s.contains("cross-entropy"),
        "{s}"
    );
    assert!(s.contains("read by position"), "{s}");
    let s = ok(&[
        "summary",
        "--model",
        &fixture("sklearn_pipeline_tanh_labels", "onnx"),
    ]);
    assert!(
        s.contains("3 classes (cat, dog, fish)") && s.contains("standardised"),
        "{s}"
    );
    let s = ok(&[
        "summary",
        "--model",
        &fixture("torch_script_opset17_sigmoid", "onnx"),
    ]);
    assert!(
        s.contains("LeakyReLU(negative_slope=0.1)") && s.contains("bce"),
        "{s}"
    );
}

/// The fixture's inputs with a label column: the first class where x0 < 0, else the second.
fn labelled(dir: &Path, name: &str, labels: [&str; 2]) -> String {
    let text = std::fs::read_to_string(fixture(name, "inputs.csv")).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let label = match line.split(',').next().unwrap().parse::<f64>() {
            _ if i == 0 => "label",
            Ok(v) if v < 0.0 => labels[0],
            _ => labels[1],
        };
        out.push_str(&format!("{line},{label}\n"));
    }
    let path = dir.join(format!("{name}.csv"));
    std::fs::write(&path, out).unwrap();
    path.display().to_string()
}

#[test]
fn imported_models_evaluate_and_fine_tune() {
    let dir = tempfile::tempdir().unwrap();
    let model = fixture("torch_script_softmax", "onnx");
    let data = labelled(dir.path(), "torch_script_softmax", ["0", "2"]);
    let report = ok(&["eval", "--model", &model, "--data", &data, "--json"]);
    assert!(report.contains("accuracy"), "{report}");
    let out = dir.path().join("tuned.safetensors").display().to_string();
    ok(&[
        "train", "--init", &model, "--data", &data, "--epochs", "200", "--lr", "0.02", "--quiet",
        "--out", &out,
    ]);
    let (_, rows) = table(&ok(&[
        "predict", "--model", &out, "--data", &data, "--proba",
    ]));
    assert_eq!(rows.len(), 16);
    let tuned = ok(&["eval", "--model", &out, "--data", &data, "--json"]);
    let acc = |s: &str| -> f64 {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        v["accuracy"].as_f64().unwrap()
    };
    assert!(
        acc(&tuned) >= acc(&report),
        "fine-tuning on the labels: {report} -> {tuned}"
    );
    assert!(acc(&tuned) >= 0.9, "{tuned}");
}

#[test]
fn neurons_own_export_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("m.safetensors").display().to_string();
    let onnx = dir.path().join("m.onnx").display().to_string();
    let iris = concat!(env!("CARGO_MANIFEST_DIR"), "/../neuron/data/iris.csv");
    ok(&[
        "train",
        "--data",
        iris,
        "--epochs",
        "5",
        "--cv-folds",
        "0",
        "--quiet",
        "--out",
        &st,
    ]);
    ok(&["export", "--model", &st, "--out", &onnx]);
    let a = ok(&["predict", "--model", &st, "--data", iris, "--proba"]);
    let b = ok(&["predict", "--model", &onnx, "--data", iris, "--proba"]);
    assert_eq!(a, b);
    let s = ok(&["summary", "--model", &onnx]);
    assert!(s.contains("robust scaling"), "{s}");
}

#[test]
fn bad_onnx_files_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("torch_script_softmax", "onnx")).unwrap();
    let inputs = fixture("torch_script_softmax", "inputs.csv");
    for cut in [10, bytes.len() / 2, bytes.len() - 3] {
        let path = dir.path().join(format!("cut{cut}.onnx"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let o = neuron(&[
            "predict",
            "--model",
            path.to_str().unwrap(),
            "--data",
            &inputs,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("neuron: error: ") && !err.contains("panicked"),
            "{err}"
        );
    }
    let wide = dir.path().join("wide.csv");
    std::fs::write(&wide, "a,b\n1,2\n").unwrap();
    let o = neuron(&[
        "predict",
        "--model",
        &fixture("torch_script_softmax", "onnx"),
        "--data",
        wide.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("takes 5 feature columns by position"), "{err}");
}
