//! Fitting a preprocessor in one pass over a table read in chunks ([`TableStream`]), for tables
//! larger than memory: the same column typing and target detection as [`Preprocessor::fit`], with
//! each numeric column's mean and variance by Welford's update in f64, the categories and class
//! labels as sets, and the row count. Standard scaling and mean imputation only: a median (for
//! robust scaling or median imputation) needs the whole column.

use std::collections::BTreeMap;

use crate::data::csv::RawTable;
use crate::data::holdout::{HeldRows, Holdout, Part};
use crate::data::scaling::Scaling;
use crate::data::stream::TableStream;
use crate::error::{NeuronError, Result};

use super::roles::{limit_categories, IDENTIFIER_SHARE, MIN_ROWS_FOR_IDENTIFIERS};
use super::{
    dates, parse_num, sort_labels, ColumnEncoding, ColumnRules, DropReason, DroppedColumn, Impute,
    Preprocessor, TargetEncoding, Task, MAX_AUTO_CLASSES,
};

/// More distinct text values than this in one column is refused when streaming (they would be
/// held in memory, and one-hot encoding them is rarely what is wanted).
pub const MAX_STREAM_CATEGORIES: usize = 10_000;

/// Rows read at a time.
const READ_ROWS: usize = 1 << 14;

/// Running statistics of one column.
#[derive(Default)]
struct Stats {
    filled: usize,
    numbers: usize,
    n: f64,
    mean: f64,
    m2: f64,
    integers: bool,
    counts: BTreeMap<String, usize>,
    too_many: bool,
    first_empty: Option<String>,
    first_text: Option<(String, String)>,
    first_infinite: Option<(String, String)>,
    /// With bad rows skipped: the ordinals of the rows whose cell here is empty, and of those
    /// whose cell is no finite number (at most [`MAX_TRACKED`] of each).
    empty_rows: Vec<u64>,
    odd_rows: Vec<u64>,
    track: bool,
    overflow: bool,
    /// Cells that are dates, their fractional years' Welford sums, and whether any has a time.
    dates: (usize, f64, f64, bool),
}

/// Rows with empty or non-numeric cells remembered per column when bad rows are skipped.
const MAX_TRACKED: usize = 1 << 18;

impl Stats {
    fn remember(list: &mut Vec<u64>, overflow: &mut bool, row: u64) {
        if list.len() < MAX_TRACKED {
            list.push(row);
        } else {
            *overflow = true;
        }
    }
}

impl Stats {
    fn add(&mut self, cell: &str, row: u64, at: impl Fn() -> String) {
        if cell.is_empty() {
            self.first_empty.get_or_insert_with(&at);
            if self.track {
                Self::remember(&mut self.empty_rows, &mut self.overflow, row);
            }
            return;
        }
        self.filled += 1;
        match parse_num(cell) {
            Some(x) if x.is_finite() => {
                self.numbers += 1;
                self.n += 1.0;
                let d = x - self.mean;
                self.mean += d / self.n;
                self.m2 += d * (x - self.mean);
                self.integers &= x.fract() == 0.0;
            }
            Some(_) => {
                self.numbers += 1;
                self.first_infinite
                    .get_or_insert_with(|| (at(), cell.to_string()));
                if self.track {
                    Self::remember(&mut self.odd_rows, &mut self.overflow, row);
                }
            }
            None => {
                if let Some((d, time)) = dates::parse_datetime(cell) {
                    let (n, mean, m2, t) = &mut self.dates;
                    *n += 1;
                    let y = dates::fractional_year(d);
                    let delta = y - *mean;
                    *mean += delta / *n as f64;
                    *m2 += delta * (y - *mean);
                    *t |= time;
                }
                self.first_text
                    .get_or_insert_with(|| (at(), cell.to_string()));
                if self.track {
                    Self::remember(&mut self.odd_rows, &mut self.overflow, row);
                }
            }
        }
        if self.too_many {
            // Past the limit the counts decide nothing more.
        } else if let Some(c) = self.counts.get_mut(cell) {
            *c += 1;
        } else if self.counts.len() < MAX_STREAM_CATEGORIES {
            self.counts.insert(cell.to_string(), 1);
        } else {
            self.too_many = true;
        }
    }

    fn std(&self) -> f64 {
        let s = (self.m2 / self.n.max(1.0)).sqrt();
        if s > 1e-12 {
            s
        } else {
            1.0
        }
    }
}

fn where_(t: &RawTable, r: usize, name: &str, c: usize) -> String {
    format!("{}: column '{name}' (field {})", t.location(r), c + 1)
}

impl Preprocessor {
    /// Fits on every row of `stream` in one pass and returns the preprocessor and the number of
    /// rows. Arguments as for [`Preprocessor::fit_scaled`]; `scaling` must be `None` or
    /// `Standard`, and `impute` `None` or `Mean`.
    pub fn fit_stream(
        stream: &mut TableStream,
        target: Option<&str>,
        task: Option<Task>,
        scaling: Scaling,
        impute: Option<Impute>,
    ) -> Result<(Self, usize)> {
        let opts = StreamFit {
            target,
            task,
            scaling,
            impute,
            skip_bad_rows: false,
            rules: ColumnRules::default(),
        };
        let f = Self::fit_stream_with(stream, &opts, &Holdout::none(), &mut HeldRows::default())?;
        Ok((f.pre, f.rows))
    }

    /// [`Preprocessor::fit_stream`] with `opts`, on the training rows only: the rows that
    /// `holdout` holds out go to `held` instead.
    pub fn fit_stream_with(
        stream: &mut TableStream,
        opts: &StreamFit<'_>,
        holdout: &Holdout,
        held: &mut HeldRows,
    ) -> Result<StreamFitted> {
        let (target, task, scaling, impute) = (opts.target, opts.task, opts.scaling, opts.impute);
        let headers = stream.headers().to_vec();
        if headers.len() < 2 {
            return Err(NeuronError::data(
                "needs at least one feature column and a target column",
            ));
        }
        let probe = RawTable {
            headers: headers.clone(),
            ..Default::default()
        };
        let tc = match target {
            Some(name) => probe.column_index(name)?,
            None => headers.len() - 1,
        };
        opts.rules.check(&headers, tc)?;
        let mut stats: Vec<Stats> = headers
            .iter()
            .map(|_| Stats {
                integers: true,
                track: opts.skip_bad_rows,
                ..Default::default()
            })
            .collect();
        let (mut chunk, mut rows) = (RawTable::default(), 0);
        while stream.next_chunk_into(&mut chunk, READ_ROWS)? {
            for (r, row) in chunk.rows.iter().enumerate() {
                if holdout.holds_out() {
                    let part = holdout.part_of(&chunk, r);
                    if part != Part::Train {
                        held.take(part, &chunk, r);
                        continue;
                    }
                }
                for (c, cell) in row.iter().enumerate() {
                    stats[c].add(cell, rows as u64, || where_(&chunk, r, &headers[c], c));
                }
                rows += 1;
            }
        }
        if rows == 0 {
            return Err(NeuronError::data("no data rows to train on"));
        }
        let skip = opts.skip_bad_rows;
        let target = fit_target(&headers[tc], &stats[tc], task, skip)?;
        let (mut kept, mut dropped) = (Vec::new(), Vec::new());
        for (c, s) in stats.iter().enumerate().filter(|&(c, _)| c != tc) {
            match stream_role(&headers[c], s, &opts.rules) {
                Some(d) => dropped.push(d),
                None => {
                    let how = (scaling, impute, skip, opts.rules.infer);
                    kept.push((c, fit_column(&headers[c], s, how)?));
                }
            }
        }
        if kept.is_empty() {
            return Err(NeuronError::data(format!(
                "no feature column is left ({} dropped; --keep COLUMN keeps one)",
                dropped.len()
            )));
        }
        let (bad_rows, first_bad) = if skip {
            bad_rows((&stats, &headers), &kept, tc, &target)?
        } else {
            (0, None)
        };
        if bad_rows >= rows {
            return Err(NeuronError::data(format!(
                "every row to train on is bad{}",
                first_bad.map_or(String::new(), |w| format!(" (the first: {w})"))
            )));
        }
        let pre = Preprocessor {
            columns: kept.into_iter().map(|(_, e)| e).collect(),
            target,
            standardize: scaling != Scaling::None,
            impute,
            image: None,
            positional: false,
            dropped,
        };
        Ok(StreamFitted {
            pre,
            rows: rows - bad_rows,
            bad_rows,
            first_bad,
        })
    }
}

/// How to fit a preprocessor on a streamed table ([`Preprocessor::fit_stream_with`]).
#[derive(Clone, Debug)]
pub struct StreamFit<'a> {
    /// The target column (name or index); the last when `None`.
    pub target: Option<&'a str>,
    /// The task; inferred from the target when `None`.
    pub task: Option<Task>,
    /// `None` or `Standard`.
    pub scaling: Scaling,
    /// `None` or `Mean`.
    pub impute: Option<Impute>,
    /// Rows that the fitted encoding cannot take (a few non-numbers in a number column, empty
    /// cells with nothing to impute) are counted as bad rows to skip, not an error.
    pub skip_bad_rows: bool,
    /// Which columns to leave out: constant ones, text identifiers (nearly one value per row,
    /// or more distinct values than [`MAX_STREAM_CATEGORIES`]), and the user's choice.
    pub rules: ColumnRules,
}

/// Whether to leave out a streamed column, from its statistics.
fn stream_role(name: &str, s: &Stats, rules: &ColumnRules) -> Option<DroppedColumn> {
    let dropped = |reason, detail: String| {
        Some(DroppedColumn {
            name: name.to_string(),
            reason,
            detail,
        })
    };
    if rules.drop.iter().any(|d| d == name) {
        return dropped(DropReason::Asked, "--drop".into());
    }
    if !rules.infer || rules.keep.iter().any(|k| k == name) {
        return None;
    }
    if !s.too_many && s.counts.len() <= 1 {
        let v = s
            .counts
            .keys()
            .next()
            .map_or("nothing".into(), |v| format!("'{v}'"));
        return dropped(DropReason::Constant, format!("{v} in every filled cell"));
    }
    let text = s.numbers * 2 < s.filled && s.dates.0 < s.filled;
    if text && s.too_many {
        let detail = format!("more than {MAX_STREAM_CATEGORIES} distinct values");
        return dropped(DropReason::Identifier, detail);
    }
    let distinct = s.counts.len();
    if text
        && s.filled >= MIN_ROWS_FOR_IDENTIFIERS
        && distinct as f64 >= IDENTIFIER_SHARE * s.filled as f64
    {
        let detail = format!("{distinct} distinct values in {} rows", s.filled);
        return dropped(DropReason::Identifier, detail);
    }
    None
}

/// What a streamed fit found.
#[derive(Clone, Debug)]
pub struct StreamFitted {
    /// The fitted preprocessor.
    pub pre: Preprocessor,
    /// Training rows (not held out, not bad).
    pub rows: usize,
    /// Bad training rows, to be skipped.
    pub bad_rows: usize,
    /// Where the first bad cell is, and what it holds.
    pub first_bad: Option<String>,
}

/// The training rows that the fitted encoding cannot take: the union over the columns of their
/// bad cells' rows, and where the first is.
fn bad_rows(
    (stats, headers): (&[Stats], &[String]),
    kept: &[(usize, ColumnEncoding)],
    tc: usize,
    target: &TargetEncoding,
) -> Result<(usize, Option<String>)> {
    let mut rows: Vec<u64> = Vec::new();
    let mut first: Option<String> = None;
    for (col, c) in kept.iter().map(|(c, e)| (Some(e), *c)).chain([(None, tc)]) {
        let s = &stats[c];
        let numeric = match col {
            Some(ColumnEncoding::Numeric { .. }) => true,
            Some(ColumnEncoding::Date { .. } | ColumnEncoding::Categorical { .. }) => false,
            None => matches!(target, TargetEncoding::Value { .. }),
        };
        let fills = match col {
            Some(ColumnEncoding::Numeric { fill, .. }) => fill.is_some(),
            Some(ColumnEncoding::Categorical { fill, .. }) => fill.is_some(),
            Some(ColumnEncoding::Date { fill, .. }) => *fill,
            None => false,
        };
        if numeric && !s.odd_rows.is_empty() || !fills && !s.empty_rows.is_empty() {
            if s.overflow {
                return Err(NeuronError::data(format!(
                    "column '{}' has more than {MAX_TRACKED} cells that cannot be encoded: more than a few bad rows",
                    headers[c]
                )));
            }
            let text = s.first_text.as_ref().or(s.first_infinite.as_ref());
            let why = match (numeric, text, &s.first_empty) {
                (true, Some((at, v)), _) => format!("{at}: '{v}' is not a finite number"),
                (_, _, Some(at)) => format!("{at}: empty cell"),
                _ => String::new(),
            };
            first.get_or_insert(why);
        }
        if numeric {
            rows.extend(&s.odd_rows);
        }
        if !fills {
            rows.extend(&s.empty_rows);
        }
    }
    rows.sort_unstable();
    rows.dedup();
    Ok((rows.len(), first))
}

fn fit_target(name: &str, s: &Stats, task: Option<Task>, skip: bool) -> Result<TargetEncoding> {
    if let (Some(at), false) = (&s.first_empty, skip) {
        return Err(NeuronError::data(format!("{at}: the target is empty")));
    }
    let numeric = s.first_text.is_none() && s.first_infinite.is_none();
    let task = task.unwrap_or(
        if !numeric || (s.integers && !s.too_many && s.counts.len() <= MAX_AUTO_CLASSES) {
            Task::Classify
        } else {
            Task::Regress
        },
    );
    match task {
        Task::Classify => {
            if s.too_many {
                return Err(NeuronError::data(format!(
                    "the target column '{name}' has more than {MAX_STREAM_CATEGORIES} classes"
                )));
            }
            let mut labels: Vec<String> = s.counts.keys().cloned().collect();
            sort_labels(&mut labels);
            if labels.len() < 2 {
                return Err(NeuronError::data(format!(
                    "the target column '{name}' has a single class; classification needs at least two"
                )));
            }
            Ok(TargetEncoding::Classes {
                name: name.to_string(),
                labels,
            })
        }
        Task::Regress => match (&s.first_text, &s.first_infinite) {
            _ if skip && s.numbers * 2 >= s.filled && s.n > 0.0 => Ok(TargetEncoding::Value {
                name: name.to_string(),
                mean: s.mean,
                std: s.std(),
                format: None,
            }),
            (Some((at, v)), _) => Err(NeuronError::data(format!(
                "{at}: '{v}' is not a number (regression needs numeric targets)"
            ))),
            (_, Some((at, v))) => Err(NeuronError::data(format!("{at}: target {v} is not finite"))),
            _ => Ok(TargetEncoding::Value {
                name: name.to_string(),
                mean: s.mean,
                std: s.std(),
                format: None,
            }),
        },
    }
}

fn fit_column(
    name: &str,
    s: &Stats,
    (scaling, impute, skip, infer): (Scaling, Option<Impute>, bool, bool),
) -> Result<ColumnEncoding> {
    if let (None, Some(at), false) = (impute, &s.first_empty, skip) {
        return Err(NeuronError::data(format!(
            "{at}: empty cell (use --impute mean to fill missing values)"
        )));
    }
    if s.filled == 0 {
        return Err(NeuronError::data(format!("column '{name}' has no values")));
    }
    let (n_dates, mean, m2, time) = s.dates;
    if infer && n_dates == s.filled {
        let std = (m2 / n_dates as f64).sqrt();
        let (mean, std) = match scaling {
            Scaling::None => (0.0, 1.0),
            _ => (mean, if std > 1e-12 { std } else { 1.0 }),
        };
        return Ok(ColumnEncoding::Date {
            name: name.to_string(),
            mean,
            std,
            time,
            fill: impute.is_some(),
        });
    }
    if s.numbers * 2 >= s.filled {
        if let (Some((at, v)), false) = (&s.first_text, skip) {
            return Err(NeuronError::data(format!("{at}: '{v}' is not a number")));
        }
        if let (Some((at, v)), false) = (&s.first_infinite, skip) {
            return Err(NeuronError::data(format!(
                "{at}: '{v}' is not a finite number"
            )));
        }
        let (mean, std) = match scaling {
            Scaling::Standard => (s.mean, s.std()),
            _ => (0.0, 1.0),
        };
        return Ok(ColumnEncoding::Numeric {
            name: name.to_string(),
            mean,
            std,
            fill: impute.map(|_| s.mean),
            clip: None,
            format: None,
        });
    }
    if s.too_many {
        return Err(NeuronError::data(format!(
            "column '{name}' has more than {MAX_STREAM_CATEGORIES} distinct values; drop it from a streamed table"
        )));
    }
    let counts: Vec<(String, usize)> = s.counts.iter().map(|(c, n)| (c.clone(), *n)).collect();
    let (categories, other) = limit_categories(&counts, infer);
    // The most frequent, the first in sorted order among equals (as `fit` chooses).
    let fill = impute.map(|_| {
        let mut best = (0, String::new());
        for (cat, &n) in &s.counts {
            if n > best.0 {
                best = (n, cat.clone());
            }
        }
        best.1
    });
    Ok(ColumnEncoding::Categorical {
        name: name.to_string(),
        categories,
        fill,
        other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::csv::read_csv_bytes;

    const CSV: &str = "a,colour,b,y\n1.5,red,10,cat\n2,blue,,dog\n-3.25,red,30,cat\n4,,40,bird\n0.5,green,50,dog\n";

    #[test]
    fn one_pass_fits_what_the_whole_table_fits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, CSV).unwrap();
        let mut s = TableStream::open(path.to_str().unwrap(), None).unwrap();
        let (got, rows) =
            Preprocessor::fit_stream(&mut s, None, None, Scaling::Standard, Some(Impute::Mean))
                .unwrap();
        assert_eq!(rows, 5);
        let t = read_csv_bytes(CSV.as_bytes().to_vec(), "t.csv").unwrap();
        let want = Preprocessor::fit(&t, None, None, true, Some(Impute::Mean)).unwrap();
        assert_eq!(got.target, want.target);
        assert_eq!(got.columns.len(), want.columns.len());
        for (g, w) in got.columns.iter().zip(&want.columns) {
            match (g, w) {
                (
                    ColumnEncoding::Numeric {
                        mean: a,
                        std: b,
                        fill: f,
                        ..
                    },
                    ColumnEncoding::Numeric {
                        mean: c,
                        std: d,
                        fill: h,
                        ..
                    },
                ) => {
                    assert!((a - c).abs() < 1e-12 && (b - d).abs() < 1e-12);
                    assert!((f.unwrap() - h.unwrap()).abs() < 1e-12);
                }
                _ => assert_eq!(g, w),
            }
        }
        let mut s = TableStream::open(path.to_str().unwrap(), None).unwrap();
        let e = Preprocessor::fit_stream(&mut s, None, None, Scaling::Standard, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("t.csv:5: column 'colour' (field 2): empty cell"),
            "{e}"
        );
        let mut s = TableStream::open(path.to_str().unwrap(), None).unwrap();
        assert!(Preprocessor::fit_stream(&mut s, None, None, Scaling::Robust, None).is_err());
    }
}
