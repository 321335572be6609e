//! A chunk of CSV records kept as the CSV reader produced them (each record one buffer of its
//! fields), with their places: the fast way from text to network rows, since no cell is copied
//! into a string of its own. A [`RawTable`](super::csv::RawTable) holds the same rows as owned
//! strings, for the passes that keep or edit them.

use super::csv::{place_in, push_place, Cells};

/// Rows to read into a chunk at a time where each chunk is used as soon as it is read (the
/// statistics pass, encoding into network rows): few enough that the chunk's records, about
/// half a megabyte for rows of 200 bytes, are still in the core's cache when they are used.
/// Against chunks of 16,384 rows, an epoch's reading and encoding took 8–9 % less time
/// (BENCHMARKS.md, "Chunks that stay in the cache").
pub const CHUNK_ROWS: usize = 1 << 10;

/// CSV records and where each came from; the records' memory is reused chunk after chunk.
#[derive(Clone, Debug, Default)]
pub struct RecordChunk {
    /// Where the rows came from (a path, or a directory or glob of shards), for messages.
    pub source: String,
    /// Column names from the header row.
    pub headers: Vec<String>,
    /// The records; only the first `len` are rows of this chunk (the rest are kept for reuse).
    pub(crate) records: Vec<csv::StringRecord>,
    /// The number of rows.
    pub(crate) len: usize,
    /// The 1-based line of each record in its file (for Parquet, its row number).
    pub(crate) lines: Vec<u64>,
    /// The files the rows came from, in order.
    pub(crate) files: Vec<String>,
    /// Each row's file, an index into `files`.
    pub(crate) file_of: Vec<u32>,
    /// Numbers read as numbers (Parquet columns, `TableStream::numbers_for`), one per column and
    /// row, row after row; empty while no row has any.
    pub(crate) numbers: Vec<Option<f64>>,
}

impl RecordChunk {
    /// Empties the chunk, keeping its records' memory.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.lines.clear();
        self.files.clear();
        self.file_of.clear();
    }

    /// Sets the numbers of the row to fill next ([`RecordChunk::slot`]): `numbers` for its first
    /// columns, none for the others.
    pub(crate) fn set_numbers(&mut self, numbers: &[Option<f64>]) {
        if self.numbers.is_empty() && numbers.iter().all(Option::is_none) {
            return;
        }
        let w = self.headers.len();
        let row = self.len * w..(self.len + 1) * w;
        if self.numbers.len() < row.end {
            self.numbers.resize(row.end, None);
        }
        let row = &mut self.numbers[row];
        row.fill(None);
        for (dst, src) in row.iter_mut().zip(numbers) {
            *dst = *src;
        }
    }

    /// The record to fill next, made the chunk's last row by [`RecordChunk::commit`].
    pub(crate) fn slot(&mut self) -> &mut csv::StringRecord {
        if self.len == self.records.len() {
            self.records.push(csv::StringRecord::new());
        }
        &mut self.records[self.len]
    }

    /// Makes the filled slot a row, read from `file` at `line`; `new_file` when it is the first
    /// row of that file in this chunk.
    pub(crate) fn commit(&mut self, file: &str, line: u64, new_file: bool) {
        let new_file = new_file || self.files.is_empty();
        let places = (&mut self.files, &mut self.file_of, &mut self.lines);
        push_place(places, file, line, new_file);
        self.len += 1;
    }
}

impl Cells for RecordChunk {
    fn source(&self) -> &str {
        &self.source
    }
    fn headers(&self) -> &[String] {
        &self.headers
    }
    #[inline]
    fn row_count(&self) -> usize {
        self.len
    }
    #[inline]
    fn cell(&self, r: usize, c: usize) -> &str {
        self.records[r].get(c).unwrap_or("").trim_ascii()
    }
    #[inline]
    fn row(&self, r: usize) -> Option<impl Iterator<Item = &str>> {
        let cells = self.records[r].iter().map(str::trim_ascii);
        self.numbers.is_empty().then_some(cells)
    }
    #[inline]
    fn number(&self, r: usize, c: usize) -> Option<f64> {
        let w = self.headers.len();
        if self.numbers.is_empty() || c >= w {
            return None;
        }
        self.numbers.get(r * w + c).copied().flatten()
    }
    fn place(&self, r: usize) -> (&str, u64) {
        let places = (&self.files[..], &self.file_of[..], &self.lines[..]);
        place_in(places, &self.source, r)
    }
    fn retain_rows(&mut self, keep: &[bool]) {
        let mut kept = 0;
        for r in 0..self.len {
            if keep.get(r).copied().unwrap_or(true) {
                // Swapping keeps every record's buffer for reuse.
                self.records.swap(kept, r);
                let w = self.headers.len();
                if !self.numbers.is_empty() {
                    self.numbers.copy_within(r * w..(r + 1) * w, kept * w);
                }
                self.lines[kept] = self.lines[r];
                self.file_of[kept] = self.file_of[r];
                kept += 1;
            }
        }
        self.len = kept;
        self.lines.truncate(kept);
        self.file_of.truncate(kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_kept_with_their_places_and_their_memory() {
        let mut t = RecordChunk {
            source: "dir".into(),
            headers: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        for (i, file) in ["x.csv", "x.csv", "y.csv"].iter().enumerate() {
            let rec = t.slot();
            rec.clear();
            rec.push_field(&format!(" {i} "));
            rec.push_field("v");
            t.commit(file, i as u64 + 2, i == 2);
        }
        assert_eq!((t.row_count(), t.cell(1, 0), t.cell(2, 1)), (3, "1", "v"));
        assert_eq!(t.location(2), "y.csv:4");
        t.retain_rows(&[false, true]);
        assert_eq!((t.row_count(), t.cell(0, 0), t.cell(1, 0)), (2, "1", "2"));
        assert_eq!(
            (t.location(0), t.location(1)),
            ("x.csv:3".into(), "y.csv:4".into())
        );
        t.clear();
        assert_eq!((t.row_count(), t.records.len()), (0, 3));
    }
}
