//! Applying a fitted preprocessor to a table: network inputs and encoded targets.

use crate::data::csv::Cells;
use crate::data::scaling::smooth_clip;
use crate::error::{NeuronError, Result};
use crate::matrix::Matrix;

use super::plain_inputs::{plain_number, PlainInputs};
use super::{at, dates, parse_num, ColumnEncoding, Encoded, Preprocessor, TargetEncoding};

impl Preprocessor {
    /// The feature columns' indices in `t` (matched by name), and the target's if present.
    pub(super) fn by_name(&self, t: &impl Cells) -> Result<(Vec<usize>, Option<usize>)> {
        let find = |name: &str| t.headers().iter().position(|h| h == name);
        let mut idx = Vec::with_capacity(self.columns.len());
        for col in &self.columns {
            idx.push(find(col.name()).ok_or_else(|| {
                NeuronError::data(format!(
                    "{}: missing feature column '{}' (the model expects {} features: {})",
                    t.source(),
                    col.name(),
                    self.columns.len(),
                    self.columns
                        .iter()
                        .map(ColumnEncoding::name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?);
        }
        Ok((idx, find(self.target_name())))
    }

    /// The same, by position: the target is the column of its name or, when the table has one
    /// column more than the model has features, the last; the features are the others, in order.
    pub(super) fn by_position(&self, t: &impl Cells) -> Result<(Vec<usize>, Option<usize>)> {
        let (n, m) = (self.columns.len(), t.headers().len());
        let tc = t
            .headers()
            .iter()
            .position(|h| h == self.target_name())
            .or((m == n + 1).then(|| m - 1));
        let idx: Vec<usize> = (0..m).filter(|&c| Some(c) != tc).collect();
        if idx.len() != n {
            return Err(NeuronError::data(format!(
                "{}: the model takes {n} feature columns by position (it came from an ONNX file, which names none), but the file has {m} columns{}",
                t.source(),
                tc.map_or(String::new(), |c| format!(" with '{}' as the target", t.headers()[c]))
            )));
        }
        Ok((idx, tc))
    }

    /// Encodes a table with the fitted transformation. Columns are matched by name; the target
    /// column is optional unless `need_target`.
    pub fn transform(&self, t: &impl Cells, need_target: bool) -> Result<Encoded> {
        let (idx, tc) = if self.positional {
            self.by_position(t)?
        } else {
            self.by_name(t)?
        };
        if need_target && tc.is_none() {
            return Err(NeuronError::data(format!(
                "{}: no target column '{}'",
                t.source(),
                self.target_name()
            )));
        }
        let width = self.input_width();
        let n = t.row_count();
        let mut x = vec![0.0f32; n * width];
        let mut unseen = vec![0usize; self.columns.len()];
        let offsets: Vec<usize> = (self.columns.iter())
            .scan(0, |off, col| {
                Some(std::mem::replace(off, *off + col.width()))
            })
            .collect();
        let all: Vec<usize> = (0..self.columns.len()).collect();
        let plain = PlainInputs::new(&self.columns, &idx, &offsets, t.headers().len());
        let mut todo = Vec::new();
        for r in 0..n {
            let row = &mut x[r * width..(r + 1) * width];
            // The plain numbers of a row read as text in one pass over its cells; the other
            // columns (or the whole of a short row) cell by cell.
            let fast = match (&plain, t.row(r)) {
                (Some(p), Some(cells)) => p.encode(cells, row, &mut todo),
                _ => false,
            };
            for &k in if fast { &todo } else { &all } {
                let (col, c) = (&self.columns[k], idx[k]);
                let out = &mut row[offsets[k]..offsets[k] + col.width()];
                if let Some(v) = plain_number(col, t, r, c) {
                    out[0] = v;
                    continue;
                }
                let cell = match t.number(r, c) {
                    Some(v) => Cell::Number(v),
                    None => Cell::Text(t.cell(r, c)),
                };
                if !encode_cell(col, cell, out, || at(t, r, c))? {
                    unseen[k] += 1;
                }
            }
        }
        let (classes, values) = match tc {
            Some(tc) => self.encode_targets(t, tc)?,
            None => (None, None),
        };
        let ignored = t
            .headers()
            .iter()
            .enumerate()
            .filter(|&(c, _)| !idx.contains(&c) && Some(c) != tc)
            .filter(|(_, h)| !self.dropped.iter().any(|d| &d.name == *h))
            .map(|(_, h)| h.clone())
            .collect();
        Ok(Encoded {
            x: Matrix::from_vec(n, width, x)?,
            classes,
            values,
            ignored,
            unseen: self
                .columns
                .iter()
                .zip(unseen)
                .filter(|(_, u)| *u > 0)
                .map(|(c, u)| (c.name().to_string(), u))
                .collect(),
        })
    }

    /// The class indices (classification) or standardised values (regression) of column `tc`.
    #[allow(clippy::type_complexity)]
    fn encode_targets(
        &self,
        t: &impl Cells,
        tc: usize,
    ) -> Result<(Option<Vec<usize>>, Option<Vec<f32>>)> {
        match &self.target {
            TargetEncoding::Classes { labels, name } => {
                let mut v = Vec::with_capacity(t.row_count());
                for r in 0..t.row_count() {
                    let cell = t.cell(r, tc);
                    let k = labels.iter().position(|l| l == cell).or_else(|| {
                        // Numeric labels written differently ("1.0" for "1").
                        let x = parse_num(cell)?;
                        labels.iter().position(|l| parse_num(l) == Some(x))
                    });
                    let Some(k) = k else {
                        return Err(NeuronError::data(format!(
                            "{}: label '{cell}' was not seen in training (the model knows {} classes of '{name}': {})",
                            at(t, r, tc),
                            labels.len(),
                            labels.join(", ")
                        )));
                    };
                    v.push(k);
                }
                Ok((Some(v), None))
            }
            TargetEncoding::Value {
                mean, std, format, ..
            } => {
                let mut v = Vec::with_capacity(t.row_count());
                for r in 0..t.row_count() {
                    let cell = t.cell(r, tc);
                    let x = match format {
                        Some(f) => f.parse(cell),
                        None => parse_num(cell),
                    };
                    match x {
                        Some(x) if x.is_finite() => v.push(((x - mean) / std) as f32),
                        _ => {
                            return Err(NeuronError::data(format!(
                                "{}: '{cell}' is not a finite number",
                                at(t, r, tc),
                            )))
                        }
                    }
                }
                Ok((None, Some(v)))
            }
        }
    }
}

fn empty_cell(at: impl Fn() -> String) -> NeuronError {
    NeuronError::data(format!(
        "{}: empty cell (train with --impute to fill missing values)",
        at()
    ))
}

impl Preprocessor {
    /// For each of `headers`, whether the column is a feature read as a plain number (no number
    /// format): the columns a reader may hand over as numbers instead of text
    /// (`TableStream::numbers_for`). None for a model that matches columns by position.
    pub fn numeric_inputs(&self, headers: &[String]) -> Vec<bool> {
        let plain = |h: &String| {
            self.columns.iter().any(|col| {
                matches!(col, ColumnEncoding::Numeric { name, format: None, .. } if name == h)
            })
        };
        let positional = self.positional;
        headers.iter().map(|h| !positional && plain(h)).collect()
    }
}

/// A cell as a reader gave it: text, or a number read as a number ([`Cells::number`]).
#[derive(Clone, Copy)]
pub(super) enum Cell<'a> {
    Text(&'a str),
    Number(f64),
}

/// The input of value `v` of a number column scaled by `(mean, std, clip)`: `(v − mean) / std`,
/// soft-clipped beyond `clip` when set. Every path that encodes a number computes it here, so
/// they agree bit for bit.
#[inline]
pub(super) fn number_input(v: f64, (mean, std, clip): (f64, f64, Option<f64>)) -> f32 {
    smooth_clip((v - mean) / std, clip) as f32
}

/// Writes the inputs of one cell of column `col` into `out` (zeroed, `col.width()` long);
/// false when the value could not be placed (a category unseen in training, an unreadable
/// date: left as zeros). `at` says where the cell is, for errors.
pub(super) fn encode_cell(
    col: &ColumnEncoding,
    cell: Cell<'_>,
    out: &mut [f32],
    at: impl Fn() -> String,
) -> Result<bool> {
    let text;
    let cell = match (cell, col) {
        (Cell::Text(cell), _) => cell,
        (Cell::Number(v), ColumnEncoding::Numeric { .. }) if !v.is_finite() => {
            return Err(NeuronError::data(format!(
                "{}: '{v}' is not a finite number",
                at()
            )))
        }
        (
            Cell::Number(v),
            ColumnEncoding::Numeric {
                mean, std, clip, ..
            },
        ) => {
            out[0] = number_input(v, (*mean, *std, *clip));
            return Ok(true);
        }
        // Only numeric columns are read as numbers (`numeric_inputs`); others read the text.
        (Cell::Number(v), _) => {
            text = v.to_string();
            &text
        }
    };
    match col {
        ColumnEncoding::Numeric {
            mean,
            std,
            fill,
            clip,
            format,
            ..
        } => {
            let v = if cell.is_empty() {
                fill.ok_or_else(|| empty_cell(&at))?
            } else {
                let v = match format {
                    Some(f) => f.parse(cell),
                    None => parse_num(cell),
                };
                match v {
                    Some(v) if v.is_finite() => v,
                    Some(_) => {
                        return Err(NeuronError::data(format!(
                            "{}: '{cell}' is not a finite number",
                            at()
                        )))
                    }
                    None => {
                        return Err(NeuronError::data(format!(
                            "{}: '{cell}' is not a number",
                            at()
                        )))
                    }
                }
            };
            out[0] = number_input(v, (*mean, *std, *clip));
            Ok(true)
        }
        ColumnEncoding::Date {
            mean,
            std,
            time,
            fill,
            ..
        } => {
            if cell.is_empty() {
                return if *fill {
                    Ok(true)
                } else {
                    Err(empty_cell(&at))
                };
            }
            let Some((d, _)) = dates::parse_datetime(cell) else {
                return Ok(false);
            };
            dates::date_features(d, (*mean, *std), *time, out);
            Ok(true)
        }
        ColumnEncoding::Categorical {
            categories,
            fill,
            other,
            ..
        } => {
            let cell = if cell.is_empty() {
                fill.as_deref().ok_or_else(|| empty_cell(&at))?
            } else {
                cell
            };
            match categories.iter().position(|s| s == cell) {
                Some(j) => out[j] = 1.0,
                None if *other => out[categories.len()] = 1.0,
                None => return Ok(false),
            }
            Ok(true)
        }
    }
}
