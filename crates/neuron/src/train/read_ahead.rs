//! Reading a streamed table on a thread of its own, ahead of training, so that parsing overlaps
//! the training steps instead of stopping them. Training asks for chunks of its segments (see
//! [`super::stream_text`]) and the thread reads them, in the order asked: each segment in file
//! order, its held-out rows left out, encoded. Which rows training draws does not depend on when
//! the chunks arrive, only on the rows they hold.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::thread::JoinHandle;

use crate::data::cache::encode_into;
use crate::data::csv::Cells;
use crate::data::holdout::Holdout;
use crate::data::preprocess::Preprocessor;
use crate::data::records::{RecordChunk, CHUNK_ROWS};
use crate::data::segments::Segment;
use crate::data::stream::TableStream;
use crate::error::{NeuronError, Result};
use crate::nn::loss::Loss;

/// How the text of a table becomes training rows.
#[derive(Clone, Debug)]
pub(super) struct TextFeed {
    /// The fitted encoding.
    pub pre: Preprocessor,
    /// The rows not trained on.
    pub holdout: Holdout,
    /// Skip malformed records and rows `pre` cannot encode instead of failing.
    pub skip_bad: bool,
    /// The loss, the network's outputs and the target columns.
    pub spec: (Loss, usize, usize),
}

/// The segments a worker reads.
pub(super) struct Segments {
    /// The table, its CSV delimiter (if given), and the one detected in its first file.
    pub src: (String, Option<u8>, Option<u8>),
    /// The table's column names.
    pub headers: Vec<String>,
    /// The worker's segments.
    pub segments: Vec<Segment>,
}

/// Encoded training rows of one segment, row-major, read at once; or the news that the segment
/// has no more.
pub(super) struct Chunk {
    /// The segment: its index among the worker's.
    pub seg: usize,
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    /// The segment is read to its end (and the chunk is empty).
    pub end: bool,
}

/// A thread reading chunks of segments when asked.
pub(super) struct ReadAhead {
    asks: Option<Sender<usize>>,
    chunks: Receiver<Result<Chunk>>,
    reader: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts a thread that reads `segs` as `feed` says; it can hold `ahead` chunks read and not
    /// yet received.
    pub fn start(segs: Segments, feed: TextFeed, ahead: usize) -> Result<Self> {
        let (tx, rx) = sync_channel(ahead.max(1));
        let (ask, asked) = channel();
        let reader = std::thread::Builder::new()
            .name("neuron-read".into())
            .spawn(move || {
                let mut read = Reader::new(segs, feed);
                // It stops when asked for nothing more or nobody receives any more.
                while let Ok(k) = asked.recv() {
                    let chunk = read.read(k);
                    let failed = chunk.is_err();
                    if tx.send(chunk).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| NeuronError::data(format!("cannot start the reading thread: {e}")))?;
        Ok(ReadAhead {
            asks: Some(ask),
            chunks: rx,
            reader: Some(reader),
        })
    }

    /// Asks for the next chunk of segment `k`.
    pub fn ask(&self, k: usize) -> Result<()> {
        match &self.asks {
            Some(a) if a.send(k).is_ok() => Ok(()),
            _ => Err(self.failed()),
        }
    }

    /// The next chunk read (of whichever segment).
    pub fn next(&mut self) -> Result<Chunk> {
        match self.chunks.recv() {
            Ok(chunk) => chunk,
            Err(_) => Err(self.failed()),
        }
    }

    fn failed(&self) -> NeuronError {
        NeuronError::data("the thread reading the table stopped")
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // With nothing more asked and nobody receiving, the thread stops after its chunk.
        self.asks = None;
        drop(std::mem::replace(&mut self.chunks, channel().1));
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// The reading thread's state.
struct Reader {
    segs: Segments,
    feed: TextFeed,
    /// The worker's segments, opened when first asked for, closed at their end.
    open: Vec<Option<TableStream>>,
    /// Which are read to their end.
    done: Vec<bool>,
    /// The records of the chunk being read, of whichever segment: one set, so that they stay
    /// in the core's cache.
    records: RecordChunk,
}

impl Reader {
    fn new(segs: Segments, feed: TextFeed) -> Self {
        Reader {
            open: segs.segments.iter().map(|_| None).collect(),
            done: vec![false; segs.segments.len()],
            records: RecordChunk::default(),
            segs,
            feed,
        }
    }

    /// The next chunk of segment `k`, opening it first if need be.
    fn read(&mut self, k: usize) -> Result<Chunk> {
        let f = &self.feed;
        let (xc, yc) = (f.pre.input_width(), f.spec.2);
        let mut chunk = Chunk {
            seg: k,
            x: Vec::with_capacity(CHUNK_ROWS * xc),
            y: Vec::with_capacity(CHUNK_ROWS * yc),
            end: false,
        };
        if self.open[k].is_none() && !self.done[k] {
            self.open[k] = Some(open_segment(&self.segs, k, f)?);
        }
        let t = &mut self.records;
        let more = match self.open[k].as_mut() {
            Some(stream) => stream.next_records_into(t, CHUNK_ROWS)?,
            None => false,
        };
        if !more {
            (self.open[k], self.done[k]) = (None, true);
            chunk.end = true;
            return Ok(chunk);
        }
        f.holdout.keep_training(t);
        if f.skip_bad {
            f.pre.drop_bad_rows(t)?;
        }
        if t.row_count() > 0 {
            encode_into(&f.pre, t, f.spec, &mut chunk.x, &mut chunk.y)?;
        }
        Ok(chunk)
    }
}

/// Opens segment `k` of `segs`, to be read as `feed` says.
fn open_segment(segs: &Segments, k: usize, feed: &TextFeed) -> Result<TableStream> {
    let (src, given, detected) = &segs.src;
    let seg = &segs.segments[k];
    // The first file's delimiter saves detecting it again; a file with another is detected.
    let open = |d| TableStream::open_segment(src, d, seg, &segs.headers);
    let stream = match (given, open(given.or(*detected))) {
        (None, Err(_)) => open(None),
        (_, opened) => opened,
    };
    let mut stream = stream?.skipping_malformed(feed.skip_bad);
    if !feed.skip_bad {
        // Parquet's number columns come as numbers, not text written to be parsed again.
        stream.numbers_for(feed.pre.numeric_inputs(stream.headers()));
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::holdout::HeldRows;
    use crate::data::preprocess::{ColumnRules, StreamFit};
    use crate::data::scaling::Scaling;

    /// The chunks of each segment, read to its end, are the table's training rows in file order,
    /// as many as the segment counted.
    #[test]
    fn segments_read_to_their_end_are_the_training_rows_in_file_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut text = String::from("a,b,label\n");
        for i in 0..60_000 {
            let label = ["no", "yes"][i % 3 % 2];
            text.push_str(&format!("{}.{},{},{label}\n", i % 9973, i % 10, i));
        }
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap();
        let holdout = Holdout::new(5, 0.2, 0.1).unwrap();
        let opts = StreamFit {
            target: None,
            task: None,
            scaling: Scaling::None,
            impute: None,
            skip_bad_rows: false,
            rules: ColumnRules::default(),
        };
        let mut s = TableStream::open(path, None).unwrap();
        let f = Preprocessor::fit_stream_with(&mut s, &opts, &holdout, &mut HeldRows::default())
            .unwrap();
        assert!(f.segments.len() >= 3, "{:?}", f.segments);
        let feed = TextFeed {
            pre: f.pre.clone(),
            holdout,
            skip_bad: false,
            spec: (Loss::cross_entropy(), 2, 1),
        };
        let segs = Segments {
            src: (path.to_string(), None, s.csv_delimiter()),
            headers: s.headers().to_vec(),
            segments: f.segments.clone(),
        };
        let mut ahead = ReadAhead::start(segs, feed, 2).unwrap();
        // The second feature is the row's number.
        let mut b: Vec<f32> = Vec::new();
        for (k, seg) in f.segments.iter().enumerate() {
            let before = b.len();
            loop {
                ahead.ask(k).unwrap();
                let c = ahead.next().unwrap();
                assert_eq!(c.seg, k);
                if c.end {
                    break;
                }
                b.extend(c.x.chunks(2).map(|r| r[1]));
            }
            assert_eq!(b.len() - before, seg.rows, "segment {k}");
        }
        assert_eq!(b.len(), f.rows);
        assert!(b.windows(2).all(|w| w[0] < w[1]));
    }
}
