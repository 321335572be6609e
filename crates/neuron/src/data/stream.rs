//! A table read in chunks of rows, with memory bounded by the chunk, not by the file: one CSV
//! (optionally gzipped) or Parquet file, or a directory or glob of them (see
//! [`crate::data::table`]), read file after file. Each chunk is a [`RawTable`] whose rows keep
//! their file and line for error messages.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use parquet::file::reader::SerializedFileReader;

use super::csv::{sniff_delimiter, RawTable};
use super::parquet::{guarded, MAGIC};
use super::parquet_rows::ParquetRows;
use super::records::RecordChunk;
use super::segments::{segment_bytes, Mark, Marks, Segment};
use super::stream_rows::{recoverable, Rows};
use super::table::table_files;
use crate::error::{NeuronError, Result};

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
    /// Whether the open file is plain CSV text (so its records can be found again by offset).
    plain: bool,
    /// Where segments start, when they are looked for (`mark_segments`).
    marks: Option<Marks>,
    /// One segment is read (`open_segment`): where it starts and ends.
    segment: Option<Segment>,
    /// The delimiter of the last CSV file opened.
    detected: Option<u8>,
    /// What to add to the lines the CSV reader counts: a segment's first file is read from its
    /// first record, not from the file's start.
    line_base: u64,
}

fn first_bytes(path: &Path, n: usize) -> Result<Vec<u8>> {
    let f = File::open(path).map_err(|e| NeuronError::io(path, e))?;
    let mut buf = Vec::with_capacity(n);
    f.take(n as u64)
        .read_to_end(&mut buf)
        .map_err(|e| NeuronError::io(path, e))?;
    Ok(buf)
}

/// The files of the table `src` in name order: those of a directory or glob, or `src` itself.
fn files_of(src: &str) -> Result<Vec<PathBuf>> {
    Ok(table_files(src)?.unwrap_or_else(|| vec![PathBuf::from(src)]))
}

/// An open file: its reader, its column names, whether it is plain CSV text, and its CSV
/// delimiter.
type Opened = (Reader, Vec<String>, bool, Option<u8>);

/// Opens one file: Parquet by its magic bytes, else CSV (gzip by its own). With `range` (a
/// segment's start offset and end) a plain CSV file is read from that record to that end, and a
/// Parquet file from that row group to that one.
fn open(path: &Path, delimiter: Option<u8>, range: Option<(u64, Option<u64>)>) -> Result<Opened> {
    let source = path.display().to_string();
    let head = first_bytes(path, SNIFF_BYTES)?;
    let mut file = File::open(path).map_err(|e| NeuronError::io(path, e))?;
    if head.starts_with(MAGIC) {
        let bad = |e: parquet::errors::ParquetError| {
            NeuronError::data(format!("{source}: not a readable Parquet file ({e})"))
        };
        let len = file.metadata().map_err(|e| NeuronError::io(path, e))?.len();
        return guarded(&source, || {
            let reader = SerializedFileReader::new(file).map_err(bad)?;
            super::parquet::check_layout(&reader, len, &source)?;
            let headers = super::parquet::flat_headers(&reader, &source)?;
            let mut rows = ParquetRows::new(Box::new(reader));
            if let Some((from, end)) = range.filter(|&(from, end)| from > 0 || end.is_some()) {
                rows = rows.within(from..end.unwrap_or(u64::MAX)).ok_or_else(|| {
                    NeuronError::data(format!(
                        "{source}: cannot be read from a row group (did the file change?)"
                    ))
                })?;
            }
            Ok((Reader::Parquet(rows), headers, false, None))
        });
    }
    let gz = super::csv::is_gzip(&head);
    let (from, end) = range.filter(|_| !gz).unwrap_or((0, None));
    let input: Box<dyn Read + Send> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        file.seek(SeekFrom::Start(from))
            .map_err(|e| NeuronError::io(path, e))?;
        let file = file.take(end.map_or(u64::MAX, |e| e.saturating_sub(from)));
        // A segment's buffer is smaller: a process may have dozens open.
        let capacity = if range.is_some() { 1 << 16 } else { 1 << 20 };
        Box::new(BufReader::with_capacity(capacity, file))
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
    let csv_reader = |input| {
        csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(from == 0)
            .flexible(false)
            .from_reader(input)
    };
    let mut r = csv_reader(input);
    // A segment's reader starts after the header: it is read from the file's first bytes.
    let mut first = (from > 0).then(|| csv_reader(Box::new(std::io::Cursor::new(head))));
    let headers = first
        .as_mut()
        .unwrap_or(&mut r)
        .headers()
        .map_err(|e| super::csv::csv_error(&source, e))?
        .iter()
        .map(|h| h.trim_ascii().to_string())
        .collect();
    Ok((Reader::Csv(r), headers, !gz, Some(delimiter)))
}

impl TableStream {
    /// Opens `src` (a file, a directory of tables, or a glob, its files read in name order),
    /// reading CSV with `delimiter` or the detected one.
    pub fn open(src: &str, delimiter: Option<u8>) -> Result<Self> {
        Self::with_files(src, files_of(src)?, delimiter, None)
    }

    /// A stream over `files` (of the table `src`), or over one segment of its only file.
    fn with_files(
        src: &str,
        files: Vec<PathBuf>,
        delimiter: Option<u8>,
        segment: Option<&Segment>,
    ) -> Result<Self> {
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
            plain: false,
            marks: None,
            segment: segment.cloned(),
            line_base: 0,
            detected: None,
        };
        s.next_reader()?;
        Ok(s)
    }

    /// Looks for the places where the table's [`Segment`]s start while it is read: call it
    /// before reading the first row, and read the table to its end; then [`TableStream::marks`]
    /// gives them.
    pub fn mark_segments(&mut self) -> Result<()> {
        let (every, sizes) = segment_bytes(&self.files)?;
        self.marks = Some(Marks::new(every, sizes));
        Ok(())
    }

    /// The segment starts found so far ([`TableStream::mark_segments`]), and the number of
    /// files of the table.
    pub fn marks(&self) -> (&[Mark], usize) {
        let found = self.marks.as_ref().map_or(&[][..], |m| &m.found[..]);
        (found, self.marks.as_ref().map_or(0, Marks::files))
    }

    /// Reads segment `seg` of `src` alone: from its first record to its end. `headers` are the
    /// table's column names, which its files must have.
    pub fn open_segment(
        src: &str,
        delimiter: Option<u8>,
        seg: &Segment,
        headers: &[String],
    ) -> Result<Self> {
        let files = files_of(src)?;
        let Some(files) = files.get(seg.file..=seg.last_file) else {
            return Err(NeuronError::data(format!(
                "{src}: it has {} files, not the {} it had when it was first read (did it change?)",
                files.len(),
                seg.last_file + 1
            )));
        };
        let s = Self::with_files(src, files.to_vec(), delimiter, Some(seg))?;
        if s.headers != headers {
            return Err(NeuronError::data(format!(
                "{}: its columns changed since the table was first read",
                files[0].display()
            )));
        }
        Ok(s)
    }

    /// The delimiter of the CSV files read so far (the last one's): the one given, or the one
    /// detected. `None` for Parquet.
    pub fn csv_delimiter(&self) -> Option<u8> {
        self.detected
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
        // A segment starts within its first file and ends within its last.
        let (first, last) = (self.next_file == 0, self.next_file + 1 == self.files.len());
        let start = match &self.segment {
            Some(g) if first => g.start,
            _ => (0, 0),
        };
        self.line_base = start.1.saturating_sub(1);
        let range = self
            .segment
            .as_ref()
            .map(|g| (start.0, g.end.filter(|_| last)));
        let (reader, headers, plain, delimiter) = open(&path, self.delimiter, range)?;
        self.detected = delimiter.or(self.detected);
        let name = path.display().to_string();
        self.plain = plain;
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
            // Where the next record starts (blank lines before it included).
            let mut at = None;
            let line = match reader {
                Reader::Csv(r) => {
                    let p = r.position();
                    at = (self.marks.is_some() && self.plain).then(|| (p.byte(), p.line()));
                    let read = t.read_csv(n, r, &mut self.record);
                    match read {
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
                    }
                }
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
                    if self.marks.is_some() {
                        at = rows.group_started().map(|o| (o, row));
                    }
                    t.parquet_done(n, &self.cells, &self.numbers);
                    line
                }
            };
            match line {
                Some(line) => {
                    if let Some(m) = &mut self.marks {
                        m.row_read(self.next_file - 1, at);
                    }
                    let line = line + self.line_base;
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
