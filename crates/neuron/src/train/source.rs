//! Where training batches come from: the [`BatchSource`] trait, and [`DatasetSource`], an
//! in-memory data set kept on the device, optionally cut into one worker's share of each batch.

use std::ops::Range;

use crate::backend::Backend;
use crate::data::dataset::Dataset;
use crate::error::{NeuronError, Result};
use crate::float::Float;
use crate::rng::Rng;

/// A source of training batches for [`super::TrainRun`].
///
/// An epoch is a sequence of `rows()` positions. At the start of each epoch the source fixes the
/// order of its rows (seeded by the generator it is given); each step then asks for the rows at a
/// range of positions of that order (one global batch). With several workers each has its own
/// source, which loads only its share of every batch; the gradients are then combined by a
/// [`super::GradientSync`]. A source of one worker loads the whole range.
pub trait BatchSource<B: Backend> {
    /// Feature columns of a row.
    fn x_cols(&self) -> usize;
    /// Target columns of a row.
    fn y_cols(&self) -> usize;
    /// Rows in one epoch, over all workers.
    fn rows(&self) -> usize;
    /// Fixes the order of the epoch that starts. `rng` is the shuffling generator as it stands at
    /// the epoch's start (the source advances it by what it draws); `shuffle` false keeps the
    /// stored order.
    fn begin_epoch(&mut self, be: &B, rng: &mut Rng, shuffle: bool) -> Result<()>;
    /// Writes this worker's rows among the epoch's positions `batch` into the start of `x` and
    /// `y` (row-major), and returns how many rows it wrote.
    fn load(
        &mut self,
        be: &B,
        batch: Range<usize>,
        x: &mut B::Buf,
        y: &mut B::Buf,
    ) -> Result<usize>;
    /// Where the rows that [`BatchSource::load`] wrote for positions `batch` (the batch it
    /// loaded last) start within that batch: dropout and augmentation are drawn per position in
    /// the global batch, so that workers sharing it draw what one worker would. 0 for a source
    /// that loads the whole batch.
    fn first_row(&self, batch: Range<usize>) -> usize {
        let _ = batch;
        0
    }
    /// The weights of the rows the last [`BatchSource::load`] wrote, when rows carry weights
    /// (sample weights: the loss is then the weighted mean `Σ w_i l_i / Σ w_i`).
    fn weights(&self) -> Option<&[B::E]> {
        None
    }
}

/// The share of positions `batch` that worker `k` of `n` trains on: consecutive, as even as
/// possible, in worker order (a batch of 10 on 4 workers is cut 2, 3, 2, 3).
pub fn worker_share(batch: Range<usize>, k: usize, n: usize) -> Range<usize> {
    let len = batch.len();
    batch.start + len * k / n..batch.start + len * (k + 1) / n
}

/// Fails unless worker `k` of `n` exists (`k < n`).
pub(crate) fn check_worker(k: usize, n: usize) -> Result<()> {
    if n == 0 || k >= n {
        return Err(NeuronError::arg(format!(
            "worker {k} of {n} does not exist"
        )));
    }
    Ok(())
}

/// An in-memory [`Dataset`] uploaded to the backend's device once; each batch is gathered there
/// by row indices, so a step moves no data to the device.
pub struct DatasetSource<B: Backend> {
    x: B::Buf,
    y: B::Buf,
    cols: (usize, usize),
    perm: Vec<usize>,
    order: Option<B::Idx>,
    worker: (usize, usize),
    /// Each row's weight, and those of the last batch loaded.
    weights: Option<Weights<B::E>>,
}

/// Every row's weight, and the weights of the batch last loaded.
type Weights<E> = (Vec<E>, Vec<E>);

impl<B: Backend> DatasetSource<B> {
    /// Uploads `data` to `be`'s device.
    pub fn new(be: &B, data: &Dataset<B::E>) -> Result<Self> {
        Ok(DatasetSource {
            x: be.upload(data.x.as_slice())?,
            y: be.upload(data.y.as_slice())?,
            cols: (data.x.cols(), data.y.cols()),
            perm: (0..data.len()).collect(),
            order: None,
            worker: (0, 1),
            weights: None,
        })
    }

    /// Gives each row a weight (finite, at least 0): the loss becomes the weighted mean, as if
    /// each row appeared `w` times.
    pub fn with_weights(mut self, w: Vec<B::E>) -> Result<Self> {
        if w.len() != self.perm.len() {
            return Err(NeuronError::shape(
                "sample weights",
                format!("{} values", self.perm.len()),
                format!("{} values", w.len()),
            ));
        }
        if let Some(i) = w
            .iter()
            .position(|v| !(v.f64() >= 0.0 && v.f64().is_finite()))
        {
            return Err(NeuronError::data(format!(
                "sample weight {i} is {}; weights must be finite and at least 0",
                w[i]
            )));
        }
        self.weights = Some((w, Vec::new()));
        Ok(self)
    }

    /// The same data as worker `k` of `n`: every worker sees the same epoch order and loads its
    /// [`worker_share`] of each batch.
    pub fn shard(mut self, k: usize, n: usize) -> Result<Self> {
        check_worker(k, n)?;
        self.worker = (k, n);
        Ok(self)
    }
}

impl<B: Backend> BatchSource<B> for DatasetSource<B> {
    fn x_cols(&self) -> usize {
        self.cols.0
    }

    fn y_cols(&self) -> usize {
        self.cols.1
    }

    fn rows(&self) -> usize {
        self.perm.len()
    }

    fn begin_epoch(&mut self, be: &B, rng: &mut Rng, shuffle: bool) -> Result<()> {
        self.perm.iter_mut().enumerate().for_each(|(i, p)| *p = i);
        if shuffle {
            rng.shuffle(&mut self.perm);
        }
        // The epoch's order on the device: gathering a batch then moves no indices.
        self.order = Some(be.upload_indices(&self.perm)?);
        Ok(())
    }

    fn load(
        &mut self,
        be: &B,
        batch: Range<usize>,
        x: &mut B::Buf,
        y: &mut B::Buf,
    ) -> Result<usize> {
        let order = self
            .order
            .as_ref()
            .ok_or_else(|| NeuronError::arg("a batch was asked for before the epoch began"))?;
        if batch.end > self.perm.len() {
            return Err(NeuronError::arg(format!(
                "batch {batch:?} is past the epoch's {} rows",
                self.perm.len()
            )));
        }
        let mine = worker_share(batch, self.worker.0, self.worker.1);
        be.gather_rows(self.cols.0, &self.x, order, mine.start, mine.len(), x);
        be.gather_rows(self.cols.1, &self.y, order, mine.start, mine.len(), y);
        if let Some((all, batch)) = &mut self.weights {
            batch.clear();
            batch.extend(self.perm[mine.clone()].iter().map(|&i| all[i]));
        }
        Ok(mine.len())
    }

    fn first_row(&self, batch: Range<usize>) -> usize {
        let start = batch.start;
        worker_share(batch, self.worker.0, self.worker.1).start - start
    }

    fn weights(&self) -> Option<&[B::E]> {
        self.weights.as_ref().map(|(_, b)| b.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;
    use crate::Cpu;

    #[test]
    fn shares_cover_the_batch_in_order() {
        let parts: Vec<_> = (0..4).map(|k| worker_share(3..13, k, 4)).collect();
        assert_eq!(parts, vec![3..5, 5..8, 8..10, 10..13]);
        assert_eq!(worker_share(0..1, 0, 2), 0..0);
        assert_eq!(worker_share(0..1, 1, 2), 0..1);
    }

    #[test]
    fn a_shard_loads_its_rows_of_the_shared_order() {
        let be = Cpu::<f64>::with_threads(1);
        let x = Matrix::from_vec(5, 1, vec![0., 1., 2., 3., 4.]).unwrap();
        let y = Matrix::from_vec(5, 1, vec![10., 11., 12., 13., 14.]).unwrap();
        let data = Dataset::new(x, y).unwrap();
        let mut src = DatasetSource::new(&be, &data).unwrap().shard(1, 2).unwrap();
        let (mut bx, mut by) = (be.alloc(5).unwrap(), be.alloc(5).unwrap());
        assert!(src.load(&be, 0..4, &mut bx, &mut by).is_err());
        src.begin_epoch(&be, &mut Rng::new(1), false).unwrap();
        assert_eq!(src.load(&be, 0..4, &mut bx, &mut by).unwrap(), 2);
        let mut got = [0.0; 2];
        be.download(&by, &mut got).unwrap();
        assert_eq!(got, [12., 13.]);
        assert!(src.load(&be, 4..6, &mut bx, &mut by).is_err());
        assert!(DatasetSource::new(&be, &data).unwrap().shard(2, 2).is_err());
    }
}
