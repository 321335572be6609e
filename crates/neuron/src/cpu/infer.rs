//! Dense-layer inference on the CPU ([`crate::Backend::dense_infer`]): `f32` on a CPU with
//! AVX-512 takes the kernel of [`super::packed`], on weights packed once; everything else the
//! default (the product with `Wᵀ`, then the bias and activation).

#[cfg(target_arch = "x86_64")]
use std::any::TypeId;

#[cfg(target_arch = "x86_64")]
use super::same_type::{same, same_mut};
#[cfg(target_arch = "x86_64")]
use super::{kernels, sub, Ptr};
use super::{Cpu, CpuBuf};
use crate::backend::{dense_infer_by_product, transposed_weights};
use crate::error::Result;
use crate::float::Float;
use crate::nn::activation::Activation;

/// Layers with fewer multiply-adds than this run on the calling thread.
#[cfg(target_arch = "x86_64")]
const PARALLEL_MIN_MACS: usize = 1 << 20;

impl<T: Float> Cpu<T> {
    /// Whether dense inference takes the packed kernel: `f32` elements on a CPU with AVX-512.
    pub(super) fn packs_weights(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            TypeId::of::<T>() == TypeId::of::<f32>() && super::packed::available()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// [`crate::Backend::inference_weights`]: packed for the kernel where it runs, else `Wᵀ`.
    pub(super) fn inference_weights(&self, n: usize, k: usize, w: &CpuBuf<T>) -> Result<CpuBuf<T>> {
        #[cfg(target_arch = "x86_64")]
        if let (true, Some(w)) = (self.packs_weights(), same::<T, f32>(&w[..n * k])) {
            let packed = super::packed::pack(w, n, k);
            if let Some(p) = same::<f32, T>(&packed) {
                return super::pages::copy_of(p);
            }
        }
        transposed_weights(self, n, k, w)
    }

    /// [`crate::Backend::dense_infer`]: the packed kernel where it runs, the rows shared among
    /// the threads for a large enough layer; else the product with `Wᵀ`.
    pub(super) fn dense_infer(
        &self,
        act: Activation,
        (rows, n, k): (usize, usize, usize),
        x: &CpuBuf<T>,
        (w, b): (&CpuBuf<T>, &CpuBuf<T>),
        z: &mut CpuBuf<T>,
        y: &mut CpuBuf<T>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.packs_weights() {
            let inputs = (same(&x[..rows * k]), same(w), same(&b[..n]));
            let outputs = (same_mut(&mut z[..rows * n]), same_mut(&mut y[..rows * n]));
            if let ((Some(x), Some(w), Some(b)), (Some(z), Some(y))) = (inputs, outputs) {
                let layer = super::packed::Layer {
                    x,
                    rows,
                    k,
                    w,
                    b,
                    n,
                };
                return self.dense_packed(act, layer, (Ptr(z.as_mut_ptr()), Ptr(y.as_mut_ptr())));
            }
        }
        dense_infer_by_product(self, act, (rows, n, k), x, (w, b), z, y)
    }

    /// [`Self::dense_infer`] by the packed kernel into `y` (`rows × n`), through `z` (as large)
    /// for activations it does not apply itself; the CPU has AVX-512.
    #[cfg(target_arch = "x86_64")]
    fn dense_packed(
        &self,
        act: Activation,
        l: super::packed::Layer<'_>,
        (zp, yp): (Ptr<f32>, Ptr<f32>),
    ) {
        use super::packed::{dense, Finish, Layer};
        let (rows, n, k) = (l.rows, l.n, l.k);
        let finish = Finish::of(act);
        // Activations without an in-register finish: the sums go to `z`, then `g` to `y`.
        let out = if finish.is_some() { yp } else { zp };
        let step = match rows * n * k >= PARALLEL_MIN_MACS {
            true => rows.div_ceil(self.threads).next_multiple_of(12),
            false => rows,
        };
        self.split(rows, step, |s, e| {
            let part = Layer {
                x: &l.x[s * k..e * k],
                rows: e - s,
                ..l
            };
            // SAFETY: `split` hands out disjoint row ranges, inside `y` and `z`.
            dense(part, finish.unwrap_or(Finish::Identity), unsafe {
                sub(out, s * n, e * n)
            });
            if finish.is_none() {
                // SAFETY: as above.
                let (z, y) = unsafe { (sub(zp, s * n, e * n), sub(yp, s * n, e * n)) };
                kernels::act_forward(act, z, y);
            }
        });
    }
}
