//! Validation and test rows of a streamed table, chosen by a hash of each row's place: its file's
//! name and its line (for Parquet, its row number). The choice needs no extra pass over the data,
//! is the same in every pass and every run with the same seed, does not depend on the order in
//! which shards are read, and never lets a held-out row into training.

use serde::{Deserialize, Serialize};

use super::csv::{Cells, RawTable};
use crate::error::{NeuronError, Result};
use crate::rng::hash_uniform;

/// Rows of each held-out part kept in memory to be scored (the first ones, in file order, of a
/// random choice of rows, so an unbiased sample of that part).
pub const HELD_ROWS_KEPT: usize = 100_000;

/// Which part of the data a row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Trained on.
    Train,
    /// Scored after every epoch (early stopping watches it).
    Validation,
    /// Scored once, at the end.
    Test,
}

/// The shares of rows held out, and the seed of the hash that picks them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    /// Seed of the hash.
    pub seed: u64,
    /// Share of rows for validation, in `[0, 1)`.
    pub validation: f64,
    /// Share of rows for the test, in `[0, 1)`.
    pub test: f64,
}

/// FNV-1a of a file's name (without its directory, so a moved directory keeps its split).
fn name_hash(path: &str) -> u64 {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Holdout {
    /// Holds out `validation` and `test` shares of the rows, picked with `seed`.
    pub fn new(seed: u64, validation: f64, test: f64) -> Result<Self> {
        let ok = |v: f64| (0.0..1.0).contains(&v);
        if !ok(validation) || !ok(test) || validation + test >= 1.0 {
            return Err(NeuronError::arg(format!(
                "validation and test shares must be in [0, 1) and leave rows to train on, got {validation} and {test}"
            )));
        }
        Ok(Holdout {
            seed,
            validation,
            test,
        })
    }

    /// Holds out nothing.
    pub fn none() -> Self {
        Holdout {
            seed: 0,
            validation: 0.0,
            test: 0.0,
        }
    }

    /// Whether any rows are held out.
    pub fn holds_out(&self) -> bool {
        self.validation > 0.0 || self.test > 0.0
    }

    /// The part of the row at `line` of the file `file`.
    pub fn part(&self, file: &str, line: u64) -> Part {
        self.part_at(self.seed ^ name_hash(file), line)
    }

    /// The part of the row at `line` of the file whose seeded name hash is `seed`.
    fn part_at(&self, seed: u64, line: u64) -> Part {
        let u = f64::from(hash_uniform(seed, line));
        if u < self.validation {
            Part::Validation
        } else if u < self.validation + self.test {
            Part::Test
        } else {
            Part::Train
        }
    }

    /// The part of record `r` of `t`.
    pub fn part_of(&self, t: &impl Cells, r: usize) -> Part {
        let (file, line) = t.place(r);
        self.part(file, line)
    }

    /// Keeps only `t`'s training records (in place); returns how many were removed.
    pub fn keep_training(&self, t: &mut impl Cells) -> usize {
        if !self.holds_out() {
            return 0;
        }
        // Each file's name is hashed once, not once a row (rows of a file share its name).
        let (mut file, mut seed) = (None::<&str>, 0);
        let keep: Vec<bool> = (0..t.row_count())
            .map(|r| {
                let (f, line) = t.place(r);
                if !file.is_some_and(|g| std::ptr::eq(f, g)) {
                    seed = self.seed ^ name_hash(f);
                    file = Some(f);
                }
                self.part_at(seed, line) == Part::Train
            })
            .collect();
        let removed = keep.iter().filter(|&&k| !k).count();
        if removed > 0 {
            t.retain_rows(&keep);
        }
        removed
    }
}

/// The held-out records met in a pass, as text: up to [`HELD_ROWS_KEPT`] of each part kept,
/// and every one counted.
#[derive(Clone, Debug, Default)]
pub struct HeldRows {
    /// Validation records kept.
    pub validation: RawTable,
    /// Test records kept.
    pub test: RawTable,
    /// Validation records met.
    pub validation_seen: usize,
    /// Test records met.
    pub test_seen: usize,
}

impl HeldRows {
    /// Takes record `r` of `t` into `part` (not `Train`).
    pub fn take(&mut self, part: Part, t: &impl Cells, r: usize) {
        let (kept, seen) = match part {
            Part::Train => return,
            Part::Validation => (&mut self.validation, &mut self.validation_seen),
            Part::Test => (&mut self.test, &mut self.test_seen),
        };
        *seen += 1;
        if kept.rows.len() >= HELD_ROWS_KEPT {
            return;
        }
        if kept.headers.is_empty() {
            kept.headers = t.headers().to_vec();
            kept.source = t.source().to_string();
        }
        let cells = (0..t.headers().len()).map(|c| match t.number(r, c) {
            Some(v) => v.to_string(),
            None => t.cell(r, c).to_string(),
        });
        kept.rows.push(cells.collect());
        let (file, line) = t.place(r);
        kept.lines.push(line);
        // A table of one file names no files of its own.
        if file != t.source() {
            if kept.files.last().map(String::as_str) != Some(file) {
                kept.files.push(file.to_string());
            }
            kept.file_of.push(kept.files.len() as u32 - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_met_and_the_choice_depends_only_on_name_line_and_seed() {
        let h = Holdout::new(7, 0.1, 0.2).unwrap();
        let mut counts = [0usize; 3];
        for line in 0..100_000 {
            counts[match h.part("dir/a.csv", line) {
                Part::Train => 0,
                Part::Validation => 1,
                Part::Test => 2,
            }] += 1;
        }
        assert!((counts[1] as f64 / 1e5 - 0.1).abs() < 0.005, "{counts:?}");
        assert!((counts[2] as f64 / 1e5 - 0.2).abs() < 0.005, "{counts:?}");
        assert_eq!(h.part("x/a.csv", 12), h.part("/other/place/a.csv", 12));
        let differs = (0..1000).any(|l| h.part("a.csv", l) != h.part("b.csv", l));
        assert!(differs);
        let other = Holdout::new(8, 0.1, 0.2).unwrap();
        assert!((0..1000).any(|l| h.part("a.csv", l) != other.part("a.csv", l)));
        assert!(Holdout::new(1, 0.6, 0.4).is_err());
        assert!(Holdout::new(1, -0.1, 0.0).is_err());
    }
}
