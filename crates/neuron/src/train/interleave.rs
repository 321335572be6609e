//! The order of a streamed epoch across a table's segments: which segment each position of the
//! epoch takes its row from. Shuffled, each position picks a segment at random in proportion to
//! the rows it has left (seeded), so every batch mixes rows from all over the table; in order,
//! the segments follow each other, which is the table's order. The choice depends only on the
//! segments' row counts and the seed, so every worker of a distributed run computes the same
//! order without reading the others' segments.

use std::ops::Range;

use crate::rng::Rng;

/// The segment choice of one epoch.
pub(super) struct Interleave {
    /// A Fenwick tree of the rows each segment has left.
    tree: Vec<usize>,
    left: usize,
    rng: Option<Rng>,
    /// In order: the segment being read, and the rows it has left.
    at: (usize, usize),
    rows: Vec<usize>,
}

impl Interleave {
    /// The order over segments of `rows` rows each: shuffled by `rng`, in order without one.
    pub fn new(rows: &[usize], rng: Option<Rng>) -> Self {
        // A power of two long, so that the search needs no bounds (the padding holds no rows).
        let mut tree = vec![0; rows.len().max(1).next_power_of_two()];
        for (i, &r) in rows.iter().enumerate() {
            let mut j = i + 1;
            while j <= tree.len() {
                tree[j - 1] += r;
                j += j & j.wrapping_neg();
            }
        }
        Interleave {
            tree,
            left: rows.iter().sum(),
            rng,
            at: (0, rows.first().copied().unwrap_or(0)),
            rows: rows.to_vec(),
        }
    }

    /// The segment of the next position; `None` once every row is placed.
    pub fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let Some(rng) = self.rng.as_mut() else {
            while self.at.1 == 0 {
                self.at.0 += 1;
                self.at.1 = self.rows[self.at.0];
            }
            self.at.1 -= 1;
            return Some(self.at.0);
        };
        // The segment holding the `u`-th row left (a search without branches, which a random
        // `u` would mispredict), then one row fewer in it.
        let mut u = rng.below(self.left + 1);
        let (mut i, mut step) = (0, self.tree.len());
        while step > 0 {
            let t = self.tree[i + step - 1];
            let take = usize::from(t <= u);
            i += step * take;
            u -= t * take;
            step /= 2;
        }
        let mut j = i + 1;
        while j <= self.tree.len() {
            self.tree[j - 1] -= 1;
            j += j & j.wrapping_neg();
        }
        Some(i)
    }
}

/// The segments each of `workers` workers reads: consecutive runs, cut so that each worker has
/// about as many rows (a segment goes to the worker its middle row falls to).
pub(super) fn owned_segments(rows: &[usize], worker: usize, workers: usize) -> Range<usize> {
    let total: usize = rows.iter().sum::<usize>().max(1);
    let mut before = 0;
    let owner: Vec<usize> = rows
        .iter()
        .map(|&r| {
            let middle = 2 * before + r;
            before += r;
            (middle * workers / (2 * total)).min(workers - 1)
        })
        .collect();
    let start = owner.partition_point(|&o| o < worker);
    start..owner.partition_point(|&o| o <= worker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_placed_once_in_order_or_mixed() {
        let rows = [5, 0, 3, 7, 1];
        let mut inorder = Interleave::new(&rows, None);
        let seq: Vec<usize> = std::iter::from_fn(|| inorder.next()).collect();
        let want: Vec<usize> = rows
            .iter()
            .enumerate()
            .flat_map(|(s, &r)| (0..r).map(move |_| s))
            .collect();
        assert_eq!(seq, want);
        let mut mixed = Interleave::new(&rows, Some(Rng::new(9)));
        let mut counts = [0; 5];
        for _ in 0..16 {
            counts[mixed.next().unwrap()] += 1;
        }
        assert_eq!(counts, rows);
        assert!(mixed.next().is_none());
        let mut again = Interleave::new(&rows, Some(Rng::new(9)));
        let first: Vec<usize> = std::iter::from_fn(|| again.next()).collect();
        assert_ne!(first, want, "shuffled");
    }

    #[test]
    fn segments_are_picked_in_proportion_to_their_rows() {
        let rows = [1000, 3000, 0, 6000];
        let mut it = Interleave::new(&rows, Some(Rng::new(1)));
        let mut counts = [0; 4];
        for _ in 0..1000 {
            counts[it.next().unwrap()] += 1;
        }
        assert_eq!(counts[2], 0);
        for (c, r) in counts.iter().zip(rows) {
            let want = r as f64 / 10.0;
            assert!(
                (*c as f64 - want).abs() < 4.0 * want.sqrt() + 1.0,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn workers_own_consecutive_segments_of_about_equal_rows() {
        let rows = [10, 10, 10, 10, 10, 10];
        assert_eq!(owned_segments(&rows, 0, 1), 0..6);
        assert_eq!(owned_segments(&rows, 0, 2), 0..3);
        assert_eq!(owned_segments(&rows, 1, 2), 3..6);
        let parts: Vec<_> = (0..4).map(|k| owned_segments(&rows, k, 4)).collect();
        assert_eq!(parts, [0..1, 1..3, 3..4, 4..6]);
        // More workers than segments: some read none.
        let few = [4, 4];
        let parts: Vec<_> = (0..3).map(|k| owned_segments(&few, k, 3)).collect();
        assert_eq!(parts, [0..1, 1..1, 1..2]);
    }
}
