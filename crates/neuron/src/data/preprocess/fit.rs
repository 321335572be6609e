//! Fitting a preprocessor on a training table: the target's encoding and each column's.

use std::collections::HashSet;

use crate::data::csv::RawTable;
use crate::data::scaling::{mean_std, Scaling};
use crate::error::{NeuronError, Result};

use super::roles::most_frequent;
use super::{
    at, dates, limit_categories, median, parse_num, sort_labels, ColumnEncoding, ColumnRules,
    Impute, NumberFormat, Preprocessor, TargetEncoding, Task, MAX_AUTO_CLASSES,
};

impl Preprocessor {
    /// Fits on a training table. `target` names the target column (or its 0-based index); `None`
    /// means the last column. `task` `None` means detect it.
    pub fn fit(
        t: &RawTable,
        target: Option<&str>,
        task: Option<Task>,
        standardize: bool,
        impute: Option<Impute>,
    ) -> Result<Self> {
        let scaling = if standardize {
            Scaling::Standard
        } else {
            Scaling::None
        };
        Self::fit_scaled(t, target, task, scaling, impute)
    }

    /// [`Preprocessor::fit`] with a choice of how numeric columns are scaled.
    pub fn fit_scaled(
        t: &RawTable,
        target: Option<&str>,
        task: Option<Task>,
        scaling: Scaling,
        impute: Option<Impute>,
    ) -> Result<Self> {
        Self::fit_with_rules(t, (target, task), scaling, impute, &ColumnRules::default())
    }

    /// [`Preprocessor::fit_scaled`] that leaves out the columns `rules` says to (inferred
    /// constant and identifier-like columns, and the user's own choice), recording them in
    /// [`Preprocessor::dropped`].
    pub fn fit_with_rules(
        t: &RawTable,
        (target, task): (Option<&str>, Option<Task>),
        scaling: Scaling,
        impute: Option<Impute>,
        rules: &ColumnRules,
    ) -> Result<Self> {
        if t.headers.len() < 2 {
            let h = &t.headers[0];
            let likely = [';', '\t', '|', ':', ' ']
                .into_iter()
                .find(|&d| h.contains(d))
                .map_or(String::new(), |d| {
                    let name = if d == '\t' { "tab".to_string() } else { format!("'{d}'") };
                    format!("; its header contains {name}: is that the delimiter? (--delimiter forces one)")
                });
            return Err(NeuronError::data(format!(
                "{}: needs at least one feature column and a target column, but it reads as one column named '{h}' (neuron detects ',', ';', tab and '|'){likely}",
                t.source
            )));
        }
        let tc = match target {
            Some(name) => t.column_index(name)?,
            None => t.headers.len() - 1,
        };
        rules.check(&t.headers, tc)?;
        let target = Self::fit_target(t, tc, task, rules.infer)?;
        let (mut columns, mut dropped) = (Vec::new(), Vec::new());
        for c in (0..t.headers.len()).filter(|&c| c != tc) {
            match rules.decide(t, c) {
                Some(d) => dropped.push(d),
                None => columns.push(Self::fit_column(t, c, (scaling, impute), rules)?),
            }
        }
        if columns.is_empty() {
            return Err(NeuronError::data(format!(
                "{}: no feature column is left: {} (--keep COLUMN keeps one)",
                t.source,
                dropped
                    .iter()
                    .map(|d| format!("'{}' ({})", d.name, d.detail))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Preprocessor {
            columns,
            target,
            standardize: scaling != Scaling::None,
            impute,
            image: None,
            positional: false,
            dropped,
        })
    }

    fn fit_target(
        t: &RawTable,
        tc: usize,
        task: Option<Task>,
        infer: bool,
    ) -> Result<TargetEncoding> {
        let name = t.headers[tc].clone();
        if let Some(r) = t.rows.iter().position(|row| row[tc].is_empty()) {
            return Err(NeuronError::data(format!(
                "{}: the target is empty",
                at(t, r, tc)
            )));
        }
        let format =
            NumberFormat::detect(t.rows.iter().map(|row| row[tc].as_str())).filter(|_| infer);
        let nums: Vec<Option<f64>> = t
            .rows
            .iter()
            .map(|row| match format {
                Some(f) => f.parse(&row[tc]),
                None => parse_num(&row[tc]),
            })
            .collect();
        let numeric = nums.iter().all(Option::is_some);
        let labels_of = || -> HashSet<&str> { t.rows.iter().map(|r| r[tc].as_str()).collect() };
        // The distinct labels, counted once: to detect the task, and then as the classes.
        let (task, distinct) = match task {
            Some(task) => (task, None),
            None => {
                let distinct = labels_of();
                let integers = nums.iter().all(|v| v.is_some_and(|x| x.fract() == 0.0));
                match !numeric || (integers && distinct.len() <= MAX_AUTO_CLASSES) {
                    true => (Task::Classify, Some(distinct)),
                    false => (Task::Regress, None),
                }
            }
        };
        match task {
            Task::Classify => {
                let distinct = distinct.unwrap_or_else(labels_of);
                let mut labels: Vec<String> = distinct.into_iter().map(str::to_string).collect();
                labels.sort_unstable();
                sort_labels(&mut labels);
                if labels.len() < 2 {
                    return Err(NeuronError::data(format!(
                        "{}: the target column '{name}' has a single class ({}); classification needs at least two",
                        t.source, labels[0]
                    )));
                }
                Ok(TargetEncoding::Classes { name, labels })
            }
            Task::Regress => {
                let mut v = Vec::with_capacity(nums.len());
                for (r, x) in nums.iter().enumerate() {
                    match x {
                        Some(x) if x.is_finite() => v.push(*x),
                        Some(x) => {
                            return Err(NeuronError::data(format!(
                                "{}: target {x} is not finite",
                                at(t, r, tc)
                            )))
                        }
                        None => {
                            return Err(NeuronError::data(format!(
                                "{}: '{}' is not a number (regression needs numeric targets)",
                                at(t, r, tc),
                                t.rows[r][tc]
                            )))
                        }
                    }
                }
                let (mean, std) = mean_std(&v);
                Ok(TargetEncoding::Value {
                    name,
                    mean,
                    std: if std > 1e-12 { std } else { 1.0 },
                    format,
                })
            }
        }
    }

    /// One feature column's encoding; with `infer`, dates and numbers written for people are
    /// recognised (else they are text).
    fn fit_column(
        t: &RawTable,
        c: usize,
        (scaling, impute): (Scaling, Option<Impute>),
        rules: &ColumnRules,
    ) -> Result<ColumnEncoding> {
        let infer = rules.infer;
        let name = t.headers[c].clone();
        let cells: Vec<&str> = t.rows.iter().map(|r| r[c].as_str()).collect();
        let filled: Vec<&str> = cells.iter().copied().filter(|s| !s.is_empty()).collect();
        if let (None, Some(r)) = (impute, cells.iter().position(|s| s.is_empty())) {
            return Err(NeuronError::data(format!(
                "{}: empty cell (use --impute mean or --impute median to fill missing values)",
                at(t, r, c)
            )));
        }
        if filled.is_empty() {
            return Err(NeuronError::data(format!(
                "{}: column '{name}' has no values",
                t.source
            )));
        }
        if rules.is_categorical(&name) {
            return Ok(Self::fit_categories(name, &filled, impute, infer));
        }
        if let Some(d) = Self::fit_dates(&name, &filled, scaling, impute).filter(|_| infer) {
            return Ok(d);
        }
        // Every filled cell read once as a plain number; only a column where some cell is not one
        // is read again, in the formats written for people.
        let plain: Option<Vec<f64>> = filled.iter().map(|s| parse_num(s)).collect();
        let format = match plain {
            Some(_) => None,
            None => NumberFormat::detect(filled.iter().copied()).filter(|_| infer),
        };
        let parse = |s: &str| match format {
            Some(f) => f.parse(s),
            None => parse_num(s),
        };
        let numeric_count = match &plain {
            Some(v) => v.len(),
            None => filled.iter().filter(|s| parse(s).is_some()).count(),
        };
        if numeric_count * 2 >= filled.len() {
            let v = match plain {
                Some(v) if v.iter().all(|x| x.is_finite()) => v,
                _ => Self::finite_numbers(t, c, &cells, parse)?,
            };
            let fill = impute.map(|i| match i {
                Impute::Mean => mean_std(&v).0,
                Impute::Median => median(&v),
            });
            let s = scaling.fit(&v);
            Ok(ColumnEncoding::Numeric {
                name,
                mean: s.center,
                std: s.scale,
                fill,
                clip: s.clip,
                format,
            })
        } else {
            Ok(Self::fit_categories(name, &filled, impute, infer))
        }
    }

    /// The numbers of a numeric column's filled cells (`cells`, column `c` of `t`), read with
    /// `parse`; the first cell that is no finite number is an error that names it.
    fn finite_numbers(
        t: &RawTable,
        c: usize,
        cells: &[&str],
        parse: impl Fn(&str) -> Option<f64>,
    ) -> Result<Vec<f64>> {
        let mut v = Vec::with_capacity(cells.len());
        for (r, s) in cells.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            match parse(s) {
                Some(x) if x.is_finite() => v.push(x),
                Some(_) => {
                    return Err(NeuronError::data(format!(
                        "{}: '{s}' is not a finite number",
                        at(t, r, c)
                    )))
                }
                None => {
                    return Err(NeuronError::data(format!(
                        "{}: '{s}' is not a number",
                        at(t, r, c)
                    )))
                }
            }
        }
        Ok(v)
    }

    /// A column of categories: its most frequent values (all of them without `infer`), and the
    /// most frequent one as the fill of empty cells when imputing.
    fn fit_categories(
        name: String,
        filled: &[&str],
        impute: Option<Impute>,
        infer: bool,
    ) -> ColumnEncoding {
        let mut sorted = filled.to_vec();
        sorted.sort_unstable();
        let counts: Vec<(String, usize)> = sorted
            .chunk_by(|a, b| a == b)
            .map(|g| (g[0].to_string(), g.len()))
            .collect();
        let fill = impute.map(|_| most_frequent(&counts));
        let (categories, other) = limit_categories(&counts, infer);
        ColumnEncoding::Categorical {
            name,
            categories,
            fill,
            other,
        }
    }

    /// A date column, when every filled cell is a date or datetime.
    fn fit_dates(
        name: &str,
        filled: &[&str],
        scaling: Scaling,
        impute: Option<Impute>,
    ) -> Option<ColumnEncoding> {
        let parsed: Vec<(chrono::NaiveDateTime, bool)> = filled
            .iter()
            .map(|s| dates::parse_datetime(s))
            .collect::<Option<_>>()?;
        let years: Vec<f64> = parsed
            .iter()
            .map(|(d, _)| dates::fractional_year(*d))
            .collect();
        let (mean, std) = match scaling {
            Scaling::None => (0.0, 1.0),
            _ => mean_std(&years),
        };
        Some(ColumnEncoding::Date {
            name: name.to_string(),
            mean,
            std: if std > 1e-12 { std } else { 1.0 },
            time: parsed.iter().any(|(_, t)| *t),
            fill: impute.is_some(),
        })
    }
}
