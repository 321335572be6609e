//! What a streamed column's statistics ([`Stats`]) decide: whether the column is left out, how
//! it is encoded, how the target is, and which rows are bad.

use crate::data::csv::Cells;
use crate::data::scaling::Scaling;
use crate::error::{NeuronError, Result};

use super::fit_stream::MAX_STREAM_CATEGORIES;
use super::roles::{limit_categories, most_frequent, IDENTIFIER_SHARE, MIN_ROWS_FOR_IDENTIFIERS};
use super::stream_stats::{Stats, FORMATS, MAX_TRACKED};
use super::{
    sort_labels, ColumnEncoding, ColumnRules, DropReason, DroppedColumn, Impute, TargetEncoding,
    Task, MAX_AUTO_CLASSES,
};

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
) -> Result<(Vec<u64>, Option<String>)> {
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
    Ok((rows, first))
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
    let fill = impute.map(|_| most_frequent(&counts));
    Ok(ColumnEncoding::Categorical {
        name: name.to_string(),
        categories,
        fill,
        other,
    })
}
