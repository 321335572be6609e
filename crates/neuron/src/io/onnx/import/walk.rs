//! Following the data from the graph's input through an MLP-shaped chain: an optional
//! `Scaler`, then `Gemm` (or `MatMul` + `Add`) layers and activations, and at the end an optional
//! `Softmax`, `LogSoftmax` or `Sigmoid`. What comes after that end (`ArgMax`, label lookups,
//! `ZipMap`, the two-column probabilities of a binary classifier) is read for the class labels
//! only; anything else is refused with the operator and the node named.

use std::collections::HashSet;

use super::graph::{describe, Graph, Values};
use super::region;
use crate::nn::activation::Activation;

/// One piece of the network.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Piece {
    /// `(x − offset) · scale` per column (scikit-learn's `StandardScaler`, as `Scaler`).
    Scale { offset: Vec<f64>, scale: Vec<f64> },
    /// `Z = X·Wᵀ + b`, `w` as `[outputs, inputs]`.
    Dense {
        inputs: usize,
        outputs: usize,
        w: Vec<f64>,
        b: Vec<f64>,
    },
    /// An element-wise activation.
    Act(Activation),
}

/// How the network's last tensor is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// Raw outputs (regression, or logits).
    Outputs,
    /// Class probabilities by softmax.
    Softmax,
    /// Log-probabilities by log-softmax.
    LogSoftmax,
    /// Probabilities by the logistic function.
    Sigmoid,
}

/// The network found in the graph.
pub(super) struct Network {
    pub pieces: Vec<Piece>,
    pub end: End,
    /// The nodes the network took.
    pub used: HashSet<usize>,
}

/// Operators allowed after a probability output: they derive labels and other views of it.
const AFTER_PROBABILITIES: [&str; 12] = [
    "ArgMax",
    "ArrayFeatureExtractor",
    "Gather",
    "Cast",
    "Reshape",
    "ZipMap",
    "Concat",
    "Sub",
    "Identity",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
];

/// The walk in progress.
pub(super) struct Walker<'g, 'a> {
    pub(super) g: &'g Graph<'a>,
    pub(super) pieces: Vec<Piece>,
    pub(super) used: HashSet<usize>,
    /// The tensor the network has reached.
    pub(super) cur: String,
    /// Its width, where known.
    pub(super) width: Option<usize>,
}

/// The error for node `i`: its operator, its name, and `why`.
pub(super) fn unsupported(i: usize, n: &crate::io::onnx::proto::NodeProto, why: &str) -> String {
    let op = match n.domain() {
        "" | "ai.onnx" => n.op_type().to_string(),
        d => format!("{d}.{}", n.op_type()),
    };
    format!("unsupported operator {op} at {}{why}", describe(i, n))
}

/// Walks the graph from tensor `input` of `width` columns (when the graph says).
pub(super) fn walk(g: &Graph, input: &str, width: Option<usize>) -> Result<Network, String> {
    let mut w = Walker {
        g,
        pieces: Vec::new(),
        used: HashSet::new(),
        cur: input.to_string(),
        width,
    };
    let end = loop {
        let next: Vec<usize> = g
            .consumers(&w.cur)
            .iter()
            .copied()
            .filter(|c| !w.used.contains(c))
            .collect();
        match next.as_slice() {
            [] => break End::Outputs,
            [i] => {
                if let Some(end) = w.node(*i)? {
                    break end;
                }
            }
            _ => {
                if !w.region()? {
                    break End::Outputs;
                }
            }
        }
    };
    let end = match (end, w.pieces.last()) {
        (End::Outputs, Some(Piece::Act(Activation::Sigmoid))) => {
            w.pieces.pop();
            End::Sigmoid
        }
        _ => end,
    };
    w.check_rest(end)?;
    if !w.pieces.iter().any(|p| matches!(p, Piece::Dense { .. })) {
        return Err("no Gemm or MatMul layer follows the graph's input".into());
    }
    Ok(Network {
        pieces: w.pieces,
        end,
        used: w.used,
    })
}

impl Walker<'_, '_> {
    /// Takes node `i`, which reads the current tensor; `Some` when it ends the network.
    fn node(&mut self, i: usize) -> Result<Option<End>, String> {
        let n = &self.g.nodes[i];
        let ml = n.domain() == "ai.onnx.ml";
        if !ml && !n.domain().is_empty() && n.domain() != "ai.onnx" {
            return Err(unsupported(i, n, ""));
        }
        let act = |a| Ok(Some(Piece::Act(a)));
        let piece = match (ml, n.op_type()) {
            (false, "Gemm") => self.gemm(i).map(Some),
            (false, "MatMul") => self.matmul(i).map(Some),
            (false, "Add") => self.bias(i).map(|()| None),
            (false, "Relu") => act(Activation::Relu),
            (false, "Sigmoid") => act(Activation::Sigmoid),
            (false, "Tanh") => act(Activation::Tanh),
            (false, "LeakyRelu") => act(Activation::LeakyRelu {
                alpha: attr_f(n, "alpha").unwrap_or(0.01),
            }),
            (false, "Gelu") if attr_s(n, "approximate").unwrap_or("none") == "none" => {
                act(Activation::Gelu)
            }
            (false, "Softmax" | "LogSoftmax") => {
                self.last_axis(i)?;
                self.take(i);
                return Ok(Some(if n.op_type() == "Softmax" {
                    End::Softmax
                } else {
                    End::LogSoftmax
                }));
            }
            (false, "Identity" | "Dropout") => Ok(None),
            (false, "Cast") if attr_i(n, "to") == Some(1) => Ok(None),
            (false, "Reshape" | "Flatten") => self.reshape(i).map(|()| None),
            (true, "Scaler") => self.scaler(i).map(Some),
            _ => Err(unsupported(i, n, "")),
        }?;
        if let Some(p) = piece {
            self.pieces.push(p);
        }
        self.take(i);
        Ok(None)
    }

    fn take(&mut self, i: usize) {
        self.used.insert(i);
        if let Some(o) = self.g.nodes[i].output.first() {
            self.cur = o.clone();
        }
    }

    /// Several nodes read the current tensor: an activation written out, or the network's end.
    fn region(&mut self) -> Result<bool, String> {
        let Some(r) = region::find(self.g, &self.cur) else {
            return Ok(false);
        };
        let first = r.nodes[0];
        let a = region::identify(self.g, &r, &self.cur).ok_or_else(|| {
            let ops: Vec<&str> = r.nodes.iter().map(|&i| self.g.nodes[i].op_type()).collect();
            unsupported(
                first,
                &self.g.nodes[first],
                &format!(
                    ": the element-wise nodes {} compute no activation neuron has",
                    ops.join(", ")
                ),
            )
        })?;
        self.pieces.push(Piece::Act(a));
        self.used.extend(r.nodes);
        self.cur = r.exit;
        Ok(true)
    }

    /// Every node the network did not take must be a constant or derive labels from the
    /// probabilities.
    fn check_rest(&self, end: End) -> Result<(), String> {
        for &i in &self.g.order {
            let n = &self.g.nodes[i];
            if self.used.contains(&i) || (n.op_type() == "Constant" && n.domain().is_empty()) {
                continue;
            }
            let after = end != End::Outputs && AFTER_PROBABILITIES.contains(&n.op_type());
            if !after {
                let why = if end == End::Outputs {
                    ": it is not part of a chain of dense layers and activations"
                } else {
                    ""
                };
                return Err(unsupported(i, n, why));
            }
        }
        Ok(())
    }

    fn last_axis(&self, i: usize) -> Result<(), String> {
        let n = &self.g.nodes[i];
        match attr_i(n, "axis") {
            None | Some(-1) | Some(1) => Ok(()),
            Some(a) => Err(unsupported(i, n, &format!(" over axis {a}"))),
        }
    }

    pub(super) fn input_width(&self, i: usize, inputs: usize) -> Result<(), String> {
        match self.width {
            Some(w) if w != inputs => Err(format!(
                "{} takes {inputs} inputs but receives {w}",
                describe(i, &self.g.nodes[i])
            )),
            _ => Ok(()),
        }
    }
}

/// A float attribute, as the shortest decimal that reads back as the same f32 (so `0.1` stays
/// 0.1 rather than 0.10000000149011612).
pub(super) fn attr_f(n: &crate::io::onnx::proto::NodeProto, name: &str) -> Option<f64> {
    let f = n.attribute.iter().find(|a| a.name() == name)?.f();
    Some(f.to_string().parse().unwrap_or(f64::from(f)))
}

pub(super) fn attr_i(n: &crate::io::onnx::proto::NodeProto, name: &str) -> Option<i64> {
    n.attribute.iter().find(|a| a.name() == name).map(|a| a.i())
}

fn attr_s<'n>(n: &'n crate::io::onnx::proto::NodeProto, name: &str) -> Option<&'n str> {
    n.attribute
        .iter()
        .find(|a| a.name() == name)
        .map(|a| std::str::from_utf8(a.s()).unwrap_or(""))
}

/// The numeric constant at input `k` of node `i`.
pub(super) fn const_floats(
    g: &Graph,
    i: usize,
    k: usize,
) -> Result<(Vec<usize>, Vec<f64>), String> {
    let n = &g.nodes[i];
    let name = n.input.get(k).map(String::as_str).unwrap_or("");
    let c = g.constant(name).ok_or_else(|| {
        unsupported(
            i,
            n,
            &format!(": its input '{name}' is computed, not a stored constant"),
        )
    })?;
    match &c.values {
        Values::Text(_) => Err(format!("{}: '{name}' holds text", describe(i, n))),
        _ => Ok((c.dims.clone(), c.floats().unwrap_or_default())),
    }
}
