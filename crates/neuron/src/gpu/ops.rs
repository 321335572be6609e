//! [`Backend`](crate::Backend) for [`Gpu`]: each operation checks its buffers, then queues a kernel of
//! `kernels.cu` or a product.

use super::gemm::gemm_config;
use super::{device_err, Arg, Gpu, GpuFloat, GpuIdx, Runtime};
use crate::backend::{Backend, Operand};
use crate::data::augment::Augment;
use crate::error::{NeuronError, Result};
use crate::nn::activation::Activation;
use crate::nn::loss::Loss;
use crate::optim::adam::AdamHyper;
use crate::optim::rmsprop::RmsPropHyper;
use crate::optim::sgd::SgdHyper;

/// Activation codes of `kernels.cu` and the leaky-ReLU slope.
fn act_code(act: Activation) -> (i32, f64) {
    match act {
        Activation::Identity => (0, 0.0),
        Activation::Relu => (1, 0.0),
        Activation::LeakyRelu { alpha } => (2, alpha),
        Activation::Sigmoid => (3, 0.0),
        Activation::Tanh => (4, 0.0),
        Activation::Gelu => (5, 0.0),
    }
}

impl<T: GpuFloat, R: Runtime> Backend for Gpu<T, R> {
    type E = T;
    type Buf = R::Buf<T>;
    type Idx = GpuIdx<R>;

    fn name(&self) -> String {
        format!("{} ({})", self.s.rt.name(), self.precision())
    }

    /// The loss is read back every 32 steps: reading it waits for the device, which would
    /// otherwise idle while the host queues the next step.
    fn steps_between_checks(&self) -> usize {
        32
    }

    fn alloc(&self, len: usize) -> Result<R::Buf<T>> {
        self.check()?;
        self.s
            .rt
            .alloc::<T>(len.max(1))
            .map_err(|e| NeuronError::Device(format!("allocating {len} elements: {e}")))
    }

    fn upload(&self, data: &[T]) -> Result<R::Buf<T>> {
        let mut buf = self.alloc(data.len())?;
        self.write(data, &mut buf)?;
        Ok(buf)
    }

    fn write(&self, data: &[T], buf: &mut R::Buf<T>) -> Result<()> {
        self.check()?;
        if R::len(buf) < data.len() {
            return Err(NeuronError::shape(
                "write",
                format!("at most {} elements", R::len(buf)),
                data.len(),
            ));
        }
        if data.is_empty() {
            return Ok(());
        }
        self.s.rt.htod(data, buf).map_err(device_err)
    }

    fn download(&self, buf: &R::Buf<T>, out: &mut [T]) -> Result<()> {
        self.check()?;
        if R::len(buf) < out.len() {
            return Err(NeuronError::shape(
                "download",
                format!("at least {} elements", out.len()),
                R::len(buf),
            ));
        }
        if !out.is_empty() {
            self.s.rt.dtoh(buf, out).map_err(device_err)?;
        }
        self.check()
    }

    fn copy(&self, len: usize, src: &R::Buf<T>, dst: &mut R::Buf<T>) {
        if len == 0 {
            return;
        }
        if R::len(src) < len || R::len(dst) < len {
            return self.record_error(format!(
                "copy of {len} elements between buffers of {} and {}",
                R::len(src),
                R::len(dst)
            ));
        }
        let r = self.s.rt.dtod(len, src, dst);
        self.record(r, "copy");
    }

    fn fill(&self, len: usize, v: T, buf: &mut R::Buf<T>) {
        if !self.fits("fill", len, &[buf]) {
            return;
        }
        let args = [Arg::I64(len as i64), Self::t(v), Self::buf(buf)];
        self.launch("fill", Some(len), &args);
    }

    fn matmul(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand<'_, R::Buf<T>>,
        b: Operand<'_, R::Buf<T>>,
        c: &mut R::Buf<T>,
        accumulate: bool,
    ) {
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if !accumulate {
                self.fill(m * n, T::zero(), c);
            }
            return;
        }
        if R::len(a.buf) < m * k || R::len(b.buf) < k * n || R::len(c) < m * n {
            return self.record_error(format!("product {m}×{k} · {k}×{n}: a buffer is too short"));
        }
        let Some(cfg) = gemm_config::<T>(m, n, k, a.transposed, b.transposed, accumulate) else {
            return self.record_error(format!("product {m}×{k} · {k}×{n} is too large"));
        };
        let r = self.s.rt.gemm(&cfg, b.buf, a.buf, c);
        self.record(r, "matmul");
    }

    fn bias_act(
        &self,
        act: Activation,
        rows: usize,
        cols: usize,
        bias: Option<&R::Buf<T>>,
        z: &mut R::Buf<T>,
        y: &mut R::Buf<T>,
    ) {
        if !self.fits("bias_act", rows * cols, &[z, y])
            || !bias.is_none_or(|b| self.fits("bias_act", cols, &[b]))
        {
            return;
        }
        let (code, alpha) = act_code(act);
        let args = [
            Arg::I32(code),
            Self::tf(alpha),
            Arg::I64(rows as i64),
            Arg::I64(cols as i64),
            // Without a bias the kernel never reads this pointer.
            Self::buf(bias.unwrap_or(&self.s.dummy)),
            Arg::I32(i32::from(bias.is_some())),
            Self::buf(z),
            Self::buf(y),
        ];
        self.launch("bias_act", Some(rows * cols), &args);
    }

    fn act_forward(&self, act: Activation, n: usize, x: &R::Buf<T>, y: &mut R::Buf<T>) {
        if !self.fits("act_forward", n, &[x, y]) {
            return;
        }
        let (code, alpha) = act_code(act);
        let args = [
            Arg::I32(code),
            Self::tf(alpha),
            Arg::I64(n as i64),
            Self::buf(x),
            Self::buf(y),
        ];
        self.launch("act_forward", Some(n), &args);
    }

    fn act_backward(
        &self,
        act: Activation,
        n: usize,
        z: &R::Buf<T>,
        y: &R::Buf<T>,
        gy: &R::Buf<T>,
        gz: &mut R::Buf<T>,
    ) {
        if !self.fits("act_backward", n, &[z, y, gy, gz]) {
            return;
        }
        let (code, alpha) = act_code(act);
        let args = [
            Arg::I32(code),
            Self::tf(alpha),
            Arg::I64(n as i64),
            Self::buf(z),
            Self::buf(y),
            Self::buf(gy),
            Self::buf(gz),
        ];
        self.launch("act_backward", Some(n), &args);
    }

    fn col_sum(&self, rows: usize, cols: usize, g: &R::Buf<T>, out: &mut R::Buf<T>) {
        // out[1×cols] = 1[1×rows] · G[rows×cols]: one product, deterministic.
        match self.ones(rows) {
            Ok(ones) => {
                let a = Operand {
                    buf: &*ones,
                    transposed: false,
                };
                let b = Operand {
                    buf: g,
                    transposed: false,
                };
                self.matmul(1, cols, rows, a, b, out, false);
            }
            Err(e) => self.record_error(e.to_string()),
        }
    }

    fn softmax(&self, rows: usize, cols: usize, x: &R::Buf<T>, y: &mut R::Buf<T>) {
        if !self.fits("softmax", rows * cols, &[x, y]) {
            return;
        }
        let args = [
            Arg::I64(rows as i64),
            Arg::I64(cols as i64),
            Self::buf(x),
            Self::buf(y),
        ];
        self.launch("softmax", Some(rows), &args);
    }

    fn softmax_backward(
        &self,
        rows: usize,
        cols: usize,
        y: &R::Buf<T>,
        gy: &R::Buf<T>,
        gx: &mut R::Buf<T>,
    ) {
        if !self.fits("softmax_backward", rows * cols, &[y, gy, gx]) {
            return;
        }
        let args = [
            Arg::I64(rows as i64),
            Arg::I64(cols as i64),
            Self::buf(y),
            Self::buf(gy),
            Self::buf(gx),
        ];
        self.launch("softmax_backward", Some(rows), &args);
    }

    fn dropout(
        &self,
        n: usize,
        p: f64,
        seed: u64,
        first: u64,
        x: &R::Buf<T>,
        mask: &mut R::Buf<T>,
        y: &mut R::Buf<T>,
    ) {
        if !self.fits("dropout", n, &[x, mask, y]) {
            return;
        }
        let args = [
            Arg::I64(n as i64),
            Arg::F32(p as f32),
            Self::tf(1.0 / (1.0 - p)),
            Arg::U64(seed),
            Arg::U64(first),
            Self::buf(x),
            Self::buf(mask),
            Self::buf(y),
        ];
        self.launch("dropout", Some(n), &args);
    }

    fn mul(&self, n: usize, a: &R::Buf<T>, b: &R::Buf<T>, out: &mut R::Buf<T>) {
        if !self.fits("mul", n, &[a, b, out]) {
            return;
        }
        let args = [
            Arg::I64(n as i64),
            Self::buf(a),
            Self::buf(b),
            Self::buf(out),
        ];
        self.launch("mul", Some(n), &args);
    }

    fn upload_indices(&self, idx: &[usize]) -> Result<GpuIdx<R>> {
        self.check()?;
        let host: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
        let mut buf =
            self.s.rt.alloc::<i64>(host.len().max(1)).map_err(|e| {
                NeuronError::Device(format!("allocating {} indices: {e}", idx.len()))
            })?;
        if !host.is_empty() {
            self.s.rt.htod(&host, &mut buf).map_err(device_err)?;
        }
        Ok(GpuIdx {
            buf,
            len: idx.len(),
            max: idx.iter().copied().max(),
        })
    }

    fn gather_rows(
        &self,
        cols: usize,
        src: &R::Buf<T>,
        idx: &GpuIdx<R>,
        start: usize,
        rows: usize,
        dst: &mut R::Buf<T>,
    ) {
        if rows == 0 {
            return;
        }
        let src_rows = R::len(src) / cols.max(1);
        if start + rows > idx.len || idx.max.is_some_and(|m| m >= src_rows) {
            return self.record_error(format!(
                "gathering rows {start}..{} of {} indices (largest {:?}) from {src_rows} rows",
                start + rows,
                idx.len,
                idx.max
            ));
        }
        if !self.fits("gather_rows", rows * cols, &[dst]) {
            return;
        }
        let args = [
            Arg::I64(rows as i64),
            Arg::I64(cols as i64),
            Self::buf(src),
            Self::buf(&idx.buf),
            Arg::I64(start as i64),
            Self::buf(dst),
        ];
        self.launch("gather_rows", Some(rows * cols), &args);
    }

    fn augment_images(
        &self,
        aug: &Augment,
        rows: usize,
        seed: u64,
        first: usize,
        src: &R::Buf<T>,
        dst: &mut R::Buf<T>,
    ) {
        if !self.fits("augment_images", rows * aug.height * aug.width, &[src, dst]) {
            return;
        }
        let args = [
            Arg::I64(rows as i64),
            Arg::I64(aug.height as i64),
            Arg::I64(aug.width as i64),
            Arg::I64(aug.max_shift as i64),
            Arg::I32(i32::from(aug.flip)),
            Arg::U64(seed),
            Arg::I64(first as i64),
            Self::buf(src),
            Self::buf(dst),
        ];
        self.launch("augment", Some(rows * aug.height * aug.width), &args);
    }

    fn loss(
        &self,
        loss: &Loss,
        rows: usize,
        cols: usize,
        output: &R::Buf<T>,
        target: &R::Buf<T>,
        grad: &mut R::Buf<T>,
        acc: &mut R::Buf<T>,
    ) {
        let targets = match loss {
            Loss::CrossEntropy { .. } => rows,
            _ => rows * cols,
        };
        if cols == 0
            || !self.fits("loss", rows * cols, &[output, grad])
            || !self.fits("loss", targets, &[target])
            || !self.fits("loss", 2, &[acc])
        {
            return;
        }
        let part = match self.partials(2 * rows) {
            Ok(p) => p,
            Err(e) => return self.record_error(e.to_string()),
        };
        let (r, c) = (Arg::I64(rows as i64), Arg::I64(cols as i64));
        let (name, scale, smoothing) = match *loss {
            Loss::Mse => ("loss_mse", 1.0 / cols as f64, None),
            Loss::CrossEntropy { label_smoothing } => ("loss_xent", 1.0, Some(label_smoothing)),
            Loss::BinaryCrossEntropy => ("loss_bce", 1.0 / cols as f64, None),
        };
        let mut args = vec![r, c];
        args.extend(smoothing.map(Arg::F64));
        args.extend([
            Self::buf(output),
            Self::buf(target),
            Self::buf(grad),
            Self::buf(&*part),
        ]);
        self.launch(name, Some(rows), &args);
        let args = [
            Arg::I64(rows as i64),
            Self::buf(&*part),
            Arg::F64(scale),
            Self::buf(acc),
        ];
        self.launch("reduce_acc", None, &args);
    }

    fn sum_squares(&self, n: usize, x: &R::Buf<T>) -> f64 {
        self.stats(n, x).map_or(f64::NAN, |s| s[0])
    }

    fn all_finite(&self, n: usize, x: &R::Buf<T>) -> bool {
        self.stats(n, x).is_ok_and(|s| s[1] == 0.0)
    }

    fn scale(&self, n: usize, s: T, x: &mut R::Buf<T>) {
        if !self.fits("scale", n, &[x]) {
            return;
        }
        let args = [Arg::I64(n as i64), Self::t(s), Self::buf(x)];
        self.launch("scale", Some(n), &args);
    }

    fn sgd_update(
        &self,
        n: usize,
        h: &SgdHyper,
        w: &mut R::Buf<T>,
        g: &R::Buf<T>,
        velocity: Option<&mut R::Buf<T>>,
    ) {
        if !self.fits("sgd_update", n, &[w, g])
            || !velocity
                .as_ref()
                .is_none_or(|v| self.fits("sgd_update", n, &[v]))
        {
            return;
        }
        let has = i32::from(velocity.is_some());
        let v: &R::Buf<T> = match &velocity {
            Some(v) => v,
            // Without velocity the kernel never reads its last pointer.
            None => g,
        };
        let args = [
            Arg::I64(n as i64),
            Self::tf(h.lr),
            Self::tf(h.weight_decay),
            Self::tf(h.grad_scale),
            Self::tf(h.momentum),
            Arg::I32(i32::from(h.nesterov)),
            Arg::I32(has),
            Self::buf(w),
            Self::buf(g),
            Self::buf(v),
        ];
        self.launch("sgd", Some(n), &args);
    }

    fn adam_update(
        &self,
        n: usize,
        h: &AdamHyper,
        w: &mut R::Buf<T>,
        g: &R::Buf<T>,
        m: &mut R::Buf<T>,
        v: &mut R::Buf<T>,
    ) {
        if !self.fits("adam_update", n, &[w, g, m, v]) {
            return;
        }
        // The same scalars as the CPU kernel (src/cpu/update.rs).
        let t = h.step.max(1) as i32;
        let bc1 = 1.0 - h.beta1.powi(t);
        let bc2 = 1.0 - h.beta2.powi(t);
        let (l2, shrink) = if h.decoupled {
            (0.0, 1.0 - h.lr * h.weight_decay)
        } else {
            (h.weight_decay, 1.0)
        };
        let args = [
            Arg::I64(n as i64),
            Self::tf(h.lr / bc1),
            Self::tf(1.0 / bc2.sqrt()),
            Self::tf(h.beta1),
            Self::tf(h.beta2),
            Self::tf(h.eps),
            Self::tf(h.grad_scale),
            Self::tf(l2),
            Self::tf(shrink),
            Self::buf(w),
            Self::buf(g),
            Self::buf(m),
            Self::buf(v),
        ];
        self.launch("adam", Some(n), &args);
    }

    fn rmsprop_update(
        &self,
        n: usize,
        h: &RmsPropHyper,
        w: &mut R::Buf<T>,
        g: &R::Buf<T>,
        sq: &mut R::Buf<T>,
    ) {
        if !self.fits("rmsprop_update", n, &[w, g, sq]) {
            return;
        }
        let args = [
            Arg::I64(n as i64),
            Self::tf(h.lr),
            Self::tf(h.rho),
            Self::tf(h.eps),
            Self::tf(h.weight_decay),
            Self::tf(h.grad_scale),
            Self::buf(w),
            Self::buf(g),
            Self::buf(sq),
        ];
        self.launch("rmsprop", Some(n), &args);
    }
}
