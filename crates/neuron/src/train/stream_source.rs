//! A [`BatchSource`] that reads its table from disk while training goes on, so the table may be
//! larger than memory: rows are read in chunks ([`TableStream`]: a CSV or Parquet file, or
//! shards), encoded by a fitted [`Preprocessor`], and held in shuffle buffers of a bounded
//! number of rows from which each batch draws at random (seeded). Without shuffling, rows come in
//! file order, exactly as an in-memory [`super::DatasetSource`] that does not shuffle gives them.
//! Batches must be asked for in order (positions `0..b`, `b..2b`, ...), as the training loop does.
//!
//! The table is read in [`Segment`]s (runs of rows that can be read alone), each through a buffer
//! of its own; each position of a shuffled epoch takes its row from a segment picked at random in
//! proportion to the rows it has left ([`super::interleave`]), so every batch mixes rows from all
//! over the table. A batch's rows are then arranged by segment.
//!
//! Several workers (processes under MPI) each read only their own segments
//! ([`StreamSource::shard`]): every worker computes the same order across segments, and loads
//! the rows of the batch that come from its segments. Together they train the model that one
//! worker would, and each reads and parses only its part of the table.
//!
//! A source made [`StreamSource::from_cache`] reads encoded rows from a [`RowCache`] instead of
//! parsing text: each epoch reads its blocks in a new seeded order into one shuffle buffer, and
//! each worker reads them all and loads its [`worker_share`] of every batch.

use std::ops::Range;

use super::interleave::owned_segments;
use super::pool::Pool;
use super::read_ahead::TextFeed;
use super::source::{check_worker, worker_share, BatchSource};
use super::stream_text::{not_begun, Text};
use crate::backend::Backend;
use crate::data::cache::{target_cols, CacheReader, RowCache};
use crate::data::csv::Cells;
use crate::data::holdout::Holdout;
use crate::data::preprocess::Preprocessor;
use crate::data::records::{RecordChunk, CHUNK_ROWS};
use crate::data::segments::{Segment, SegmentCounter};
use crate::data::stream::TableStream;
use crate::error::{NeuronError, Result};
use crate::nn::loss::Loss;
use crate::rng::Rng;

/// Where the rows come from.
enum Feed {
    /// The table's text (or Parquet), encoded as it is read, on a thread of its own.
    Text(Box<Text>),
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
    /// Where this worker's rows start in the batch last loaded.
    row0: usize,
    /// This worker and the number of workers.
    worker: (usize, usize),
}

impl StreamSource {
    /// A source over `src` (a file, a directory of tables, or a glob; CSV read with `delimiter`
    /// or the detected one), encoded by `pre` for a network of `outputs` outputs trained with
    /// `loss`, shuffling through buffers of `buffer` rows in all. Finds the table's segments and
    /// counts their rows with one pass.
    pub fn new(
        src: &str,
        delimiter: Option<u8>,
        pre: Preprocessor,
        loss: Loss,
        outputs: usize,
        buffer: usize,
    ) -> Result<Self> {
        let mut stream = TableStream::open(src, delimiter)?;
        stream.mark_segments()?;
        let (mut chunk, mut counter, mut read) =
            (RecordChunk::default(), SegmentCounter::default(), 0);
        while stream.next_records_into(&mut chunk, CHUNK_ROWS)? {
            for _ in 0..chunk.row_count() {
                counter.row(read, stream.marks().0, true);
                read += 1;
            }
        }
        let segments = counter.segments(stream.marks(), &[]);
        Self::with_segments(src, delimiter, pre, (loss, outputs), buffer, segments)
    }

    /// [`StreamSource::new`] for a table whose segments and their training rows are known
    /// (found by [`Preprocessor::fit_stream_with`]), without the counting pass.
    pub fn with_segments(
        src: &str,
        delimiter: Option<u8>,
        pre: Preprocessor,
        (loss, outputs): (Loss, usize),
        buffer: usize,
        segments: Vec<Segment>,
    ) -> Result<Self> {
        let cols = (pre.input_width(), target_cols(&pre, loss, outputs));
        let first = TableStream::open(src, delimiter)?;
        let (headers, detected) = (first.headers().to_vec(), first.csv_delimiter());
        let rows = segments.iter().map(|s| s.rows).sum();
        let feed = TextFeed {
            pre,
            holdout: Holdout::none(),
            skip_bad: false,
            spec: (loss, outputs, cols.1),
        };
        let text = Text::new(
            (src.to_string(), delimiter, detected),
            headers,
            feed,
            segments,
        );
        Ok(StreamSource {
            cols,
            name: src.to_string(),
            ..Self::empty(Feed::Text(Box::new(text)), buffer, rows)
        })
    }

    /// Trains only on the rows that `holdout` does not hold out (for a source over a table's
    /// text; a cache holds training rows only). The segments' rows must then count those.
    pub fn holding_out(mut self, holdout: Holdout) -> Self {
        if let Feed::Text(t) = &mut self.feed {
            t.feed.holdout = holdout;
        }
        self
    }

    /// Skips malformed records and rows that `pre` cannot encode (as
    /// [`Preprocessor::fit_stream_with`] with `skip_bad_rows` counted them) instead of failing.
    pub fn skipping_bad_rows(mut self, skip: bool) -> Self {
        if let Feed::Text(t) = &mut self.feed {
            t.feed.skip_bad = skip;
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
            row0: 0,
            worker: (0, 1),
        }
    }

    /// The same stream as worker `k` of `n`: every worker follows the same order. Over a table's
    /// text, each reads only its own segments and loads the rows of each batch that come from
    /// them; over a cache, each reads every row and loads its [`worker_share`] of each batch.
    pub fn shard(mut self, k: usize, n: usize) -> Result<Self> {
        check_worker(k, n)?;
        self.worker = (k, n);
        if let Feed::Text(t) = &mut self.feed {
            let rows: Vec<usize> = t.segments.iter().map(|s| s.rows).collect();
            t.mine = owned_segments(&rows, k, n);
        }
        Ok(self)
    }

    /// The table's segments and their training rows (none for a cache).
    pub fn segments(&self) -> &[Segment] {
        match &self.feed {
            Feed::Text(t) => &t.segments,
            Feed::Cache(_) => &[],
        }
    }

    /// Reads (and encodes) cached rows until the pool holds `want` (or the cache ends).
    fn fill(&mut self, want: usize) -> Result<()> {
        while self.pool.len() < want {
            let (x, y) = (&mut self.pool.x, &mut self.pool.y);
            let more = match &mut self.feed {
                Feed::Cache(reader) => reader.next_block_into(x, y)?,
                Feed::Text(_) => false,
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
        if self.pool.len() < n {
            return Err(self.ended());
        }
        let (sx, sy) = &mut self.stage;
        sx.clear();
        sy.clear();
        let rng = self.shuffle.then_some(&mut self.rng);
        self.pool.draw(n, rng, Some([sx, sy]));
        Ok(())
    }

    fn ended(&self) -> NeuronError {
        NeuronError::data(format!(
            "{}: the table ended after fewer rows than the {} counted before training (did it change?)",
            self.name, self.rows
        ))
    }

    /// Draws the rows of `batch` from the cache into the staging rows; returns where this
    /// worker's rows start in the batch and how many there are.
    fn load_cached(&mut self, batch: Range<usize>) -> Result<(usize, usize)> {
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
        Ok((mine.start, mine.len()))
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
            Feed::Text(t) => {
                let seeds = order.as_mut().map(|o| (o.next_u64(), o.next_u64()));
                t.begin(self.buffer, seeds)?;
            }
            Feed::Cache(reader) => reader.begin(order.as_mut()),
        }
        self.begun = true;
        self.pool = Pool::new(self.cols);
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
        if !self.begun {
            return Err(not_begun());
        }
        if batch.start < self.next || batch.end > self.rows {
            return Err(NeuronError::arg(format!(
                "a streamed table gives its {} rows in order; batch {batch:?} was asked for at row {}",
                self.rows, self.next
            )));
        }
        // Where this worker's rows start in the batch, how many there are, and where they start
        // among the staging rows (the text stages only this worker's rows, the cache all).
        let (first, n, staged) = match &mut self.feed {
            Feed::Text(t) => {
                // A resumed epoch starts at a later batch: the earlier rows are read and drawn
                // again (not trained on), so that the buffers hold what they held when the run
                // stopped.
                t.skip(batch.start - self.next)?;
                let (first, n) = t.load(batch.len(), &mut self.stage)?;
                (first, n, 0)
            }
            Feed::Cache(_) => {
                let (first, n) = self.load_cached(batch.clone())?;
                (first, n, first)
            }
        };
        if n > 0 {
            let (xc, yc) = self.cols;
            be.write(&self.stage.0[staged * xc..(staged + n) * xc], x)?;
            be.write(&self.stage.1[staged * yc..(staged + n) * yc], y)?;
        }
        self.next = batch.end;
        self.row0 = first;
        Ok(n)
    }

    fn first_row(&self, _batch: Range<usize>) -> usize {
        self.row0
    }
}
