//! The compute interface: every numeric kernel a layer, loss or optimizer needs.
//!
//! Layers, losses and optimizers never touch numbers directly; they hold [`Backend::Buf`] handles
//! and call these operations. The CPU implementation is [`crate::Cpu`]; a GPU backend implements
//! the same trait and nothing above it changes. All matrices are row-major; a buffer may be longer
//! than the data an operation uses (buffers are sized for the largest batch and reused).

use crate::data::augment::Augment;
use crate::error::Result;
use crate::float::Float;
use crate::nn::activation::Activation;
use crate::nn::loss::Loss;
use crate::optim::adam::AdamHyper;
use crate::optim::rmsprop::RmsPropHyper;
use crate::optim::sgd::SgdHyper;

/// A matrix operand: a buffer, read as `rows × cols` row-major, optionally transposed.
#[derive(Clone, Copy)]
pub struct Operand<'a, B> {
    /// The storage.
    pub buf: &'a B,
    /// Whether the operation reads the transpose of the stored matrix.
    pub transposed: bool,
}

/// Numeric kernels over device buffers. See the module documentation.
pub trait Backend: Clone + Send + Sync + 'static {
    /// Element type.
    type E: Float;
    /// A buffer of `E` living where this backend computes.
    type Buf: Send + Sync;
    /// A list of row indices living where this backend computes (see [`Backend::gather_rows`]).
    type Idx: Send + Sync;

    /// A short name, e.g. `"cpu"`.
    fn name(&self) -> String;
    /// How many training steps may run between two checks of the loss on the host (each check
    /// waits for the device to finish). 1, the default, checks every step.
    fn steps_between_checks(&self) -> usize {
        1
    }
    /// How many parts of [`Backend::run_parts`] run at the same time (1: one after another).
    fn concurrency(&self) -> usize {
        1
    }
    /// Runs `f(0)`, …, `f(parts − 1)` and returns when all are done. A backend with several
    /// threads runs up to [`Backend::concurrency`] parts at once, and each part's own operations
    /// then run on its thread alone (batch inference: each thread takes whole slices of rows
    /// through every layer). By default the parts run one after another.
    fn run_parts(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..parts).for_each(f)
    }
    /// A zero-filled buffer of `len` elements.
    fn alloc(&self, len: usize) -> Result<Self::Buf>;
    /// A buffer holding a copy of `data`.
    fn upload(&self, data: &[Self::E]) -> Result<Self::Buf>;
    /// Copies `data` into the start of an existing buffer (which must be long enough).
    fn write(&self, data: &[Self::E], buf: &mut Self::Buf) -> Result<()>;
    /// Runs `f` with `data` as a buffer of this backend, to be read only: by default a copy
    /// written into `scratch` (which must be long enough); a backend that computes in host
    /// memory lends `data` itself, without a copy.
    fn with_host(
        &self,
        data: &[Self::E],
        scratch: &mut Self::Buf,
        f: &mut dyn FnMut(&Self::Buf),
    ) -> Result<()> {
        self.write(data, scratch)?;
        f(scratch);
        Ok(())
    }
    /// Copies the first `out.len()` elements of `buf` into `out`.
    fn download(&self, buf: &Self::Buf, out: &mut [Self::E]) -> Result<()>;
    /// Copies the first `len` elements of `src` into `dst`.
    fn copy(&self, len: usize, src: &Self::Buf, dst: &mut Self::Buf);
    /// Sets the first `len` elements to `v`.
    fn fill(&self, len: usize, v: Self::E, buf: &mut Self::Buf);

    /// `C[m×n] = op(A)[m×k] · op(B)[k×n]`, added to `C` when `accumulate`.
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: Operand<'_, Self::Buf>,
        b: Operand<'_, Self::Buf>,
        c: &mut Self::Buf,
        accumulate: bool,
    );
    /// Fused bias + activation over a `rows × cols` matrix: `Z += b` (bias broadcast over rows,
    /// when given), then `Y = g(Z)`.
    fn bias_act(
        &self,
        act: Activation,
        rows: usize,
        cols: usize,
        bias: Option<&Self::Buf>,
        z: &mut Self::Buf,
        y: &mut Self::Buf,
    );
    /// A dense layer's weights `W[outputs, inputs]` arranged for [`Backend::dense_infer`], made
    /// once for inference. By default `Wᵀ[inputs, outputs]`, which the product reads without
    /// rearranging it for every call.
    fn inference_weights(&self, outputs: usize, inputs: usize, w: &Self::Buf) -> Result<Self::Buf> {
        transposed_weights(self, outputs, inputs, w)
    }
    /// Inference through a dense layer: `Y = g(X·Wᵀ + b)` for `rows` rows of `x`, with `w` made
    /// by [`Backend::inference_weights`]; `z` is scratch space of the output's size.
    fn dense_infer(
        &self,
        act: Activation,
        shape: (usize, usize, usize),
        x: &Self::Buf,
        wb: (&Self::Buf, &Self::Buf),
        z: &mut Self::Buf,
        y: &mut Self::Buf,
    ) {
        dense_infer_by_product(self, act, shape, x, wb, z, y)
    }
    /// Whether [`Backend::dense_infer`] keeps its full speed whatever the size of the weights
    /// (it reads them straight through, in order), so that slices of rows taken through the
    /// whole network on every thread pay even for layers whose weights exceed a core's cache.
    fn infers_any_width(&self) -> bool {
        false
    }
    /// Element-wise `Y = g(X)` over `n` elements.
    fn act_forward(&self, act: Activation, n: usize, x: &Self::Buf, y: &mut Self::Buf);
    /// Activation backward: `∂L/∂Z = ∂L/∂Y ⊙ g′(Z)` over `n` elements (uses `Z` or `Y = g(Z)`).
    fn act_backward(
        &self,
        act: Activation,
        n: usize,
        z: &Self::Buf,
        y: &Self::Buf,
        gy: &Self::Buf,
        gz: &mut Self::Buf,
    );
    /// Column sums of a `rows × cols` matrix into `out[cols]` (the bias gradient).
    fn col_sum(&self, rows: usize, cols: usize, g: &Self::Buf, out: &mut Self::Buf);
    /// Row-wise softmax `Y = softmax(X)`, stable (the row maximum is subtracted first).
    fn softmax(&self, rows: usize, cols: usize, x: &Self::Buf, y: &mut Self::Buf);
    /// Softmax Jacobian-vector product: `∂L/∂X = Y ⊙ (∂L/∂Y − rowsum(∂L/∂Y ⊙ Y))`.
    fn softmax_backward(
        &self,
        rows: usize,
        cols: usize,
        y: &Self::Buf,
        gy: &Self::Buf,
        gx: &mut Self::Buf,
    );
    /// Inverted dropout over `n` elements: `mask_i = 1/(1−p)` with probability `1−p`, else 0,
    /// drawn from `hash_uniform(seed, first + i)`; `Y = X ⊙ mask`. (`first` lets a worker that
    /// holds rows from the middle of a batch draw the masks one worker would draw for them.)
    #[allow(clippy::too_many_arguments)]
    fn dropout(
        &self,
        n: usize,
        p: f64,
        seed: u64,
        first: u64,
        x: &Self::Buf,
        mask: &mut Self::Buf,
        y: &mut Self::Buf,
    );
    /// Elementwise product `out = a ⊙ b` over `n` elements.
    fn mul(&self, n: usize, a: &Self::Buf, b: &Self::Buf, out: &mut Self::Buf);
    /// Row indices for [`Backend::gather_rows`], uploaded once (for example an epoch's shuffled
    /// order), so that gathering a batch moves no data between host and device.
    fn upload_indices(&self, idx: &[usize]) -> Result<Self::Idx>;
    /// Copies rows `idx[start..start + rows]` of the `cols`-wide matrix `src` into consecutive rows
    /// of `dst`. Every index must be a row of `src`.
    fn gather_rows(
        &self,
        cols: usize,
        src: &Self::Buf,
        idx: &Self::Idx,
        start: usize,
        rows: usize,
        dst: &mut Self::Buf,
    );
    /// Random shifts and flips of `rows` images (see [`crate::data::augment`]): `dst = augment(src)`,
    /// row `r` drawn as row `first + r` of the batch.
    #[allow(clippy::too_many_arguments)]
    fn augment_images(
        &self,
        aug: &Augment,
        rows: usize,
        seed: u64,
        first: usize,
        src: &Self::Buf,
        dst: &mut Self::Buf,
    );
    /// Loss of a `rows × cols` output against targets, and its gradient in the same pass.
    /// Adds the sum over rows of the per-row loss to `acc[0]` and the number of correct
    /// predictions (classification losses) to `acc[1]`; `grad` receives ∂(mean loss)/∂output.
    #[allow(clippy::too_many_arguments)]
    fn loss(
        &self,
        loss: &Loss,
        rows: usize,
        cols: usize,
        output: &Self::Buf,
        target: &Self::Buf,
        grad: &mut Self::Buf,
        acc: &mut Self::Buf,
    );
    /// Sum of squares of the first `n` elements (for gradient-norm clipping).
    fn sum_squares(&self, n: usize, x: &Self::Buf) -> f64;
    /// Whether the first `n` elements are all finite.
    fn all_finite(&self, n: usize, x: &Self::Buf) -> bool;
    /// `x *= s` over `n` elements.
    fn scale(&self, n: usize, s: Self::E, x: &mut Self::Buf);
    /// One SGD (optionally momentum / Nesterov) update of `n` parameters.
    fn sgd_update(
        &self,
        n: usize,
        h: &SgdHyper,
        w: &mut Self::Buf,
        g: &Self::Buf,
        velocity: Option<&mut Self::Buf>,
    );
    /// One Adam / AdamW update of `n` parameters.
    fn adam_update(
        &self,
        n: usize,
        h: &AdamHyper,
        w: &mut Self::Buf,
        g: &Self::Buf,
        m: &mut Self::Buf,
        v: &mut Self::Buf,
    );
    /// One RMSprop update of `n` parameters.
    fn rmsprop_update(
        &self,
        n: usize,
        h: &RmsPropHyper,
        w: &mut Self::Buf,
        g: &Self::Buf,
        sq: &mut Self::Buf,
    );
}

/// [`Backend::inference_weights`]' default: `Wᵀ[inputs, outputs]` of `W[outputs, inputs]`.
pub(crate) fn transposed_weights<B: Backend>(
    be: &B,
    outputs: usize,
    inputs: usize,
    w: &B::Buf,
) -> Result<B::Buf> {
    let mut host = vec![B::E::default(); outputs * inputs];
    be.download(w, &mut host)?;
    let mut t = vec![B::E::default(); outputs * inputs];
    for (i, row) in host.chunks_exact(inputs.max(1)).enumerate() {
        for (j, v) in row.iter().enumerate() {
            t[j * outputs + i] = *v;
        }
    }
    be.upload(&t)
}

/// [`Backend::dense_infer`]'s default: the product with `Wᵀ` from [`transposed_weights`], then
/// the bias and activation.
pub(crate) fn dense_infer_by_product<B: Backend>(
    be: &B,
    act: Activation,
    shape: (usize, usize, usize),
    x: &B::Buf,
    (w, b): (&B::Buf, &B::Buf),
    z: &mut B::Buf,
    y: &mut B::Buf,
) {
    let w = Operand {
        buf: w,
        transposed: false,
    };
    dense_by_product(be, act, shape, x, (w, b), z, y)
}

/// A dense layer's `Z = X·W' + b`, `Y = g(Z)` for `rows` rows of `x`, by the backend's product
/// and its fused bias and activation: `W'` is `Wᵀ`, read from `W[outputs, inputs]` transposed
/// (training) or stored so (inference).
pub(crate) fn dense_by_product<B: Backend>(
    be: &B,
    act: Activation,
    (rows, outputs, inputs): (usize, usize, usize),
    x: &B::Buf,
    (w, b): (Operand<'_, B::Buf>, &B::Buf),
    z: &mut B::Buf,
    y: &mut B::Buf,
) {
    let x = Operand {
        buf: x,
        transposed: false,
    };
    be.matmul(rows, outputs, inputs, x, w, z, false);
    be.bias_act(act, rows, outputs, Some(b), z, y);
}
