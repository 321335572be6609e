//! Fitting a preprocessor in one pass over a table read in chunks ([`TableStream`]), for tables
//! larger than memory: the same column typing and target detection as [`Preprocessor::fit`], with
//! each numeric column's mean and variance by Welford's update in f64, the categories and class
//! labels as sets, and the row count. Standard scaling and mean imputation only: a median (for
//! robust scaling or median imputation) needs the whole column.

use crate::data::csv::{Cells, RawTable};
use crate::data::holdout::{HeldRows, Holdout, Part};
use crate::data::records::{RecordChunk, CHUNK_ROWS};
use crate::data::scaling::Scaling;
use crate::data::segments::{Segment, SegmentCounter};
use crate::data::stream::TableStream;
use crate::error::{NeuronError, Result};

use super::stream_encoding::{bad_rows, fit_column, fit_target, stream_role, where_};
use super::stream_stats::Stats;
use super::{ColumnRules, Impute, Preprocessor, Task};

/// More distinct text values than this in one column is refused when streaming (they would be
/// held in memory, and one-hot encoding them is rarely what is wanted).
pub const MAX_STREAM_CATEGORIES: usize = 10_000;

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
        let (stats, rows, counter) = gather(stream, opts.skip_bad_rows, (holdout, held))?;
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
                    let infer = opts.rules.infer;
                    let categorical = opts.rules.is_categorical(&headers[c]);
                    let how = (scaling, impute, skip, infer, categorical);
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
        let (bad, first_bad) = if skip {
            bad_rows((&stats, &headers), &kept, tc, &target)?
        } else {
            (Vec::new(), None)
        };
        let bad_rows = bad.len();
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
            segments: counter.segments(stream.marks(), &bad),
        })
    }
}

/// Reads `stream` to its end: each column's statistics over the training rows (the rows
/// `holdout` holds out go to `held`), the number of training rows, and those of each segment
/// of the table.
fn gather(
    stream: &mut TableStream,
    track: bool,
    (holdout, held): (&Holdout, &mut HeldRows),
) -> Result<(Vec<Stats>, usize, SegmentCounter)> {
    let headers = stream.headers().to_vec();
    let mut stats: Vec<Stats> = headers.iter().map(|_| Stats::new(track)).collect();
    let (mut chunk, mut rows) = (RecordChunk::default(), 0);
    let mut counter = SegmentCounter::default();
    stream.mark_segments()?;
    // Parquet's number columns as numbers: most of them need no text (`Stats::add_number`).
    stream.numbers_for(vec![true; headers.len()]);
    let count = (&mut stats[..], &mut rows, &mut counter);
    let read = gather_chunks(stream, &mut chunk, count, (holdout, held));
    stream.numbers_for(Vec::new());
    read?;
    Ok((stats, rows, counter))
}

/// The loop of [`gather`]: every chunk's cells into `stats`, counting the training rows.
fn gather_chunks(
    stream: &mut TableStream,
    chunk: &mut RecordChunk,
    (stats, rows, counter): (&mut [Stats], &mut usize, &mut SegmentCounter),
    (holdout, held): (&Holdout, &mut HeldRows),
) -> Result<()> {
    let headers = stream.headers().to_vec();
    let mut read = 0;
    while stream.next_records_into(chunk, CHUNK_ROWS)? {
        let chunk = &*chunk;
        for r in 0..chunk.row_count() {
            let part = if holdout.holds_out() {
                holdout.part_of(chunk, r)
            } else {
                Part::Train
            };
            counter.row(read, stream.marks().0, part == Part::Train);
            read += 1;
            if part != Part::Train {
                held.take(part, chunk, r);
                continue;
            }
            let row = *rows as u64;
            // A row of text in one pass over its cells (a short row's last cells are empty).
            if let Some(cells) = chunk.row(r) {
                let cells = cells.chain(std::iter::repeat(""));
                for ((c, s), cell) in stats.iter_mut().enumerate().zip(cells) {
                    s.add(cell, row, || where_(chunk, r, &headers[c], c));
                }
            } else {
                for (c, s) in stats.iter_mut().enumerate() {
                    let at = || where_(chunk, r, &headers[c], c);
                    match chunk.number(r, c) {
                        Some(v) => s.add_number(v, row, at),
                        None => s.add(chunk.cell(r, c), row, at),
                    }
                }
            }
            *rows += 1;
        }
    }
    Ok(())
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
    /// The table's segments, with their training rows.
    pub segments: Vec<Segment>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::csv::read_csv_bytes;
    use crate::data::preprocess::{ColumnEncoding, ColumnRules, NumberFormat};

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

    /// Columns whose first cells are plain numbers and whose later ones need a format: the
    /// format's sums start from the plain values seen before (thousands commas in `amount`, a
    /// decimal comma in `price`), and the fit is the one made in memory.
    #[test]
    fn numbers_for_people_after_plain_ones_fit_as_in_memory() {
        let csv = "amount,price,y\n12.5,3,a\n7,\"1,5\",b\n\"1,234.5\",2,a\n-3.25,\"2,25\",b\n\"2,000\",4,a\n10,5,b\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, csv).unwrap();
        let mut s = TableStream::open(path.to_str().unwrap(), None).unwrap();
        let opts = StreamFit {
            target: None,
            task: None,
            scaling: Scaling::Standard,
            impute: None,
            skip_bad_rows: false,
            rules: ColumnRules::inferred(),
        };
        let mut held = HeldRows::default();
        let got = Preprocessor::fit_stream_with(&mut s, &opts, &Holdout::none(), &mut held);
        let got = got.unwrap().pre;
        let t = read_csv_bytes(csv.as_bytes().to_vec(), "t.csv").unwrap();
        let rules = ColumnRules::inferred();
        let task = (None, None);
        let want = Preprocessor::fit_with_rules(&t, task, Scaling::Standard, None, &rules);
        let want = want.unwrap();
        let (comma, decimal) = (NumberFormat::CommaThousands, NumberFormat::DecimalComma);
        let sums = [
            (comma, [12.5, 7.0, 1234.5, -3.25, 2000.0, 10.0]),
            (decimal, [3.0, 1.5, 2.0, 2.25, 4.0, 5.0]),
        ];
        for ((g, w), (format, values)) in got.columns.iter().zip(&want.columns).zip(sums) {
            let mean = values.iter().sum::<f64>() / 6.0;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 6.0;
            let ColumnEncoding::Numeric {
                mean: m,
                std,
                format: f,
                ..
            } = g
            else {
                panic!("{g:?}");
            };
            assert_eq!(*f, Some(format), "{g:?}");
            assert!(
                (m - mean).abs() < 1e-9 && (std - var.sqrt()).abs() < 1e-9,
                "{g:?}"
            );
            let ColumnEncoding::Numeric {
                mean: wm,
                std: ws,
                format: wf,
                ..
            } = w
            else {
                panic!("{w:?}");
            };
            assert_eq!(wf, f);
            assert!(
                (m - wm).abs() < 1e-9 && (std - ws).abs() < 1e-9,
                "{g:?} {w:?}"
            );
        }
    }
}
