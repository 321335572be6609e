//! Segments of a table: runs of its rows that can be read on their own, so that the processes of
//! a distributed run each read only their own part of a streamed table, and so that a shuffled
//! epoch can draw from all over the table at once. A segment starts about every
//! [`segment_bytes`] bytes: at a record start within a plain CSV file, at a row group within a
//! Parquet file read column by column, or at the start of a file (of any kind); small files are
//! grouped into one segment, and a gzipped CSV file is never cut (nor a Parquet file read through
//! the row API). One pass over the whole table finds them ([`TableStream::mark_segments`]) and
//! counts each one's training rows ([`SegmentCounter`]); [`TableStream::open_segment`] then reads
//! one alone.
//!
//! [`TableStream::mark_segments`]: super::stream::TableStream::mark_segments
//! [`TableStream::open_segment`]: super::stream::TableStream::open_segment

use std::path::PathBuf;

use crate::error::{NeuronError, Result};

/// The number of segments a table is cut into, about.
pub const SEGMENTS: u64 = 64;
/// The smallest segment, in bytes.
pub const MIN_SEGMENT_BYTES: u64 = 1 << 18;

/// A run of a table's rows that can be read alone: from a record of one file to a place in the
/// same or a later file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Its first file: an index into the table's files in name order.
    pub file: usize,
    /// Where its first record starts in that file: byte offset and line (in a Parquet file, the
    /// row group's offset in compressed bytes after the first, and the row's number). `(0, 0)`
    /// is the start of the file, its header included.
    pub start: (u64, u64),
    /// Its last file (the first, or a later one; the files between are read whole).
    pub last_file: usize,
    /// The byte offset in the last file where the next segment starts; `None`: the file's end.
    pub end: Option<u64>,
    /// Its training rows (not held out, not bad).
    pub rows: usize,
}

/// A place where a segment starts, found while reading ([`TableStream::mark_segments`]).
///
/// [`TableStream::mark_segments`]: super::stream::TableStream::mark_segments
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The file's index among the table's files.
    pub file: usize,
    /// Byte offset and line of the segment's first record; `(0, 0)` at a file's start.
    pub start: (u64, u64),
    /// The rows the stream had read before this segment's first.
    pub row: u64,
}

/// The marks of one pass over a table whose files have `sizes` bytes: a segment starts at the
/// first row read once `every` bytes have gone by since the last mark, at the start of a file or
/// where a segment can start within one (a record of a plain CSV file, a row group of a Parquet
/// file).
#[derive(Clone, Debug)]
pub(super) struct Marks {
    every: u64,
    sizes: Vec<u64>,
    /// The file of the last row read, and where the last mark is in it (0 if before it).
    file: Option<usize>,
    mark_in_file: u64,
    /// Bytes of the files before `file` since the last mark.
    carried: u64,
    rows: u64,
    pub(super) found: Vec<Mark>,
}

impl Marks {
    pub(super) fn new(every: u64, sizes: Vec<u64>) -> Self {
        Marks {
            every: every.max(1),
            sizes,
            file: None,
            mark_in_file: 0,
            carried: 0,
            rows: 0,
            found: Vec::new(),
        }
    }

    /// The number of files of the table.
    pub(super) fn files(&self) -> usize {
        self.sizes.len()
    }

    /// A row was read from `file`; `at` is where a segment could start with it within the file
    /// (see [`Segment::start`]), if one can.
    pub(super) fn row_read(&mut self, file: usize, at: Option<(u64, u64)>) {
        let start = if self.file != Some(file) {
            // The first row of a file: the bytes of the files since the last mark go by.
            if let Some(f) = self.file {
                let between: u64 = self.sizes[f + 1..file].iter().sum();
                self.carried += self.sizes[f].saturating_sub(self.mark_in_file) + between;
            }
            self.file = Some(file);
            self.mark_in_file = 0;
            (self.found.is_empty() || self.carried >= self.every).then_some((0, 0))
        } else {
            at.filter(|&(byte, _)| self.carried + byte - self.mark_in_file >= self.every)
        };
        if let Some(start) = start {
            self.carried = 0;
            self.mark_in_file = start.0;
            self.found.push(Mark {
                file,
                start,
                row: self.rows,
            });
        }
        self.rows += 1;
    }
}

/// The bytes between segment starts in a table of `files`: its size over [`SEGMENTS`], and at
/// least [`MIN_SEGMENT_BYTES`]; and the size of each file.
pub(super) fn segment_bytes(files: &[PathBuf]) -> Result<(u64, Vec<u64>)> {
    let mut sizes = Vec::with_capacity(files.len());
    for f in files {
        sizes.push(
            std::fs::metadata(f)
                .map_err(|e| NeuronError::io(f, e))?
                .len(),
        );
    }
    let total: u64 = sizes.iter().sum();
    Ok(((total / SEGMENTS).max(MIN_SEGMENT_BYTES), sizes))
}

/// Counts the training rows of each segment while a pass reads the table: the pass reports each
/// row it reads ([`SegmentCounter::row`], with the marks found so far) and whether it trains on
/// it.
#[derive(Clone, Debug, Default)]
pub struct SegmentCounter {
    /// The training rows counted before each segment's first row.
    starts: Vec<u64>,
    trained: u64,
}

impl SegmentCounter {
    /// Table row `row` (counted from 0 over the whole pass) was read; `marks` are the marks
    /// found so far; `train` whether it is a training row.
    pub fn row(&mut self, row: u64, marks: &[Mark], train: bool) {
        while let Some(m) = marks.get(self.starts.len()) {
            if m.row > row {
                break;
            }
            self.starts.push(self.trained);
        }
        self.trained += u64::from(train);
    }

    /// The segments of a table of `files` files whose segments start at `marks`, with `bad`
    /// (sorted ordinals of training rows that turned out bad, to be skipped) taken from their
    /// counts.
    pub fn segments(&self, (marks, files): (&[Mark], usize), bad: &[u64]) -> Vec<Segment> {
        let mut out = Vec::with_capacity(self.starts.len());
        for (i, (m, &first)) in marks.iter().zip(&self.starts).enumerate() {
            let last = self.starts.get(i + 1).copied().unwrap_or(self.trained);
            let bad_here = bad.partition_point(|&b| b < last) - bad.partition_point(|&b| b < first);
            // It ends where the next begins: within a file, or at the end of the one before.
            let (last_file, end) = match marks.get(i + 1) {
                Some(n) if n.start.0 > 0 => (n.file, Some(n.start.0)),
                Some(n) => (n.file - 1, None),
                None => (files.max(m.file + 1) - 1, None),
            };
            out.push(Segment {
                file: m.file,
                start: m.start,
                last_file,
                end,
                rows: (last - first) as usize - bad_here,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_start_every_so_many_bytes_in_a_file_or_at_a_file() {
        // File 0 of 300 bytes, files 1 and 2 of 40, file 3 of 90.
        let mut m = Marks::new(100, vec![300, 40, 40, 90]);
        for (byte, line) in [(10, 2), (60, 3), (110, 4), (150, 5), (215, 6), (290, 7)] {
            m.row_read(0, Some((byte, line)));
        }
        // 85 bytes of file 0 after the last mark, then file 1: under 100.
        m.row_read(1, Some((5, 2)));
        // 125 bytes by file 2's start: a new segment.
        m.row_read(2, Some((5, 2)));
        m.row_read(2, Some((30, 3)));
        // A file without record places (gzip, Parquet) is cut only at its start.
        m.row_read(3, None);
        m.row_read(3, None);
        let got: Vec<_> = m.found.iter().map(|k| (k.file, k.start, k.row)).collect();
        assert_eq!(
            got,
            [
                (0, (0, 0), 0),
                (0, (110, 4), 2),
                (0, (215, 6), 4),
                (2, (0, 0), 7)
            ]
        );
    }

    #[test]
    fn segments_count_their_training_rows_less_the_bad_ones() {
        let mark = |file, start, row| Mark { file, start, row };
        let marks = [mark(0, (0, 0), 0), mark(0, (500, 7), 4), mark(2, (0, 0), 6)];
        let mut c = SegmentCounter::default();
        // Rows 2 and 7 are held out.
        for row in 0..10 {
            c.row(row, &marks, row != 2 && row != 7);
        }
        // Training ordinals: segment 0 has 0..3, segment 1 has 3..5, segment 2 has 5..8.
        let s = c.segments((&marks, 3), &[1, 6]);
        let got: Vec<_> = s
            .iter()
            .map(|s| (s.file, s.start, s.last_file, s.end, s.rows))
            .collect();
        let want = [
            (0, (0, 0), 0, Some(500), 2),
            (0, (500, 7), 1, None, 2),
            (2, (0, 0), 2, None, 2),
        ];
        assert_eq!(got, want);
    }
}
