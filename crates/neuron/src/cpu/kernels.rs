//! Element-wise, row-wise and loss kernels for the CPU backend.

use crate::float::Float;
use crate::nn::activation::Activation;
use crate::rng::hash_uniform;

use super::same_type::{same, same_mut};
use super::simd::multiversion;
use super::vmath;

#[inline(always)]
fn sigmoid<T: Float>(z: T) -> T {
    T::one() / (T::one() + (-z).exp())
}

#[inline(always)]
fn gelu<T: Float>(z: T) -> T {
    T::of(Activation::Gelu.apply(z.f64()))
}

/// `dst[i] = f(src[i])` when `T` is `f32` (then true; else false, and nothing is written): the
/// `f32` activations of [`vmath`], which compile to vector instructions.
#[inline(always)]
fn map_f32<T: Float>(src: &[T], dst: &mut [T], f: impl Fn(f32) -> f32) -> bool {
    let (Some(src), Some(dst)) = (same::<T, f32>(src), same_mut::<T, f32>(dst)) else {
        return false;
    };
    dst.iter_mut().zip(src).for_each(|(y, &z)| *y = f(z));
    true
}

#[inline(always)]
fn apply<T: Float>(act: Activation, src: &[T], dst: &mut [T]) {
    let zero = T::zero();
    match act {
        Activation::Identity => dst.copy_from_slice(src),
        Activation::Relu => dst.iter_mut().zip(src).for_each(|(y, &z)| *y = z.max(zero)),
        Activation::LeakyRelu { alpha } => {
            let a = T::of(alpha);
            dst.iter_mut()
                .zip(src)
                .for_each(|(y, &z)| *y = if z > zero { z } else { a * z });
        }
        Activation::Sigmoid if !map_f32(src, dst, vmath::sigmoid) => {
            dst.iter_mut().zip(src).for_each(|(y, &z)| *y = sigmoid(z))
        }
        Activation::Tanh if !map_f32(src, dst, vmath::tanh) => {
            dst.iter_mut().zip(src).for_each(|(y, &z)| *y = z.tanh())
        }
        Activation::Sigmoid | Activation::Tanh => {}
        Activation::Gelu => dst.iter_mut().zip(src).for_each(|(y, &z)| *y = gelu(z)),
    }
}

multiversion! {
/// `Z += b` (per row), `Y = g(Z)`, one sweep per row.
pub(super) fn bias_act<T: Float>(
    act: Activation,
    rows: usize,
    cols: usize,
    bias: Option<&[T]>,
    z: &mut [T],
    y: &mut [T],
) {
    for r in 0..rows {
        let zr = &mut z[r * cols..(r + 1) * cols];
        if let Some(b) = bias {
            zr.iter_mut().zip(b).for_each(|(v, &bb)| *v += bb);
        }
        apply(act, zr, &mut y[r * cols..(r + 1) * cols]);
    }
}
}

multiversion! {
pub(super) fn act_forward<T: Float>(act: Activation, x: &[T], y: &mut [T]) {
    apply(act, x, y);
}
}

multiversion! {
pub(super) fn act_backward<T: Float>(act: Activation, z: &[T], y: &[T], gy: &[T], gz: &mut [T]) {
    let (zero, one) = (T::zero(), T::one());
    let it = gz.iter_mut().zip(gy);
    match act {
        Activation::Identity => gz.copy_from_slice(gy),
        Activation::Relu => it
            .zip(z)
            .for_each(|((g, &d), &zz)| *g = if zz > zero { d } else { zero }),
        Activation::LeakyRelu { alpha } => {
            let a = T::of(alpha);
            it.zip(z)
                .for_each(|((g, &d), &zz)| *g = if zz > zero { d } else { a * d });
        }
        Activation::Sigmoid => it
            .zip(y)
            .for_each(|((g, &d), &yy)| *g = d * yy * (one - yy)),
        Activation::Tanh => it
            .zip(y)
            .for_each(|((g, &d), &yy)| *g = d * (one - yy * yy)),
        Activation::Gelu => it
            .zip(z)
            .for_each(|((g, &d), &zz)| *g = d * T::of(act.derivative(zz.f64(), 0.0))),
    }
}
}

multiversion! {
/// Sums of columns `first..first + out.len()` of a `rows × cols` matrix, added row by row in
/// order (so the result is the same however the columns are split).
pub(super) fn col_sum<T: Float>(rows: usize, cols: usize, first: usize, g: &[T], out: &mut [T]) {
    out.fill(T::zero());
    let w = out.len();
    for r in 0..rows {
        let row = &g[r * cols + first..r * cols + first + w];
        out.iter_mut().zip(row).for_each(|(o, &v)| *o += v);
    }
}
}

/// Stable softmax of one row into `y`; returns `(max, ln Σ e^(x − max))`.
#[inline]
fn softmax_row<T: Float>(x: &[T], y: &mut [T]) -> (T, T) {
    let m = x.iter().copied().fold(T::neg_infinity(), T::max);
    let mut s = T::zero();
    for (o, &v) in y.iter_mut().zip(x) {
        let e = (v - m).exp();
        *o = e;
        s += e;
    }
    let inv = T::one() / s;
    y.iter_mut().for_each(|v| *v *= inv);
    (m, s.ln())
}

pub(super) fn softmax<T: Float>(rows: usize, cols: usize, x: &[T], y: &mut [T]) {
    for r in 0..rows {
        softmax_row(
            &x[r * cols..(r + 1) * cols],
            &mut y[r * cols..(r + 1) * cols],
        );
    }
}

pub(super) fn softmax_backward<T: Float>(
    rows: usize,
    cols: usize,
    y: &[T],
    gy: &[T],
    gx: &mut [T],
) {
    for r in 0..rows {
        let s = r * cols..(r + 1) * cols;
        let (yr, gr) = (&y[s.clone()], &gy[s.clone()]);
        let dot: T = yr.iter().zip(gr).map(|(&a, &b)| a * b).sum();
        gx[s]
            .iter_mut()
            .zip(yr.iter().zip(gr))
            .for_each(|(o, (&a, &b))| *o = a * (b - dot));
    }
}

/// Dropout over a chunk whose first element has global index `offset` (the mask of element `i`
/// depends only on `(seed, i)`, however the work is split).
pub(super) fn dropout<T: Float>(
    p: f64,
    seed: u64,
    offset: u64,
    x: &[T],
    mask: &mut [T],
    y: &mut [T],
) {
    let keep = T::of(1.0 / (1.0 - p));
    let p = p as f32;
    for (i, ((m, o), &v)) in mask.iter_mut().zip(y.iter_mut()).zip(x).enumerate() {
        *m = if hash_uniform(seed, offset + i as u64) < p {
            T::zero()
        } else {
            keep
        };
        *o = v * *m;
    }
}

/// The loss kernels work on `rows` rows of a batch of `total` rows: each returns (Σ_rows per-row
/// loss, correct count) over its rows and writes ∂(mean loss over the batch)/∂output into `grad`.
pub(super) fn mse<T: Float>(
    rows: usize,
    cols: usize,
    total: usize,
    out: &[T],
    t: &[T],
    grad: &mut [T],
) -> (f64, f64) {
    let n = rows * cols;
    let scale = T::of(2.0 / (total * cols) as f64);
    let mut sum = 0.0f64;
    for ((g, &o), &tt) in grad[..n].iter_mut().zip(&out[..n]).zip(&t[..n]) {
        let d = o - tt;
        sum += d.f64() * d.f64();
        *g = scale * d;
    }
    (sum / cols as f64, 0.0)
}

pub(super) fn softmax_xent<T: Float>(
    rows: usize,
    cols: usize,
    total: usize,
    smoothing: f64,
    logits: &[T],
    labels: &[T],
    grad: &mut [T],
) -> (f64, f64) {
    let inv_n = T::of(1.0 / total as f64);
    let eps = T::of(smoothing);
    let off = T::of(smoothing / cols as f64);
    let on = T::one() - eps + off;
    let mut sum = 0.0f64;
    let mut correct = 0.0f64;
    for (r, l) in labels[..rows].iter().enumerate() {
        let s = r * cols..(r + 1) * cols;
        let x = &logits[s.clone()];
        let g = &mut grad[s];
        let label = l.to_usize().unwrap_or(0).min(cols - 1);
        let (m, lse) = softmax_row(x, g);
        // loss_r = lse(x) − Σ_j q_j x_j, with lse(x) = m + ln Σ e^(x−m).
        let mean_x: T = if smoothing > 0.0 {
            x.iter().copied().sum::<T>() * off
        } else {
            T::zero()
        };
        let loss = m + lse - (on - off) * x[label] - mean_x;
        sum += loss.f64();
        let mut best = 0;
        for (j, &v) in x.iter().enumerate() {
            if v > x[best] {
                best = j;
            }
        }
        if best == label {
            correct += 1.0;
        }
        g.iter_mut().for_each(|v| *v = (*v - off) * inv_n);
        g[label] -= (on - off) * inv_n;
    }
    (sum, correct)
}

pub(super) fn bce_logits<T: Float>(
    rows: usize,
    cols: usize,
    total: usize,
    out: &[T],
    t: &[T],
    grad: &mut [T],
) -> (f64, f64) {
    let n = rows * cols;
    let inv = T::of(1.0 / (total * cols) as f64);
    let (zero, one) = (T::zero(), T::one());
    let mut sum = 0.0f64;
    let mut correct = 0.0f64;
    for ((g, &x), &tt) in grad[..n].iter_mut().zip(&out[..n]).zip(&t[..n]) {
        let l = x.max(zero) - x * tt + (one + (-x.abs()).exp()).ln();
        sum += l.f64();
        if (x > zero) == (tt > T::of(0.5)) {
            correct += 1.0;
        }
        *g = (sigmoid(x) - tt) * inv;
    }
    (sum / cols as f64, correct / cols as f64)
}

/// `y[j] (+)= Σ_l x[l] · w[j·k + l]` for `j` in `0..y.len()`: a row vector times the transpose of a
/// row-major matrix (one sample through a dense layer). Dot products of contiguous rows, with
/// eight independent accumulators so the compiler vectorises them.
pub(super) fn vec_mat_t<T: Float>(x: &[T], w: &[T], k: usize, y: &mut [T], accumulate: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        let level = super::simd::level();
        let f32s = (same::<T, f32>(x), same::<T, f32>(w), same_mut::<T, f32>(y));
        if let (true, (Some(x), Some(w), Some(y))) = (level > 0, f32s) {
            // SAFETY: `level` detected the features of the kernel it selects (AVX-512 comes
            // with AVX2 and FMA).
            unsafe {
                if level >= 2 {
                    vec_mat_t_avx512(x, w, k, y, accumulate)
                } else {
                    vec_mat_t_avx2(x, w, k, y, accumulate)
                }
            }
            return;
        }
        if level > 0 {
            // SAFETY: `level` > 0 means AVX2 and FMA were detected.
            unsafe { vec_mat_t_fma(x, w, k, y, accumulate) };
            return;
        }
    }
    vec_mat_t_generic(x, w, k, y, accumulate);
}

/// The `f32` kernel for AVX2 with FMA: four rows at a time, so each chunk of `x` is loaded once
/// for four rows and eight accumulator registers are in flight, enough to keep both FMA units
/// busy (one row at a time waits on the FMA latency). Each row's sixteen lanes and final sum are
/// those of [`vec_mat_t_generic`], so the results are bit-identical to it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn vec_mat_t_avx2(x: &[f32], w: &[f32], k: usize, y: &mut [f32], accumulate: bool) {
    use std::arch::x86_64::*;
    let n = y.len();
    assert!(x.len() >= k && w.len() >= n * k);
    let k16 = k / 16 * 16;
    let four = n / 4 * 4;
    let xp = x.as_ptr();
    for j in (0..four).step_by(4) {
        let wp = w.as_ptr().add(j * k);
        let rp = [wp, wp.add(k), wp.add(2 * k), wp.add(3 * k)];
        let mut lo = [_mm256_setzero_ps(); 4];
        let mut hi = [_mm256_setzero_ps(); 4];
        let mut o = 0;
        while o < k16 {
            // SAFETY: `o + 16 ≤ k16 ≤ k`, inside `x` and inside each of the four rows.
            let x0 = _mm256_loadu_ps(xp.add(o));
            let x1 = _mm256_loadu_ps(xp.add(o + 8));
            for q in 0..4 {
                lo[q] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(rp[q].add(o)), lo[q]);
                hi[q] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(rp[q].add(o + 8)), hi[q]);
            }
            o += 16;
        }
        for q in 0..4 {
            let mut lanes = [0.0f32; 16];
            _mm256_storeu_ps(lanes.as_mut_ptr(), lo[q]);
            _mm256_storeu_ps(lanes.as_mut_ptr().add(8), hi[q]);
            let row = &w[(j + q) * k..(j + q + 1) * k];
            y[j + q] = finish_dot(lanes, &x[k16..k], &row[k16..], y[j + q], accumulate);
        }
    }
    vec_mat_t_generic(x, &w[four * k..n * k], k, &mut y[four..], accumulate);
}

/// The `f32` kernel for AVX-512: one register holds a row's sixteen lanes, four rows at a time
/// share each load of `x`. Each row's lanes and final sum are those of [`vec_mat_t_generic`], so
/// the results are bit-identical to it. It needs `w`'s rows on 64-byte boundaries to be faster
/// than the AVX2 kernel (a load that straddles two cache lines costs two), which the backend's
/// [`super::CpuBuf`] gives for rows whose length is a multiple of 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn vec_mat_t_avx512(x: &[f32], w: &[f32], k: usize, y: &mut [f32], accumulate: bool) {
    use std::arch::x86_64::*;
    const ROWS: usize = 4;
    let n = y.len();
    assert!(x.len() >= k && w.len() >= n * k);
    let k16 = k / 16 * 16;
    let whole = n / ROWS * ROWS;
    let xp = x.as_ptr();
    for j in (0..whole).step_by(ROWS) {
        let wp = w.as_ptr().add(j * k);
        let mut acc = [_mm512_setzero_ps(); ROWS];
        let mut o = 0;
        while o < k16 {
            // SAFETY: `o + 16 ≤ k16 ≤ k`, inside `x` and inside each of the rows.
            let xv = _mm512_loadu_ps(xp.add(o));
            for (q, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(xv, _mm512_loadu_ps(wp.add(q * k + o)), *a);
            }
            o += 16;
        }
        for (q, a) in acc.iter().enumerate() {
            let mut lanes = [0.0f32; 16];
            _mm512_storeu_ps(lanes.as_mut_ptr(), *a);
            let row = &w[(j + q) * k..(j + q + 1) * k];
            y[j + q] = finish_dot(lanes, &x[k16..k], &row[k16..], y[j + q], accumulate);
        }
    }
    vec_mat_t_generic(x, &w[whole * k..n * k], k, &mut y[whole..], accumulate);
}

/// [`vec_mat_t_generic`] compiled for AVX2 and FMA, so that its fused multiply-adds are single
/// instructions instead of calls to the software `fma` (the same, correctly rounded, results).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn vec_mat_t_fma<T: Float>(x: &[T], w: &[T], k: usize, y: &mut [T], accumulate: bool) {
    vec_mat_t_generic(x, w, k, y, accumulate)
}

#[inline(always)]
fn vec_mat_t_generic<T: Float>(x: &[T], w: &[T], k: usize, y: &mut [T], accumulate: bool) {
    let x = &x[..k];
    for (j, out) in y.iter_mut().enumerate() {
        let row = &w[j * k..(j + 1) * k];
        let mut acc = [T::zero(); 16];
        let (xc, xr) = x.split_at(k / 16 * 16);
        let (wc, wr) = row.split_at(k / 16 * 16);
        for (xs, ws) in xc.chunks_exact(16).zip(wc.chunks_exact(16)) {
            for i in 0..16 {
                acc[i] = xs[i].mul_add(ws[i], acc[i]);
            }
        }
        *out = finish_dot(acc, xr, wr, *out, accumulate);
    }
}

/// The end of one dot product: the tail past the last whole chunk of 16, then the 16 lanes.
#[inline(always)]
fn finish_dot<T: Float>(acc: [T; 16], xr: &[T], wr: &[T], out: T, accumulate: bool) -> T {
    let mut s = T::zero();
    for (&a, &b) in xr.iter().zip(wr) {
        s = a.mul_add(b, s);
    }
    for a in acc {
        s += a;
    }
    if accumulate {
        out + s
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The run-time-selected `f32` kernel (AVX-512 or AVX2 where the CPU has them), and the AVX2
    /// one on an AVX-512 CPU, give exactly the portable kernel's results, for row counts around
    /// the four-row groups and lengths around the sixteen-lane chunks.
    #[test]
    fn one_sample_kernel_matches_the_portable_one_exactly() {
        let mut r = Rng::new(3);
        for n in [1, 3, 4, 5, 8, 9, 17] {
            for k in [1, 15, 16, 17, 33, 200, 784] {
                let x: Vec<f32> = (0..k).map(|_| r.normal() as f32).collect();
                let w: Vec<f32> = (0..n * k).map(|_| r.normal() as f32).collect();
                for accumulate in [false, true] {
                    let start: Vec<f32> = (0..n).map(|_| r.normal() as f32).collect();
                    let (mut fast, mut plain) = (start.clone(), start);
                    let mut avx2 = fast.clone();
                    vec_mat_t(&x, &w, k, &mut fast, accumulate);
                    vec_mat_t_generic(&x, &w, k, &mut plain, accumulate);
                    assert_eq!(fast, plain, "n {n} k {k} accumulate {accumulate}");
                    #[cfg(target_arch = "x86_64")]
                    if crate::cpu::simd::level() >= 1 {
                        // SAFETY: `level` detected AVX2 and FMA.
                        unsafe { vec_mat_t_avx2(&x, &w, k, &mut avx2, accumulate) };
                        assert_eq!(avx2, plain, "AVX2: n {n} k {k} accumulate {accumulate}");
                    }
                }
            }
        }
    }
}
