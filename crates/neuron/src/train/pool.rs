//! A shuffle buffer of encoded rows: rows come in at the back (in the order they are read) and
//! are drawn at random (seeded) or oldest first.

use crate::rng::Rng;

/// Encoded rows, row-major, `cols` wide; the first `head` are already drawn (in order).
#[derive(Default)]
pub(super) struct Pool {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    head: usize,
    cols: (usize, usize),
}

impl Pool {
    /// An empty pool of rows of `cols` (feature, target) columns.
    pub fn new(cols: (usize, usize)) -> Self {
        Pool {
            cols,
            ..Pool::default()
        }
    }

    /// The feature and target columns of a row.
    pub fn cols(&self) -> (usize, usize) {
        self.cols
    }

    /// Rows waiting to be drawn.
    pub fn len(&self) -> usize {
        self.y.len() / self.cols.1.max(1) - self.head
    }

    /// Moves `n` rows (at most [`Pool::len`]) to the end of `out` (feature and target rows), or
    /// drops them without `out`: drawn uniformly by `rng`, the oldest first without one.
    pub fn draw(
        &mut self,
        n: usize,
        mut rng: Option<&mut Rng>,
        mut out: Option<[&mut Vec<f32>; 2]>,
    ) {
        let (xc, yc) = self.cols;
        for _ in 0..n {
            match out.as_mut() {
                Some([ox, oy]) => {
                    let (x0, y0) = (ox.len(), oy.len());
                    ox.resize(x0 + xc, 0.0);
                    oy.resize(y0 + yc, 0.0);
                    let row = (&mut ox[x0..], &mut oy[y0..]);
                    self.draw_one(rng.as_deref_mut(), Some(row));
                }
                None => self.draw_one(rng.as_deref_mut(), None),
            }
        }
    }

    /// Moves one row (the pool must not be empty) into `out` (a feature row and a target row),
    /// or drops it: drawn uniformly by `rng`, the oldest without one.
    pub fn draw_one(&mut self, rng: Option<&mut Rng>, out: Option<(&mut [f32], &mut [f32])>) {
        let (xc, yc) = self.cols;
        let len = self.y.len() / yc;
        let shuffled = rng.is_some();
        let i = match rng {
            Some(r) => r.below(len - self.head) + self.head,
            None => self.head,
        };
        if let Some((ox, oy)) = out {
            ox.copy_from_slice(&self.x[i * xc..(i + 1) * xc]);
            oy.copy_from_slice(&self.y[i * yc..(i + 1) * yc]);
        }
        if shuffled {
            // The last row takes the drawn row's place.
            self.x.copy_within((len - 1) * xc..len * xc, i * xc);
            self.y.copy_within((len - 1) * yc..len * yc, i * yc);
            self.x.truncate((len - 1) * xc);
            self.y.truncate((len - 1) * yc);
        } else {
            self.head += 1;
            if self.head * 2 >= len {
                self.x.drain(..self.head * xc);
                self.y.drain(..self.head * yc);
                self.head = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_drawn_each_once_in_order_or_at_random() {
        for shuffle in [false, true] {
            let mut p = Pool::new((2, 1));
            for i in 0..10 {
                p.x.extend([i as f32, -(i as f32)]);
                p.y.push(i as f32);
            }
            let mut rng = Rng::new(3);
            let (mut x, mut y) = (Vec::new(), Vec::new());
            p.draw(4, shuffle.then_some(&mut rng), Some([&mut x, &mut y]));
            p.draw(2, shuffle.then_some(&mut rng), None);
            assert_eq!(p.len(), 4);
            p.draw(4, shuffle.then_some(&mut rng), Some([&mut x, &mut y]));
            assert_eq!((x.len(), y.len(), p.len()), (16, 8, 0));
            for (r, v) in y.iter().enumerate() {
                assert_eq!(&x[2 * r..2 * r + 2], [*v, -*v]);
            }
            let mut seen = y.clone();
            seen.sort_by(f32::total_cmp);
            seen.dedup();
            assert_eq!(seen.len(), 8);
            if !shuffle {
                assert_eq!(y, [0.0, 1.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0]);
            }
        }
    }
}
