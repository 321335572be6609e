//! Reading the nodes that carry weights: `Gemm`, `MatMul` and the `Add` of its bias, `Scaler`,
//! and the shape-only `Reshape` and `Flatten` that exporters put around them.

use super::graph::describe;
use super::walk::{attr_f, attr_i, const_floats, unsupported, Piece, Walker};

/// `[rows, cols]` row-major → `[cols, rows]`.
fn transpose(v: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = v[r * cols + c];
        }
    }
    t
}

impl Walker<'_, '_> {
    /// Checks that node `i` reads the current tensor as its input `k`.
    fn reads_current(&self, i: usize, k: usize) -> Result<(), String> {
        let n = &self.g.nodes[i];
        if n.input.get(k) == Some(&self.cur) {
            Ok(())
        } else {
            Err(unsupported(
                i,
                n,
                ": the layer's input is not its first operand",
            ))
        }
    }

    /// The weight matrix at input 1 of node `i`, as `[outputs, inputs]`.
    fn weights(&self, i: usize, transposed: bool) -> Result<(usize, usize, Vec<f64>), String> {
        let (dims, w) = const_floats(self.g, i, 1)?;
        let [a, b] = dims[..] else {
            return Err(format!(
                "{}: the weights have shape {dims:?}, not a matrix",
                describe(i, &self.g.nodes[i])
            ));
        };
        Ok(if transposed {
            (a, b, w)
        } else {
            (b, a, transpose(&w, a, b))
        })
    }

    /// A bias of `outputs` values from a constant of that many (or one, broadcast).
    fn bias_values(&self, i: usize, k: usize, outputs: usize) -> Result<Vec<f64>, String> {
        let (_, b) = const_floats(self.g, i, k)?;
        match b.len() {
            1 => Ok(vec![b[0]; outputs]),
            n if n == outputs => Ok(b),
            n => Err(format!(
                "{}: a bias of {n} values for a layer of {outputs} outputs",
                describe(i, &self.g.nodes[i])
            )),
        }
    }

    fn dense(
        &mut self,
        i: usize,
        (outputs, inputs, w): (usize, usize, Vec<f64>),
        b: Vec<f64>,
    ) -> Result<Piece, String> {
        self.input_width(i, inputs)?;
        self.width = Some(outputs);
        Ok(Piece::Dense {
            inputs,
            outputs,
            w,
            b,
        })
    }

    /// `Gemm`: `Y = alpha · A·B′ + beta · C`, with `A` the current tensor.
    pub(super) fn gemm(&mut self, i: usize) -> Result<Piece, String> {
        let n = &self.g.nodes[i];
        self.reads_current(i, 0)?;
        if attr_i(n, "transA").unwrap_or(0) != 0 {
            return Err(unsupported(i, n, " with transA = 1"));
        }
        let (outputs, inputs, mut w) = self.weights(i, attr_i(n, "transB").unwrap_or(0) != 0)?;
        let alpha = attr_f(n, "alpha").unwrap_or(1.0);
        w.iter_mut().for_each(|x| *x *= alpha);
        let mut b = match n.input.get(2).filter(|s| !s.is_empty()) {
            Some(_) => self.bias_values(i, 2, outputs)?,
            None => vec![0.0; outputs],
        };
        let beta = attr_f(n, "beta").unwrap_or(1.0);
        b.iter_mut().for_each(|x| *x *= beta);
        self.dense(i, (outputs, inputs, w), b)
    }

    /// `MatMul` by a stored `[inputs, outputs]` matrix; its bias comes with the next `Add`.
    pub(super) fn matmul(&mut self, i: usize) -> Result<Piece, String> {
        self.reads_current(i, 0)?;
        let (outputs, inputs, w) = self.weights(i, false)?;
        self.dense(i, (outputs, inputs, w), vec![0.0; outputs])
    }

    /// `Add` of a constant vector to a layer's output: the layer's bias.
    pub(super) fn bias(&mut self, i: usize) -> Result<(), String> {
        let n = &self.g.nodes[i];
        let k = match n.input.iter().position(|x| *x == self.cur) {
            Some(0) => 1,
            Some(1) => 0,
            _ => return Err(unsupported(i, n, "")),
        };
        let Some(Piece::Dense { outputs, .. }) = self.pieces.last() else {
            return Err(unsupported(
                i,
                n,
                ": it adds to something other than a layer's output",
            ));
        };
        let add = self.bias_values(i, k, *outputs)?;
        if let Some(Piece::Dense { b, .. }) = self.pieces.last_mut() {
            b.iter_mut().zip(add).for_each(|(x, a)| *x += a);
        }
        Ok(())
    }

    /// `Reshape` to `[-1 or 0, width]` (or `[-1]` of one column), `Flatten` from axis 1: no-ops
    /// on a batch of rows.
    pub(super) fn reshape(&mut self, i: usize) -> Result<(), String> {
        let n = &self.g.nodes[i];
        self.reads_current(i, 0)?;
        let ok = if n.op_type() == "Flatten" {
            attr_i(n, "axis").unwrap_or(1) == 1
        } else {
            let (_, s) = const_floats(self.g, i, 1)?;
            let w = self.width.map_or(-1.0, |w| w as f64);
            // skl2onnx ends a regressor of several outputs with a reshape to one column: the
            // same values, row after row, which neuron keeps as rows.
            let flat = n
                .output
                .first()
                .is_some_and(|o| self.g.outputs.contains(o.as_str()))
                && self.g.consumers(&n.output[0]).is_empty();
            match s[..] {
                [r, c] => (r == -1.0 || r == 0.0) && (c == w || c == -1.0 || (flat && c == 1.0)),
                [r] => r == -1.0 && (w == 1.0 || flat),
                _ => false,
            }
        };
        if ok {
            Ok(())
        } else {
            Err(unsupported(i, n, ": it changes the shape of the rows"))
        }
    }

    /// `ai.onnx.ml.Scaler` before the first layer: `(x − offset) · scale` per column.
    pub(super) fn scaler(&mut self, i: usize) -> Result<Piece, String> {
        let n = &self.g.nodes[i];
        if !self.pieces.is_empty() {
            return Err(unsupported(i, n, ": only before the first layer"));
        }
        let list = |name: &str| -> Vec<f64> {
            n.attribute
                .iter()
                .find(|a| a.name() == name)
                .map(|a| a.floats.iter().map(|&x| f64::from(x)).collect())
                .unwrap_or_default()
        };
        let (offset, scale) = (list("offset"), list("scale"));
        let width = self.width.unwrap_or(offset.len().max(scale.len()));
        let spread = |v: Vec<f64>, default: f64| match v.len() {
            0 => Some(vec![default; width]),
            1 => Some(vec![v[0]; width]),
            k if k == width => Some(v),
            _ => None,
        };
        match (spread(offset, 0.0), spread(scale, 1.0)) {
            (Some(offset), Some(scale)) if scale.iter().all(|s| *s != 0.0 && s.is_finite()) => {
                self.width = Some(width);
                Ok(Piece::Scale { offset, scale })
            }
            _ => Err(format!(
                "{}: offsets or scales that do not fit {width} columns, or a zero scale",
                describe(i, n)
            )),
        }
    }
}
