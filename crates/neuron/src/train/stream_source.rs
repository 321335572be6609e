//! A [`BatchSource`] that reads its table from disk while training goes on, so the table may be
//! larger than memory: rows are read in chunks ([`TableStream`]: a CSV or Parquet file, or
//! shards), encoded by a fitted [`Preprocessor`], and held in a shuffle buffer of a bounded
//! number of rows from which each batch draws at random (seeded). Without shuffling, rows come in
//! file order, exactly as an in-memory [`super::DatasetSource`] that does not shuffle gives them.
//! Batches must be asked for in order (positions `0..b`, `b..2b`, ...), as the training loop does.
//!
//! Shuffling works at two levels: each epoch reads the files of a sharded table (or the blocks
//! of a [`RowCache`]) in a new seeded order, and the buffer mixes the rows. A source made
//! [`StreamSource::from_cache`] reads encoded rows from the cache instead of parsing text.
//!
//! Several workers (processes under MPI) each stream the whole table in the same seeded order
//! and train on their [`worker_share`] of every batch ([`StreamSource::shard`]): together they
//! train the model one worker would. The reading is repeated by each; the training is divided.

use std::ops::Range;

use super::read_ahead::{ReadAhead, TextFeed};
use super::source::{check_worker, worker_share, BatchSource};
use crate::backend::Backend;
use crate::data::cache::{target_cols, CacheReader, RowCache};
use crate::data::csv::RawTable;
use crate::data::holdout::Holdout;
use crate::data::preprocess::Preprocessor;
use crate::data::stream::TableStream;
use crate::error::{NeuronError, Result};
use crate::nn::loss::Loss;
use crate::rng::Rng;

/// Rows read at a time by the counting pass.
const READ_ROWS: usize = 1 << 14;

/// The shuffle buffer: encoded rows, row-major; `head` rows at the front are already used (in
/// file order, without shuffling).
#[derive(Default)]
struct Pool {
    x: Vec<f32>,
    y: Vec<f32>,
    head: usize,
}

/// Where the rows come from.
enum Feed {
    /// The table's text (or Parquet), encoded as it is read, on a thread of its own.
    Text {
        src: String,
        delimiter: Option<u8>,
        feed: Box<TextFeed>,
        ahead: Option<ReadAhead>,
    },
    /// A cache of the encoded rows.
    Cache(Box<CacheReader>),
}

/// A table streamed from disk (see the module documentation).
pub struct StreamSource {
    feed: Feed,
    cols: (usize, usize),
    rows: usize,
    buffer: usize,
    begun: bool,
    name: String,
    pool: Pool,
    rng: Rng,
    shuffle: bool,
    next: usize,
    stage: (Vec<f32>, Vec<f32>),
    /// This worker and the number of workers.
    worker: (usize, usize),
}

impl StreamSource {
    /// A source over `src` (a file, a directory of tables, or a glob; CSV read with `delimiter`
    /// or the detected one), encoded by `pre` for a network of `outputs` outputs trained with
    /// `loss`, shuffling through a buffer of `buffer` rows. Counts the rows with one pass.
    pub fn new(
        src: &str,
        delimiter: Option<u8>,
        pre: Preprocessor,
        loss: Loss,
        outputs: usize,
        buffer: usize,
    ) -> Result<Self> {
        let mut stream = TableStream::open(src, delimiter)?;
        let mut chunk = RawTable::default();
        let mut rows = 0;
        while stream.next_chunk_into(&mut chunk, READ_ROWS)? {
            rows += chunk.rows.len();
        }
        Self::with_rows(src, delimiter, pre, (loss, outputs), buffer, rows)
    }

    /// [`StreamSource::new`] for a table known to hold `rows` rows (counted by
    /// [`Preprocessor::fit_stream`]), without the counting pass.
    pub fn with_rows(
        src: &str,
        delimiter: Option<u8>,
        pre: Preprocessor,
        (loss, outputs): (Loss, usize),
        buffer: usize,
        rows: usize,
    ) -> Result<Self> {
        let cols = (pre.input_width(), target_cols(&pre, loss, outputs));
        let feed = Feed::Text {
            src: src.to_string(),
            delimiter,
            feed: Box::new(TextFeed {
                pre,
                holdout: Holdout::none(),
                skip_bad: false,
                spec: (loss, outputs, cols.1),
            }),
            ahead: None,
        };
        Ok(StreamSource {
            cols,
            name: src.to_string(),
            ..Self::empty(feed, buffer, rows)
        })
    }

    /// Trains only on the rows that `holdout` does not hold out (for a source over a table's
    /// text; a cache holds training rows only). `rows` must then count those.
    pub fn holding_out(mut self, holdout: Holdout) -> Self {
        if let Feed::Text { feed, .. } = &mut self.feed {
            feed.holdout = holdout;
        }
        self
    }

    /// Skips malformed records and rows that `pre` cannot encode (as
    /// [`Preprocessor::fit_stream_with`] with `skip_bad_rows` counted them) instead of failing.
    pub fn skipping_bad_rows(mut self, skip: bool) -> Self {
        if let Feed::Text { feed, .. } = &mut self.feed {
            feed.skip_bad = skip;
        }
        self
    }

    /// A source over the rows of `cache` (made for a network of `outputs` outputs trained with
    /// `loss`), shuffling through a buffer of `buffer` rows.
    pub fn from_cache(
        cache: &RowCache,
        (loss, outputs): (Loss, usize),
        buffer: usize,
    ) -> Result<Self> {
        let m = cache.meta();
        if target_cols(&m.preprocessor, loss, outputs) != m.y_cols {
            return Err(NeuronError::shape(
                "cached targets",
                target_cols(&m.preprocessor, loss, outputs),
                m.y_cols,
            ));
        }
        let feed = Feed::Cache(Box::new(cache.reader()?));
        Ok(StreamSource {
            cols: (m.x_cols, m.y_cols),
            name: "the row cache".into(),
            ..Self::empty(feed, buffer, m.rows)
        })
    }

    fn empty(feed: Feed, buffer: usize, rows: usize) -> Self {
        StreamSource {
            feed,
            cols: (0, 0),
            rows,
            buffer: buffer.max(1),
            begun: false,
            name: String::new(),
            pool: Pool::default(),
            rng: Rng::new(0),
            shuffle: false,
            next: 0,
            stage: (Vec::new(), Vec::new()),
            worker: (0, 1),
        }
    }

    /// The same stream as worker `k` of `n`: every worker reads the same rows in the same order
    /// and loads its [`worker_share`] of each batch.
    pub fn shard(mut self, k: usize, n: usize) -> Result<Self> {
        check_worker(k, n)?;
        self.worker = (k, n);
        Ok(self)
    }

    fn pooled(&self) -> usize {
        self.pool.y.len() / self.cols.1 - self.pool.head
    }

    /// Reads (and encodes) rows until the pool holds `want` (or the table ends).
    fn fill(&mut self, want: usize) -> Result<()> {
        if !self.begun {
            return Err(NeuronError::arg(
                "a batch was asked for before the epoch began",
            ));
        }
        while self.pooled() < want {
            let (x, y) = (&mut self.pool.x, &mut self.pool.y);
            let more = match &mut self.feed {
                Feed::Text {
                    ahead: Some(ahead), ..
                } => match ahead.next()? {
                    Some(b) => {
                        x.extend_from_slice(&b.x);
                        y.extend_from_slice(&b.y);
                        true
                    }
                    None => false,
                },
                Feed::Text { ahead: None, .. } => false,
                Feed::Cache(reader) => reader.next_block_into(x, y)?,
            };
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// Reads until the pool can give `n` rows, then draws them into the staging rows.
    fn take(&mut self, n: usize) -> Result<()> {
        self.fill(self.buffer.max(n))?;
        if self.pooled() < n {
            return Err(NeuronError::data(format!(
                "{}: the table ended after fewer rows than the {} counted before training (did it change?)",
                self.name, self.rows
            )));
        }
        self.draw(n);
        Ok(())
    }

    /// Moves `n` rows from the pool to the staging rows: at random, or the oldest first.
    fn draw(&mut self, n: usize) {
        let ((xc, yc), pool) = (self.cols, &mut self.pool);
        let (sx, sy) = &mut self.stage;
        sx.clear();
        sy.clear();
        for _ in 0..n {
            let len = pool.y.len() / yc;
            let i = if self.shuffle {
                self.rng.below(len - pool.head) + pool.head
            } else {
                pool.head
            };
            sx.extend_from_slice(&pool.x[i * xc..(i + 1) * xc]);
            sy.extend_from_slice(&pool.y[i * yc..(i + 1) * yc]);
            if self.shuffle {
                // The last row takes the drawn row's place.
                pool.x.copy_within((len - 1) * xc..len * xc, i * xc);
                pool.y.copy_within((len - 1) * yc..len * yc, i * yc);
                pool.x.truncate((len - 1) * xc);
                pool.y.truncate((len - 1) * yc);
            } else {
                pool.head += 1;
            }
        }
        if pool.head > 0 && pool.head * 2 >= pool.y.len() / yc {
            pool.x.drain(..pool.head * xc);
            pool.y.drain(..pool.head * yc);
            pool.head = 0;
        }
    }
}

impl<B: Backend<E = f32>> BatchSource<B> for StreamSource {
    fn x_cols(&self) -> usize {
        self.cols.0
    }

    fn y_cols(&self) -> usize {
        self.cols.1
    }

    fn rows(&self) -> usize {
        self.rows
    }

    fn begin_epoch(&mut self, _be: &B, rng: &mut Rng, shuffle: bool) -> Result<()> {
        self.rng = Rng::new(rng.next_u64());
        self.shuffle = shuffle;
        let mut order = shuffle.then(|| self.rng.fork());
        match &mut self.feed {
            Feed::Text {
                src,
                delimiter,
                feed,
                ahead,
            } => {
                // The previous pass's reader stops first.
                *ahead = None;
                let s = TableStream::open_in_order(src, *delimiter, order.as_mut())?;
                let s = s.skipping_malformed(feed.skip_bad);
                *ahead = Some(ReadAhead::start(s, (**feed).clone())?);
            }
            Feed::Cache(reader) => reader.begin(order.as_mut()),
        }
        self.begun = true;
        self.pool = Pool::default();
        self.next = 0;
        Ok(())
    }

    fn load(
        &mut self,
        be: &B,
        batch: Range<usize>,
        x: &mut B::Buf,
        y: &mut B::Buf,
    ) -> Result<usize> {
        if batch.start < self.next || batch.end > self.rows {
            return Err(NeuronError::arg(format!(
                "a streamed table gives its {} rows in order; batch {batch:?} was asked for at row {}",
                self.rows, self.next
            )));
        }
        let n = batch.len();
        // A resumed epoch starts at a later batch: the earlier ones are read and drawn again
        // (not trained on), so that the shuffle buffer holds what it held when the run stopped.
        while self.next < batch.start {
            let skip = n.min(batch.start - self.next);
            self.take(skip)?;
            self.next += skip;
        }
        self.take(n)?;
        let mine = worker_share(0..n, self.worker.0, self.worker.1);
        let (xc, yc) = self.cols;
        be.write(&self.stage.0[mine.start * xc..mine.end * xc], x)?;
        be.write(&self.stage.1[mine.start * yc..mine.end * yc], y)?;
        self.next = batch.end;
        Ok(mine.len())
    }

    fn first_row(&self, batch: Range<usize>) -> usize {
        worker_share(0..batch.len(), self.worker.0, self.worker.1).start
    }
}
