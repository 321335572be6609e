//! The text side of a [`super::StreamSource`]: a table read by segments. Training follows the
//! epoch's order across segments ([`Interleave`]), draws each of this worker's rows from its
//! segment's shuffle buffer, and arranges a batch's rows by segment; a reading thread
//! ([`ReadAhead`]) reads and encodes the chunks of this worker's segments that the buffers ask
//! for, a chunk or two ahead.

use std::collections::VecDeque;
use std::ops::Range;

use super::interleave::Interleave;
use super::pool::Pool;
use super::read_ahead::{Chunk, ReadAhead, Segments, TextFeed};
use crate::data::records::CHUNK_ROWS;
use crate::data::segments::Segment;
use crate::error::{NeuronError, Result};
use crate::rng::Rng;

/// A table's text, read by segments.
pub(super) struct Text {
    /// The table, its CSV delimiter (if given), and the one detected in its first file.
    pub src: (String, Option<u8>, Option<u8>),
    pub headers: Vec<String>,
    pub feed: TextFeed,
    pub segments: Vec<Segment>,
    /// The segments this worker reads.
    pub mine: Range<usize>,
    /// The epoch in progress.
    epoch: Option<Epoch>,
}

/// An epoch in progress.
struct Epoch {
    ahead: ReadAhead,
    order: Interleave,
    /// This worker's segments.
    own: Vec<OwnSegment>,
    /// The segments of the positions of the batch being loaded.
    seq: Vec<usize>,
}

/// One of this worker's segments in an epoch: its shuffle buffer, which holds `buffer` rows (or
/// all those left) before each draw, and the chunks read ahead of it.
struct OwnSegment {
    pool: Pool,
    rng: Option<Rng>,
    buffer: usize,
    /// Rows not drawn yet.
    left: usize,
    /// Chunks received and not yet in the pool; rows of the first already moved; rows in all.
    pending: VecDeque<Chunk>,
    used: usize,
    pending_rows: usize,
    /// Chunks asked for and not received.
    asked: usize,
    /// The segment is read to its end.
    ended: bool,
}

/// Chunks of a segment asked for and not yet received, at most.
const ASKED: usize = 2;

impl Text {
    /// A table's text `src`, with its column names and segments, encoded by `feed`.
    pub fn new(
        src: (String, Option<u8>, Option<u8>),
        headers: Vec<String>,
        feed: TextFeed,
        segments: Vec<Segment>,
    ) -> Self {
        Text {
            src,
            headers,
            feed,
            mine: 0..segments.len(),
            segments,
            epoch: None,
        }
    }

    /// Starts reading an epoch with shuffle buffers of `buffer` rows in all: in order, or
    /// shuffled with `seeds` (of the order across segments, and of the draws within each).
    pub fn begin(&mut self, buffer: usize, seeds: Option<(u64, u64)>) -> Result<()> {
        // The previous pass's reader stops first.
        self.epoch = None;
        let rows: Vec<usize> = self.segments.iter().map(|s| s.rows).collect();
        let total = rows.iter().sum::<usize>().max(1);
        let cols = (self.feed.pre.input_width(), self.feed.spec.2);
        let seed =
            |d: u64, s: usize| d.wrapping_add((s as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let own: Vec<OwnSegment> = self
            .mine
            .clone()
            .map(|s| OwnSegment {
                pool: Pool::new(cols),
                rng: seeds.map(|(_, d)| Rng::new(seed(d, s))),
                buffer: (buffer * rows[s]).div_ceil(total).max(1),
                left: rows[s],
                pending: VecDeque::new(),
                used: 0,
                pending_rows: 0,
                asked: 0,
                ended: false,
            })
            .collect();
        let segs = Segments {
            src: self.src.clone(),
            headers: self.headers.clone(),
            segments: self.segments[self.mine.clone()].to_vec(),
        };
        let ahead = ReadAhead::start(segs, self.feed.clone(), ASKED * own.len())?;
        let mut e = Epoch {
            order: Interleave::new(&rows, seeds.map(|(o, _)| Rng::new(o))),
            own,
            seq: Vec::new(),
            ahead,
        };
        // Shuffled, every segment is drawn from at once: its first chunks are read now. In
        // order, the first segment's are.
        let first = if seeds.is_some() { e.own.len() } else { 1 };
        for k in 0..first.min(e.own.len()) {
            e.ask_ahead(k)?;
        }
        self.epoch = Some(e);
        Ok(())
    }

    /// Draws (and drops) this worker's rows among the next `n` positions of the epoch.
    pub fn skip(&mut self, n: usize) -> Result<()> {
        let (e, mine) = (self.epoch.as_mut().ok_or_else(not_begun)?, &self.mine);
        for _ in 0..n {
            let s = e.order.next().ok_or_else(past_end)?;
            if mine.contains(&s) {
                e.draw(s - mine.start, None, &self.src.0)?;
            }
        }
        Ok(())
    }

    /// This worker's rows of the next `n` positions of the epoch, drawn into `stage` arranged by
    /// segment; returns where they start in the batch and how many there are.
    pub fn load(&mut self, n: usize, stage: &mut (Vec<f32>, Vec<f32>)) -> Result<(usize, usize)> {
        let (e, mine) = (self.epoch.as_mut().ok_or_else(not_begun)?, &self.mine);
        e.seq.clear();
        let mut counts = vec![0; self.segments.len()];
        for _ in 0..n {
            let s = e.order.next().ok_or_else(past_end)?;
            e.seq.push(s);
            counts[s] += 1;
        }
        let first = counts[..mine.start].iter().sum();
        // Where each of this worker's segments starts among its rows of the batch.
        let mut at: Vec<usize> = counts[mine.clone()]
            .iter()
            .scan(0, |sum, &c| {
                *sum += c;
                Some(*sum - c)
            })
            .collect();
        let own = counts[mine.clone()].iter().sum();
        let (xc, yc) = (self.feed.pre.input_width(), self.feed.spec.2);
        stage.0.resize(own * xc, 0.0);
        stage.1.resize(own * yc, 0.0);
        let seq = std::mem::take(&mut e.seq);
        for &s in seq.iter().filter(|s| mine.contains(s)) {
            let k = s - mine.start;
            let r = at[k];
            at[k] += 1;
            let out = (
                &mut stage.0[r * xc..(r + 1) * xc],
                &mut stage.1[r * yc..(r + 1) * yc],
            );
            e.draw(k, Some(out), &self.src.0)?;
        }
        e.seq = seq;
        Ok((first, own))
    }
}

impl Epoch {
    /// Draws a row of this worker's segment `k` into `out` (or drops it), filling its buffer
    /// first.
    fn draw(&mut self, k: usize, out: Option<(&mut [f32], &mut [f32])>, src: &str) -> Result<()> {
        let need = self.own[k].buffer.min(self.own[k].left);
        while self.own[k].pool.len() < need {
            let s = &mut self.own[k];
            if s.pending_rows > 0 {
                s.move_pending(need);
            } else if s.ended {
                break;
            } else {
                if s.asked == 0 {
                    self.ahead.ask(k)?;
                    s.asked += 1;
                }
                self.receive()?;
            }
        }
        let s = &mut self.own[k];
        if s.pool.len() == 0 {
            return Err(ended(src));
        }
        s.pool.draw_one(s.rng.as_mut(), out);
        s.left -= 1;
        let drained = s.left <= s.pool.len() + s.pending_rows;
        self.ask_ahead(k)?;
        // Once a segment's last rows are in, the next one's first are read (in order, the next
        // segment is drawn from next).
        if drained && k + 1 < self.own.len() {
            self.ask_ahead(k + 1)?;
        }
        Ok(())
    }

    /// Asks for chunks of segment `k` (at most [`ASKED`] at a time) while its buffer, the rows
    /// received and those asked for come to fewer than the buffer wants and a chunk more.
    fn ask_ahead(&mut self, k: usize) -> Result<()> {
        let s = &mut self.own[k];
        let want = s.buffer.min(s.left) + CHUNK_ROWS;
        while !s.ended
            && s.asked < ASKED
            && s.pool.len() + s.pending_rows + s.asked * CHUNK_ROWS < want
        {
            self.ahead.ask(k)?;
            s.asked += 1;
        }
        Ok(())
    }

    /// Receives the next chunk read, of whichever segment.
    fn receive(&mut self) -> Result<()> {
        let c = self.ahead.next()?;
        let s = &mut self.own[c.seg];
        s.asked = s.asked.saturating_sub(1);
        if c.end {
            s.ended = true;
        } else if !c.y.is_empty() {
            s.pending_rows += c.y.len() / s.pool.cols().1.max(1);
            s.pending.push_back(c);
        }
        Ok(())
    }
}

impl OwnSegment {
    /// Moves received rows into the pool, in the order read, until it holds `need` rows.
    fn move_pending(&mut self, need: usize) {
        let (xc, yc) = self.pool.cols();
        while self.pool.len() < need {
            let Some(c) = self.pending.front() else {
                return;
            };
            let rows = c.y.len() / yc;
            let n = (need - self.pool.len()).min(rows - self.used);
            let r = self.used..self.used + n;
            self.pool
                .x
                .extend_from_slice(&c.x[r.start * xc..r.end * xc]);
            self.pool
                .y
                .extend_from_slice(&c.y[r.start * yc..r.end * yc]);
            self.used += n;
            self.pending_rows -= n;
            if self.used == rows {
                self.used = 0;
                self.pending.pop_front();
            }
        }
    }
}

fn ended(src: &str) -> NeuronError {
    NeuronError::data(format!(
        "{src}: the table ended after fewer rows than were counted before training (did it change?)"
    ))
}

fn past_end() -> NeuronError {
    NeuronError::arg("a batch was asked for past the end of the streamed epoch")
}

/// The error of a batch asked for before its epoch began.
pub(super) fn not_begun() -> NeuronError {
    NeuronError::arg("a batch was asked for before the epoch began")
}
