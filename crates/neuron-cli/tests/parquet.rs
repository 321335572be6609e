//! Parquet input and sharded tables through the real binary (files written by
//! `scripts/make_parquet_fixtures.py`): a Parquet file trains the same model as the CSV of the
//! same rows, whatever its compression; shards read as one table; bad files fail with one line.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_neuron");
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/parquet");
const IRIS_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../neuron/data/iris.csv");

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

fn fails(args: &[&str], needle: &str) {
    let o = neuron(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("neuron: error: ") && err.contains(needle),
        "{needle}: {err}"
    );
}

/// Trains on `data` with fixed options and returns the probabilities it predicts for iris.csv.
fn trained(dir: &std::path::Path, data: &str) -> String {
    let out = dir.join("m.safetensors").display().to_string();
    ok(&[
        "train",
        "--data",
        data,
        "--epochs",
        "4",
        "--cv-folds",
        "0",
        "--threads",
        "1",
        "--quiet",
        "--out",
        &out,
    ]);
    ok(&[
        "predict",
        "--model",
        &out,
        "--data",
        IRIS_CSV,
        "--proba",
        "--threads",
        "1",
    ])
}

#[test]
fn parquet_trains_the_same_model_as_the_csv_of_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let csv = trained(dir.path(), IRIS_CSV);
    for data in [
        format!("{DIR}/iris.parquet"),
        format!("{DIR}/iris_zstd.parquet"),
        format!("{DIR}/shards"),
        format!("{DIR}/shards/part-*.parquet"),
    ] {
        assert_eq!(trained(dir.path(), &data), csv, "{data}");
    }
    // eval and predict read Parquet too.
    let m = dir.path().join("m.safetensors").display().to_string();
    let iris = format!("{DIR}/iris.parquet");
    assert!(ok(&["eval", "--model", &m, "--data", &iris]).contains("accuracy"));
    let p = ok(&[
        "predict",
        "--model",
        &m,
        "--data",
        &iris,
        "--proba",
        "--threads",
        "1",
    ]);
    assert_eq!(p, csv);
}

#[test]
fn parquet_types_become_numbers_categories_and_missing_cells() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.safetensors").display().to_string();
    let mixed = format!("{DIR}/mixed.parquet");
    fails(
        &["train", "--data", &mixed, "--out", &m],
        "mixed.parquet:4: column 'size' (field 2): empty cell",
    );
    ok(&[
        "train",
        "--data",
        &mixed,
        "--impute",
        "median",
        "--epochs",
        "2",
        "--cv-folds",
        "0",
        "--quiet",
        "--out",
        &m,
    ]);
    let s = ok(&["summary", "--model", &m]);
    // `count` is 0, 1, 2, ... one per row: an identifier, left out; `day` is a date.
    assert!(s.contains("1 numeric"), "{s}");
    assert!(
        s.contains("dropped: identifier") && s.contains("a running integer"),
        "{s}"
    );
    assert!(s.contains("date: year, month, weekday"), "{s}");
    assert!(
        s.contains("flag (2 categories)") && s.contains("colour (3 categories)"),
        "{s}"
    );
    assert!(s.contains("'label': 2 classes (big, small)"), "{s}");
}

#[test]
fn bad_parquet_files_and_mismatched_shards_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.safetensors").display().to_string();
    fails(
        &[
            "train",
            "--data",
            &format!("{DIR}/truncated.parquet"),
            "--out",
            &m,
        ],
        "truncated.parquet: not a readable Parquet file",
    );
    // Found by fuzzing: pages that make the decoder itself fail. One line, no crash, for the
    // whole-file reader (train) and the chunked one (predict).
    let corrupt = format!("{DIR}/corrupt_pages.parquet");
    fails(
        &["train", "--data", &corrupt, "--out", &m],
        "its pages are corrupt",
    );
    let model = dir.path().join("iris.safetensors").display().to_string();
    let iris = format!("{DIR}/iris.parquet");
    let args = [
        "--epochs",
        "1",
        "--cv-folds",
        "0",
        "--quiet",
        "--out",
        &model,
    ];
    ok(&[&["train", "--data", &iris][..], &args[..]].concat());
    let o = neuron(&["predict", "--model", &model, "--data", &corrupt]);
    assert_eq!(o.status.code(), Some(1));
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    for f in ["iris.parquet", "other_columns.parquet"] {
        std::fs::copy(format!("{DIR}/{f}"), shards.join(f)).unwrap();
    }
    fails(
        &["train", "--data", shards.to_str().unwrap(), "--out", &m],
        "other_columns.parquet: its columns (sepal_length, sepal_width, petal_length, width, species) differ",
    );
    fails(
        &[
            "train",
            "--data",
            &format!("{DIR}/none-*.parquet"),
            "--out",
            &m,
        ],
        "no file matches",
    );
}

#[test]
fn a_table_larger_than_a_chunk_is_predicted_and_scored_in_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 150_000;
    let mut big = String::from("a,b,label\n");
    for i in 0..rows {
        let (a, b) = ((i * 37 % 101) as f64 / 10.0, (i * 53 % 97) as f64 / 10.0);
        big.push_str(&format!("{a},{b},{}\n", if a > b { "x" } else { "y" }));
    }
    let first: String = big.lines().take(1001).map(|l| format!("{l}\n")).collect();
    let (big_p, small_p) = (dir.path().join("big.csv"), dir.path().join("small.csv"));
    std::fs::write(&big_p, &big).unwrap();
    std::fs::write(&small_p, &first).unwrap();
    let (big_s, small_s) = (big_p.to_str().unwrap(), small_p.to_str().unwrap());
    let m = dir.path().join("m.safetensors").display().to_string();
    ok(&[
        "train",
        "--data",
        small_s,
        "--epochs",
        "30",
        "--cv-folds",
        "0",
        "--quiet",
        "--out",
        &m,
    ]);
    let out = dir.path().join("p.csv").display().to_string();
    ok(&[
        "predict", "--model", &m, "--data", big_s, "--proba", "--out", &out,
    ]);
    let all = std::fs::read_to_string(&out).unwrap();
    assert_eq!(all.lines().count(), rows + 1);
    let few = ok(&["predict", "--model", &m, "--data", small_s, "--proba"]);
    assert!(
        all.starts_with(&few),
        "the first chunk's rows match the small file's"
    );
    let json = ok(&["eval", "--model", &m, "--data", big_s, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["n"], rows);
    // Accuracy counted over the chunks equals the share of predicted labels that are right.
    let right = all
        .lines()
        .skip(1)
        .zip(big.lines().skip(1))
        .filter(|(p, t)| p.split(',').next() == t.split(',').nth(2))
        .count();
    let acc = v["accuracy"].as_f64().unwrap();
    assert!((acc - right as f64 / rows as f64).abs() < 1e-12, "{acc}");
    assert!(acc > 0.9, "{acc}");
}

#[test]
fn streamed_training_is_seeded_and_learns() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b,label\n");
    for i in 0..40_000 {
        let (a, b) = ((i * 37 % 101) as f64 / 10.0, (i * 53 % 97) as f64 / 10.0);
        csv.push_str(&format!("{a},{b},{}\n", if a > b { "x" } else { "y" }));
    }
    let data = dir.path().join("t.csv");
    std::fs::write(&data, csv).unwrap();
    let data = data.to_str().unwrap();
    let predict = |seed: &str| {
        let m = dir
            .path()
            .join(format!("m{seed}.safetensors"))
            .display()
            .to_string();
        ok(&[
            "train",
            "--data",
            data,
            "--stream",
            "--shuffle-buffer",
            "5000",
            "--epochs",
            "2",
            "--seed",
            seed,
            "--quiet",
            "--out",
            &m,
        ]);
        let acc = ok(&["eval", "--model", &m, "--data", data, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&acc).unwrap();
        assert!(v["accuracy"].as_f64().unwrap() > 0.95, "{acc}");
        ok(&["predict", "--model", &m, "--data", data, "--proba"])
    };
    let a = predict("1");
    assert_eq!(a, predict("1"), "the same seed gives the same model");
    assert_ne!(a, predict("2"));
    let m = dir.path().join("x.safetensors").display().to_string();
    fails(
        &[
            "train", "--data", data, "--stream", "--impute", "median", "--out", &m,
        ],
        "--stream imputes with the mean",
    );
}

#[test]
fn a_row_cache_is_built_once_reused_and_rebuilt_when_the_data_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a;b;label\n");
    for i in 0..20_000 {
        let (a, b) = ((i * 37 % 101) as f64 / 10.0, (i * 53 % 97) as f64 / 10.0);
        csv.push_str(&format!("{a};{b};{}\n", if a > b { "x" } else { "y" }));
    }
    let data = dir.path().join("t.csv");
    std::fs::write(&data, &csv).unwrap();
    let (data, cache) = (
        data.to_str().unwrap().to_string(),
        dir.path().join("cache").display().to_string(),
    );
    let m = dir.path().join("m.safetensors").display().to_string();
    let train = |seed: &str| {
        let o = neuron(&[
            "train",
            "--data",
            &data,
            "--stream",
            "--cache",
            &cache,
            "--epochs",
            "2",
            "--shuffle-buffer",
            "3000",
            "--seed",
            seed,
            "--out",
            &m,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        let proba = ok(&["predict", "--model", &m, "--data", &data, "--proba"]);
        (err, proba)
    };
    let (first, a) = train("1");
    assert!(first.contains("caching the encoded rows"), "{first}");
    let (second, b) = train("1");
    assert!(
        second.contains("reading the encoded rows from the cache"),
        "{second}"
    );
    assert_eq!(a, b, "built or read, the cache gives the same model");
    let acc = ok(&["eval", "--model", &m, "--data", &data, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&acc).unwrap();
    assert!(v["accuracy"].as_f64().unwrap() > 0.95, "{acc}");
    // Other options or changed data: rebuilt.
    let (third, c) = train("2");
    assert!(third.contains("reading the encoded rows"), "{third}");
    assert_ne!(a, c);
    std::fs::write(&data, csv + "1.0;2.0;y\n").unwrap();
    let (fourth, _) = train("1");
    assert!(fourth.contains("caching the encoded rows"), "{fourth}");
    let o = neuron(&["train", "--data", &data, "--cache", &cache, "--out", &m]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--stream"), "{err}");
}

#[test]
fn streamed_training_holds_out_validation_and_test_rows_by_hash() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b,label\n");
    for i in 0..10_000 {
        let (a, b) = ((i * 37 % 101) as f64 / 10.0, (i * 53 % 97) as f64 / 10.0);
        csv.push_str(&format!("{a},{b},{}\n", if a > b { "x" } else { "y" }));
    }
    let data = dir.path().join("t.csv");
    std::fs::write(&data, csv).unwrap();
    let m = dir.path().join("m.safetensors").display().to_string();
    let o = neuron(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--stream",
        "--val-split",
        "0.2",
        "--test-split",
        "0.1",
        "--epochs",
        "4",
        "--patience",
        "2",
        "--out",
        &m,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let count = |before: &str| -> usize {
        let at = err
            .find(before)
            .unwrap_or_else(|| panic!("{before}: {err}"));
        let digits: String = err[..at]
            .chars()
            .rev()
            .skip(1)
            .take_while(char::is_ascii_digit)
            .collect();
        digits.chars().rev().collect::<String>().parse().unwrap()
    };
    let (train, val) = (count("training rows"), count("validation rows"));
    assert_eq!(train + val + count("test rows"), 10_000, "{err}");
    assert!((1_800..2_200).contains(&val), "{err}");
    assert!(err.contains("val_loss") && err.contains("test ("), "{err}");
    let acc: f64 = err
        .split("test (")
        .nth(1)
        .and_then(|t| t.split("accuracy ").nth(1))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(acc > 0.9, "{err}");
    let o = neuron(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--stream",
        "--val-split",
        "0.6",
        "--test-split",
        "0.5",
        "--out",
        &m,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("leave rows to train on"));
}

#[test]
fn bad_rows_stop_a_streamed_run_with_their_place_or_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b,label\n");
    for i in 0..30_000 {
        let (a, b) = ((i * 37 % 101) as f64 / 10.0, (i * 53 % 97) as f64 / 10.0);
        match i {
            25_000 => csv.push_str("1.0,1.2.3,x\n"),
            26_000 => csv.push_str("1.0,2.0\n"),
            27_000 => csv.push_str("1.0,,y\n"),
            _ => csv.push_str(&format!("{a},{b},{}\n", if a > b { "x" } else { "y" })),
        }
    }
    let data = dir.path().join("t.csv");
    std::fs::write(&data, &csv).unwrap();
    let data = data.to_str().unwrap();
    let head: Vec<&str> = csv.lines().take(20_001).collect();
    let clean = dir.path().join("clean.csv").display().to_string();
    std::fs::write(&clean, head.join("\n") + "\n").unwrap();
    let m = dir.path().join("m.safetensors").display().to_string();
    fails(
        &["train", "--data", data, "--stream", "--out", &m],
        "t.csv:26002: row has 2 fields",
    );
    let c = dir.path().join("cache").display().to_string();
    for cache in [None, Some(c.as_str()), Some(c.as_str())] {
        let mut args = vec![
            "train",
            "--data",
            data,
            "--stream",
            "--bad-rows",
            "skip",
            "--epochs",
            "2",
            "--val-split",
            "0",
            "--out",
            &m,
        ];
        args.extend(cache.map(|c| ["--cache", c]).into_iter().flatten());
        let o = neuron(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(
            err.contains("skipping 3 bad rows (1 malformed")
                || err.contains("3 bad rows were skipped building it"),
            "{err}"
        );
        assert!(err.contains("29997 training rows"), "{err}");
        let acc = ok(&["eval", "--model", &m, "--data", &clean, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&acc).unwrap();
        assert!(v["accuracy"].as_f64().unwrap() > 0.9, "{acc}");
    }
    // eval skips and counts the same rows when asked, and stops at the first by default.
    let o = neuron(&[
        "eval",
        "--model",
        &m,
        "--data",
        data,
        "--bad-rows",
        "skip",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("skipped 3 bad rows (1 malformed"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["n"].as_u64(), Some(29_997), "{v}");
    fails(
        &["eval", "--model", &m, "--data", data],
        "t.csv:25002: column 'b' (field 2): '1.2.3' is not a number",
    );
    // A bad number alone: stopped with its file, line and column.
    let text = std::fs::read_to_string(data)
        .unwrap()
        .replace("1.0,2.0\n", "")
        .replace("1.0,,y\n", "");
    std::fs::write(data, text).unwrap();
    fails(
        &["train", "--data", data, "--stream", "--out", &m],
        "t.csv:25002: column 'b' (field 2): '1.2.3' is not a number",
    );
}
