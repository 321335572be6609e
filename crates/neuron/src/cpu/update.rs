//! Optimizer update kernels: one fused sweep over each parameter tensor.

use crate::float::Float;
use crate::optim::adam::AdamHyper;
use crate::optim::rmsprop::RmsPropHyper;
use crate::optim::sgd::SgdHyper;

use super::simd::multiversion;

multiversion! {
pub(super) fn sgd<T: Float>(h: &SgdHyper, w: &mut [T], g: &[T], vel: Option<&mut [T]>) {
    let (lr, wd, s) = (T::of(h.lr), T::of(h.weight_decay), T::of(h.grad_scale));
    match vel {
        None => w.iter_mut().zip(g).for_each(|(w, &g)| {
            let g = g * s + wd * *w;
            *w -= lr * g;
        }),
        Some(vel) => {
            let mu = T::of(h.momentum);
            for ((w, &g), v) in w.iter_mut().zip(g).zip(vel.iter_mut()) {
                let g = g * s + wd * *w;
                *v = mu * *v + g;
                let d = if h.nesterov { g + mu * *v } else { *v };
                *w -= lr * d;
            }
        }
    }
}
}

multiversion! {
pub(super) fn adam<T: Float>(h: &AdamHyper, w: &mut [T], g: &[T], m: &mut [T], v: &mut [T]) {
    let t = h.step.max(1) as i32;
    let bc1 = 1.0 - h.beta1.powi(t);
    let bc2 = 1.0 - h.beta2.powi(t);
    let step = T::of(h.lr / bc1);
    let inv_sqrt_bc2 = T::of(1.0 / bc2.sqrt());
    let (b1, b2) = (T::of(h.beta1), T::of(h.beta2));
    let (c1, c2) = (T::one() - b1, T::one() - b2);
    let (eps, s) = (T::of(h.eps), T::of(h.grad_scale));
    let (l2, shrink) = if h.decoupled {
        (T::zero(), T::of(1.0 - h.lr * h.weight_decay))
    } else {
        (T::of(h.weight_decay), T::one())
    };
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = g * s + l2 * *w;
        *w *= shrink;
        *m = b1 * *m + c1 * g;
        *v = b2 * *v + c2 * g * g;
        let denom = v.sqrt() * inv_sqrt_bc2 + eps;
        *w -= step * *m / denom;
    }
}
}

multiversion! {
pub(super) fn rmsprop<T: Float>(h: &RmsPropHyper, w: &mut [T], g: &[T], sq: &mut [T]) {
    let (lr, rho, eps) = (T::of(h.lr), T::of(h.rho), T::of(h.eps));
    let (wd, s) = (T::of(h.weight_decay), T::of(h.grad_scale));
    let c = T::one() - rho;
    for ((w, &g), r) in w.iter_mut().zip(g).zip(sq.iter_mut()) {
        let g = g * s + wd * *w;
        *r = rho * *r + c * g * g;
        *w -= lr * g / (r.sqrt() + eps);
    }
}
}
