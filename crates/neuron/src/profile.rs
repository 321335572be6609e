//! Where the time goes: a backend wrapper that times every operation.
//!
//! [`Profiled`] implements [`Backend`] by handing each call to the backend it wraps and adding the
//! call's wall time to a per-operation total; products are kept apart by shape and transposes
//! (`matmul 1024×256×784 NT` is `C[1024×256] = A·Bᵀ` with `k = 784`). Build a model on it, train,
//! and read [`Profiled::report`]. `neuron bench --ops` prints such a table for each configuration.
//!
//! The times are those the calling thread sees: on the CPU the whole operation (its helper
//! threads included, since the caller waits for them); on an asynchronous backend such as CUDA
//! mostly the launch, not the kernel.
//!
//! ```
//! use neuron::profile::Profiled;
//! use neuron::{Cpu, Dataset, FitConfig, Loss, Matrix, Optimizer, OptimizerConfig, Sequential, Silent};
//!
//! let be = Profiled::new(Cpu::<f32>::new());
//! let x = Matrix::from_vec(4, 2, vec![0., 0., 0., 1., 1., 0., 1., 1.]).unwrap();
//! let y = Matrix::from_vec(4, 1, vec![0., 1., 1., 0.]).unwrap();
//! let mut model = Sequential::builder(2).dense(8).tanh().dense(1).loss(Loss::Mse).build(be.clone()).unwrap();
//! let mut opt = Optimizer::new(OptimizerConfig::adam(0.05)).unwrap();
//! let cfg = FitConfig { epochs: 3, batch_size: 4, ..FitConfig::default() };
//! model.fit(&mut opt, &Dataset::new(x, y).unwrap(), None, &cfg, &mut Silent).unwrap();
//! let ops = be.report();
//! assert!(ops.iter().any(|o| o.name == "matmul 4×8×2 NT" && o.calls == 3));
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::backend::{Backend, Operand};
use crate::data::augment::Augment;
use crate::error::Result;
use crate::nn::activation::Activation;
use crate::nn::loss::Loss;
use crate::optim::adam::AdamHyper;
use crate::optim::rmsprop::RmsPropHyper;
use crate::optim::sgd::SgdHyper;

/// Total time and number of calls of one operation.
#[derive(Clone, Debug, PartialEq)]
pub struct OpTime {
    /// The operation (`"adam_update"`, `"matmul 128×256×784 NT"`, …).
    pub name: String,
    /// Calls since the last [`Profiled::reset`].
    pub calls: usize,
    /// Their total wall time, in seconds.
    pub seconds: f64,
}

/// A backend that times every call to the backend `B` it wraps (see the module documentation).
/// Clones share one set of totals.
#[derive(Clone)]
pub struct Profiled<B> {
    inner: B,
    totals: Arc<Mutex<HashMap<String, (usize, f64)>>>,
}

impl<B: Backend> Profiled<B> {
    /// Wraps `inner`, with no time recorded yet.
    pub fn new(inner: B) -> Self {
        Profiled {
            inner,
            totals: Arc::default(),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Forgets the times recorded so far (for example after a warm-up epoch).
    pub fn reset(&self) {
        if let Ok(mut t) = self.totals.lock() {
            t.clear();
        }
    }

    /// Every operation called since the last reset, the most time-consuming first.
    pub fn report(&self) -> Vec<OpTime> {
        let mut ops: Vec<OpTime> = match self.totals.lock() {
            Ok(t) => t
                .iter()
                .map(|(name, &(calls, seconds))| OpTime {
                    name: name.clone(),
                    calls,
                    seconds,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        ops.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.name.cmp(&b.name)));
        ops
    }

    fn timed<R>(&self, name: &str, f: impl FnOnce() -> R) -> R {
        let t0 = Instant::now();
        let r = f();
        let dt = t0.elapsed().as_secs_f64();
        if let Ok(mut t) = self.totals.lock() {
            let e = match t.get_mut(name) {
                Some(e) => e,
                None => t.entry(name.to_string()).or_default(),
            };
            e.0 += 1;
            e.1 += dt;
        }
        r
    }
}

/// `N` or `T` for an operand that is read as stored or transposed.
fn nt<X>(o: &Operand<'_, X>) -> char {
    if o.transposed {
        'T'
    } else {
        'N'
    }
}

type Buf<B> = <B as Backend>::Buf;

impl<B: Backend> Backend for Profiled<B> {
    type E = B::E;
    type Buf = B::Buf;
    type Idx = B::Idx;

    fn name(&self) -> String {
        self.inner.name()
    }
    fn steps_between_checks(&self) -> usize {
        self.inner.steps_between_checks()
    }
    fn alloc(&self, len: usize) -> Result<Buf<B>> {
        self.timed("alloc", || self.inner.alloc(len))
    }
    fn upload(&self, data: &[B::E]) -> Result<Buf<B>> {
        self.timed("upload", || self.inner.upload(data))
    }
    fn write(&self, data: &[B::E], buf: &mut Buf<B>) -> Result<()> {
        self.timed("write", || self.inner.write(data, buf))
    }
    fn download(&self, buf: &Buf<B>, out: &mut [B::E]) -> Result<()> {
        self.timed("download", || self.inner.download(buf, out))
    }
    fn copy(&self, len: usize, src: &Buf<B>, dst: &mut Buf<B>) {
        self.timed("copy", || self.inner.copy(len, src, dst))
    }
    fn fill(&self, len: usize, v: B::E, buf: &mut Buf<B>) {
        self.timed("fill", || self.inner.fill(len, v, buf))
    }
    fn matmul(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand<'_, Buf<B>>,
        b: Operand<'_, Buf<B>>,
        c: &mut Buf<B>,
        accumulate: bool,
    ) {
        let name = format!("matmul {m}×{n}×{k} {}{}", nt(&a), nt(&b));
        self.timed(&name, || self.inner.matmul(m, n, k, a, b, c, accumulate))
    }
    fn bias_act(
        &self,
        act: Activation,
        rows: usize,
        cols: usize,
        bias: Option<&Buf<B>>,
        z: &mut Buf<B>,
        y: &mut Buf<B>,
    ) {
        self.timed("bias_act", || {
            self.inner.bias_act(act, rows, cols, bias, z, y)
        })
    }
    fn act_forward(&self, act: Activation, n: usize, x: &Buf<B>, y: &mut Buf<B>) {
        self.timed("act_forward", || self.inner.act_forward(act, n, x, y))
    }
    fn act_backward(
        &self,
        act: Activation,
        n: usize,
        z: &Buf<B>,
        y: &Buf<B>,
        gy: &Buf<B>,
        gz: &mut Buf<B>,
    ) {
        self.timed("act_backward", || {
            self.inner.act_backward(act, n, z, y, gy, gz)
        })
    }
    fn col_sum(&self, rows: usize, cols: usize, g: &Buf<B>, out: &mut Buf<B>) {
        self.timed("col_sum", || self.inner.col_sum(rows, cols, g, out))
    }
    fn softmax(&self, rows: usize, cols: usize, x: &Buf<B>, y: &mut Buf<B>) {
        self.timed("softmax", || self.inner.softmax(rows, cols, x, y))
    }
    fn softmax_backward(&self, rows: usize, cols: usize, y: &Buf<B>, gy: &Buf<B>, gx: &mut Buf<B>) {
        self.timed("softmax_backward", || {
            self.inner.softmax_backward(rows, cols, y, gy, gx)
        })
    }
    fn dropout(
        &self,
        n: usize,
        p: f64,
        seed: u64,
        first: u64,
        x: &Buf<B>,
        mask: &mut Buf<B>,
        y: &mut Buf<B>,
    ) {
        self.timed("dropout", || {
            self.inner.dropout(n, p, seed, first, x, mask, y)
        })
    }
    fn mul(&self, n: usize, a: &Buf<B>, b: &Buf<B>, out: &mut Buf<B>) {
        self.timed("mul", || self.inner.mul(n, a, b, out))
    }
    fn upload_indices(&self, idx: &[usize]) -> Result<B::Idx> {
        self.timed("upload_indices", || self.inner.upload_indices(idx))
    }
    fn gather_rows(
        &self,
        cols: usize,
        src: &Buf<B>,
        idx: &B::Idx,
        start: usize,
        rows: usize,
        dst: &mut Buf<B>,
    ) {
        self.timed("gather_rows", || {
            self.inner.gather_rows(cols, src, idx, start, rows, dst)
        })
    }
    fn augment_images(
        &self,
        aug: &Augment,
        rows: usize,
        seed: u64,
        first: usize,
        src: &Buf<B>,
        dst: &mut Buf<B>,
    ) {
        self.timed("augment_images", || {
            self.inner.augment_images(aug, rows, seed, first, src, dst)
        })
    }
    fn loss(
        &self,
        loss: &Loss,
        rows: usize,
        cols: usize,
        output: &Buf<B>,
        target: &Buf<B>,
        grad: &mut Buf<B>,
        acc: &mut Buf<B>,
    ) {
        self.timed("loss", || {
            self.inner.loss(loss, rows, cols, output, target, grad, acc)
        })
    }
    fn sum_squares(&self, n: usize, x: &Buf<B>) -> f64 {
        self.timed("sum_squares", || self.inner.sum_squares(n, x))
    }
    fn all_finite(&self, n: usize, x: &Buf<B>) -> bool {
        self.timed("all_finite", || self.inner.all_finite(n, x))
    }
    fn scale(&self, n: usize, s: B::E, x: &mut Buf<B>) {
        self.timed("scale", || self.inner.scale(n, s, x))
    }
    fn sgd_update(
        &self,
        n: usize,
        h: &SgdHyper,
        w: &mut Buf<B>,
        g: &Buf<B>,
        velocity: Option<&mut Buf<B>>,
    ) {
        self.timed("sgd_update", || self.inner.sgd_update(n, h, w, g, velocity))
    }
    fn adam_update(
        &self,
        n: usize,
        h: &AdamHyper,
        w: &mut Buf<B>,
        g: &Buf<B>,
        m: &mut Buf<B>,
        v: &mut Buf<B>,
    ) {
        self.timed("adam_update", || self.inner.adam_update(n, h, w, g, m, v))
    }
    fn rmsprop_update(
        &self,
        n: usize,
        h: &RmsPropHyper,
        w: &mut Buf<B>,
        g: &Buf<B>,
        sq: &mut Buf<B>,
    ) {
        self.timed("rmsprop_update", || {
            self.inner.rmsprop_update(n, h, w, g, sq)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;

    /// Calls are counted per operation and shape, results are the wrapped backend's, and a reset
    /// forgets everything.
    #[test]
    fn counts_calls_and_passes_results_through() {
        let be = Profiled::new(Cpu::<f64>::with_threads(1));
        let a = be.upload(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        let mut c = be.alloc(4).unwrap();
        for _ in 0..3 {
            let (x, y) = (
                Operand {
                    buf: &a,
                    transposed: false,
                },
                Operand {
                    buf: &a,
                    transposed: true,
                },
            );
            be.matmul(2, 2, 2, x, y, &mut c, false);
        }
        let mut out = [0.0; 4];
        be.download(&c, &mut out).unwrap();
        assert_eq!(out, [5.0, 11.0, 11.0, 25.0]);
        let ops = be.report();
        let mm = ops.iter().find(|o| o.name == "matmul 2×2×2 NT").unwrap();
        assert_eq!(mm.calls, 3);
        assert!(mm.seconds >= 0.0);
        assert_eq!(ops.iter().find(|o| o.name == "upload").unwrap().calls, 1);
        assert_eq!(be.clone().report().len(), ops.len());
        be.reset();
        assert!(be.report().is_empty());
    }
}
