//! Runtime choice of vector width for the element-wise kernels.
//!
//! The library is compiled for the x86-64 baseline (SSE2), so a plain loop is vectorised four
//! `f32` wide. [`multiversion!`] compiles a kernel body three times — for AVX-512, for AVX2 + FMA
//! and for the baseline — and calls the widest one the running CPU supports. Only the vector
//! width changes: no fused multiply-add is introduced, so the results are bit-identical.

use crate::float::Float;

/// Defines `fn $name<T: Float>(args) -> ret` whose body is compiled for AVX-512, AVX2 and the
/// baseline, dispatching on the CPU's features at run time.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident<T: Float>($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name<T: Float>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body<T: Float>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn wide<T: Float>($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<T: Float>($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                match $crate::cpu::simd::level() {
                    // SAFETY: the CPU features were detected by `level`.
                    2 => return unsafe { wide($($arg),*) },
                    // SAFETY: as above.
                    1 => return unsafe { avx2($($arg),*) },
                    _ => {}
                }
            }
            body($($arg),*)
        }
    };
}
pub(super) use multiversion;

/// 2 with AVX-512 (F + VL), 1 with AVX2 + FMA, else 0. Detected once.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn level() -> u8 {
    use std::sync::atomic::{AtomicU8, Ordering};
    static LEVEL: AtomicU8 = AtomicU8::new(u8::MAX);
    let l = LEVEL.load(Ordering::Relaxed);
    if l != u8::MAX {
        return l;
    }
    let l = if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
        2
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        1
    } else {
        0
    };
    LEVEL.store(l, Ordering::Relaxed);
    l
}

multiversion! {
/// Whether every value of `x` is finite (neither NaN nor infinite): one sweep without branches,
/// as wide as the CPU allows (the inputs of a batch are checked this way before they are
/// predicted on, so its cost is part of every checked prediction).
pub(crate) fn all_finite<T: Float>(x: &[T]) -> bool {
    x.iter().fold(true, |ok, v| ok & v.is_finite())
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_finite_finds_any_nan_or_infinity_wherever_it_is() {
        let mut x = vec![1.5f32; 1000];
        assert!(all_finite(&x) && all_finite::<f32>(&[]));
        for at in [0, 1, 15, 16, 17, 500, 999] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                x[at] = bad;
                assert!(!all_finite(&x), "{bad} at {at}");
                x[at] = f32::MAX;
            }
        }
        assert!(all_finite(&x) && !all_finite(&[0.0f64, f64::NAN]));
    }
}
