//! Where a [`super::stream::TableStream`] puts the rows it reads: owned cells ([`RawTable`]) or
//! CSV records as the CSV reader gives them ([`RecordChunk`]); and reading one CSV record.

use std::io::Read;

use super::csv::{push_place, RawTable};
use super::records::RecordChunk;

/// Where [`TableStream::read_rows`](super::stream::TableStream) puts rows: owned cells, or CSV records.
pub(super) trait Rows {
    /// Reads the next CSV record into row `n`; its line, `None` at the file's end.
    fn read_csv(
        &mut self,
        n: usize,
        r: &mut csv::Reader<Box<dyn Read + Send>>,
        rec: &mut csv::StringRecord,
    ) -> std::result::Result<Option<u64>, csv::Error>;
    /// The cells to read Parquet row `n` into: the row's own, or `spare`.
    fn cells<'a>(&'a mut self, n: usize, spare: &'a mut Vec<String>) -> &'a mut Vec<String>;
    /// Called after Parquet row `n` was read into `spare` (when [`Rows::cells`] gave it) and
    /// `numbers` (see [`Rows::takes_numbers`]).
    fn parquet_done(&mut self, n: usize, spare: &[String], numbers: &[Option<f64>]);
    /// Whether rows may carry numbers instead of text (`TableStream::numbers_for`).
    fn takes_numbers(&self) -> bool {
        false
    }
    /// Makes row `n` part of the chunk, read from `file` at `line`.
    fn commit(&mut self, file: &str, line: u64, new_file: bool);
}

impl Rows for RawTable {
    fn read_csv(
        &mut self,
        n: usize,
        r: &mut csv::Reader<Box<dyn Read + Send>>,
        rec: &mut csv::StringRecord,
    ) -> std::result::Result<Option<u64>, csv::Error> {
        next_csv(r, rec, self.cells(n, &mut Vec::new()))
    }
    fn cells<'a>(&'a mut self, n: usize, _: &'a mut Vec<String>) -> &'a mut Vec<String> {
        if n == self.rows.len() {
            self.rows.push(Vec::new());
        }
        &mut self.rows[n]
    }
    fn parquet_done(&mut self, _: usize, _: &[String], _: &[Option<f64>]) {}
    fn commit(&mut self, file: &str, line: u64, new_file: bool) {
        let places = (&mut self.files, &mut self.file_of, &mut self.lines);
        push_place(places, file, line, new_file);
    }
}

impl Rows for RecordChunk {
    fn read_csv(
        &mut self,
        _: usize,
        r: &mut csv::Reader<Box<dyn Read + Send>>,
        _: &mut csv::StringRecord,
    ) -> std::result::Result<Option<u64>, csv::Error> {
        self.set_numbers(&[]);
        next_record(r, self.slot())
    }
    fn cells<'a>(&'a mut self, _: usize, spare: &'a mut Vec<String>) -> &'a mut Vec<String> {
        spare
    }
    fn parquet_done(&mut self, _: usize, spare: &[String], numbers: &[Option<f64>]) {
        self.set_numbers(numbers);
        let rec = self.slot();
        rec.clear();
        for cell in spare {
            rec.push_field(cell);
        }
    }
    fn takes_numbers(&self) -> bool {
        true
    }
    fn commit(&mut self, file: &str, line: u64, new_file: bool) {
        RecordChunk::commit(self, file, line, new_file);
    }
}

/// Whether reading can go on after `e` (a record of the wrong length, or invalid UTF-8).
pub(super) fn recoverable(e: &csv::Error) -> bool {
    matches!(
        e.kind(),
        csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
    )
}

/// The next CSV record into `cells` (their strings reused), and its line; blank lines skipped.
fn next_csv(
    r: &mut csv::Reader<Box<dyn Read + Send>>,
    rec: &mut csv::StringRecord,
    cells: &mut Vec<String>,
) -> std::result::Result<Option<u64>, csv::Error> {
    let line = next_record(r, rec)?;
    if line.is_some() {
        cells.resize(rec.len(), String::new());
        for (cell, field) in cells.iter_mut().zip(rec.iter()) {
            cell.clear();
            cell.push_str(field.trim_ascii());
        }
    }
    Ok(line)
}

/// The next CSV record into `rec`, and its line; blank lines skipped.
fn next_record(
    r: &mut csv::Reader<Box<dyn Read + Send>>,
    rec: &mut csv::StringRecord,
) -> std::result::Result<Option<u64>, csv::Error> {
    loop {
        if !r.read_record(rec)? {
            return Ok(None);
        }
        if !(rec.len() == 1 && rec[0].trim_ascii().is_empty()) {
            return Ok(Some(rec.position().map_or(0, |p| p.line())));
        }
    }
}
