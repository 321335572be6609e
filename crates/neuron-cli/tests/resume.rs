//! Training that survives: SIGKILL at random moments and resuming gives bit-identical weights,
//! Ctrl-C checkpoints and exits cleanly, a diverging run stops without writing bad weights.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use neuron::io::checkpoint::load_checkpoint;
use neuron::io::model_file::load_model;
use neuron::Rng;

const BIN: &str = env!("CARGO_BIN_EXE_neuron");

/// A short run with dropout, early stopping and a schedule, so every part of the state matters.
fn args(ck: &Path, out: &Path) -> Vec<String> {
    [
        "train",
        "--data",
        "builtin:digits",
        "--cv-folds",
        "0",
        "--epochs",
        "40",
        "--layers",
        "256,128",
        "--dropout",
        "0.1",
        "--patience",
        "15",
        "--schedule",
        "cosine",
        "--warmup",
        "1",
        "--batch-size",
        "8",
        "--threads",
        "2",
        "--quiet",
        "--checkpoint",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        ck.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ])
    .collect()
}

fn weights(path: &Path) -> Vec<Vec<f32>> {
    load_model(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .0
        .params()
        .unwrap()
}

fn check_files(ck: &Path, out: &Path) {
    let c = ck.join("checkpoint.safetensors");
    if c.exists() {
        load_checkpoint(&c).unwrap_or_else(|e| panic!("corrupt checkpoint: {e}"));
    }
    if out.exists() {
        load_model(out).unwrap_or_else(|e| panic!("corrupt model: {e}"));
    }
}

#[test]
fn kill_9_at_twenty_random_moments_then_resume_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (ck_a, out_a) = (dir.path().join("a"), dir.path().join("a.safetensors"));
    let t = std::time::Instant::now();
    let st = Command::new(BIN)
        .args(args(&ck_a, &out_a))
        .status()
        .unwrap();
    assert!(st.success());
    let full_ms = t.elapsed().as_millis() as f64;
    let reference = weights(&out_a);

    let (ck, out) = (dir.path().join("b"), dir.path().join("b.safetensors"));
    let mut rng = Rng::new(2026);
    let mut resumes = 0;
    for _ in 0..20 {
        let cmd: Vec<String> = if ck.join("checkpoint.safetensors").exists() {
            resumes += 1;
            vec![
                "train".into(),
                "--resume".into(),
                ck.display().to_string(),
                "--quiet".into(),
            ]
        } else {
            args(&ck, &out)
        };
        let mut child = Command::new(BIN)
            .args(&cmd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(
            (rng.uniform() * full_ms * 1000.0) as u64,
        ));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(
            status.success() || status.code().is_none(),
            "{cmd:?} failed: {status:?}"
        );
        check_files(&ck, &out);
    }
    assert!(
        resumes >= 5,
        "only {resumes} kills landed after a checkpoint"
    );
    // Finish the run.
    let cmd: Vec<String> = if ck.join("checkpoint.safetensors").exists() {
        vec![
            "train".into(),
            "--resume".into(),
            ck.display().to_string(),
            "--quiet".into(),
        ]
    } else {
        args(&ck, &out)
    };
    let o = Command::new(BIN).args(&cmd).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        weights(&out),
        reference,
        "resumed weights differ from the uninterrupted run"
    );
}

#[test]
fn ctrl_c_checkpoints_mid_epoch_and_resume_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (ck_a, out_a) = (dir.path().join("a"), dir.path().join("a.safetensors"));
    assert!(Command::new(BIN)
        .args(args(&ck_a, &out_a))
        .status()
        .unwrap()
        .success());
    let (ck, out) = (dir.path().join("b"), dir.path().join("b.safetensors"));
    let mut a = args(&ck, &out);
    a.retain(|s| s != "--quiet");
    let mut child = Command::new(BIN)
        .args(&a)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the first epoch is reported (training is under way, whatever the machine's load)...
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("epoch") {
                let _ = tx.send(());
            }
            all += &line;
            all.push('\n');
        }
        all
    });
    let _ = rx.recv_timeout(Duration::from_secs(60));
    // ...SIGINT, as Ctrl-C sends it.
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    let o = std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: err.clone().into_bytes(),
    };
    assert_eq!(
        o.status.code(),
        Some(130),
        "the run should have been interrupted: {err}"
    );
    assert!(
        err.contains("interrupted") && err.contains("--resume"),
        "{err}"
    );
    check_files(&ck, &out);
    assert!(out.exists(), "the model so far is saved");
    let o = Command::new(BIN)
        .args(["train", "--resume", &ck.display().to_string(), "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(weights(&out), weights(&out_a));
}

#[test]
fn divergence_stops_with_a_message_and_keeps_finite_weights() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let o = Command::new(BIN)
        .args([
            "train",
            "--data",
            "builtin:table-area",
            "--optimizer",
            "sgd",
            "--lr",
            "1e12",
            "--epochs",
            "5",
        ])
        .args(["--out", &out.display().to_string(), "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("diverged") && err.contains("epoch") && err.contains("learning rate"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // The saved weights are the last good ones: all finite (the loader refuses anything else).
    assert!(weights(&out).iter().flatten().all(|v| v.is_finite()));
}

/// The small-table default: cross-validation chooses the epoch count, then the checkpointed run
/// on all rows. Resuming repeats the (seeded) cross-validation, reaches the same epoch count and
/// continues from the checkpoint to the same weights.
#[test]
fn cross_validated_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let run = |ck: &Path, out: &Path| -> Vec<String> {
        [
            "train",
            "--data",
            "builtin:digits",
            "--epochs",
            "30",
            "--threads",
            "2",
            "--checkpoint",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            ck.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ])
        .collect()
    };
    let (ck_a, out_a) = (dir.path().join("a"), dir.path().join("a.safetensors"));
    let o = Command::new(BIN).args(run(&ck_a, &out_a)).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("3-fold cross-validation at "), "{err}");

    let (ck, out) = (dir.path().join("b"), dir.path().join("b.safetensors"));
    let child = Command::new(BIN)
        .args(run(&ck, &out))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the run on all rows has written its first checkpoint.
    let file = ck.join("checkpoint.safetensors");
    let t = std::time::Instant::now();
    while !file.exists() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    // Either interrupted (130) or, on a fast machine, already finished.
    assert!(matches!(o.status.code(), Some(130) | Some(0)), "{err}");
    let o = Command::new(BIN)
        .args(["train", "--resume", &ck.display().to_string(), "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(weights(&out), weights(&out_a));
}

/// A streamed run with checkpoints every 40 steps within its epochs, killed at random moments and
/// resumed each time: the reader reads each resumed epoch's earlier batches again (not trained
/// on), so the model ends bit-identical to an uninterrupted run.
#[test]
fn a_streamed_run_killed_mid_epoch_resumes_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.csv");
    let mut rng = Rng::new(11);
    let mut s = String::from("a,b,c,y\n");
    for _ in 0..60_000 {
        let x: Vec<f64> = (0..3).map(|_| rng.normal()).collect();
        let y = u8::from(x[0] * x[1] + x[2] > 0.0);
        s += &format!("{:.4},{:.4},{:.4},{y}\n", x[0], x[1], x[2]);
    }
    std::fs::write(&table, s).unwrap();
    let run = |ck: &Path, out: &Path| -> Vec<String> {
        let (t, c, o) = (table.display(), ck.display(), out.display());
        let args = format!("train --data {t} --stream --shuffle-buffer 2000 --epochs 3 --threads 1 --quiet --checkpoint {c} --checkpoint-steps 40 --out {o}");
        args.split(' ').map(str::to_string).collect()
    };
    let (ck_a, out_a) = (dir.path().join("a"), dir.path().join("a.safetensors"));
    let t = std::time::Instant::now();
    assert!(Command::new(BIN)
        .args(run(&ck_a, &out_a))
        .status()
        .unwrap()
        .success());
    let full_ms = t.elapsed().as_millis() as f64;
    let (ck, out) = (dir.path().join("b"), dir.path().join("b.safetensors"));
    let resume = vec![
        "train".into(),
        "--resume".into(),
        ck.display().to_string(),
        "--quiet".into(),
    ];
    let mut mid_epoch = 0;
    for _ in 0..8 {
        let file = ck.join("checkpoint.safetensors");
        let cmd = if file.exists() {
            resume.clone()
        } else {
            run(&ck, &out)
        };
        let mut child = Command::new(BIN)
            .args(&cmd)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(
            (rng.uniform() * full_ms * 700.0) as u64,
        ));
        let _ = child.kill();
        let status = child.wait().unwrap();
        assert!(
            status.success() || status.code().is_none(),
            "{cmd:?}: {status:?}"
        );
        check_files(&ck, &out);
        if file.exists() {
            mid_epoch += usize::from(load_checkpoint(&file).unwrap().state.batch > 0);
        }
    }
    assert!(
        mid_epoch >= 2,
        "only {mid_epoch} kills landed after a mid-epoch checkpoint"
    );
    let cmd = match ck.join("checkpoint.safetensors").exists() {
        true => resume,
        false => run(&ck, &out),
    };
    let o = Command::new(BIN).args(&cmd).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(weights(&out), weights(&out_a), "resumed weights differ");
}
