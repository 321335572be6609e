//! Reading a streamed table on a thread of its own: the text is read, split, held out, and
//! encoded into network rows a few blocks ahead of training, so that parsing overlaps the
//! training steps instead of stopping them. One thread reads the rows in file order and hands
//! them over in blocks whose boundaries depend only on the files, so what training receives (and
//! so the trained model) is the same as reading on the training thread.

use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use crate::data::cache::encode_into;
use crate::data::csv::{Cells, RawTable};
use crate::data::holdout::Holdout;
use crate::data::preprocess::Preprocessor;
use crate::data::records::{RecordChunk, CHUNK_ROWS};
use crate::data::stream::TableStream;
use crate::error::{NeuronError, Result};
use crate::nn::loss::Loss;

/// Rows of the table in a block handed to training (fewer at its end, and the held-out rows
/// left out).
const BLOCK_ROWS: usize = 1 << 14;
/// Encoded blocks waiting for training, at most.
const AHEAD: usize = 2;

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

/// Encoded training rows, row-major.
#[derive(Default)]
pub(super) struct Block {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
}

/// The blocks of one pass over a table, read on their own thread.
pub(super) struct ReadAhead {
    blocks: Option<Receiver<Result<Block>>>,
    reader: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Starts reading `stream` (opened by the caller, so that opening errors come at once).
    pub fn start(stream: TableStream, feed: TextFeed) -> Result<Self> {
        let (tx, rx) = sync_channel(AHEAD);
        let reader = std::thread::Builder::new()
            .name("neuron-read".into())
            .spawn(move || {
                let mut read = Reader::new(stream, feed);
                loop {
                    let block = read.next_block();
                    let last = !matches!(block, Ok(Some(_)));
                    let sent = match block {
                        Ok(None) => return,
                        Ok(Some(b)) => tx.send(Ok(b)),
                        Err(e) => tx.send(Err(e)),
                    };
                    // Stop at the end, at an error, or when nobody reads any more.
                    if last || sent.is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| NeuronError::data(format!("cannot start the reading thread: {e}")))?;
        Ok(ReadAhead {
            blocks: Some(rx),
            reader: Some(reader),
        })
    }

    /// The next block; `None` once the table is read.
    pub fn next(&mut self) -> Result<Option<Block>> {
        let Some(rx) = &self.blocks else {
            return Ok(None);
        };
        match rx.recv() {
            Ok(block) => block.map(Some),
            Err(_) => {
                // The reader has finished: at the table's end, or by a panic.
                self.blocks = None;
                match self.reader.take().map(JoinHandle::join) {
                    Some(Err(_)) => Err(NeuronError::data("the thread reading the table failed")),
                    _ => Ok(None),
                }
            }
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Its next send fails, so the reader stops after the block it is reading.
        self.blocks = None;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// The reading thread's state.
struct Reader {
    stream: TableStream,
    feed: TextFeed,
    /// Rows as read, when bad rows are skipped (they are edited).
    chunk: RawTable,
    /// Rows as read, when not.
    records: RecordChunk,
}

impl Reader {
    fn new(mut stream: TableStream, feed: TextFeed) -> Self {
        // Parquet's number columns come as numbers, not text written to be parsed again.
        stream.numbers_for(feed.pre.numeric_inputs(stream.headers()));
        Reader {
            stream,
            feed,
            chunk: RawTable::default(),
            records: RecordChunk::default(),
        }
    }

    /// The next non-empty block of training rows (those among the next [`BLOCK_ROWS`] rows of
    /// the table); `None` at the table's end. The rows are read and encoded [`CHUNK_ROWS`] at a
    /// time, which gives the same block.
    fn next_block(&mut self) -> Result<Option<Block>> {
        let mut block = Block::default();
        let mut read = 0;
        loop {
            let want = CHUNK_ROWS.min(BLOCK_ROWS - read);
            let n = self.read_chunk(want, &mut block)?;
            read += n;
            if n < want || read == BLOCK_ROWS {
                if !block.y.is_empty() {
                    return Ok(Some(block));
                }
                if n < want {
                    return Ok(None);
                }
                read = 0;
            }
        }
    }

    /// Reads up to `rows` rows and appends the training rows among them to `block`; returns
    /// how many rows were read (fewer than `rows` only at the table's end).
    fn read_chunk(&mut self, rows: usize, block: &mut Block) -> Result<usize> {
        let f = &self.feed;
        if f.skip_bad {
            self.stream.next_chunk_into(&mut self.chunk, rows)?;
            let n = self.chunk.row_count();
            f.holdout.keep_training(&mut self.chunk);
            f.pre.drop_bad_rows(&mut self.chunk)?;
            encode(f, &self.chunk, block)?;
            Ok(n)
        } else {
            self.stream.next_records_into(&mut self.records, rows)?;
            let n = self.records.row_count();
            f.holdout.keep_training(&mut self.records);
            encode(f, &self.records, block)?;
            Ok(n)
        }
    }
}

/// Appends the encoded rows of `t`, if any, to the block.
fn encode(f: &TextFeed, t: &impl Cells, b: &mut Block) -> Result<()> {
    if t.row_count() > 0 {
        encode_into(&f.pre, t, f.spec, &mut b.x, &mut b.y)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scaling::Scaling;

    /// The blocks of an epoch are the training rows among each [`BLOCK_ROWS`] rows of the
    /// table, as when each block was read at once, though they are read [`CHUNK_ROWS`] at a time.
    #[test]
    fn blocks_are_the_training_rows_of_each_block_of_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut text = String::from("a,b,label\n");
        let rows = 2 * BLOCK_ROWS + 1234;
        for i in 0..rows {
            let label = ["no", "yes"][i % 3 % 2];
            text.push_str(&format!("{}.{},{},{label}\n", i % 97, i % 10, i % 13));
        }
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap();
        let mut s = TableStream::open(path, None).unwrap();
        let (pre, _) =
            Preprocessor::fit_stream(&mut s, None, None, Scaling::Standard, None).unwrap();
        let loss = Loss::CrossEntropy {
            label_smoothing: 0.0,
        };
        for skip_bad in [false, true] {
            let feed = TextFeed {
                pre: pre.clone(),
                holdout: Holdout::new(5, 0.2, 0.1).unwrap(),
                skip_bad,
                spec: (loss, 2, 1),
            };
            let stream = TableStream::open(path, None).unwrap();
            let mut ahead = ReadAhead::start(stream, feed.clone()).unwrap();
            let mut s = TableStream::open(path, None).unwrap();
            let mut records = RecordChunk::default();
            let mut blocks = 0;
            while s.next_records_into(&mut records, BLOCK_ROWS).unwrap() {
                let read = records.row_count();
                let kept = read - feed.holdout.keep_training(&mut records);
                let mut want = Block::default();
                encode(&feed, &records, &mut want).unwrap();
                let got = ahead.next().unwrap().unwrap();
                assert!(kept > 0 && kept < read);
                assert_eq!(got.y.len(), kept);
                assert_eq!((got.x, got.y), (want.x, want.y), "block {blocks}");
                blocks += 1;
            }
            assert_eq!(blocks, 3);
            assert!(ahead.next().unwrap().is_none());
        }
    }
}
