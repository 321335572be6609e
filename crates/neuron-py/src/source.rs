//! Training rows borrowed from NumPy arrays, as a [`BatchSource`]: each batch is gathered into a
//! staging buffer and written to the model's input, so the arrays are never copied whole.

use std::ops::Range;

use neuron::{Backend, BatchSource, Cpu, Float, NeuronError, Result, Rng};

/// Rows of `x` (`[n, x_cols]`) and `y` (`[n, y_cols]`), row-major, with optional weights.
pub struct SliceSource<'a, E: Float> {
    x: &'a [E],
    y: &'a [E],
    cols: (usize, usize),
    perm: Vec<usize>,
    weights: Option<&'a [E]>,
    batch_weights: Vec<E>,
    stage: Vec<E>,
}

impl<'a, E: Float> SliceSource<'a, E> {
    /// Borrows the rows; `weights`, when given, has one entry per row.
    pub fn new(
        x: &'a [E],
        y: &'a [E],
        cols: (usize, usize),
        weights: Option<&'a [E]>,
    ) -> Result<Self> {
        let rows = x.len() / cols.0.max(1);
        if x.len() != rows * cols.0 || y.len() != rows * cols.1 {
            return Err(NeuronError::arg(format!(
                "{} feature values and {} target values do not make rows of {} and {}",
                x.len(),
                y.len(),
                cols.0,
                cols.1
            )));
        }
        if weights.is_some_and(|w| w.len() != rows) {
            return Err(NeuronError::arg("one sample weight per row is needed"));
        }
        Ok(SliceSource {
            x,
            y,
            cols,
            perm: (0..rows).collect(),
            weights,
            batch_weights: Vec::new(),
            stage: Vec::new(),
        })
    }

    fn gather(&mut self, data: &[E], cols: usize, rows: &Range<usize>) {
        self.stage.clear();
        for &r in &self.perm[rows.clone()] {
            self.stage
                .extend_from_slice(&data[r * cols..(r + 1) * cols]);
        }
    }
}

impl<E: Float> BatchSource<Cpu<E>> for SliceSource<'_, E> {
    fn x_cols(&self) -> usize {
        self.cols.0
    }

    fn y_cols(&self) -> usize {
        self.cols.1
    }

    fn rows(&self) -> usize {
        self.perm.len()
    }

    fn begin_epoch(&mut self, _: &Cpu<E>, rng: &mut Rng, shuffle: bool) -> Result<()> {
        self.perm.iter_mut().enumerate().for_each(|(i, p)| *p = i);
        if shuffle {
            rng.shuffle(&mut self.perm);
        }
        Ok(())
    }

    fn load(
        &mut self,
        be: &Cpu<E>,
        batch: Range<usize>,
        x: &mut <Cpu<E> as Backend>::Buf,
        y: &mut <Cpu<E> as Backend>::Buf,
    ) -> Result<usize> {
        if batch.end > self.perm.len() {
            return Err(NeuronError::arg("a batch past the last row was asked for"));
        }
        self.gather(self.x, self.cols.0, &batch);
        be.write(&self.stage, x)?;
        self.gather(self.y, self.cols.1, &batch);
        be.write(&self.stage, y)?;
        if let Some(w) = self.weights {
            self.batch_weights.clear();
            self.batch_weights
                .extend(self.perm[batch.clone()].iter().map(|&i| w[i]));
        }
        Ok(batch.len())
    }

    fn weights(&self) -> Option<&[E]> {
        self.weights.map(|_| self.batch_weights.as_slice())
    }
}
