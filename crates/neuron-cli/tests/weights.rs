//! The guard on the training loop: 3 epochs of the digits recipe give the same weights on 1 and 2
//! threads, and exactly the weights recorded before the loop was last reshaped.
//!
//! The bits depend on which product kernels the CPU runs (AVX-512, AVX2 with FMA, or portable
//! code), so the recorded SHA-256 is checked where the CPU runs the kernels it was recorded with;
//! elsewhere only the agreement between thread counts is. `scripts/weights_sha.py` prints the
//! same hashes, and adds the Fashion-MNIST recipe.

use std::process::Command;

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_neuron");

/// Recorded on an AMD EPYC (AVX2 and FMA, no AVX-512).
const DIGITS_AVX2_FMA: &str = "458bdc81352d1b663e5cc0cea8b2d8aba6105f88a83c4a825fd6b8498ee4461b";

/// SHA-256 of a safetensors file's tensors (name, then bytes, in the order of sorted names); the
/// metadata is left out because it holds times.
fn tensor_sha(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut names: Vec<&String> = header.keys().filter(|k| *k != "__metadata__").collect();
    names.sort();
    let mut h = Sha256::new();
    for name in names {
        let offsets = &header[name]["data_offsets"];
        let (a, b) = (offsets[0].as_u64().unwrap(), offsets[1].as_u64().unwrap());
        h.update(name.as_bytes());
        h.update(&data[a as usize..b as usize]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn digits_sha(threads: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let status = Command::new(BIN)
        .args([
            "train",
            "--data",
            "builtin:digits",
            "--epochs",
            "3",
            "--cv-folds",
            "0",
            "--keep-all-columns",
        ])
        .args(["--threads", &threads.to_string(), "--quiet", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    tensor_sha(&out)
}

/// Whether the CPU runs the kernels the hash was recorded with.
fn recorded_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && !is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[test]
fn the_digits_recipe_trains_the_recorded_weights_on_1_and_2_threads() {
    let one = digits_sha(1);
    assert_eq!(one, digits_sha(2), "1 and 2 threads disagree");
    if recorded_kernels() {
        assert_eq!(one, DIGITS_AVX2_FMA, "the training loop changed its result");
    } else {
        eprintln!("no hash is recorded for this CPU's kernels; checked 1 against 2 threads only");
    }
}
