//! Runs the real `neuron` binary: every command, the shipped data sets with default options, IDX
//! directories, and every kind of bad input (one clear error line, non-zero exit, no output file).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_neuron");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../neuron/data");

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

/// Asserts failure with exactly one error line containing `needle`, and no panic.
fn fails(args: &[&str], needle: &str) {
    let o = neuron(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "neuron {args:?} should fail, stderr:\n{err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "neuron {args:?}: expected one error line, got:\n{err}"
    );
    assert!(lines[0].starts_with("neuron: error: "), "{err}");
    assert!(
        lines[0].contains(needle),
        "neuron {args:?}: '{needle}' not in: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

fn data(name: &str) -> String {
    format!("{DATA}/{name}")
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

#[test]
fn train_eval_predict_summary_on_builtin_digits() {
    let dir = tempfile::tempdir().unwrap();
    let model = p(dir.path(), "m.safetensors");
    let (mj, png, svg) = (
        p(dir.path(), "m.json"),
        p(dir.path(), "c.png"),
        p(dir.path(), "c.svg"),
    );
    // One validation split, a test split and the former architecture: this test is about the
    // commands and files; the table defaults are tested in tables.rs.
    let out = ok(&[
        "train",
        "--epochs",
        "15",
        "--cv-folds",
        "0",
        "--test-split",
        "0.2",
        "--layers",
        "128,64",
        "--dropout",
        "0",
        "--out",
        &model,
        "--metrics-json",
        &mj,
        "--plot",
        &png,
        "--quiet",
    ]);
    assert!(out.is_empty(), "--quiet prints nothing: {out}");
    let m = json(&std::fs::read_to_string(&mj).unwrap());
    assert_eq!(m["history"]["epochs"].as_array().unwrap().len(), 15);
    assert!(m["test"]["accuracy"].as_f64().unwrap() > 0.9);
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    ok(&[
        "train",
        "--epochs",
        "2",
        "--layers",
        "128,64",
        "--dropout",
        "0",
        "--out",
        &model,
        "--plot",
        &svg,
        "--quiet",
    ]);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));

    let e = json(&ok(&[
        "eval",
        "--model",
        &model,
        "--data",
        "builtin:digits",
        "--json",
    ]));
    assert_eq!(e["n"], 1797);
    assert!(e["accuracy"].as_f64().unwrap() > 0.9);
    assert_eq!(e["confusion"].as_array().unwrap().len(), 10);
    let report = ok(&["eval", "--model", &model, "--data", "builtin:digits"]);
    assert!(
        report.contains("accuracy")
            && report.contains("confusion matrix")
            && report.contains("precision")
    );

    let predict = [
        "predict",
        "--model",
        &model,
        "--data",
        "builtin:digits",
        "--proba",
    ];
    let csv = ok(&predict);
    let header = csv.lines().next().unwrap();
    assert_eq!(header, "prediction,p_0,p_1,p_2,p_3,p_4,p_5,p_6,p_7,p_8,p_9");
    assert_eq!(csv.lines().count(), 1798);
    let row: Vec<f64> = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-4);

    // A reader that stops early (`| head -1`) ends the command quietly, as with other Unix tools.
    let mut child = Command::new(BIN)
        .args(predict)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(141));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Three of the 64 pixels are blank in every training image: left out as constant.
    let s = ok(&["summary", "--model", &model]);
    for want in [
        "Linear(in_features=61, out_features=128)",
        "dropped: constant",
        "ReLU()",
        "0.weight",
        "[128, 61]",
        "4.bias",
        "10 classes",
        "provenance",
    ] {
        assert!(s.contains(want), "summary lacks {want}:\n{s}");
    }
}

#[test]
fn no_arguments_trains_the_builtin_digits() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN).current_dir(dir.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    // No test split by default: the cross-validation estimate is reported instead.
    let line = out
        .lines()
        .find(|l| l.starts_with("3-fold cross-validation at "))
        .unwrap_or_else(|| panic!("no cross-validation line: {out}"));
    let acc: f64 = line
        .split("accuracy ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc >= 0.96, "{out}");
    assert!(dir.path().join("model.safetensors").exists());
    // Not a terminal: one plain line per epoch on stderr.
    assert!(String::from_utf8_lossy(&o.stderr)
        .lines()
        .any(|l| l.starts_with("epoch   1/")));
}

#[test]
fn shipped_csvs_with_default_options() {
    let dir = tempfile::tempdir().unwrap();
    let m = p(dir.path(), "m.safetensors");
    for (file, metric, min) in [
        ("iris.csv", "accuracy", 0.85),
        ("digits.csv.gz", "accuracy", 0.95),
        ("diabetes.csv", "r2", 0.3),
    ] {
        ok(&["train", "--data", &data(file), "--out", &m, "--quiet"]);
        let e = json(&ok(&[
            "eval",
            "--model",
            &m,
            "--data",
            &data(file),
            "--json",
        ]));
        let v = e[metric].as_f64().unwrap();
        assert!(v >= min, "{file}: {metric} {v}");
        if metric == "r2" {
            assert!(e["mse"].as_f64().unwrap() > 0.0 && e["mae"].as_f64().unwrap() > 0.0);
        }
    }
}

#[test]
fn predict_without_target_column_and_text_features() {
    let dir = tempfile::tempdir().unwrap();
    let mut train = String::from("size,color,label\n");
    for i in 0..60 {
        let color = ["red", "green", "blue"][i % 3];
        let label = if color == "red" || i % 5 == 0 {
            "yes"
        } else {
            "no"
        };
        train += &format!("{},{color},{label}\n", i % 7);
    }
    let t = write(dir.path(), "t.csv", &train);
    let m = p(dir.path(), "m.safetensors");
    ok(&[
        "train", "--data", &t, "--out", &m, "--quiet", "--epochs", "30",
    ]);
    let q = write(dir.path(), "q.csv", "color,size\nred,1\npurple,2\n");
    let out_csv = p(dir.path(), "pred.csv");
    let o = neuron(&[
        "predict", "--model", &m, "--data", &q, "--out", &out_csv, "--proba",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unseen"),
        "unseen category reported"
    );
    let csv = std::fs::read_to_string(&out_csv).unwrap();
    assert_eq!(csv.lines().next().unwrap(), "prediction,p_no,p_yes");
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.lines().nth(1).unwrap().starts_with("yes,"));
}

#[test]
fn regression_predictions_are_in_target_units() {
    let dir = tempfile::tempdir().unwrap();
    let m = p(dir.path(), "m.safetensors");
    ok(&[
        "train",
        "--data",
        "builtin:table-area",
        "--out",
        &m,
        "--quiet",
    ]);
    let q = write(dir.path(), "q.csv", "length,width\n2,3\n9,9\n");
    let csv = ok(&["predict", "--model", &m, "--data", &q]);
    let v: Vec<f64> = csv.lines().skip(1).map(|l| l.parse().unwrap()).collect();
    assert!(
        (v[0] - 6.0).abs() < 1.0 && (v[1] - 81.0).abs() < 4.0,
        "{v:?}"
    );
    fails(
        &["predict", "--model", &m, "--data", &q, "--proba"],
        "regression",
    );
    let e = json(&ok(&[
        "eval",
        "--model",
        &m,
        "--data",
        "builtin:table-area",
        "--json",
    ]));
    assert!(e["r2"].as_f64().unwrap() > 0.99);
}

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, bytes).unwrap();
    e.finish().unwrap()
}

/// Writes a small MNIST-style directory: 4×4 images whose label is which half is bright.
fn idx_dir(dir: &Path, gzipped: bool) -> PathBuf {
    let d = dir.join(if gzipped { "gz" } else { "raw" });
    std::fs::create_dir_all(&d).unwrap();
    for (prefix, n) in [("train", 200u32), ("t10k", 40)] {
        let mut px = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let label = (i % 2) as u8;
            for r in 0..4 {
                for c in 0..4 {
                    let bright = (c < 2) == (label == 0);
                    px.push(if bright {
                        200 + ((i + r + c) % 50) as u8
                    } else {
                        ((i * 7 + r + c) % 40) as u8
                    });
                }
            }
            labels.push(label);
        }
        let (ip, lp) = (idx(&[n, 4, 4], &px), idx(&[n], &labels));
        let (ext, ib, lb) = if gzipped {
            (".gz", gz(&ip), gz(&lp))
        } else {
            ("", ip, lp)
        };
        std::fs::write(d.join(format!("{prefix}-images-idx3-ubyte{ext}")), ib).unwrap();
        std::fs::write(d.join(format!("{prefix}-labels-idx1-ubyte{ext}")), lb).unwrap();
    }
    d
}

#[test]
fn idx_directories_gzipped_and_raw() {
    let dir = tempfile::tempdir().unwrap();
    for gzipped in [true, false] {
        let d = idx_dir(dir.path(), gzipped).display().to_string();
        let m = p(dir.path(), "idx.safetensors");
        ok(&[
            "train",
            "--data",
            &d,
            "--out",
            &m,
            "--quiet",
            "--epochs",
            "10",
            "--layers",
            "16",
            "--no-augment",
        ]);
        let e = json(&ok(&["eval", "--model", &m, "--data", &d, "--json"]));
        assert_eq!(e["n"], 40, "eval reads the t10k files");
        assert!(e["accuracy"].as_f64().unwrap() > 0.95);
        assert!(ok(&["summary", "--model", &m]).contains("4×4 image pixels"));
    }
}

#[test]
fn bench_on_random_data_says_so() {
    let args = [
        "bench",
        "--only",
        "small-128",
        "--epochs",
        "1",
        "--synthetic",
    ];
    let j = json(&ok(&[&args[..], &["--json", "--ops"]].concat()));
    assert_eq!(j["data"], "random");
    let c = &j["configs"][0];
    // --ops: the time of every backend operation, the products by shape, the slowest first.
    let ops = c["ops"].as_array().unwrap();
    let op = |name: &str| ops.iter().find(|o| o["op"] == name).unwrap();
    assert_eq!(op("matmul 128×256×784 NT")["calls_per_epoch"], 468.0);
    assert_eq!(op("adam_update")["calls_per_epoch"], 6.0 * 468.0);
    let shares: Vec<f64> = ops.iter().map(|o| o["share"].as_f64().unwrap()).collect();
    assert!(shares.windows(2).all(|w| w[0] >= w[1]) && shares.iter().sum::<f64>() <= 1.05);
    assert_eq!(c["config"], "small-128");
    assert_eq!(c["batch"], 128);
    assert!(c["s_per_epoch"].as_f64().unwrap() > 0.0);
    assert!(c["gflops"].as_f64().unwrap() > 0.0);
    assert!(j["peak_gflops"].as_f64().unwrap() > 0.0);
    let lat = j["predict_latency_us"].as_f64().unwrap();
    assert!(j["predict_latency_p10_us"].as_f64().unwrap() <= lat);
    assert!(lat <= j["predict_latency_p90_us"].as_f64().unwrap());
    let text = ok(&args);
    assert!(
        text.starts_with("random data") && text.contains("(--synthetic)"),
        "{text}"
    );
    assert!(
        text.contains("s/epoch") && text.contains("single sample"),
        "{text}"
    );
}

#[test]
fn gradcheck_command() {
    let j = json(&ok(&["gradcheck", "--json"]));
    assert!(j["max_rel_error"].as_f64().unwrap() <= 1e-6);
    assert!(j["checks"].as_u64().unwrap() > 1000);
    assert!(ok(&["gradcheck"]).contains("worst relative error"));
}

#[test]
fn bad_csv_inputs_give_one_clear_line_and_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = p(d, "never.safetensors");
    let train = |src: &str| {
        vec![
            "train".to_string(),
            "--data".into(),
            src.to_string(),
            "--out".into(),
            m.clone(),
        ]
    };
    let cases: Vec<(String, &str)> = vec![
        (p(d, "missing.csv"), "no such file"),
        (write(d, "empty.csv", ""), "empty"),
        (write(d, "header.csv", "a,b\n"), "no data rows"),
        (
            write(d, "ragged.csv", "a,b,y\n1,2,0\n3,4\n5,6,1\n"),
            "ragged.csv:3",
        ),
        (
            write(d, "text.csv", "a,b,y\n1,2,0\n3,oops,1\n5,6,1\n7,8,0\n"),
            "text.csv:3: column 'b' (field 2): 'oops' is not a number",
        ),
        (
            write(d, "nan.csv", "a,b,y\n1,2,0\n3,NaN,1\n5,6,1\n"),
            "not a finite number",
        ),
        (
            write(d, "inf.csv", "a,b,y\n1,inf,0\n3,4,1\n5,6,1\n"),
            "not a finite number",
        ),
        (
            write(d, "hole.csv", "a,b,y\n1,,0\n3,4,1\n5,6,1\n"),
            "--impute",
        ),
        (
            write(
                d,
                "single.csv",
                "a,b,y\n1,2,x\n3,4,x\n5,6,x\n7,8,x\n9,1,x\n",
            ),
            "single class",
        ),
    ];
    for (src, needle) in &cases {
        let args = train(src);
        fails(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle);
        assert!(!Path::new(&m).exists(), "{src}: a model was written");
    }
    let ok_csv = write(
        d,
        "ok.csv",
        "a,b,y\n1,2,0\n3,4,1\n5,6,1\n7,8,0\n9,1,0\n2,2,1\n",
    );
    fails(
        &["train", "--data", &ok_csv, "--target", "nope", "--out", &m],
        "no column 'nope'",
    );
    fails(
        &["train", "--data", "builtin:nope", "--out", &m],
        "unknown built-in",
    );
    // Imputation makes the file with a hole trainable.
    let hole = p(d, "hole.csv");
    ok(&[
        "train",
        "--data",
        &hole,
        "--impute",
        "median",
        "--out",
        &p(d, "h.safetensors"),
        "--quiet",
        "--epochs",
        "2",
        "--test-split",
        "0",
        "--val-split",
        "0",
    ]);
}

#[test]
fn nonsense_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = p(dir.path(), "never.safetensors");
    for (opt, val, needle) in [
        ("--lr", "-0.1", "--lr must be a positive number"),
        ("--lr", "0", "--lr must be a positive number"),
        ("--batch-size", "0", "--batch-size must be at least 1"),
        ("--layers", "", "--layers is empty"),
        ("--layers", "64,abc", "not a positive width"),
        ("--dropout", "1.5", "--dropout must be in [0, 1)"),
        ("--val-split", "1", "--val-split"),
        ("--epochs", "0", "--epochs must be at least 1"),
        ("--activation", "swishy", "unknown 'swishy'"),
        ("--optimizer", "lbfgs", "unknown 'lbfgs'"),
        ("--weight-decay", "-1", "weight decay"),
        ("--threads", "0", "--threads must be at least 1"),
    ] {
        fails(&["train", opt, val, "--out", &m], needle);
        assert!(!Path::new(&m).exists());
    }
    fails(
        &[
            "train",
            "--data",
            "builtin:xor",
            "--optimizer",
            "momentum",
            "--momentum",
            "1.5",
            "--out",
            &m,
        ],
        "momentum must be in [0, 1), got 1.5",
    );
    let o = neuron(&["train", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2), "clap usage errors exit 2");
}

#[test]
fn eval_and_predict_refuse_data_that_does_not_fit_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = p(d, "iris.safetensors");
    ok(&[
        "train",
        "--data",
        &data("iris.csv"),
        "--out",
        &m,
        "--quiet",
        "--epochs",
        "5",
    ]);
    let unseen = write(
        d,
        "u.csv",
        "sepal_length,sepal_width,petal_length,petal_width,species\n5,3,1,0.2,daisy\n",
    );
    fails(
        &["eval", "--model", &m, "--data", &unseen],
        "label 'daisy' was not seen in training",
    );
    let narrow = write(d, "n.csv", "sepal_length,sepal_width,species\n5,3,setosa\n");
    fails(
        &["eval", "--model", &m, "--data", &narrow],
        "missing feature column 'petal_length'",
    );
    let out = p(d, "pred.csv");
    fails(
        &["predict", "--model", &m, "--data", &narrow, "--out", &out],
        "the model expects 4 features",
    );
    assert!(!Path::new(&out).exists());
    fails(
        &["eval", "--model", &m, "--data", "builtin:digits"],
        "missing feature column",
    );
}

#[test]
fn bad_model_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = p(d, "good.safetensors");
    ok(&[
        "train",
        "--data",
        "builtin:xor",
        "--out",
        &good,
        "--quiet",
        "--epochs",
        "2",
    ]);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = p(d, "trunc.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    fails(
        &["eval", "--model", &truncated, "--data", "builtin:xor"],
        "not a valid safetensors file",
    );
    let garbage = write(d, "garbage.safetensors", "hello, I am not a model");
    fails(
        &["summary", "--model", &garbage],
        "not a valid safetensors file",
    );
    // A valid safetensors file from another tool: no neuron metadata.
    let header = br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut foreign = (header.len() as u64).to_le_bytes().to_vec();
    foreign.extend_from_slice(header);
    foreign.extend_from_slice(&1.0f32.to_le_bytes());
    let f = p(d, "foreign.safetensors");
    std::fs::write(&f, foreign).unwrap();
    fails(
        &["predict", "--model", &f, "--data", "builtin:xor"],
        "not a neuron model",
    );
    fails(
        &["summary", "--model", &p(d, "absent.safetensors")],
        "absent.safetensors",
    );
    // --init from a bad model refuses too, and writes nothing.
    let out = p(d, "never.safetensors");
    fails(
        &["train", "--init", &garbage, "--out", &out],
        "not a valid safetensors",
    );
    assert!(!Path::new(&out).exists());
    // --init from a good one continues training.
    ok(&[
        "train",
        "--data",
        "builtin:xor",
        "--init",
        &good,
        "--out",
        &out,
        "--quiet",
        "--epochs",
        "2",
    ]);
}

#[test]
fn bad_idx_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = idx_dir(dir.path(), false);
    let m = p(dir.path(), "never.safetensors");
    let images = d.join("train-images-idx3-ubyte");
    let full = std::fs::read(&images).unwrap();
    std::fs::write(&images, &full[..full.len() - 10]).unwrap();
    fails(
        &["train", "--data", &d.display().to_string(), "--out", &m],
        "truncated",
    );
    std::fs::write(
        &images,
        std::fs::read(d.join("train-labels-idx1-ubyte")).unwrap(),
    )
    .unwrap();
    fails(
        &["train", "--data", &d.display().to_string(), "--out", &m],
        "must have 3 dimensions",
    );
    std::fs::write(&images, b"not idx at all").unwrap();
    fails(
        &["train", "--data", &d.display().to_string(), "--out", &m],
        "bad magic number",
    );
    std::fs::remove_file(&images).unwrap();
    fails(
        &["train", "--data", &d.display().to_string(), "--out", &m],
        "no train-images",
    );
    assert!(!Path::new(&m).exists());
}

#[test]
fn refit_retrains_on_every_row_for_the_best_epoch_count() {
    let dir = tempfile::tempdir().unwrap();
    let model = p(dir.path(), "m.safetensors");
    let o = neuron(&[
        "train",
        "--data",
        &data("iris.csv"),
        "--cv-folds",
        "0",
        "--refit",
        "--epochs",
        "60",
        "--out",
        &model,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("refitting on all 150 training rows for "),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("validation (10 % of the rows, chose epoch "),
        "{out}"
    );
    let s = ok(&["summary", "--model", &model]);
    assert!(s.contains("refit_epochs"), "{s}");
    let e = json(&ok(&[
        "eval",
        "--model",
        &model,
        "--data",
        &data("iris.csv"),
        "--json",
    ]));
    assert!(e["accuracy"].as_f64().unwrap() > 0.9, "{e}");
}

#[test]
fn runs_that_cannot_finish_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let m = p(dir.path(), "m.safetensors");
    // Far more memory than any machine has: refused with both figures, nothing allocated.
    fails(
        &["train", "--layers", "200000,200000", "--out", &m],
        "GiB of memory",
    );
    let o = neuron(&["train", "--layers", "200000,200000", "--out", &m]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("GiB are available"), "{err}");
    assert!(!Path::new(&m).exists());
    // An output directory that does not exist: refused at once, the path named once.
    let missing = p(dir.path(), "no/such/dir/m.safetensors");
    let t = std::time::Instant::now();
    fails(&["train", "--out", &missing], "does not exist");
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    let o = neuron(&["train", "--out", &missing]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).matches(&missing).count(),
        1
    );
    fails(
        &["train", "--out", &m, "--plot", &p(dir.path(), "nope/c.png")],
        "--plot",
    );
}

#[test]
fn eval_and_predict_name_the_columns_they_ignore() {
    let dir = tempfile::tempdir().unwrap();
    let m = p(dir.path(), "m.safetensors");
    ok(&[
        "train",
        "--data",
        &data("iris.csv"),
        "--epochs",
        "3",
        "--out",
        &m,
        "--quiet",
    ]);
    let iris = std::fs::read_to_string(data("iris.csv")).unwrap();
    let extra: String = iris
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("id,{l},note\n"),
            _ => format!("{i},{l},x\n"),
        })
        .collect();
    let f = write(dir.path(), "extra.csv", &extra);
    for cmd in ["eval", "predict"] {
        let o = neuron(&[cmd, "--model", &m, "--data", &f]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(
            err.contains("ignoring 2 column(s) that the model does not use: id, note"),
            "{cmd}: {err}"
        );
    }
    // The training file itself: nothing ignored, no warning.
    let o = neuron(&["eval", "--model", &m, "--data", &data("iris.csv")]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("ignoring"));
}

#[test]
fn export_writes_onnx_and_refuses_what_is_not_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = p(dir.path(), "m.safetensors");
    ok(&[
        "train",
        "--data",
        "builtin:xor",
        "--epochs",
        "3",
        "--cv-folds",
        "0",
        "--quiet",
        "--out",
        &model,
    ]);
    let onnx = p(dir.path(), "m.onnx");
    ok(&["export", "--model", &model, "--out", &onnx]);
    let bytes = std::fs::read(&onnx).unwrap();
    // A protobuf ModelProto: field 1 (ir_version) first, and the producer's name inside.
    assert_eq!(bytes[0], 0x08);
    assert!(bytes.windows(6).any(|w| w == b"neuron"));
    let junk = write(dir.path(), "junk.safetensors", "not a model");
    fails(
        &["export", "--model", &junk, "--out", &onnx],
        "junk.safetensors",
    );
    fails(
        &[
            "export",
            "--model",
            &model,
            "--out",
            "/nonexistent/dir/m.onnx",
        ],
        "/nonexistent/dir",
    );
}

#[test]
fn semicolon_and_tab_files_are_read_and_a_wrong_delimiter_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut semi = String::from("a;b;label\n");
    for i in 0..60 {
        let (a, b) = ((i * 7 % 13) as f64 / 3.0, (i * 5 % 11) as f64 / 3.0);
        let label = if a > b { "yes" } else { "no" };
        semi.push_str(&format!("{a:.2};{b:.2};{label}\n"));
    }
    let s = write(dir.path(), "semi.csv", &semi);
    let tsv = write(dir.path(), "t.tsv", &semi.replace(';', "\t"));
    let m = p(dir.path(), "m.safetensors");
    let train = |data: &str| {
        ok(&[
            "train",
            "--data",
            data,
            "--epochs",
            "2",
            "--cv-folds",
            "0",
            "--quiet",
            "--out",
            &m,
        ])
    };
    train(&s);
    assert!(ok(&["summary", "--model", &m]).contains("2 numeric"));
    ok(&["predict", "--model", &m, "--data", &s]);
    train(&tsv);
    fails(
        &["train", "--data", &s, "--delimiter", ",", "--out", &m],
        "reads as one column named 'a;b;label'",
    );
    fails(
        &["train", "--data", &s, "--delimiter", ",", "--out", &m],
        "its header contains ';'",
    );
}

/// Started by a launcher as one of several processes, a build without MPI says so rather than
/// train several copies that overwrite each other's files; `--distributed off` trains one anyway.
#[cfg(not(feature = "mpi"))]
#[test]
fn under_a_launcher_without_mpi_one_line_or_distributed_off() {
    let dir = tempfile::tempdir().unwrap();
    let out = p(dir.path(), "m.safetensors");
    let args = [
        "train",
        "--data",
        "builtin:digits",
        "--epochs",
        "1",
        "--cv-folds",
        "0",
    ];
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(["--quiet", "--out", &out])
            .args(extra)
            .env("OMPI_COMM_WORLD_SIZE", "2")
            .output()
            .unwrap()
    };
    let o = run(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("built without MPI") && err.contains("--features mpi"),
        "{err}"
    );
    assert!(!Path::new(&out).exists());
    let o = run(&["--distributed", "off"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(Path::new(&out).exists());
}
