//! Data augmentation for images: random shifts and horizontal flips, drawn per image and per step
//! from a counter-based generator, so the same seed and step always give the same images (and
//! training stays resumable and reproducible).
//!
//! For image `r` of a batch (`h × w` pixels, row-major), with `u_k = hash_uniform(seed, 3r + k)`:
//!
//! ```text
//! dx = ⌊u₀·(2s + 1)⌋ − s,  dy = ⌊u₁·(2s + 1)⌋ − s,  flip = u₂ < ½
//! out[y][x] = in[y − dy][x′ − dx]   with x′ = w − 1 − x when flipped, else x; 0 outside the image
//! ```

use serde::{Deserialize, Serialize};

use crate::rng::hash_uniform;

/// Which random transformations to apply to training images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augment {
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Largest shift in pixels, in each direction (0 for none).
    pub max_shift: usize,
    /// Mirror half of the images left to right.
    pub flip: bool,
}

impl Augment {
    /// The shift `(dx, dy)` and flip drawn for image `row` under `seed`.
    pub fn draw(&self, seed: u64, row: usize) -> (isize, isize, bool) {
        let s = self.max_shift as isize;
        let span = (2 * s + 1) as f32;
        let pick =
            |k: u64| ((hash_uniform(seed, 3 * row as u64 + k) * span) as isize).min(2 * s) - s;
        let flip = self.flip && hash_uniform(seed, 3 * row as u64 + 2) < 0.5;
        (pick(0), pick(1), flip)
    }

    /// Transforms one image `src` into `dst` (both `height × width`).
    pub fn apply<T: Copy + Default>(&self, seed: u64, row: usize, src: &[T], dst: &mut [T]) {
        let (h, w) = (self.height as isize, self.width as isize);
        let (dx, dy, flip) = self.draw(seed, row);
        for y in 0..h {
            let sy = y - dy;
            for x in 0..w {
                let xf = if flip { w - 1 - x } else { x };
                let sx = xf - dx;
                dst[(y * w + x) as usize] = if (0..h).contains(&sy) && (0..w).contains(&sx) {
                    src[(sy * w + sx) as usize]
                } else {
                    T::default()
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_and_flips_a_small_image_correctly() {
        let a = Augment {
            height: 3,
            width: 4,
            max_shift: 1,
            flip: true,
        };
        let img: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let mut seen = std::collections::HashSet::new();
        for row in 0..200 {
            let (dx, dy, flip) = a.draw(9, row);
            assert!((-1..=1).contains(&dx) && (-1..=1).contains(&dy));
            seen.insert((dx, dy, flip));
            let mut out = vec![0.0; 12];
            a.apply(9, row, &img, &mut out);
            for y in 0..3isize {
                for x in 0..4isize {
                    let xf = if flip { 3 - x } else { x };
                    let (sx, sy) = (xf - dx, y - dy);
                    let want = if (0..4).contains(&sx) && (0..3).contains(&sy) {
                        img[(sy * 4 + sx) as usize]
                    } else {
                        0.0
                    };
                    assert_eq!(out[(y * 4 + x) as usize], want);
                }
            }
        }
        assert_eq!(seen.len(), 18, "every shift and flip combination occurs");
        // A concrete case: shifted right by one, no flip.
        let b = Augment {
            max_shift: 0,
            flip: false,
            ..a
        };
        let mut out = vec![0.0; 12];
        b.apply(1, 0, &img, &mut out);
        assert_eq!(out, img, "no shift, no flip: unchanged");
        let mut flipped = vec![0.0; 12];
        let f = Augment {
            flip: true,
            max_shift: 0,
            ..a
        };
        let r = (0..).find(|&r| f.draw(1, r).2).unwrap();
        f.apply(1, r, &img, &mut flipped);
        assert_eq!(&flipped[..4], &[4.0, 3.0, 2.0, 1.0]);
    }
}
