//! A streamed column's running statistics, and what they decide: whether the column is left
//! out, how it is encoded, how the target is, and which rows are bad.

use std::collections::HashMap;

use crate::data::csv::Cells;
use crate::data::float_text::push_f64;
use crate::data::scaling::Scaling;
use crate::error::{NeuronError, Result};

use super::fit_stream::MAX_STREAM_CATEGORIES;
use super::number_format::{read_plain, NumberFormat};
use super::roles::{limit_categories, IDENTIFIER_SHARE, MIN_ROWS_FOR_IDENTIFIERS};
use super::{
    dates, sort_labels, ColumnEncoding, ColumnRules, DropReason, DroppedColumn, Impute,
    TargetEncoding, Task, MAX_AUTO_CLASSES,
};

/// Running statistics of one column.
#[derive(Default)]
pub(super) struct Stats {
    filled: usize,
    numbers: usize,
    /// The finite numbers' Welford sums.
    values: Welford,
    integers: bool,
    /// Each distinct filled cell's count (a hash map: most cells are looked up, few inserted;
    /// [`Stats::sorted_counts`] gives them in order).
    counts: HashMap<String, usize>,
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
    /// The fractional years of the cells that are dates, and whether any has a time.
    dates: Welford,
    date_times: bool,
    /// The column's values read as numbers written for people, in each format of
    /// [`FORMATS`], while every filled cell reads in it.
    formats: [FormatSums; 2],
}

/// The formats of numbers written for people, in the order [`NumberFormat::detect`] tries them.
const FORMATS: [NumberFormat; 2] = [NumberFormat::CommaThousands, NumberFormat::DecimalComma];

/// Running count, mean and sum of squared deviations (Welford, in f64).
#[derive(Clone, Copy, Debug, Default)]
struct Welford {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }

    /// The standard deviation; 1 for values without spread.
    fn std(&self) -> f64 {
        let sd = (self.m2 / self.n.max(1.0)).sqrt();
        if sd > 1e-12 {
            sd
        } else {
            1.0
        }
    }
}

/// A column's values read in one format of numbers written for people, while every filled cell
/// so far reads in it (`ok`).
#[derive(Clone, Copy, Debug, Default)]
struct FormatSums {
    ok: bool,
    /// Whether every cell so far reads in this format as its plain value, so that the sums are
    /// the column's own ([`Stats::values`]) and are not kept twice.
    shared: bool,
    sums: Welford,
}

impl FormatSums {
    fn add(&mut self, v: Option<f64>) {
        match v {
            Some(x) if x.is_finite() => self.sums.push(x),
            _ => self.ok = false,
        }
    }

    /// The sums, given the column's own.
    fn sums<'a>(&'a self, values: &'a Welford) -> &'a Welford {
        if self.shared {
            values
        } else {
            &self.sums
        }
    }
}

/// Rows with empty or non-numeric cells remembered per column when bad rows are skipped.
const MAX_TRACKED: usize = 1 << 18;

impl Stats {
    /// Empty statistics; with `track`, the rows of empty and non-numeric cells are remembered.
    pub(super) fn new(track: bool) -> Self {
        let ok = FormatSums {
            ok: true,
            shared: true,
            sums: Welford::default(),
        };
        Stats {
            integers: true,
            track,
            formats: [ok; 2],
            ..Default::default()
        }
    }

    /// Adds `cell` to the sums of each format it still reads in. A plain decimal (`-12.5`) has
    /// its plain value in the thousands-comma format, a plain integer in both: only other cells
    /// are parsed again. `plain` and `simple` are what [`read_plain`] says of the cell; this is
    /// called before the cell's plain value joins the column's sums.
    fn read_formats(&mut self, cell: &str, (plain, simple): (Option<f64>, Option<bool>)) {
        let values = self.values;
        for (f, w) in FORMATS.iter().zip(&mut self.formats) {
            if !w.ok {
                continue;
            }
            let same = match f {
                NumberFormat::CommaThousands => simple.is_some(),
                NumberFormat::DecimalComma => simple == Some(false),
            };
            match (same, w.shared) {
                (true, true) => w.ok = plain.is_some_and(f64::is_finite),
                (true, false) => w.add(plain),
                (false, _) => {
                    if w.shared {
                        (w.shared, w.sums) = (false, values);
                    }
                    w.add(f.parse(cell));
                }
            }
        }
    }

    fn remember(list: &mut Vec<u64>, overflow: &mut bool, row: u64) {
        if list.len() < MAX_TRACKED {
            list.push(row);
        } else {
            *overflow = true;
        }
    }
}

impl Stats {
    pub(super) fn add(&mut self, cell: &str, row: u64, at: impl Fn() -> String) {
        if cell.is_empty() {
            self.first_empty.get_or_insert_with(&at);
            if self.track {
                Self::remember(&mut self.empty_rows, &mut self.overflow, row);
            }
            return;
        }
        self.filled += 1;
        let (plain, simple) = read_plain(cell);
        self.read_formats(cell, (plain, simple));
        match plain {
            Some(x) if x.is_finite() => {
                self.numbers += 1;
                self.values.push(x);
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
                    self.dates.push(dates::fractional_year(d));
                    self.date_times |= time;
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

    /// [`Stats::add`] for a cell read as a number (a Parquet number column): the same counts and
    /// sums. The number is written as text only where the text still decides something: while
    /// the distinct values are counted, or whether the decimal-comma format still reads the
    /// column (a finite float's text is a plain decimal, which the thousands-comma format reads
    /// as its value, and the decimal-comma format too when it has no fraction).
    pub(super) fn add_number(&mut self, v: f64, row: u64, at: impl Fn() -> String) {
        let fraction = v.fract() != 0.0;
        if !v.is_finite() || !self.too_many || (self.formats[1].ok && fraction) {
            let mut text = String::new();
            push_f64(&mut text, v);
            return self.add(&text, row, at);
        }
        self.filled += 1;
        for w in self.formats.iter_mut().filter(|w| w.ok && !w.shared) {
            w.add(Some(v));
        }
        self.numbers += 1;
        self.values.push(v);
        self.integers &= !fraction;
    }

    /// The distinct cells and their counts, in the order of the cells.
    fn sorted_counts(&self) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> =
            self.counts.iter().map(|(c, &n)| (c.clone(), n)).collect();
        counts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        counts
    }

    /// Whether every filled cell is a date.
    fn all_dates(&self) -> bool {
        self.dates.n as usize == self.filled
    }
}

pub(super) fn where_(t: &impl Cells, r: usize, name: &str, c: usize) -> String {
    format!("{}: column '{name}' (field {})", t.location(r), c + 1)
}

/// Whether to leave out a streamed column, from its statistics.
pub(super) fn stream_role(name: &str, s: &Stats, rules: &ColumnRules) -> Option<DroppedColumn> {
    rules.decide_with(name, || stream_inference(s))
}

/// Whether a streamed column's statistics make it constant or an identifier, and what was seen.
fn stream_inference(s: &Stats) -> Option<(DropReason, String)> {
    if !s.too_many && s.counts.len() <= 1 {
        let v = s
            .counts
            .keys()
            .next()
            .map_or("nothing".into(), |v| format!("'{v}'"));
        return Some((DropReason::Constant, format!("{v} in every filled cell")));
    }
    // Numbers written for people and dates are values, however many distinct ones there are.
    let formatted = s.formats.iter().any(|w| w.ok);
    let text = s.numbers * 2 < s.filled && !s.all_dates() && !formatted;
    if text && s.too_many {
        let detail = format!("more than {MAX_STREAM_CATEGORIES} distinct values");
        return Some((DropReason::Identifier, detail));
    }
    let distinct = s.counts.len();
    if text
        && s.filled >= MIN_ROWS_FOR_IDENTIFIERS
        && distinct as f64 >= IDENTIFIER_SHARE * s.filled as f64
    {
        let detail = format!("{distinct} distinct values in {} rows", s.filled);
        return Some((DropReason::Identifier, detail));
    }
    None
}

/// The training rows that the fitted encoding cannot take: the union over the columns of their
/// bad cells' rows, and where the first is.
pub(super) fn bad_rows(
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
            // Every filled cell read in the column's format: none is bad.
            Some(ColumnEncoding::Numeric {
                format: Some(_), ..
            }) => false,
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

pub(super) fn fit_target(
    name: &str,
    s: &Stats,
    task: Option<Task>,
    skip: bool,
) -> Result<TargetEncoding> {
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
            // In the cells' order first, so that labels of equal value (`1`, `1.0`) keep one order.
            let mut labels: Vec<String> = s.sorted_counts().into_iter().map(|(l, _)| l).collect();
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
            _ if skip && s.numbers * 2 >= s.filled && s.values.n > 0.0 => {
                Ok(TargetEncoding::Value {
                    name: name.to_string(),
                    mean: s.values.mean,
                    std: s.values.std(),
                    format: None,
                })
            }
            (Some((at, v)), _) => Err(NeuronError::data(format!(
                "{at}: '{v}' is not a number (regression needs numeric targets)"
            ))),
            (_, Some((at, v))) => Err(NeuronError::data(format!("{at}: target {v} is not finite"))),
            _ => Ok(TargetEncoding::Value {
                name: name.to_string(),
                mean: s.values.mean,
                std: s.values.std(),
                format: None,
            }),
        },
    }
}

pub(super) fn fit_column(
    name: &str,
    s: &Stats,
    (scaling, impute, skip, infer, categorical): (Scaling, Option<Impute>, bool, bool, bool),
) -> Result<ColumnEncoding> {
    if let (None, Some(at), false) = (impute, &s.first_empty, skip) {
        return Err(NeuronError::data(format!(
            "{at}: empty cell (use --impute mean to fill missing values)"
        )));
    }
    if s.filled == 0 {
        return Err(NeuronError::data(format!("column '{name}' has no values")));
    }
    if categorical {
        return fit_categories(name, s, impute, infer);
    }
    if infer && s.all_dates() {
        let (mean, std) = match scaling {
            Scaling::None => (0.0, 1.0),
            _ => (s.dates.mean, s.dates.std()),
        };
        return Ok(ColumnEncoding::Date {
            name: name.to_string(),
            mean,
            std,
            time: s.date_times,
            fill: impute.is_some(),
        });
    }
    if let Some(e) = written_for_people(name, s, (scaling, impute, infer)) {
        return Ok(e);
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
            Scaling::Standard => (s.values.mean, s.values.std()),
            _ => (0.0, 1.0),
        };
        return Ok(ColumnEncoding::Numeric {
            name: name.to_string(),
            mean,
            std,
            fill: impute.map(|_| s.values.mean),
            clip: None,
            format: None,
        });
    }
    fit_categories(name, s, impute, infer)
}

/// A numeric column whose cells are not all plain numbers but all read in one format of numbers
/// written for people (as [`NumberFormat::detect`] decides in memory).
fn written_for_people(
    name: &str,
    s: &Stats,
    (scaling, impute, infer): (Scaling, Option<Impute>, bool),
) -> Option<ColumnEncoding> {
    let plain = s.first_text.is_none() && s.first_infinite.is_none();
    if !infer || plain {
        return None;
    }
    let (f, w) = FORMATS.iter().zip(&s.formats).find(|(_, w)| w.ok)?;
    let w = w.sums(&s.values);
    let (mean, std) = match scaling {
        Scaling::Standard => (w.mean, w.std()),
        _ => (0.0, 1.0),
    };
    Some(ColumnEncoding::Numeric {
        name: name.to_string(),
        mean,
        std,
        fill: impute.map(|_| w.mean),
        clip: None,
        format: Some(*f),
    })
}

/// A column of categories from its counts (see [`super::Preprocessor::fit`]).
fn fit_categories(
    name: &str,
    s: &Stats,
    impute: Option<Impute>,
    infer: bool,
) -> Result<ColumnEncoding> {
    if s.too_many {
        return Err(NeuronError::data(format!(
            "column '{name}' has more than {MAX_STREAM_CATEGORIES} distinct values; drop it from a streamed table"
        )));
    }
    let counts = s.sorted_counts();
    let (categories, other) = limit_categories(&counts, infer);
    // The most frequent, the first in sorted order among equals (as `fit` chooses).
    let fill = impute.map(|_| {
        let mut best = (0, String::new());
        for (cat, n) in &counts {
            if *n > best.0 {
                best = (*n, cat.clone());
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
