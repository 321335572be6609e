//! Column roles on a messy table: constant and identifier-like columns are left out, dates and
//! numbers written for people (`1,234.50`, `12,5`) read as values, all said out
//! loud in training's column table and in `neuron summary`, and the model learns the real signal
//! (identifiers, new at prediction time, cannot help it); `--drop`, `--keep` and
//! `--keep-all-columns` override the inference.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_neuron");

fn neuron(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NEURON_THREADS")
        .output()
        .expect("the binary runs")
}

/// `n` rows from `start`: a user id, a running row number, a constant, two signal columns, a
/// colour, and a class from the signal.
fn messy(start: usize, n: usize) -> String {
    let mut s = String::from("user_id;row;source;when;amount;price;x;y;colour;class\n");
    for i in start..start + n {
        let (x, y) = (
            ((i * 37) % 101) as f64 / 50.0 - 1.0,
            ((i * 53) % 97) as f64 / 48.0 - 1.0,
        );
        let colour = ["red", "green", "blue"][i % 3];
        let class = if x * x + y * y < 0.5 { "in" } else { "out" };
        let when = format!("{}-{:02}-{:02}", 2020 + i % 5, 1 + i % 12, 1 + i % 28);
        let amount = format!("{},{:03}.{:02}", 1 + i % 50, i % 1000, i % 100);
        let price = format!("{},{}", 10 + i % 90, i % 10);
        s.push_str(&format!(
            "user{i:05};{i};web;{when};{amount};{price};{x:.3};{y:.3};{colour};{class}\n"
        ));
    }
    s
}

#[test]
fn constant_and_identifier_columns_are_left_out_and_said_out_loud() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train.csv"), dir.path().join("test.csv"));
    std::fs::write(&train, messy(0, 3000)).unwrap();
    std::fs::write(&test, messy(50_000, 1000)).unwrap();
    let (train, test) = (train.to_str().unwrap(), test.to_str().unwrap());
    let m = dir.path().join("m.safetensors").display().to_string();
    let o = neuron(&[
        "train",
        "--data",
        train,
        "--epochs",
        "40",
        "--cv-folds",
        "0",
        "--out",
        &m,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let line = |name: &str| line_of(&err, name);
    assert!(line("user_id").contains("dropped: identifier"), "{err}");
    assert!(
        line("user_id").contains("3000 distinct values in 3000 rows"),
        "{err}"
    );
    assert!(line("row").contains("dropped: identifier") && line("row").contains("running integer"));
    assert!(line("source").contains("dropped: constant"), "{err}");
    assert!(line("colour").contains("one-hot, 3 categories"), "{err}");
    assert!(line("when").contains("date: year, month, weekday"), "{err}");
    assert!(line("amount").contains("number, written 1,234.5"), "{err}");
    assert!(line("price").contains("number, written 1.234,5"), "{err}");
    assert!(line("class").contains("target"), "{err}");
    let summary = String::from_utf8_lossy(&neuron(&["summary", "--model", &m]).stdout).to_string();
    assert!(
        summary.contains("dropped: identifier") && summary.contains("dropped: constant"),
        "{summary}"
    );
    // Twelve inputs: x, y, amount, price, five for the date and three for the colours.
    assert!(summary.contains("in_features=12"), "{summary}");
    let acc = |model: &str| -> f64 {
        let o = neuron(&["eval", "--model", model, "--data", test, "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["accuracy"].as_f64().unwrap()
    };
    let inferred = acc(&m);
    assert!(inferred > 0.9, "{inferred}");
    // Everything kept: the identifiers become thousands of inputs and do not raise the score.
    let all = dir.path().join("all.safetensors").display().to_string();
    let o = neuron(&[
        "train",
        "--data",
        train,
        "--epochs",
        "40",
        "--cv-folds",
        "0",
        "--keep-all-columns",
        "--quiet",
        "--out",
        &all,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary =
        String::from_utf8_lossy(&neuron(&["summary", "--model", &all]).stdout).to_string();
    assert!(!summary.contains("dropped:"), "{summary}");
    assert!(
        acc(&all) <= inferred + 0.01,
        "{} against {inferred}",
        acc(&all)
    );
    // --drop and --keep.
    let o = neuron(&[
        "train", "--data", train, "--epochs", "2", "--drop", "colour", "--keep", "row", "--out", &m,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(line_of(&err, "colour").contains("dropped: asked"), "{err}");
    assert!(line_of(&err, "row").contains("feature"), "{err}");
    for (flag, what, needle) in [
        ("--drop", "nope", "no column 'nope'"),
        ("--keep", "class", "'class' is the target"),
    ] {
        let o = neuron(&["train", "--data", train, flag, what, "--out", &m]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{err}");
    }
}

fn line_of(text: &str, name: &str) -> String {
    text.lines()
        .find(|l| l.trim_start().starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no line for {name}: {text}"))
        .to_string()
}

/// A validation accuracy from training's closing line.
fn val_accuracy(err: &str) -> f64 {
    let at = err
        .find("accuracy ")
        .unwrap_or_else(|| panic!("no accuracy: {err}"));
    let digits: String = err[at + 9..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().unwrap()
}

/// A product code written as a number decides the class by which code it is, not by its size:
/// `--categorical` one-hot encodes it, in memory and streamed, and the model learns it.
#[test]
fn categorical_encodes_numeric_codes_as_categories() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("code,x,class\n");
    for i in 0..3000usize {
        let code = [10, 20, 30, 40, 50, 60][(i * 7) % 6];
        let x = ((i * 37) % 101) as f64 / 50.0 - 1.0;
        let class = u8::from((code == 20 || code == 50) ^ (x > 0.6));
        s += &format!("{code},{x:.3},{class}\n");
    }
    let data = dir.path().join("codes.csv").display().to_string();
    std::fs::write(&data, s).unwrap();
    let m = dir.path().join("m.safetensors").display().to_string();
    let run = |extra: &[&str]| {
        let base = ["train", "--data", &data, "--cv-folds", "0", "--out", &m];
        let o = neuron(&base.iter().chain(extra).copied().collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        err + &String::from_utf8_lossy(&o.stdout)
    };
    let plain = run(&["--epochs", "40"]);
    assert!(line_of(&plain, "code").contains("number"), "{plain}");
    let metrics = dir.path().join("m.json").display().to_string();
    let coded = run(&[
        "--epochs",
        "40",
        "--categorical",
        "code",
        "--metrics-json",
        &metrics,
    ]);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap();
    let code = j["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "code");
    assert_eq!(code.unwrap_or_else(|| panic!("{j}"))["inputs"], 6, "{j}");
    let line = line_of(&coded, "code");
    assert!(
        line.contains("6 categories") && line.trim_end().ends_with('6'),
        "{coded}"
    );
    let (a, b) = (val_accuracy(&plain), val_accuracy(&coded));
    eprintln!("validation accuracy: as a number {a}, as categories {b}");
    assert!(
        b > 0.97 && b > a + 0.1,
        "as a number {a}, as categories {b}"
    );
    let summary = neuron(&["summary", "--model", &m]);
    let text = String::from_utf8_lossy(&summary.stdout).into_owned();
    assert!(line_of(&text, "code").contains("6 categories"), "{text}");
    let streamed = run(&["--stream", "--epochs", "2", "--categorical", "code"]);
    assert!(
        line_of(&streamed, "code").contains("6 categories"),
        "{streamed}"
    );
    for (args, needle) in [
        (["--categorical", "nope"], "no column 'nope'"),
        (["--drop", "code"], "both dropped"),
    ] {
        let base = [
            "train",
            "--data",
            &data,
            "--categorical",
            "code",
            "--out",
            &m,
        ];
        let o = neuron(&base.iter().chain(&args).copied().collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{err}");
    }
}

/// Streamed, numbers written for people are read as values too: the statistics pass follows
/// each format while every cell reads in it, and the many distinct amounts are not taken for
/// identifiers.
#[test]
fn streamed_tables_read_numbers_written_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("amount;price;class\n");
    for i in 0..3000usize {
        let cents = (i * 7919) % 500_000;
        let amount = format!(
            "\"{},{:03}.{:02}\"",
            cents / 100_000,
            (cents / 100) % 1000,
            cents % 100
        );
        let price = format!("{},{}", (i * 31) % 100, i % 10);
        let class = u8::from(cents >= 250_000);
        s += &format!("{amount};{price};{class}\n");
    }
    let data = dir.path().join("amounts.csv").display().to_string();
    std::fs::write(&data, s).unwrap();
    let m = dir.path().join("m.safetensors").display().to_string();
    let metrics = dir.path().join("m.json").display().to_string();
    let args = [
        "train", "--data", &data, "--stream", "--epochs", "4", "--out", &m,
    ];
    let o = neuron(&[&args[..], &["--metrics-json", &metrics]].concat());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    assert!(line_of(&err, "amount").contains("written 1,234.5"), "{err}");
    assert!(line_of(&err, "price").contains("written 1.234,5"), "{err}");
    let last = err.lines().rfind(|l| l.starts_with("epoch")).unwrap();
    let acc = last
        .split("val_acc ")
        .nth(1)
        .unwrap()
        .split('%')
        .next()
        .unwrap();
    assert!(acc.trim().parse::<f64>().unwrap() > 90.0, "{err}");
    // The column table travels in --metrics-json too.
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap();
    let amount = j["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "amount");
    let amount = amount.unwrap_or_else(|| panic!("{j}"));
    assert_eq!(amount["role"], "feature", "{j}");
    assert_eq!(amount["inputs"], 1, "{j}");
    assert!(j["history"]["epochs"].as_array().unwrap().len() == 4, "{j}");
}
