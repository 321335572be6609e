//! Reading CSV files (optionally gzip-compressed) into a table of strings, with line numbers kept
//! for error messages. Typing and encoding of the columns is done by [`crate::data::preprocess`].

use std::io::Read;
use std::path::Path;

use crate::error::{NeuronError, Result};

/// A table as read (a CSV or Parquet file, or several as one): a header row and records of
/// equal length, as text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawTable {
    /// Where it came from (a path, or a built-in's name), for messages.
    pub source: String,
    /// Column names from the header row.
    pub headers: Vec<String>,
    /// The records, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
    /// The 1-based line number of each record in its file (for Parquet, its row number).
    pub lines: Vec<u64>,
    /// For a table read from several files: their paths, in order (empty for one file).
    pub files: Vec<String>,
    /// For a table read from several files: each record's file, an index into `files`.
    pub file_of: Vec<u32>,
}

impl RawTable {
    /// Where record `r` came from: `file:line`.
    pub fn location(&self, r: usize) -> String {
        Cells::location(self, r)
    }

    /// The records at `idx`, in that order, with their locations.
    pub fn subset(&self, idx: &[usize]) -> RawTable {
        RawTable {
            source: self.source.clone(),
            headers: self.headers.clone(),
            rows: idx.iter().map(|&i| self.rows[i].clone()).collect(),
            lines: idx.iter().map(|&i| self.lines[i]).collect(),
            files: self.files.clone(),
            file_of: if self.file_of.is_empty() {
                Vec::new()
            } else {
                idx.iter().map(|&i| self.file_of[i]).collect()
            },
        }
    }

    /// Moves the records whose `take` entry is true (records past its end stay) into a table of
    /// their own, with their locations: `(the others, the taken)`, each in the records' order.
    /// No cell is copied, so splitting a large table needs no second copy of its text.
    pub fn split_rows(self, take: &[bool]) -> (RawTable, RawTable) {
        let mut kept = RawTable {
            source: self.source,
            headers: self.headers,
            files: self.files,
            ..Default::default()
        };
        let mut taken = kept.clone();
        let (lines, file_of) = (self.lines, self.file_of);
        for (i, row) in self.rows.into_iter().enumerate() {
            let dst = match take.get(i) {
                Some(true) => &mut taken,
                _ => &mut kept,
            };
            dst.rows.push(row);
            dst.lines.push(lines.get(i).copied().unwrap_or(0));
            if let Some(&f) = file_of.get(i) {
                dst.file_of.push(f);
            }
        }
        (kept, taken)
    }

    /// Keeps the records whose `keep` entry is true (records past its end are kept), with
    /// their locations, in place.
    pub fn retain_rows(&mut self, keep: &[bool]) {
        let mut k = keep.iter();
        self.rows.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        self.lines.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        self.file_of.retain(|_| *k.next().unwrap_or(&true));
    }

    /// Index of the column named `name`, or with 0-based index `name` when it is a number.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        if let Some(i) = self.headers.iter().position(|h| h == name) {
            return Ok(i);
        }
        if let Ok(i) = name.parse::<usize>() {
            if i < self.headers.len() {
                return Ok(i);
            }
        }
        Err(NeuronError::data(format!(
            "{}: no column '{name}' (columns: {})",
            self.source,
            self.headers.join(", ")
        )))
    }
}

/// Rows of text cells with their places in their files: a [`RawTable`], or a
/// [`crate::data::records::RecordChunk`] read straight from a CSV file. The preprocessing reads
/// either.
pub trait Cells {
    /// Where the rows came from (a path, or a built-in's name), for messages.
    fn source(&self) -> &str;
    /// Column names.
    fn headers(&self) -> &[String];
    /// The number of rows.
    fn row_count(&self) -> usize;
    /// The cell of row `r` in column `c`, without surrounding whitespace.
    fn cell(&self, r: usize, c: usize) -> &str;
    /// The cell's value when it was read as a number rather than text (Parquet columns a
    /// reader asked for as numbers; their [`Cells::cell`] is then empty). `None` otherwise.
    fn number(&self, _r: usize, _c: usize) -> Option<f64> {
        None
    }
    /// Row `r`'s cells in column order, each as [`Cells::cell`] gives it (a short row ends
    /// early), when every cell of the table is text (no [`Cells::number`]); `None` otherwise.
    /// Reading a row's cells in order is faster than asking for them one by one; a table that
    /// does not offer it (the default) is read cell by cell.
    fn row(&self, _r: usize) -> Option<impl Iterator<Item = &str>> {
        None::<std::iter::Empty<&str>>
    }
    /// Row `r`'s file (the source for a table from one file) and line (for Parquet, its row).
    fn place(&self, r: usize) -> (&str, u64);
    /// Keeps the rows whose `keep` entry is true (rows past its end are kept), in place.
    fn retain_rows(&mut self, keep: &[bool]);
    /// Where row `r` came from: `file:line`.
    fn location(&self, r: usize) -> String {
        let (file, line) = self.place(r);
        format!("{file}:{line}")
    }
}

impl Cells for RawTable {
    fn source(&self) -> &str {
        &self.source
    }
    fn headers(&self) -> &[String] {
        &self.headers
    }
    fn row_count(&self) -> usize {
        self.rows.len()
    }
    fn cell(&self, r: usize, c: usize) -> &str {
        &self.rows[r][c]
    }
    fn row(&self, r: usize) -> Option<impl Iterator<Item = &str>> {
        Some(self.rows[r].iter().map(String::as_str))
    }
    fn place(&self, r: usize) -> (&str, u64) {
        let places = (&self.files[..], &self.file_of[..], &self.lines[..]);
        place_in(places, &self.source, r)
    }
    fn retain_rows(&mut self, keep: &[bool]) {
        RawTable::retain_rows(self, keep);
    }
}

/// Row `r`'s file and line in a table's places (its files, each row's file, each row's line);
/// `source` when the row names no file.
pub(crate) fn place_in<'a>(
    (files, file_of, lines): (&'a [String], &[u32], &[u64]),
    source: &'a str,
    r: usize,
) -> (&'a str, u64) {
    let file = file_of
        .get(r)
        .and_then(|&f| files.get(f as usize))
        .map_or(source, String::as_str);
    (file, lines.get(r).copied().unwrap_or(0))
}

/// Records that the next row of a table came from `file` at `line` (`new_file` when that file's
/// name is not the last in `files`).
pub(crate) fn push_place(
    (files, file_of, lines): (&mut Vec<String>, &mut Vec<u32>, &mut Vec<u64>),
    file: &str,
    line: u64,
    new_file: bool,
) {
    if new_file {
        files.push(file.to_string());
    }
    file_of.push(files.len() as u32 - 1);
    lines.push(line);
}

/// Whether `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses `bytes` when they are gzip, else returns them unchanged.
pub fn maybe_gunzip(bytes: Vec<u8>, source: &str) -> Result<Vec<u8>> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| NeuronError::data(format!("{source}: corrupt gzip data: {e}")))?;
    Ok(out)
}

/// The delimiters recognised without being told, in order of preference: comma, semicolon (the
/// usual one where the decimal separator is a comma), tab and pipe.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Reads a CSV file, gzip-compressed or not (detected from its content), its delimiter detected.
pub fn read_csv_path(path: impl AsRef<Path>) -> Result<RawTable> {
    read_csv_path_with(path, None)
}

/// Reads a CSV file with the given delimiter, or the detected one when `None`.
pub fn read_csv_path_with(path: impl AsRef<Path>, delimiter: Option<u8>) -> Result<RawTable> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| NeuronError::io(path, e))?;
    read_csv_bytes_with(bytes, &path.display().to_string(), delimiter)
}

/// Parses CSV from memory, gzip-compressed or not, its delimiter detected.
pub fn read_csv_bytes(bytes: Vec<u8>, source: &str) -> Result<RawTable> {
    read_csv_bytes_with(bytes, source, None)
}

/// The delimiter of the CSV text `bytes`: of [`DELIMITERS`], the one that splits the header and
/// the first rows into the same number of fields, the most fields winning (comma when none does).
/// As Python's `csv.Sniffer` and pandas' `sep=None` do, from a sample of the file.
pub fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let mut sample = &bytes[..bytes.len().min(1 << 16)];
    if sample.len() < bytes.len() {
        // Whole lines only.
        let end = sample
            .iter()
            .rposition(|&b| b == b'\n')
            .unwrap_or(sample.len());
        sample = &sample[..end];
    }
    let mut best = (b',', 1);
    for d in DELIMITERS {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(d)
            .from_reader(sample);
        let counts: Vec<usize> = r
            .records()
            .take(100)
            .map_while(|x| x.ok())
            .filter(|x| !(x.len() == 1 && x[0].trim().is_empty()))
            .map(|x| x.len())
            .collect();
        if let Some(&k) = counts.first() {
            if k > best.1 && counts.iter().all(|&c| c == k) {
                best = (d, k);
            }
        }
    }
    best.0
}

/// Parses CSV from memory, gzip-compressed or not, with the given delimiter or the detected one.
pub fn read_csv_bytes_with(
    bytes: Vec<u8>,
    source: &str,
    delimiter: Option<u8>,
) -> Result<RawTable> {
    let bytes = maybe_gunzip(bytes, source)?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(NeuronError::data(format!("{source}: the file is empty")));
    }
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(&bytes));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(&bytes[..]);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(source, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| csv_error(source, e))?;
        if rec.len() == 1 && rec[0].is_empty() {
            continue;
        }
        lines.push(rec.position().map_or(0, |p| p.line()));
        rows.push(rec.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err(NeuronError::data(format!(
            "{source}: no data rows after the header"
        )));
    }
    Ok(RawTable {
        source: source.to_string(),
        headers,
        rows,
        lines,
        ..Default::default()
    })
}

pub(crate) fn csv_error(source: &str, e: csv::Error) -> NeuronError {
    let line = e.position().map(|p| p.line());
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("row has {len} fields, expected {expected_len} like the header"),
        csv::ErrorKind::Utf8 { .. } => "text is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    match line {
        Some(l) => NeuronError::data(format!("{source}:{l}: {msg}")),
        None => NeuronError::data(format!("{source}: {msg}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splitting moves each record, with its place, to one side or the other, in order; records
    /// past the end of `take` stay.
    #[test]
    fn split_rows_moves_records_with_their_places() {
        let t = RawTable {
            source: "dir".into(),
            headers: vec!["a".into()],
            rows: (0..5).map(|i| vec![i.to_string()]).collect(),
            lines: vec![2, 3, 4, 2, 3],
            files: vec!["x.csv".into(), "y.csv".into()],
            file_of: vec![0, 0, 0, 1, 1],
        };
        let (kept, taken) = t.clone().split_rows(&[false, true, false, true]);
        assert_eq!(kept.rows, [["0"], ["2"], ["4"]]);
        assert_eq!(taken.rows, [["1"], ["3"]]);
        assert_eq!(
            (kept.location(2), taken.location(0), taken.location(1)),
            ("y.csv:3".into(), "x.csv:3".into(), "y.csv:2".into())
        );
        assert_eq!((&kept.headers, &taken.source), (&t.headers, &t.source));
        assert_eq!(kept, t.subset(&[0, 2, 4]));
        assert_eq!(taken, t.subset(&[1, 3]));
    }

    #[test]
    fn reads_plain_and_gzip_and_reports_ragged_rows() {
        let t = read_csv_bytes(b"a,b\n1,2\n3,x\n".to_vec(), "t.csv").unwrap();
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(t.rows[1], ["3", "x"]);
        assert_eq!(t.lines, [2, 3]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"a,b\n1,2\n").unwrap();
        let t = read_csv_bytes(gz.finish().unwrap(), "t.csv.gz").unwrap();
        assert_eq!(t.rows, vec![vec!["1".to_string(), "2".to_string()]]);
        let e = read_csv_bytes(b"a,b\n1,2\n3\n".to_vec(), "r.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("r.csv:3") && e.contains("1 fields"), "{e}");
        assert!(read_csv_bytes(b"".to_vec(), "e.csv")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(read_csv_bytes(b"a,b\n".to_vec(), "h.csv")
            .unwrap_err()
            .to_string()
            .contains("no data"));
    }

    #[test]
    fn the_delimiter_is_detected_or_forced() {
        let semi = b"a;b;label\n1,5;2;x\n3,25;4;y\n".to_vec();
        let t = read_csv_bytes(semi.clone(), "s.csv").unwrap();
        assert_eq!(t.headers, ["a", "b", "label"]);
        assert_eq!(t.rows[0], ["1,5", "2", "x"]);
        let t = read_csv_bytes(b"a\tb\n1\t2\n".to_vec(), "t.tsv").unwrap();
        assert_eq!(t.headers, ["a", "b"]);
        let t = read_csv_bytes(b"a|b|c\n1|2|3\n".to_vec(), "p.csv").unwrap();
        assert_eq!(t.rows[0], ["1", "2", "3"]);
        // Quoted commas and semicolons inside fields do not mislead it.
        let t = read_csv_bytes(b"a,b\n\"x;y\",2\n\"1;2\",3\n".to_vec(), "q.csv").unwrap();
        assert_eq!(t.rows[0], ["x;y", "2"]);
        assert!(read_csv_bytes_with(semi, "s.csv", Some(b',')).is_err());
        let t = read_csv_bytes_with(b"a;b\n1;2\n".to_vec(), "s.csv", Some(b',')).unwrap();
        assert_eq!(t.headers, ["a;b"]);
        assert_eq!(sniff_delimiter(b"just one column\n1\n"), b',');
    }
}
