//! Batch inference in slices of rows: the rows are cut into slices, and each of the backend's
//! threads takes whole slices through every layer with buffers of its own (a lane). The threads then meet
//! once per call instead of after every layer, a slice's activations stay in its core's cache,
//! and a thread the machine delays leaves its remaining slices to the others.

use std::sync::{Mutex, MutexGuard};

use super::predict::check_finite;
use super::Sequential;
use crate::backend::Backend;
use crate::error::{NeuronError, Result};
use crate::nn::layer::Layer;

/// The buffers one thread uses to take a slice of rows through the network.
pub(super) struct Lane<B: Backend> {
    /// Rows the buffers hold.
    rows: usize,
    x: B::Buf,
    /// Each stage's scratch space and output.
    stages: Vec<(B::Buf, B::Buf)>,
}

/// The most rows in a slice.
const SLICE_ROWS: usize = 128;

/// Fewer rows than this take the layers one at a time, each product on all threads.
const LANE_MIN_ROWS: usize = 64;

/// Rows per slice for `rows` rows on `threads` threads: up to 128 (a slice's activations then
/// stay in a core's own cache and the products still run at the kernels' full speed), fewer when
/// the threads would otherwise not all get a slice; a multiple of 16.
fn slice_rows(rows: usize, threads: usize) -> usize {
    rows.div_ceil(threads).next_multiple_of(16).min(SLICE_ROWS)
}

/// The largest weight matrix, in bytes, for which slices of rows pay: each thread then reads
/// every layer's weights for each of its slices, which costs more than it saves once a layer's
/// weights no longer fit in a core's own cache (about 1 MiB on current x86 server cores). Wider
/// networks split each product among the threads instead, so each core reads only its share,
/// unless the backend's inference kernel reads the weights straight through in the order it uses
/// them ([`Backend::infers_any_width`]).
const LANE_MAX_WEIGHT_BYTES: usize = 1 << 20;

/// Whether [`Sequential::predict_lanes`] is the faster way for `rows` rows: for at least
/// [`LANE_MIN_ROWS`] rows, when the backend's dense inference keeps its speed at any width (the
/// CPU's packed kernel: slices then pay on any number of threads, since each layer's bias and
/// activation are applied inside its product), or else with several threads and layers whose
/// weights fit in a core's cache.
pub(super) fn lanes_pay<B: Backend>(model: &Sequential<B>, rows: usize) -> bool {
    let max_weights = model
        .specs
        .iter()
        .map(|s| s.num_params())
        .max()
        .unwrap_or(0);
    rows >= LANE_MIN_ROWS
        && (model.be.infers_any_width()
            || model.be.concurrency() > 1
                && max_weights * std::mem::size_of::<B::E>() <= LANE_MAX_WEIGHT_BYTES)
}

impl<B: Backend> Lane<B> {
    fn new(be: &B, input: usize, widths: &[usize], rows: usize) -> Result<Self> {
        let stages = widths
            .iter()
            .map(|w| Ok((be.alloc(rows * w)?, be.alloc(rows * w)?)))
            .collect::<Result<_>>()?;
        Ok(Lane {
            rows,
            x: be.alloc(rows * input)?,
            stages,
        })
    }

    /// The network's outputs for the `n` rows in `x`, written to `out`. The first layer reads
    /// `x` in place where the backend allows it (the CPU's does), else a copy in the lane.
    fn run(
        &mut self,
        be: &B,
        layers: &[Box<dyn Layer<B>>],
        x: &[B::E],
        n: usize,
        out: &mut [B::E],
    ) -> Result<()> {
        let Lane {
            x: scratch, stages, ..
        } = self;
        if stages.is_empty() {
            out.copy_from_slice(x);
            return Ok(());
        }
        be.with_host(x, scratch, &mut |input| {
            for (i, layer) in layers.iter().enumerate() {
                let (done, rest) = stages.split_at_mut(i);
                let input = done.last().map_or(input, |(_, y)| y);
                let (z, y) = &mut rest[0];
                layer.infer(be, input, n, z, y);
            }
        })?;
        be.download(&stages[stages.len() - 1].1, out)
    }
}

/// A lane no other thread holds (there is one per thread, so one is always free).
fn free_lane<B: Backend>(lanes: &[Mutex<Lane<B>>]) -> MutexGuard<'_, Lane<B>> {
    lanes
        .iter()
        .find_map(|l| l.try_lock().ok())
        .unwrap_or_else(|| lanes[0].lock().unwrap_or_else(|e| e.into_inner()))
}

impl<B: Backend> Sequential<B> {
    /// Raw outputs for `rows` rows of `x` (`rows × inputs` values) into `out` (`rows × outputs`),
    /// slices of rows on all of the backend's threads at once; with `finite`, each slice is
    /// checked for NaN and infinite values as it is taken (the first such value is reported);
    /// with `proba`, each slice's outputs become class probabilities on its thread.
    pub(super) fn predict_lanes(
        &mut self,
        x: &[B::E],
        rows: usize,
        out: &mut [B::E],
        (finite, proba): (bool, bool),
    ) -> Result<()> {
        let slice = slice_rows(rows, self.be.concurrency());
        self.make_lanes(slice)?;
        for stage in &mut self.stages {
            stage.prepare_inference(&self.be)?;
        }
        let (cols, out_dim) = (self.input, self.output_dim());
        let outs: Vec<Mutex<&mut [B::E]>> = out[..rows * out_dim]
            .chunks_mut(slice * out_dim)
            .map(Mutex::new)
            .collect();
        // The failure of the earliest slice, so that the error does not depend on timing.
        let failed: Mutex<Option<(usize, NeuronError)>> = Mutex::new(None);
        let (be, layers, lanes, loss) = (&self.be, &self.stages, &self.lanes, self.loss);
        be.run_parts(outs.len(), &|i| {
            let (first, mut dst) = (i * slice, outs[i].lock().unwrap_or_else(|e| e.into_inner()));
            let n = dst.len() / out_dim.max(1);
            let src = &x[first * cols..(first + n) * cols];
            let done = match finite {
                true => check_finite(src, first, cols),
                false => Ok(()),
            };
            let done = done
                .and_then(|()| free_lane(lanes).run(be, layers, src, n, &mut dst))
                .and_then(|()| match proba {
                    true => loss.probabilities_in_place(&mut dst, out_dim),
                    false => Ok(()),
                });
            if let Err(e) = done {
                let mut slot = failed.lock().unwrap_or_else(|e| e.into_inner());
                if !matches!(*slot, Some((j, _)) if j <= i) {
                    *slot = Some((i, e));
                }
            }
        });
        match failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// One lane per thread of the backend, each holding at least `rows` rows.
    fn make_lanes(&mut self, rows: usize) -> Result<()> {
        let threads = self.be.concurrency();
        let fits = |l: &Mutex<Lane<B>>| l.lock().is_ok_and(|l| l.rows >= rows);
        if self.lanes.len() == threads && self.lanes.iter().all(fits) {
            return Ok(());
        }
        let widths: Vec<usize> = self.stages.iter().map(|s| s.out_dim()).collect();
        self.lanes = (0..threads)
            .map(|_| Lane::new(&self.be, self.input, &widths, rows).map(Mutex::new))
            .collect::<Result<_>>()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cpu, Loss, Matrix, Optimizer, OptimizerConfig};

    fn models(threads: usize) -> Vec<Sequential<Cpu<f32>>> {
        let be = || Cpu::<f32>::with_threads(threads);
        let b = || Sequential::builder(37).seed(5);
        vec![
            b().dense(64)
                .relu()
                .dense(48)
                .tanh()
                .dense(10)
                .loss(Loss::cross_entropy())
                .build(be())
                .unwrap(),
            // Standalone activation, dropout and softmax stages, and a GELU.
            b().dense(40)
                .gelu()
                .dropout(0.3)
                .sigmoid()
                .dense(6)
                .softmax()
                .loss(Loss::Mse)
                .build(be())
                .unwrap(),
        ]
    }

    /// Slices of rows on several threads give what one thread taking the whole batch layer by
    /// layer gives, for row counts that do and do not divide into slices.
    #[test]
    fn slices_match_the_whole_batch() {
        let x: Vec<f32> = (0..1000 * 37)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        for threads in [2, 3] {
            for (mut many, mut one) in models(threads).into_iter().zip(models(1)) {
                for rows in [64, 100, 129, 1000] {
                    assert!(lanes_pay(&many, rows));
                    let x = &x[..rows * 37];
                    let (a, b) = (
                        many.predict_rows(x, rows).unwrap(),
                        one.predict_rows(x, rows).unwrap(),
                    );
                    assert_close(&a, &b, &format!("{threads} threads, {rows} rows"));
                    // Fewer rows than a slice needs go layer by layer, by the training kernels.
                    let c = one.predict_rows(&x[..50 * 37], 50).unwrap();
                    let head = a.as_slice()[..c.as_slice().len()].to_vec();
                    let head = Matrix::from_vec(50, c.cols(), head);
                    assert_close(&head.unwrap(), &c, &format!("{rows} rows, layer by layer"));
                }
            }
        }
    }

    fn assert_close(a: &Matrix<f32>, b: &Matrix<f32>, what: &str) {
        for (p, q) in a.as_slice().iter().zip(b.as_slice()) {
            assert!(
                (p - q).abs() <= 1e-6 * (1.0 + q.abs()),
                "{what}: {p} vs {q}"
            );
        }
    }

    /// The transposed weights kept for slices follow every change of the weights: after
    /// `set_params` and after a training step, slices still give what one thread gives.
    #[test]
    fn slices_follow_weight_changes() {
        let x: Vec<f32> = (0..300 * 37)
            .map(|i| (i % 23) as f32 / 23.0 - 0.4)
            .collect();
        let (mut many, mut one) = (models(2).remove(0), models(1).remove(0));
        let before = many.predict_rows(&x, 300).unwrap();
        let mut p = many.params().unwrap();
        p.iter_mut().flatten().for_each(|v| *v = -*v * 1.5);
        many.set_params(&p).unwrap();
        one.set_params(&p).unwrap();
        let after = many.predict_rows(&x, 300).unwrap();
        assert_close(&after, &one.predict_rows(&x, 300).unwrap(), "set_params");
        assert!(after.as_slice() != before.as_slice());
        let xm = Matrix::from_vec(300, 37, x.clone()).unwrap();
        let y = Matrix::from_vec(300, 1, (0..300).map(|i| (i % 10) as f32).collect()).unwrap();
        for m in [&mut many, &mut one] {
            let mut opt = Optimizer::new(OptimizerConfig::adam(0.05)).unwrap();
            m.forward_backward(&xm, &y).unwrap();
            m.step(&mut opt, 0.05).unwrap();
        }
        let stepped = many.predict_rows(&x, 300).unwrap();
        assert_close(&stepped, &one.predict_rows(&x, 300).unwrap(), "step");
        assert!(stepped.as_slice() != after.as_slice());
    }

    /// With the check, the first NaN or infinite input is named by row and column, whether the
    /// rows go through in slices (2 threads) or layer by layer (1 thread, or few rows), and
    /// whichever slice finishes first; without it, such inputs simply give outputs.
    #[test]
    fn non_finite_inputs_are_named() {
        let good: Vec<f32> = (0..300 * 37).map(|i| (i % 17) as f32 / 17.0).collect();
        for threads in [1, 2] {
            for mut m in models(threads) {
                assert!(m.predict_rows_finite(&good, 300).is_ok());
                for (rows, bad) in [(300, vec![250 * 37 + 3, 299 * 37 + 36]), (5, vec![37 + 2])] {
                    let mut x = good[..rows * 37].to_vec();
                    x[bad[0]] = f32::NAN;
                    if let Some(&later) = bad.get(1) {
                        x[later] = f32::NEG_INFINITY;
                    }
                    let (row, column) = (bad[0] / 37, bad[0] % 37);
                    match m.predict_rows_finite(&x, rows) {
                        Err(NeuronError::NonFinite { row: r, column: c }) => {
                            assert_eq!((r, c), (row, column), "{threads} threads, {rows} rows")
                        }
                        other => panic!("expected NonFinite, got {:?}", other.map(|_| ())),
                    }
                    assert!(m.predict_rows(&x, rows).is_ok());
                }
                let mut x = good.clone();
                x[5] = f32::INFINITY;
                assert!(matches!(
                    m.predict_rows_finite(&x, 300),
                    Err(NeuronError::NonFinite { row: 0, column: 5 })
                ));
            }
        }
    }

    /// Probabilities made by each thread on its slice equal those made from the whole batch's
    /// outputs afterwards, bit for bit, in slices and layer by layer, for softmax and sigmoid;
    /// a regression model has none, and the finite check still names the first bad input.
    #[test]
    fn probabilities_per_slice_equal_those_of_the_whole_batch() {
        let x: Vec<f32> = (0..300 * 37).map(|i| (i % 29) as f32 / 9.0 - 1.5).collect();
        for threads in [1, 2] {
            let be = Cpu::<f32>::with_threads(threads);
            let bce = Sequential::builder(37).seed(3).dense(16).relu().dense(1);
            let bce = bce.loss(Loss::BinaryCrossEntropy).build(be).unwrap();
            for mut m in models(threads).into_iter().chain([bce]) {
                for rows in [5, 300] {
                    let x = &x[..rows * 37];
                    let got = m.predict_proba_rows(x, rows, true);
                    if !m.loss().is_classification() {
                        assert!(matches!(got, Err(NeuronError::InvalidArgument(_))));
                        continue;
                    }
                    let want = m.loss().probabilities(&m.predict_rows(x, rows).unwrap());
                    assert_eq!(got.unwrap().as_slice(), want.unwrap().as_slice());
                }
                let mut bad = x.clone();
                bad[200 * 37 + 4] = f32::NAN;
                if m.loss().is_classification() {
                    assert!(matches!(
                        m.predict_proba_rows(&bad, 300, true),
                        Err(NeuronError::NonFinite {
                            row: 200,
                            column: 4
                        })
                    ));
                }
            }
        }
    }

    /// Small batches keep the layer-by-layer path; so do one thread and layers whose weights
    /// exceed a core's cache, unless the backend's dense inference keeps its speed at any width.
    #[test]
    fn when_slices_are_used() {
        let two = Cpu::<f32>::with_threads(2);
        let any_width = two.infers_any_width();
        let small = Sequential::builder(37)
            .dense(10)
            .build(two.clone())
            .unwrap();
        assert!(lanes_pay(&small, 64) && !lanes_pay(&small, 63));
        let solo = Sequential::builder(37)
            .dense(10)
            .build(Cpu::<f32>::with_threads(1))
            .unwrap();
        assert_eq!(lanes_pay(&solo, 1000), any_width);
        let wide = Sequential::builder(784).dense(1024).build(two).unwrap();
        assert_eq!(lanes_pay(&wide, 1000), any_width);
        let f64_wide = Sequential::builder(784).dense(1024);
        let f64_wide = f64_wide.build(Cpu::<f64>::with_threads(2)).unwrap();
        assert!(!lanes_pay(&f64_wide, 1000));
        assert_eq!(slice_rows(1024, 2), 128);
        assert_eq!(slice_rows(100, 2), 64);
        assert_eq!(slice_rows(64, 2), 32);
    }
}
