//! A table read in chunks of rows, with memory bounded by the chunk, not by the file: one CSV
//! (optionally gzipped) or Parquet file, or a directory or glob of them (see
//! [`crate::data::table`]), read file after file. Each chunk is a [`RawTable`] whose rows keep
//! their file and line for error messages.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use parquet::file::reader::SerializedFileReader;

use super::csv::{push_place, sniff_delimiter, RawTable};
use super::parquet::{guarded, MAGIC};
use super::parquet_rows::ParquetRows;
use super::records::RecordChunk;
use super::table::table_files;
use crate::error::{NeuronError, Result};
use crate::rng::Rng;

/// Bytes read from the start of a CSV file to detect its delimiter.
const SNIFF_BYTES: usize = 1 << 16;

/// The open file.
enum Reader {
    Csv(csv::Reader<Box<dyn Read + Send>>),
    Parquet(ParquetRows),
}

/// A table, chunk by chunk.
pub struct TableStream {
    source: String,
    files: Vec<PathBuf>,
    next_file: usize,
    reader: Option<(Reader, String)>,
    headers: Vec<String>,
    delimiter: Option<u8>,
    /// Rows read so far in the current Parquet file.
    row_in_file: u64,
    /// The CSV record buffer, reused.
    record: csv::StringRecord,
    /// A Parquet row's cells, reused.
    cells: Vec<String>,
    /// Columns whose Parquet numbers go to records as numbers, not text (`numbers_for`).
    numeric: Vec<bool>,
    /// A Parquet row's numbers, reused.
    numbers: Vec<Option<f64>>,
    /// Skip malformed CSV records (a wrong number of fields, invalid UTF-8) instead of failing.
    skip_malformed: bool,
    /// Malformed records skipped, and why the first was.
    malformed: (usize, Option<String>),
}

fn first_bytes(path: &Path, n: usize) -> Result<Vec<u8>> {
    let f = File::open(path).map_err(|e| NeuronError::io(path, e))?;
    let mut buf = Vec::with_capacity(n);
    f.take(n as u64)
        .read_to_end(&mut buf)
        .map_err(|e| NeuronError::io(path, e))?;
    Ok(buf)
}

/// Opens one file: Parquet by its magic bytes, else CSV (gzip by its own).
fn open(path: &Path, delimiter: Option<u8>) -> Result<(Reader, Vec<String>)> {
    let source = path.display().to_string();
    let head = first_bytes(path, SNIFF_BYTES)?;
    let file = File::open(path).map_err(|e| NeuronError::io(path, e))?;
    if head.starts_with(MAGIC) {
        let bad = |e: parquet::errors::ParquetError| {
            NeuronError::data(format!("{source}: not a readable Parquet file ({e})"))
        };
        let len = file.metadata().map_err(|e| NeuronError::io(path, e))?.len();
        return guarded(&source, || {
            let reader = SerializedFileReader::new(file).map_err(bad)?;
            super::parquet::check_layout(&reader, len, &source)?;
            let headers = super::parquet::flat_headers(&reader, &source)?;
            Ok((Reader::Parquet(ParquetRows::new(Box::new(reader))), headers))
        });
    }
    let gz = super::csv::is_gzip(&head);
    let input: Box<dyn Read + Send> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, file))
    };
    let delimiter = match delimiter {
        Some(d) => d,
        None if gz => {
            let mut sample = Vec::new();
            let dec = flate2::read::MultiGzDecoder::new(&head[..]);
            let _ = dec.take(SNIFF_BYTES as u64).read_to_end(&mut sample);
            sniff_delimiter(&sample)
        }
        None => sniff_delimiter(&head),
    };
    // Fields are trimmed as they are copied out (`next_csv`): cheaper than the reader's own
    // trimming, which rebuilds every record.
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(input);
    let headers = r
        .headers()
        .map_err(|e| super::csv::csv_error(&source, e))?
        .iter()
        .map(|h| h.trim_ascii().to_string())
        .collect();
    Ok((Reader::Csv(r), headers))
}

impl TableStream {
    /// Opens `src` (a file, a directory of tables, or a glob), reading CSV with `delimiter` or
    /// the detected one.
    pub fn open(src: &str, delimiter: Option<u8>) -> Result<Self> {
        Self::open_in_order(src, delimiter, None)
    }

    /// [`TableStream::open`], reading the files of a directory or glob in an order shuffled by
    /// `rng` (in name order without one).
    pub fn open_in_order(src: &str, delimiter: Option<u8>, rng: Option<&mut Rng>) -> Result<Self> {
        let mut files = table_files(src)?.unwrap_or_else(|| vec![PathBuf::from(src)]);
        if let Some(rng) = rng {
            rng.shuffle(&mut files);
        }
        let mut s = TableStream {
            source: src.to_string(),
            files,
            next_file: 0,
            reader: None,
            headers: Vec::new(),
            delimiter,
            row_in_file: 0,
            record: csv::StringRecord::new(),
            cells: Vec::new(),
            numeric: Vec::new(),
            numbers: Vec::new(),
            skip_malformed: false,
            malformed: (0, None),
        };
        s.next_reader()?;
        Ok(s)
    }

    /// The column names.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Hands the integer and float Parquet columns marked in `numeric` (one entry per column) to
    /// [`TableStream::next_records_into`] as numbers ([`Cells::number`]) instead of text, leaving
    /// their cells empty: for readers that only encode those columns as numbers, it saves writing
    /// every value as text and parsing it again. CSV files and [`RawTable`] chunks are unaffected.
    ///
    /// [`Cells::number`]: super::csv::Cells::number
    pub fn numbers_for(&mut self, numeric: Vec<bool>) {
        self.numeric = numeric;
    }

    /// Skips malformed CSV records (a wrong number of fields, invalid UTF-8), counting them,
    /// instead of failing on the first.
    pub fn skipping_malformed(mut self, skip: bool) -> Self {
        self.skip_malformed = skip;
        self
    }

    /// Whether malformed records are skipped.
    pub fn skips_malformed(&self) -> bool {
        self.skip_malformed
    }

    /// The malformed records skipped so far, and why the first was.
    pub fn malformed(&self) -> (usize, Option<&str>) {
        (self.malformed.0, self.malformed.1.as_deref())
    }

    /// Opens the next file; false when there is none.
    fn next_reader(&mut self) -> Result<bool> {
        let Some(path) = self.files.get(self.next_file).cloned() else {
            self.reader = None;
            return Ok(false);
        };
        let (reader, headers) = open(&path, self.delimiter)?;
        let name = path.display().to_string();
        if self.next_file == 0 {
            self.headers = headers;
        } else if headers != self.headers {
            return Err(NeuronError::data(format!(
                "{name}: its columns ({}) differ from those of {} ({})",
                headers.join(", "),
                self.files[0].display(),
                self.headers.join(", ")
            )));
        }
        self.next_file += 1;
        self.row_in_file = 0;
        self.reader = Some((reader, name));
        Ok(true)
    }

    /// Up to `max_rows` next rows; `None` once every file is read.
    pub fn next_chunk(&mut self, max_rows: usize) -> Result<Option<RawTable>> {
        let mut t = RawTable::default();
        Ok(self.next_chunk_into(&mut t, max_rows)?.then_some(t))
    }

    /// Up to `max_rows` next rows into `t`, reusing its rows' and cells' memory (a chunk after
    /// the first allocates nothing for CSV); false, with `t` empty, once every file is read.
    pub fn next_chunk_into(&mut self, t: &mut RawTable, max_rows: usize) -> Result<bool> {
        t.source.clone_from(&self.source);
        t.headers.clone_from(&self.headers);
        t.lines.clear();
        t.files.clear();
        t.file_of.clear();
        let n = self.read_rows(t, max_rows)?;
        t.rows.truncate(n);
        Ok(n > 0)
    }

    /// [`TableStream::next_chunk_into`] into a [`RecordChunk`]: CSV records as the CSV reader
    /// gives them, no cell copied (Parquet rows are written into records).
    pub fn next_records_into(&mut self, t: &mut RecordChunk, max_rows: usize) -> Result<bool> {
        t.source.clone_from(&self.source);
        t.headers.clone_from(&self.headers);
        t.clear();
        Ok(self.read_rows(t, max_rows)? > 0)
    }

    /// Reads up to `max_rows` rows into `t`, file after file; returns how many.
    fn read_rows(&mut self, t: &mut impl Rows, max_rows: usize) -> Result<usize> {
        let mut n = 0;
        // The file (`next_file`) whose name the chunk lists last.
        let mut listed = None;
        while n < max_rows.max(1) {
            let Some((reader, name)) = self.reader.as_mut() else {
                break;
            };
            let line = match reader {
                Reader::Csv(r) => match t.read_csv(n, r, &mut self.record) {
                    Ok(line) => line,
                    Err(e) if self.skip_malformed && recoverable(&e) => {
                        self.malformed.0 += 1;
                        let why = match super::csv::csv_error(name, e) {
                            NeuronError::Data(m) => m,
                            other => other.to_string(),
                        };
                        self.malformed.1.get_or_insert(why);
                        continue;
                    }
                    Err(e) => return Err(super::csv::csv_error(name, e)),
                },
                Reader::Parquet(rows) => {
                    self.row_in_file += 1;
                    let row = self.row_in_file;
                    let numeric = if t.takes_numbers() {
                        &self.numeric[..]
                    } else {
                        &[]
                    };
                    let cells = t.cells(n, &mut self.cells);
                    let line = rows.next_typed(name, row, cells, numeric, &mut self.numbers)?;
                    t.parquet_done(n, &self.cells, &self.numbers);
                    line
                }
            };
            match line {
                Some(line) => {
                    t.commit(name, line, listed != Some(self.next_file));
                    listed = Some(self.next_file);
                    n += 1;
                }
                None => {
                    self.next_reader()?;
                }
            }
        }
        Ok(n)
    }
}

/// Where [`TableStream::read_rows`] puts rows: owned cells, or CSV records.
trait Rows {
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
        if n == self.rows.len() {
            self.rows.push(Vec::new());
        }
        next_csv(r, rec, &mut self.rows[n])
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
fn recoverable(e: &csv::Error) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_row_across_files_with_their_locations() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "x;y\n1;a\n2;b\n3;c\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"x,y\n4,d\n5,e\n").unwrap();
        std::fs::write(dir.path().join("b.csv.gz"), gz.finish().unwrap()).unwrap();
        let mut s = TableStream::open(dir.path().to_str().unwrap(), None).unwrap();
        assert_eq!(s.headers(), ["x", "y"]);
        let a = s.next_chunk(2).unwrap().unwrap();
        assert_eq!(a.rows, [["1", "a"], ["2", "b"]]);
        assert!(a.location(1).ends_with("a.csv:3"), "{}", a.location(1));
        let b = s.next_chunk(2).unwrap().unwrap();
        assert_eq!(b.rows, [["3", "c"], ["4", "d"]]);
        assert!(b.location(1).ends_with("b.csv.gz:2"), "{}", b.location(1));
        assert_eq!(s.next_chunk(2).unwrap().unwrap().rows, [["5", "e"]]);
        assert!(s.next_chunk(2).unwrap().is_none());
        std::fs::write(dir.path().join("c.csv"), "x,y\n6,f\n7\n").unwrap();
        let mut s = TableStream::open(dir.path().to_str().unwrap(), None).unwrap();
        let e = s.next_chunk(100).unwrap_err().to_string();
        assert!(e.contains("c.csv:3") && e.contains("1 fields"), "{e}");
    }
}
