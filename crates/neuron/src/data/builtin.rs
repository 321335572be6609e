//! Built-in data sets, available with no files: `digits` (embedded), and the generated
//! `table-area`, `xor`, `circles` and `spirals`. All are returned as CSV-like tables so they go
//! through exactly the same preprocessing as user files.

use crate::data::csv::{read_csv_bytes, RawTable};
use crate::error::{NeuronError, Result};
use crate::rng::Rng;

/// The 8×8 handwritten digits (1,797 images, UCI / scikit-learn), gzipped CSV.
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Names accepted after `builtin:`.
pub const NAMES: &[&str] = &["digits", "table-area", "xor", "circles", "spirals"];

fn table(name: &str, headers: &[&str], rows: Vec<Vec<f64>>, label_last_int: bool) -> RawTable {
    let n = rows.len();
    RawTable {
        source: format!("builtin:{name}"),
        headers: headers.iter().map(|s| s.to_string()).collect(),
        rows: rows
            .into_iter()
            .map(|r| {
                let k = r.len();
                r.into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if label_last_int && i == k - 1 {
                            format!("{}", v as i64)
                        } else {
                            format!("{v:.6}")
                        }
                    })
                    .collect()
            })
            .collect(),
        lines: (2..n as u64 + 2).collect(),
        ..Default::default()
    }
}

/// Loads the built-in data set `name` (see [`NAMES`]).
pub fn load(name: &str) -> Result<RawTable> {
    let mut r = Rng::new(20261128);
    Ok(match name {
        "digits" => read_csv_bytes(DIGITS_CSV_GZ.to_vec(), "builtin:digits")?,
        "table-area" => {
            // The tutorial's example: a table's length and width → its area.
            let rows = (0..1000)
                .map(|_| {
                    let (a, b) = (r.uniform_in(1.0, 10.0), r.uniform_in(1.0, 10.0));
                    vec![a, b, a * b]
                })
                .collect();
            table(name, &["length", "width", "area"], rows, false)
        }
        "xor" => {
            let rows = (0..400)
                .map(|i| {
                    let (a, b) = ((i & 1) as f64, ((i >> 1) & 1) as f64);
                    vec![
                        a + 0.1 * r.normal(),
                        b + 0.1 * r.normal(),
                        ((i & 1) ^ ((i >> 1) & 1)) as f64,
                    ]
                })
                .collect();
            table(name, &["x1", "x2", "xor"], rows, true)
        }
        "circles" => {
            let rows = (0..1000)
                .map(|i| {
                    let inner = i % 2;
                    let radius = if inner == 1 { 0.5 } else { 1.0 };
                    let t = r.uniform_in(0.0, std::f64::consts::TAU);
                    vec![
                        radius * t.cos() + 0.08 * r.normal(),
                        radius * t.sin() + 0.08 * r.normal(),
                        inner as f64,
                    ]
                })
                .collect();
            table(name, &["x", "y", "inner"], rows, true)
        }
        "spirals" => {
            let rows = (0..1000)
                .map(|i| {
                    let arm = i % 2;
                    let t = r.uniform_in(0.25, 3.0) * std::f64::consts::PI;
                    let s = if arm == 0 { 1.0 } else { -1.0 };
                    vec![
                        s * t * t.cos() / 10.0 + 0.03 * r.normal(),
                        s * t * t.sin() / 10.0 + 0.03 * r.normal(),
                        arm as f64,
                    ]
                })
                .collect();
            table(name, &["x", "y", "arm"], rows, true)
        }
        other => {
            return Err(NeuronError::data(format!(
                "unknown built-in data set 'builtin:{other}' (available: {})",
                NAMES
                    .iter()
                    .map(|n| format!("builtin:{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_loads() {
        for n in super::NAMES {
            let t = super::load(n).unwrap();
            assert!(t.rows.len() >= 400, "{n}");
            assert!(t.rows.iter().all(|r| r.len() == t.headers.len()));
        }
        assert_eq!(super::load("digits").unwrap().rows.len(), 1797);
        assert!(super::load("nope").is_err());
    }
}
