//! The CPU backend: `Vec<T>` buffers, `gemm` for matrix products, plain loops (auto-vectorised)
//! for everything else.

mod kernels;
mod update;

use std::marker::PhantomData;

use crate::activation::Activation;
use crate::adam::AdamHyper;
use crate::backend::{Backend, Operand};
use crate::error::Result;
use crate::float::Float;
use crate::loss::Loss;
use crate::rmsprop::RmsPropHyper;
use crate::sgd::SgdHyper;

/// Products with fewer multiply-adds than this run on one thread: splitting small products
/// between threads costs more than it saves.
const PARALLEL_MIN_MACS: usize = 4 << 20;

/// Computes on the CPU in `T` (`f32` or `f64`), using up to `threads` threads for large products.
///
/// ```
/// use neuron::{Backend, Cpu};
/// let cpu = Cpu::<f32>::new();
/// let buf = cpu.upload(&[1.0, 2.0]).unwrap();
/// let mut out = [0.0; 2];
/// cpu.download(&buf, &mut out).unwrap();
/// assert_eq!(out, [1.0, 2.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Cpu<T> {
    threads: usize,
    _t: PhantomData<T>,
}

impl<T> Default for Cpu<T> {
    fn default() -> Self {
        Cpu {
            threads: rayon::current_num_threads(),
            _t: PhantomData,
        }
    }
}

impl<T> Cpu<T> {
    /// A CPU backend using as many threads as the current rayon pool has.
    pub fn new() -> Self {
        Self::default()
    }

    /// A CPU backend using at most `threads` threads (at least 1) for matrix products.
    pub fn with_threads(threads: usize) -> Self {
        Cpu {
            threads: threads.max(1),
            _t: PhantomData,
        }
    }

    /// The number of threads used for large products.
    pub fn threads(&self) -> usize {
        self.threads
    }
}

impl<T: Float> Backend for Cpu<T> {
    type E = T;
    type Buf = Vec<T>;

    fn name(&self) -> String {
        format!(
            "cpu ({} thread{}, {})",
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            T::NAME
        )
    }

    fn alloc(&self, len: usize) -> Result<Vec<T>> {
        Ok(vec![T::zero(); len])
    }

    fn upload(&self, data: &[T]) -> Result<Vec<T>> {
        Ok(data.to_vec())
    }

    fn write(&self, data: &[T], buf: &mut Vec<T>) -> Result<()> {
        if buf.len() < data.len() {
            return Err(crate::NeuronError::shape(
                "write",
                format!("at most {} elements", buf.len()),
                data.len(),
            ));
        }
        buf[..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn download(&self, buf: &Vec<T>, out: &mut [T]) -> Result<()> {
        if buf.len() < out.len() {
            return Err(crate::NeuronError::shape(
                "download",
                format!("at least {} elements", out.len()),
                buf.len(),
            ));
        }
        out.copy_from_slice(&buf[..out.len()]);
        Ok(())
    }

    fn copy(&self, len: usize, src: &Vec<T>, dst: &mut Vec<T>) {
        dst[..len].copy_from_slice(&src[..len]);
    }

    fn fill(&self, len: usize, v: T, buf: &mut Vec<T>) {
        buf[..len].fill(v);
    }

    fn matmul(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand<'_, Vec<T>>,
        b: Operand<'_, Vec<T>>,
        c: &mut Vec<T>,
        accumulate: bool,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        assert!(a.buf.len() >= m * k && b.buf.len() >= k * n && c.len() >= m * n);
        if k == 0 {
            if !accumulate {
                c[..m * n].fill(T::zero());
            }
            return;
        }
        // Row-major strides; a transposed operand is the stored matrix read column-wise.
        let (a_rs, a_cs) = if a.transposed {
            (1, m as isize)
        } else {
            (k as isize, 1)
        };
        let (b_rs, b_cs) = if b.transposed {
            (1, k as isize)
        } else {
            (n as isize, 1)
        };
        let par = if self.threads > 1 && m * n * k >= PARALLEL_MIN_MACS {
            gemm::Parallelism::Rayon(self.threads)
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: the asserts above guarantee every strided access stays inside the buffers, and
        // `c` does not alias `a` or `b` (it is borrowed mutably).
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                accumulate,
                a.buf.as_ptr(),
                a_cs,
                a_rs,
                b.buf.as_ptr(),
                b_cs,
                b_rs,
                T::one(),
                T::one(),
                false,
                false,
                false,
                par,
            );
        }
    }

    fn bias_act(
        &self,
        act: Activation,
        rows: usize,
        cols: usize,
        bias: Option<&Vec<T>>,
        z: &mut Vec<T>,
        y: &mut Vec<T>,
    ) {
        kernels::bias_act(act, rows, cols, bias.map(|b| &b[..cols]), z, y);
    }

    fn act_forward(&self, act: Activation, n: usize, x: &Vec<T>, y: &mut Vec<T>) {
        kernels::act_forward(act, &x[..n], &mut y[..n]);
    }

    fn act_backward(
        &self,
        act: Activation,
        n: usize,
        z: &Vec<T>,
        y: &Vec<T>,
        gy: &Vec<T>,
        gz: &mut Vec<T>,
    ) {
        kernels::act_backward(act, &z[..n], &y[..n], &gy[..n], &mut gz[..n]);
    }

    fn col_sum(&self, rows: usize, cols: usize, g: &Vec<T>, out: &mut Vec<T>) {
        kernels::col_sum(rows, cols, g, &mut out[..cols]);
    }

    fn softmax(&self, rows: usize, cols: usize, x: &Vec<T>, y: &mut Vec<T>) {
        kernels::softmax(rows, cols, x, y);
    }

    fn softmax_backward(&self, rows: usize, cols: usize, y: &Vec<T>, gy: &Vec<T>, gx: &mut Vec<T>) {
        kernels::softmax_backward(rows, cols, y, gy, gx);
    }

    fn dropout(&self, n: usize, p: f64, seed: u64, x: &Vec<T>, mask: &mut Vec<T>, y: &mut Vec<T>) {
        kernels::dropout(p, seed, &x[..n], &mut mask[..n], &mut y[..n]);
    }

    fn mul(&self, n: usize, a: &Vec<T>, b: &Vec<T>, out: &mut Vec<T>) {
        for ((o, &x), &y) in out[..n].iter_mut().zip(&a[..n]).zip(&b[..n]) {
            *o = x * y;
        }
    }

    fn gather_rows(&self, cols: usize, src: &Vec<T>, idx: &[usize], dst: &mut Vec<T>) {
        for (r, &i) in idx.iter().enumerate() {
            dst[r * cols..(r + 1) * cols].copy_from_slice(&src[i * cols..(i + 1) * cols]);
        }
    }

    fn loss(
        &self,
        loss: &Loss,
        rows: usize,
        cols: usize,
        output: &Vec<T>,
        target: &Vec<T>,
        grad: &mut Vec<T>,
        acc: &mut Vec<T>,
    ) {
        let (sum, correct) = match *loss {
            Loss::Mse => kernels::mse(rows, cols, output, target, grad),
            Loss::CrossEntropy { label_smoothing } => {
                kernels::softmax_xent(rows, cols, label_smoothing, output, target, grad)
            }
            Loss::BinaryCrossEntropy => kernels::bce_logits(rows, cols, output, target, grad),
        };
        acc[0] += T::of(sum);
        acc[1] += T::of(correct);
    }

    fn sum_squares(&self, n: usize, x: &Vec<T>) -> f64 {
        x[..n].iter().map(|&v| v.f64() * v.f64()).sum()
    }

    fn all_finite(&self, n: usize, x: &Vec<T>) -> bool {
        x[..n].iter().all(|v| v.is_finite())
    }

    fn scale(&self, n: usize, s: T, x: &mut Vec<T>) {
        x[..n].iter_mut().for_each(|v| *v *= s);
    }

    fn sgd_update(
        &self,
        n: usize,
        h: &SgdHyper,
        w: &mut Vec<T>,
        g: &Vec<T>,
        vel: Option<&mut Vec<T>>,
    ) {
        update::sgd(h, &mut w[..n], &g[..n], vel.map(|v| &mut v[..n]));
    }

    fn adam_update(
        &self,
        n: usize,
        h: &AdamHyper,
        w: &mut Vec<T>,
        g: &Vec<T>,
        m: &mut Vec<T>,
        v: &mut Vec<T>,
    ) {
        update::adam(h, &mut w[..n], &g[..n], &mut m[..n], &mut v[..n]);
    }

    fn rmsprop_update(
        &self,
        n: usize,
        h: &RmsPropHyper,
        w: &mut Vec<T>,
        g: &Vec<T>,
        sq: &mut Vec<T>,
    ) {
        update::rmsprop(h, &mut w[..n], &g[..n], &mut sq[..n]);
    }
}
