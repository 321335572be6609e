//! An ONNX graph indexed for reading: its constants decoded (initialisers and `Constant`
//! nodes), who consumes each tensor, and a check that the nodes form an acyclic graph whose
//! every input exists.

use std::collections::{HashMap, HashSet};

use crate::io::onnx::proto::tensor_proto::{DataLocation, DataType};
use crate::io::onnx::proto::{GraphProto, NodeProto, TensorProto};

/// A constant tensor's values.
#[derive(Clone, Debug)]
pub(super) enum Values {
    /// Floating-point values (FLOAT or DOUBLE), as f64.
    Float(Vec<f64>),
    /// Integers (INT64, INT32).
    Int(Vec<i64>),
    /// Strings.
    Text(Vec<String>),
}

/// A constant tensor: shape and values.
#[derive(Clone, Debug)]
pub(super) struct Const {
    pub dims: Vec<usize>,
    pub values: Values,
}

impl Const {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.values {
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    /// The values as floats, if numeric.
    pub fn floats(&self) -> Option<Vec<f64>> {
        match &self.values {
            Values::Float(v) => Some(v.clone()),
            Values::Int(v) => Some(v.iter().map(|&x| x as f64).collect()),
            Values::Text(_) => None,
        }
    }

    /// The single value of a one-element numeric tensor.
    pub fn scalar(&self) -> Option<f64> {
        (self.len() == 1)
            .then(|| self.floats().map(|v| v[0]))
            .flatten()
    }
}

/// The graph, indexed.
pub(super) struct Graph<'a> {
    pub nodes: &'a [NodeProto],
    pub consts: HashMap<String, Const>,
    consumers: HashMap<&'a str, Vec<usize>>,
    /// Node indices in an order where every node comes after those it reads from.
    pub order: Vec<usize>,
    /// The graph's declared outputs.
    pub outputs: HashSet<&'a str>,
}

/// `node 3 ('/0/Gemm', Gemm)`: how errors name a node.
pub(super) fn describe(i: usize, n: &NodeProto) -> String {
    match n.name() {
        "" => format!("node {i} ({})", n.op_type()),
        name => format!("node {i} '{name}' ({})", n.op_type()),
    }
}

fn count(dims: &[i64], name: &str) -> Result<(Vec<usize>, usize), String> {
    let mut n = 1usize;
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let d = usize::try_from(d).map_err(|_| format!("tensor '{name}' has dimension {d}"))?;
        n = n
            .checked_mul(d)
            .ok_or_else(|| format!("tensor '{name}' is too large"))?;
        out.push(d);
    }
    Ok((out, n))
}

fn raw<const K: usize, T>(raw: &[u8], f: fn([u8; K]) -> T) -> Vec<T> {
    raw.chunks_exact(K)
        .map(|c| f(c.try_into().unwrap_or([0; K])))
        .collect()
}

/// Decodes a tensor stored in the file (not in external files).
pub(super) fn decode(t: &TensorProto) -> Result<Const, String> {
    let name = t.name();
    if t.data_location() == DataLocation::External {
        return Err(format!(
            "tensor '{name}' is stored in an external file, which neuron does not read"
        ));
    }
    let (dims, n) = count(&t.dims, name)?;
    let bytes = t.raw_data();
    let values = match DataType::try_from(t.data_type()).unwrap_or(DataType::Undefined) {
        DataType::Float if !bytes.is_empty() => Values::Float(
            raw(bytes, f32::from_le_bytes)
                .into_iter()
                .map(f64::from)
                .collect(),
        ),
        DataType::Float => Values::Float(t.float_data.iter().map(|&x| f64::from(x)).collect()),
        DataType::Double if !bytes.is_empty() => Values::Float(raw(bytes, f64::from_le_bytes)),
        DataType::Double => Values::Float(t.double_data.clone()),
        DataType::Int64 if !bytes.is_empty() => Values::Int(raw(bytes, i64::from_le_bytes)),
        DataType::Int64 => Values::Int(t.int64_data.clone()),
        DataType::Int32 if !bytes.is_empty() => Values::Int(
            raw(bytes, i32::from_le_bytes)
                .into_iter()
                .map(i64::from)
                .collect(),
        ),
        DataType::Int32 => Values::Int(t.int32_data.iter().map(|&x| i64::from(x)).collect()),
        DataType::String => Values::Text(
            t.string_data
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        ),
        other => {
            return Err(format!(
                "tensor '{name}' has element type {}, which neuron does not read",
                other.as_str_name()
            ))
        }
    };
    let c = Const { dims, values };
    if c.len() != n {
        return Err(format!(
            "tensor '{name}' holds {} values for shape {:?}",
            c.len(),
            t.dims
        ));
    }
    Ok(c)
}

/// The value of a `Constant` node.
fn constant(i: usize, n: &NodeProto) -> Result<Const, String> {
    let a = n
        .attribute
        .first()
        .ok_or_else(|| format!("{}: no value", describe(i, n)))?;
    let c = match a.name() {
        "value" => decode(
            a.t.as_ref()
                .ok_or_else(|| format!("{}: no tensor", describe(i, n)))?,
        )?,
        "value_float" => Const {
            dims: vec![],
            values: Values::Float(vec![f64::from(a.f())]),
        },
        "value_floats" => Const {
            dims: vec![a.floats.len()],
            values: Values::Float(a.floats.iter().map(|&x| f64::from(x)).collect()),
        },
        "value_int" => Const {
            dims: vec![],
            values: Values::Int(vec![a.i()]),
        },
        "value_ints" => Const {
            dims: vec![a.ints.len()],
            values: Values::Int(a.ints.clone()),
        },
        other => {
            return Err(format!(
                "{}: unsupported attribute '{other}'",
                describe(i, n)
            ))
        }
    };
    Ok(c)
}

impl<'a> Graph<'a> {
    /// Indexes `g`, checking that every node input exists and that there is no cycle.
    pub fn new(g: &'a GraphProto) -> Result<Self, String> {
        let mut consts = HashMap::new();
        for t in &g.initializer {
            consts.insert(t.name().to_string(), decode(t)?);
        }
        for (i, n) in g.node.iter().enumerate() {
            if n.op_type() == "Constant" && n.domain().is_empty() {
                let out = n.output.first().cloned().unwrap_or_default();
                consts.insert(out, constant(i, n)?);
            }
        }
        let mut producer: HashMap<&str, usize> = HashMap::new();
        for (i, n) in g.node.iter().enumerate() {
            for o in &n.output {
                if producer.insert(o.as_str(), i).is_some() {
                    return Err(format!(
                        "{}: tensor '{o}' is produced twice",
                        describe(i, n)
                    ));
                }
            }
        }
        let known: HashSet<&str> = g.input.iter().map(|v| v.name()).collect();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, n) in g.node.iter().enumerate() {
            for x in n.input.iter().filter(|x| !x.is_empty()) {
                let x = x.as_str();
                if !producer.contains_key(x) && !known.contains(x) && !consts.contains_key(x) {
                    return Err(format!(
                        "{} reads '{x}', which no node, input or initialiser provides",
                        describe(i, n)
                    ));
                }
                consumers.entry(x).or_default().push(i);
            }
        }
        let order = topological(g, &producer)?;
        let outputs = g.output.iter().map(|v| v.name()).collect();
        Ok(Graph {
            nodes: &g.node,
            consts,
            consumers,
            order,
            outputs,
        })
    }

    /// The nodes that read tensor `name`.
    pub fn consumers(&self, name: &str) -> &[usize] {
        self.consumers.get(name).map_or(&[], Vec::as_slice)
    }

    /// The constant named `name`, if it is one.
    pub fn constant(&self, name: &str) -> Option<&Const> {
        self.consts.get(name)
    }
}

/// Kahn's algorithm: an order of the nodes, or the name of a node on a cycle.
fn topological(g: &GraphProto, producer: &HashMap<&str, usize>) -> Result<Vec<usize>, String> {
    let n = g.node.len();
    let mut pending = vec![0usize; n];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in g.node.iter().enumerate() {
        for x in &node.input {
            if let Some(&p) = producer.get(x.as_str()) {
                pending[i] += 1;
                next[p].push(i);
            }
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for &j in &next[i] {
            pending[j] -= 1;
            if pending[j] == 0 {
                ready.push(j);
            }
        }
    }
    match (0..n).find(|&i| pending[i] > 0) {
        Some(i) => Err(format!(
            "the graph has a cycle through {}",
            describe(i, &g.node[i])
        )),
        None => Ok(order),
    }
}
