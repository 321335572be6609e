//! Column roles: which of a table's columns are not features. A column with a single value
//! (constant) or a different value in nearly every row (an identifier: a text key such as
//! `user00042`, or a running integer) carries no signal a network can generalise from, so it
//! is left out, said out loud ([`Preprocessor::column_table`]) and stored with the model. The
//! user's `drop` and `keep` lists override the inference.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{dates, parse_num, ColumnEncoding, NumberFormat, Preprocessor, TargetEncoding};
use crate::data::csv::RawTable;
use crate::error::{NeuronError, Result};

/// Fewer filled cells than this and no column is called an identifier.
pub const MIN_ROWS_FOR_IDENTIFIERS: usize = 20;
/// A text column with at least this share of distinct values among its filled cells is an
/// identifier.
pub const IDENTIFIER_SHARE: f64 = 0.95;

/// A text column with more distinct values than this keeps an input of its own only for the
/// categories of at least [`MIN_CATEGORY_ROWS`] training rows; the rest share an "other" input.
pub const MANY_CATEGORIES: usize = 20;
/// See [`MANY_CATEGORIES`].
pub const MIN_CATEGORY_ROWS: usize = 5;

/// The most frequent category of `counts` (given in sorted order), the first among equals: what
/// the mean imputation fills a text column's empty cells with.
pub(super) fn most_frequent(counts: &[(String, usize)]) -> String {
    let mut best = (0, "");
    for (cat, n) in counts {
        if *n > best.0 {
            best = (*n, cat.as_str());
        }
    }
    best.1.to_string()
}

/// The categories that get an input of their own, in sorted order, and whether an "other"
/// input is needed, from each category's count of training rows (with `infer`; else all).
pub fn limit_categories(counts: &[(String, usize)], infer: bool) -> (Vec<String>, bool) {
    let many = infer && counts.len() > MANY_CATEGORIES;
    let mut kept: Vec<String> = counts
        .iter()
        .filter(|(_, n)| !many || *n >= MIN_CATEGORY_ROWS)
        .map(|(c, _)| c.clone())
        .collect();
    kept.sort_unstable();
    let other = kept.len() < counts.len();
    (kept, other)
}

/// Why a column is not an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// One value in every filled cell.
    Constant,
    /// A different value in (nearly) every row, or a running integer.
    Identifier,
    /// Named by the user (`--drop`).
    Asked,
}

/// A column left out of the inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DroppedColumn {
    /// Column name.
    pub name: String,
    /// Why.
    pub reason: DropReason,
    /// What was seen, for people (e.g. "4,998 distinct values in 5,000 rows").
    pub detail: String,
}

/// What the user says about columns, and whether roles are inferred at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnRules {
    /// Leave these out.
    pub drop: Vec<String>,
    /// Keep these whatever the inference says.
    pub keep: Vec<String>,
    /// Keep these and encode them as categories (one-hot of their most frequent values), even
    /// when their cells are numbers or dates: codes such as postcodes or product numbers.
    pub categorical: Vec<String>,
    /// Infer roles: leave out constant and identifier-like columns, and read dates and numbers
    /// written for people (`1,234.5`) as values; without it every column is kept, as a number
    /// when all its cells are plain numbers, else as one-hot text.
    pub infer: bool,
}

impl ColumnRules {
    /// Inference on, nothing forced.
    pub fn inferred() -> Self {
        ColumnRules {
            infer: true,
            ..Default::default()
        }
    }

    /// Checks that every named column exists in `headers` and is not the target `tc`.
    pub fn check(&self, headers: &[String], tc: usize) -> Result<()> {
        for name in self.drop.iter().chain(&self.keep).chain(&self.categorical) {
            match headers.iter().position(|h| h == name) {
                None => {
                    return Err(NeuronError::arg(format!(
                    "no column '{name}' to drop, keep or encode as categories (the columns: {})",
                    headers.join(", ")
                )))
                }
                Some(c) if c == tc => {
                    return Err(NeuronError::arg(format!(
                        "'{name}' is the target: it cannot be dropped or kept as a feature"
                    )))
                }
                _ => {}
            }
        }
        if let Some(name) = self.categorical.iter().find(|c| self.drop.contains(c)) {
            return Err(NeuronError::arg(format!(
                "'{name}' is both dropped (--drop) and encoded as categories (--categorical)"
            )));
        }
        Ok(())
    }

    /// Whether the column `name` is to be encoded as categories whatever its cells look like.
    pub fn is_categorical(&self, name: &str) -> bool {
        self.categorical.iter().any(|c| c == name)
    }

    /// Whether to leave out column `c` of `t`, and why.
    pub fn decide(&self, t: &RawTable, c: usize) -> Option<DroppedColumn> {
        self.decide_with(&t.headers[c], || {
            infer_role(t.rows.iter().map(|r| r[c].as_str()))
        })
    }

    /// Whether to leave out the column `name`: asked with `--drop`, else, when these rules let
    /// inference decide for it, what `infer` finds (a reason and what was seen).
    pub fn decide_with(
        &self,
        name: &str,
        infer: impl FnOnce() -> Option<(DropReason, String)>,
    ) -> Option<DroppedColumn> {
        let (reason, detail) = if self.drop.iter().any(|d| d == name) {
            (DropReason::Asked, "--drop".to_string())
        } else if !self.infer || self.keep.iter().any(|k| k == name) || self.is_categorical(name) {
            return None;
        } else {
            infer()?
        };
        Some(DroppedColumn {
            name: name.to_string(),
            reason,
            detail,
        })
    }
}

/// Whether the cells of a column make it constant or an identifier, and what was seen.
pub fn infer_role<'a>(cells: impl Iterator<Item = &'a str>) -> Option<(DropReason, String)> {
    let cells: Vec<&str> = cells.filter(|s| !s.is_empty()).collect();
    let n = cells.len();
    if cells.iter().any(|s| *s != cells[0]) && numbers_not_all_whole(&cells) {
        // Values, of which not every one is whole: neither constant nor an identifier, which
        // the general way below would also find, after counting the distinct cells.
        return None;
    }
    // The distinct filled cells, in the order first seen (a hash set: sorting a million cells
    // to count them took most of the time of fitting a large table).
    let mut seen = HashSet::new();
    let filled: Vec<&str> = cells.into_iter().filter(|s| seen.insert(*s)).collect();
    let distinct = filled.len();
    if distinct <= 1 {
        let v = filled
            .first()
            .map_or("nothing".to_string(), |v| format!("'{v}'"));
        return Some((DropReason::Constant, format!("{v} in every filled cell")));
    }
    if n < MIN_ROWS_FOR_IDENTIFIERS {
        return None;
    }
    let nums: Vec<f64> = filled.iter().filter_map(|s| parse_num(s)).collect();
    let numeric = nums.len() * 2 >= distinct;
    // Numbers written for people and dates are values, however many distinct ones there are.
    let values = numeric
        || NumberFormat::detect(filled.iter().copied()).is_some()
        || filled.iter().all(|s| dates::parse_datetime(s).is_some());
    if !values && distinct as f64 >= IDENTIFIER_SHARE * n as f64 {
        return Some((
            DropReason::Identifier,
            format!("{distinct} distinct values in {n} rows"),
        ));
    }
    let integers = nums.len() == distinct && nums.iter().all(|x| x.fract() == 0.0);
    if numeric && integers && distinct == n {
        let (lo, hi) = nums
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        if hi - lo + 1.0 == n as f64 {
            return Some((
                DropReason::Identifier,
                format!("a running integer, {lo} to {hi}, one per row"),
            ));
        }
    }
    None
}

/// Whether every cell is a number and not every one of them is whole.
fn numbers_not_all_whole(cells: &[&str]) -> bool {
    let mut whole = true;
    for s in cells {
        match parse_num(s) {
            Some(x) => whole &= x.fract() == 0.0,
            None => return false,
        }
    }
    !whole
}

/// One line of [`Preprocessor::column_table`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ColumnRow {
    /// Column name.
    pub name: String,
    /// `feature`, `target`, or `dropped: <reason>`.
    pub role: String,
    /// How it is encoded, or what was seen.
    pub encoding: String,
    /// Network inputs it became (0 for dropped columns and the target).
    pub inputs: usize,
}

impl Preprocessor {
    /// Every column the preprocessor knows: features in input order, then the dropped ones,
    /// then the target.
    pub fn column_table(&self) -> Vec<ColumnRow> {
        let mut rows: Vec<ColumnRow> = self
            .columns
            .iter()
            .map(|c| ColumnRow {
                name: c.name().to_string(),
                role: "feature".into(),
                encoding: match c {
                    ColumnEncoding::Numeric { clip, format, .. } => {
                        let scaling = match (clip, self.standardize) {
                            (Some(_), _) => ", robust scaling",
                            (None, true) => ", standardised",
                            (None, false) => "",
                        };
                        let written =
                            format.map_or(String::new(), |f| format!(", {}", f.describe()));
                        format!("number{written}{scaling}")
                    }
                    ColumnEncoding::Date { time: true, .. } => {
                        "datetime: year, month, weekday, time of day".into()
                    }
                    ColumnEncoding::Date { .. } => "date: year, month, weekday".into(),
                    ColumnEncoding::Categorical {
                        categories, other, ..
                    } => {
                        let rest = if *other { " + other" } else { "" };
                        format!("one-hot, {} categories{rest}", categories.len())
                    }
                },
                inputs: c.width(),
            })
            .collect();
        rows.extend(self.dropped.iter().map(|d| ColumnRow {
            name: d.name.clone(),
            role: format!(
                "dropped: {}",
                match d.reason {
                    DropReason::Constant => "constant",
                    DropReason::Identifier => "identifier",
                    DropReason::Asked => "asked",
                }
            ),
            encoding: d.detail.clone(),
            inputs: 0,
        }));
        rows.push(ColumnRow {
            name: self.target_name().to_string(),
            role: "target".into(),
            encoding: match &self.target {
                TargetEncoding::Classes { labels, .. } => format!("{} classes", labels.len()),
                TargetEncoding::Value { .. } => "regression".into(),
            },
            inputs: 0,
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(cells: &[String]) -> Option<DropReason> {
        infer_role(cells.iter().map(String::as_str)).map(|r| r.0)
    }

    #[test]
    fn constants_and_identifiers_are_found_and_ordinary_columns_kept() {
        let n = 200;
        let col = |f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<String>>();
        assert_eq!(role(&col(&|_| "7".into())), Some(DropReason::Constant));
        assert_eq!(
            role(&col(&|i| if i % 3 == 0 {
                String::new()
            } else {
                "a".into()
            })),
            Some(DropReason::Constant)
        );
        assert_eq!(
            role(&col(&|i| format!("user{i:05}"))),
            Some(DropReason::Identifier)
        );
        assert_eq!(
            role(&col(&|i| format!("{}", 1000 + (i * 7) % n))),
            Some(DropReason::Identifier)
        );
        // Continuous numbers, all distinct: a feature.
        assert_eq!(
            role(&col(&|i| format!("{:.3}", (i as f64 * 0.37).sin()))),
            None
        );
        // Distinct integers that are not a running range: a feature.
        assert_eq!(role(&col(&|i| format!("{}", i * 3))), None);
        // Numbers written for people, and dates, all distinct: features.
        assert_eq!(role(&col(&|i| format!("{},{:03}.5", 1 + i % 7, i))), None);
        assert_eq!(
            role(&col(&|i| format!(
                "2024-{:02}-{:02} 10:{:02}",
                1 + i % 12,
                1 + i % 28,
                i % 60
            ))),
            None
        );
        // Few categories, or a small table: features.
        assert_eq!(role(&col(&|i| ["x", "y", "z"][i % 3].into())), None);
        let small: Vec<String> = (0..10).map(|i| format!("id{i}")).collect();
        assert_eq!(role(&small), None);
    }

    #[test]
    fn many_categories_keep_the_frequent_ones_and_share_an_other_input() {
        use crate::data::csv::read_csv_bytes;
        use crate::data::scaling::Scaling;
        // 30 shops: s0..s9 have 10 rows each, s10..s29 one row each.
        let mut text = String::from("shop,v,y\n");
        for i in 0..120 {
            let shop = if i < 100 { i % 10 } else { i - 90 };
            text.push_str(&format!("s{shop},{},{}\n", i % 7, i % 2));
        }
        let t = read_csv_bytes(text.into_bytes(), "t.csv").unwrap();
        let pre = Preprocessor::fit_with_rules(
            &t,
            (None, None),
            Scaling::Standard,
            None,
            &ColumnRules::inferred(),
        )
        .unwrap();
        let ColumnEncoding::Categorical {
            categories, other, ..
        } = &pre.columns[0]
        else {
            panic!("{:?}", pre.columns[0]);
        };
        assert_eq!((categories.len(), *other), (10, true));
        assert_eq!(pre.input_width(), 12);
        // A rare shop and an unseen one both take the "other" input, with no warning.
        let rows =
            read_csv_bytes(b"shop,v,y\ns25,1,0\nnew,1,0\ns3,1,0\n".to_vec(), "p.csv").unwrap();
        let e = pre.transform(&rows, true).unwrap();
        assert!(e.unseen.is_empty());
        let x = e.x.as_slice();
        assert_eq!((x[10], x[22], x[3 + 24]), (1.0, 1.0, 1.0));
        // Without inference, every shop gets an input.
        let plain = Preprocessor::fit_with_rules(
            &t,
            (None, None),
            Scaling::Standard,
            None,
            &ColumnRules::default(),
        )
        .unwrap();
        assert_eq!(plain.input_width(), 31);
    }
}
