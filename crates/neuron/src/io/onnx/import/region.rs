//! An activation written out as element-wise arithmetic: exporters at opsets without `Gelu`
//! write GELU as `x · ½ (1 + erf(x / √2))` in one of several orders. Rather than match each
//! spelling, the nodes between the layer's output and the point where their paths rejoin are
//! evaluated on sample values and compared with neuron's activations.

use std::collections::HashSet;

use super::graph::Graph;
use crate::nn::activation::Activation;

/// The most nodes one written-out activation may take.
const MAX_NODES: usize = 16;

/// Where the activation is compared with neuron's.
const SAMPLES: [f64; 11] = [-5.0, -3.0, -1.7, -1.0, -0.4, 0.0, 0.3, 0.9, 1.6, 3.0, 5.0];

fn elementwise(op: &str) -> bool {
    matches!(
        op,
        "Add" | "Sub" | "Mul" | "Div" | "Erf" | "Tanh" | "Sigmoid" | "Pow" | "Sqrt" | "Neg" | "Exp"
    )
}

/// Whether node `c` may join a region: an element-wise operator of the default domain with one
/// output.
fn joins(g: &Graph, c: usize) -> bool {
    let n = &g.nodes[c];
    elementwise(n.op_type()) && n.domain().is_empty() && n.output.len() == 1
}

/// An element-wise region that starts at tensor `start`.
pub(super) struct Region {
    /// Its nodes, in graph order.
    pub nodes: Vec<usize>,
    /// The one tensor it hands on.
    pub exit: String,
}

/// The smallest set of element-wise nodes, reading only `start`, each other and scalar
/// constants, whose outputs leave through a single tensor; `None` if there is none.
pub(super) fn find(g: &Graph, start: &str) -> Option<Region> {
    let mut members: HashSet<usize> = HashSet::new();
    let mut open: Vec<String> = vec![start.to_string()];
    while members.len() <= MAX_NODES {
        let leaving: Vec<&String> = open
            .iter()
            .filter(|t| {
                g.outputs.contains(t.as_str())
                    || g.consumers(t).iter().any(|c| !members.contains(c))
            })
            .collect();
        match leaving.as_slice() {
            [one] if one.as_str() != start && !g.outputs.contains(one.as_str()) => {
                let exit = (*one).clone();
                let nodes = g
                    .order
                    .iter()
                    .copied()
                    .filter(|i| members.contains(i))
                    .collect();
                return Some(Region { nodes, exit });
            }
            [] => return None,
            _ => {}
        }
        // Grow through the element-wise readers; a tensor read only by other operators is
        // where the region may end.
        let grow: Vec<usize> = leaving
            .iter()
            .flat_map(|t| g.consumers(t).iter().copied())
            .filter(|&c| !members.contains(&c) && joins(g, c))
            .collect();
        if grow.is_empty() {
            return None;
        }
        for c in grow {
            if members.insert(c) {
                open.push(g.nodes[c].output[0].clone());
            }
        }
    }
    None
}

/// The region's value at `x`, or `None` if a node reads something outside it.
fn evaluate(g: &Graph, r: &Region, start: &str, x: f64) -> Option<f64> {
    let mut vals: Vec<(String, f64)> = vec![(start.to_string(), x)];
    for &i in &r.nodes {
        let n = &g.nodes[i];
        let arg = |k: usize| -> Option<f64> {
            let name = n.input.get(k)?;
            match vals.iter().find(|(t, _)| t == name) {
                Some((_, v)) => Some(*v),
                None => g.constant(name)?.scalar(),
            }
        };
        let v = match n.op_type() {
            "Add" => arg(0)? + arg(1)?,
            "Sub" => arg(0)? - arg(1)?,
            "Mul" => arg(0)? * arg(1)?,
            "Div" => arg(0)? / arg(1)?,
            "Pow" => arg(0)?.powf(arg(1)?),
            "Erf" => libm::erf(arg(0)?),
            "Tanh" => arg(0)?.tanh(),
            "Sigmoid" => 1.0 / (1.0 + (-arg(0)?).exp()),
            "Sqrt" => arg(0)?.sqrt(),
            "Neg" => -arg(0)?,
            "Exp" => arg(0)?.exp(),
            _ => return None,
        };
        vals.push((n.output[0].clone(), v));
    }
    vals.iter().find(|(t, _)| *t == r.exit).map(|(_, v)| *v)
}

/// The activation of neuron's that the region computes (to 1e-6), if any.
pub(super) fn identify(g: &Graph, r: &Region, start: &str) -> Option<Activation> {
    let ys: Vec<f64> = SAMPLES
        .iter()
        .map(|&x| evaluate(g, r, start, x))
        .collect::<Option<_>>()?;
    let candidates = [
        Activation::Gelu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::Identity,
    ];
    candidates.into_iter().find(|a| {
        SAMPLES
            .iter()
            .zip(&ys)
            .all(|(&x, &y)| (a.apply(x) - y).abs() <= 1e-6 * (1.0 + y.abs()))
    })
}
