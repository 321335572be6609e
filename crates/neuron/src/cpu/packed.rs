//! Dense-layer inference with AVX-512 on weights packed once: `Y = g(X·Wᵀ + b)` in one pass,
//! the bias and (for every activation but GELU) the activation applied to each block of outputs
//! while it is still in registers.
//!
//! Packed layout of `W[n, k]`: the outputs in panels of [`PANEL`] (32) columns; panel `p` holds,
//! for `k = 0, 1, …` in order, the 32 weights `W[32p .. 32p + 32, k]` (zeros past the last
//! output). The kernel then reads the weights straight through, in the order it uses them, with
//! no repacking per call.
//!
//! A tile of up to [`TILE_ROWS`] (12) rows × one panel keeps its 12 × 32 sums in 24 vector
//! registers; each step `k` loads the panel's two vectors of weights and adds `x[r, k]·w` to each
//! row's sums (a fused multiply-add with `x[r, k]` broadcast from memory). Every output is
//! `b + Σₖ x[r, k]·W[j, k]` summed in order of `k`, however the rows are tiled or shared among
//! threads, so the results do not depend on either.

use std::arch::x86_64::{
    __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
    _mm512_max_ps, _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

use super::vmath;
use crate::nn::activation::Activation;

/// Output columns per panel: two vectors of 16 `f32`.
pub(super) const PANEL: usize = 32;

/// Rows per tile: 12 × 2 vectors of sums, 2 of weights, within the 32 vector registers.
const TILE_ROWS: usize = 12;

/// The longest run of `k` one pass over a tile sums: beyond it, the tile's rows of `X` would no
/// longer stay in the core's first-level cache, so longer inputs are summed in blocks (the
/// partial sums stored in `Y` between them, which changes nothing in the result).
const K_BLOCK: usize = 2048;

/// Whether the running CPU has AVX-512 (F), which the kernel needs.
pub(super) fn available() -> bool {
    super::simd::level() == 2
}

/// Values in the packed form of `n × k` weights.
pub(super) fn packed_len(n: usize, k: usize) -> usize {
    n.div_ceil(PANEL) * PANEL * k
}

/// `W[n, k]` (row-major, `n·k` values) in the packed layout (the module documentation).
pub(super) fn pack(w: &[f32], n: usize, k: usize) -> Vec<f32> {
    let mut out = vec![0.0; packed_len(n, k)];
    if k == 0 {
        return out;
    }
    for (j, row) in w.chunks_exact(k).take(n).enumerate() {
        let panel = &mut out[(j / PANEL) * PANEL * k..];
        for (kk, &v) in row.iter().enumerate() {
            panel[kk * PANEL + j % PANEL] = v;
        }
    }
    out
}

/// How the kernel finishes each output: the activations it applies in registers.
#[derive(Clone, Copy, Debug)]
pub(super) enum Finish {
    /// `y = z`.
    Identity,
    /// `y = max(z, 0)` (0 for NaN, as the element-wise kernel gives).
    Relu,
    /// `y = max(z, α·z)`, which is leaky ReLU for `0 ≤ α ≤ 1`.
    Leaky(f32),
    /// `y = 1 / (1 + e⁻ᶻ)` ([`vmath::sigmoid`]).
    Sigmoid,
    /// `y = tanh z` ([`vmath::tanh`]).
    Tanh,
}

impl Finish {
    /// The in-register finish of `act`; `None` where the activation needs a pass of its own.
    pub(super) fn of(act: Activation) -> Option<Finish> {
        match act {
            Activation::Identity => Some(Finish::Identity),
            Activation::Relu => Some(Finish::Relu),
            Activation::LeakyRelu { alpha } if (0.0..=1.0).contains(&alpha) => {
                Some(Finish::Leaky(alpha as f32))
            }
            Activation::Sigmoid => Some(Finish::Sigmoid),
            Activation::Tanh => Some(Finish::Tanh),
            _ => None,
        }
    }

    /// The finished value of `z`.
    #[inline(always)]
    unsafe fn apply(self, z: __m512) -> __m512 {
        // SAFETY: the caller runs with AVX-512 (the kernel's target feature).
        unsafe {
            match self {
                Finish::Identity => z,
                // `max` gives its second operand where either is NaN.
                Finish::Relu => _mm512_max_ps(z, _mm512_setzero_ps()),
                Finish::Leaky(a) => _mm512_max_ps(_mm512_mul_ps(_mm512_set1_ps(a), z), z),
                Finish::Sigmoid => map(z, vmath::sigmoid),
                Finish::Tanh => map(z, vmath::tanh),
            }
        }
    }
}

/// `f` applied to each of the 16 values of `z` (compiled to vector instructions, as [`vmath`]'s
/// functions are written for).
#[inline(always)]
unsafe fn map(z: __m512, f: impl Fn(f32) -> f32) -> __m512 {
    let mut v = [0.0f32; 16];
    // SAFETY: `v` holds 16 values; the caller runs with AVX-512.
    unsafe {
        _mm512_storeu_ps(v.as_mut_ptr(), z);
        v.iter_mut().for_each(|x| *x = f(*x));
        _mm512_loadu_ps(v.as_ptr())
    }
}

/// One layer's operands: `rows` rows of `x` (`k` values each), the packed weights of `n` outputs
/// and their bias.
#[derive(Clone, Copy)]
pub(super) struct Layer<'a> {
    /// `X[rows, k]`, row-major.
    pub x: &'a [f32],
    /// Rows of `x`.
    pub rows: usize,
    /// Inputs per row.
    pub k: usize,
    /// `W` packed by [`pack`].
    pub w: &'a [f32],
    /// `b[n]`.
    pub b: &'a [f32],
    /// Outputs per row.
    pub n: usize,
}

/// `Y[rows, n] = finish(X·Wᵀ + b)` on the calling thread. Panics if a slice is too short for the
/// shapes (a bug in the caller, never user input: the shapes come from the model).
pub(super) fn dense(l: Layer<'_>, finish: Finish, y: &mut [f32]) {
    assert!(available(), "the packed kernel needs AVX-512");
    assert!(
        l.x.len() >= l.rows * l.k
            && l.w.len() >= packed_len(l.n, l.k)
            && l.b.len() >= l.n
            && y.len() >= l.rows * l.n
    );
    // SAFETY: AVX-512 is available (checked above) and the slices hold the shapes (asserted).
    unsafe { dense_avx512(l, finish, y) }
}

/// [`dense`] after its checks.
///
/// # Safety
/// The CPU must have AVX-512 F, and the slices must hold the shapes.
#[target_feature(enable = "avx512f")]
unsafe fn dense_avx512(l: Layer<'_>, finish: Finish, y: &mut [f32]) {
    let blocks = l.k.div_ceil(K_BLOCK).max(1);
    let kc = l.k.div_ceil(blocks);
    for block in 0..blocks {
        let k0 = block * kc;
        let steps = kc.min(l.k - k0);
        let pass = Pass {
            steps,
            first: block == 0,
            finish: (block + 1 == blocks).then_some(finish),
        };
        for p in 0..l.n.div_ceil(PANEL) {
            let cols = PANEL.min(l.n - p * PANEL);
            // SAFETY: panel `p` lies inside the packed weights, and its columns inside `b`/`y`.
            let (w, b, y) = unsafe {
                (
                    l.w.as_ptr().add(p * PANEL * l.k + k0 * PANEL),
                    l.b.as_ptr().add(p * PANEL),
                    y.as_mut_ptr().add(p * PANEL),
                )
            };
            let out = Out {
                y,
                ldy: l.n,
                masks: masks(cols),
            };
            for i in (0..l.rows).step_by(TILE_ROWS) {
                // SAFETY: rows `i..` of `x` and `y` lie inside them; steps stay inside the row.
                let (x, out) = unsafe { (l.x.as_ptr().add(i * l.k + k0), out.down(i)) };
                let t = Tile { x, ldx: l.k, w, b };
                // SAFETY: as above; AVX-512 is enabled for this function.
                unsafe { tile_rows(l.rows - i, t, pass, out) };
            }
        }
    }
}

/// One pass over a tile: how many steps of `k`, whether it starts from the bias (else from the
/// partial sums in `Y`), and the finish when it is the last.
#[derive(Clone, Copy)]
struct Pass {
    steps: usize,
    first: bool,
    finish: Option<Finish>,
}

/// A tile's inputs: its first row of `X` at the pass's first `k`, `X`'s row stride, the panel's
/// weights at that `k` and the panel's bias.
#[derive(Clone, Copy)]
struct Tile {
    x: *const f32,
    ldx: usize,
    w: *const f32,
    b: *const f32,
}

/// Where a tile's outputs go: its first row in `Y`, `Y`'s row stride, and the masks of the panel's
/// columns that exist (both full but at the last panel of a width not a multiple of 32).
#[derive(Clone, Copy)]
struct Out {
    y: *mut f32,
    ldy: usize,
    masks: [u16; 2],
}

impl Out {
    /// The tile `rows` rows further down.
    ///
    /// # Safety
    /// Those rows must lie inside `Y`.
    unsafe fn down(self, rows: usize) -> Out {
        Out {
            // SAFETY: as the caller promises.
            y: unsafe { self.y.add(rows * self.ldy) },
            ..self
        }
    }
}

/// The masks of the first `cols` (1 to 32) columns of a panel, per vector.
fn masks(cols: usize) -> [u16; 2] {
    let bits = |c: usize| if c >= 16 { u16::MAX } else { (1u16 << c) - 1 };
    [bits(cols), bits(cols.saturating_sub(16))]
}

/// The tile of the first `min(rows, 12)` rows, with the kernel compiled for that many.
///
/// # Safety
/// As for [`tile`].
#[inline(always)]
unsafe fn tile_rows(rows: usize, t: Tile, pass: Pass, out: Out) {
    // SAFETY: as the caller promises.
    unsafe {
        match rows {
            1 => tile::<1>(t, pass, out),
            2 => tile::<2>(t, pass, out),
            3 => tile::<3>(t, pass, out),
            4 => tile::<4>(t, pass, out),
            5 => tile::<5>(t, pass, out),
            6 => tile::<6>(t, pass, out),
            7 => tile::<7>(t, pass, out),
            8 => tile::<8>(t, pass, out),
            9 => tile::<9>(t, pass, out),
            10 => tile::<10>(t, pass, out),
            11 => tile::<11>(t, pass, out),
            _ => tile::<TILE_ROWS>(t, pass, out),
        }
    }
}

/// `R` rows × one panel: sums from the bias (or `Y`), `pass.steps` multiply-adds per value,
/// then stored, finished on the last pass.
///
/// # Safety
/// AVX-512 F must be enabled in the caller; `R` rows of `X` from `t.x` must hold `pass.steps`
/// values, the weights `pass.steps × 32`, and `R` rows of `Y` the panel's unmasked columns.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // Index loops keep the sums in registers (see below).
unsafe fn tile<const R: usize>(t: Tile, pass: Pass, out: Out) {
    // SAFETY: every access is inside the operands, as the caller promises; the masks keep the
    // loads of `b` and the loads and stores of `Y` to the columns that exist (a masked access
    // touches no memory where its mask is clear, and the pointer to a panel's second half, which
    // may lie past the end of `b` or `Y`, is made with `wrapping_add`).
    unsafe {
        let [m0, m1] = out.masks;
        // Index loops over constant bounds: the compiler unrolls them and keeps `acc` in
        // registers (with iterators over it, it kept `acc` on the stack, 2.5× slower).
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for r in 0..R {
            let src = if pass.first {
                t.b
            } else {
                out.y.add(r * out.ldy)
            };
            acc[r][0] = _mm512_maskz_loadu_ps(m0, src);
            acc[r][1] = _mm512_maskz_loadu_ps(m1, src.wrapping_add(16));
        }
        let (mut x, mut w) = (t.x, t.w);
        for _ in 0..pass.steps {
            let w0 = _mm512_loadu_ps(w);
            let w1 = _mm512_loadu_ps(w.add(16));
            for r in 0..R {
                let v = _mm512_set1_ps(*x.add(r * t.ldx));
                acc[r][0] = _mm512_fmadd_ps(v, w0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(v, w1, acc[r][1]);
            }
            x = x.add(1);
            w = w.add(PANEL);
        }
        for r in 0..R {
            let y = out.y.add(r * out.ldy);
            let (v0, v1) = match pass.finish {
                Some(f) => (f.apply(acc[r][0]), f.apply(acc[r][1])),
                None => (acc[r][0], acc[r][1]),
            };
            if m0 == u16::MAX && m1 == u16::MAX {
                _mm512_storeu_ps(y, v0);
                _mm512_storeu_ps(y.add(16), v1);
            } else {
                _mm512_mask_storeu_ps(y, m0, v0);
                _mm512_mask_storeu_ps(y.wrapping_add(16), m1, v1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `finish(X·Wᵀ + b)` by plain loops in `f64`.
    fn reference(
        x: &[f32],
        rows: usize,
        k: usize,
        w: &[f32],
        b: &[f32],
        act: Activation,
    ) -> Vec<f64> {
        let n = b.len();
        let mut y = vec![0.0; rows * n];
        for r in 0..rows {
            for j in 0..n {
                let z = (0..k).fold(b[j] as f64, |s, i| {
                    s + x[r * k + i] as f64 * w[j * k + i] as f64
                });
                y[r * n + j] = act.apply(z);
            }
        }
        y
    }

    #[test]
    fn every_shape_matches_the_definition() {
        if !available() {
            return;
        }
        let value = |i: usize, m: usize| ((i * 7919 + m) % 2003) as f32 / 1001.0 - 1.0;
        let acts = [
            Activation::Identity,
            Activation::Relu,
            Activation::LeakyRelu { alpha: 0.1 },
            Activation::Sigmoid,
            Activation::Tanh,
        ];
        // Rows around a tile, widths around a panel, inputs across a block of k.
        for (rows, k, n) in [
            (1, 1, 1),
            (13, 7, 31),
            (12, 33, 32),
            (25, 2049, 33),
            (7, 0, 5),
            (30, 64, 70),
        ] {
            let x: Vec<f32> = (0..rows * k).map(|i| value(i, 1)).collect();
            let w: Vec<f32> = (0..n * k).map(|i| value(i, 2)).collect();
            let b: Vec<f32> = (0..n).map(|i| value(i, 3)).collect();
            let packed = pack(&w, n, k);
            for act in acts {
                // Sentinel past the outputs: masked stores must leave it alone.
                let mut y = vec![7.5f32; rows * n + 3];
                let l = Layer {
                    x: &x,
                    rows,
                    k,
                    w: &packed,
                    b: &b,
                    n,
                };
                dense(l, Finish::of(act).unwrap(), &mut y);
                let want = reference(&x, rows, k, &w, &b, act);
                for (i, (&got, &want)) in y.iter().zip(&want).enumerate() {
                    let tol = 1e-5 * (1.0 + want.abs());
                    assert!(
                        (got as f64 - want).abs() <= tol,
                        "{rows}×{k}×{n} {act:?} at {i}: {got} vs {want}"
                    );
                }
                assert_eq!(&y[rows * n..], &[7.5; 3]);
            }
        }
    }

    #[test]
    fn finishes_match_the_element_wise_activations_at_the_edges() {
        if !available() {
            return;
        }
        assert!(Finish::of(Activation::Gelu).is_none());
        assert!(Finish::of(Activation::LeakyRelu { alpha: 1.5 }).is_none());
        // One input of weight 1 and bias 0: the outputs are the inputs, finished.
        let x = [f32::NAN, -2.0, -0.0, 3.0, f32::NEG_INFINITY];
        let (w, b) = (pack(&[1.0], 1, 1), [0.0f32]);
        for (act, want) in [
            (Activation::Relu, [0.0, 0.0, 0.0, 3.0, 0.0]),
            (
                Activation::LeakyRelu { alpha: 0.5 },
                [f32::NAN, -1.0, 0.0, 3.0, f32::NEG_INFINITY],
            ),
        ] {
            let mut y = [0.0f32; 5];
            let l = Layer {
                x: &x,
                rows: 5,
                k: 1,
                w: &w,
                b: &b,
                n: 1,
            };
            dense(l, Finish::of(act).unwrap(), &mut y);
            for (g, w) in y.iter().zip(want) {
                assert!(g == &w || (g.is_nan() && w.is_nan()), "{act:?}: {y:?}");
            }
        }
    }
}
