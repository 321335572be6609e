//! Model files (the same safetensors files the command line writes and reads), and the stored
//! preprocessing of a model applied to raw rows.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use neuron::data::csv::RawTable;
use neuron::data::preprocess::Preprocessor;
use neuron::io::model_file::{load_model_on, save_model, ModelMeta, FORMAT};
use neuron::Cpu;

use crate::core::Core;
use crate::errors::{guard, to_py};
use crate::net::{Engine, Net};

fn json_err(e: serde_json::Error) -> PyErr {
    PyValueError::new_err(format!("bad model description: {e}"))
}

/// Writes `net` to `path` as a model file, with `preprocessing` and `provenance` (JSON; the
/// preprocessing may be `null`). f64 weights are stored as f32, as the format holds them.
#[pyfunction]
pub fn save(net: &Net, path: &str, preprocessing: &str, provenance: &str) -> PyResult<()> {
    let preprocessing: Option<Preprocessor> =
        serde_json::from_str(preprocessing).map_err(json_err)?;
    let provenance: serde_json::Value = serde_json::from_str(provenance).map_err(json_err)?;
    macro_rules! write {
        ($c:expr) => {{
            let m = &$c.model;
            let meta = ModelMeta {
                format: FORMAT.into(),
                input_dim: m.input_dim(),
                layers: m.specs().to_vec(),
                loss: m.loss(),
                preprocessing,
                provenance,
            };
            guard(|| save_model(path, m, &meta))
        }};
    }
    match &net.engine {
        Engine::F32(c) => write!(c),
        Engine::F64(c) => write!(c),
    }
}

/// Reads a model file: the network (f32, on `threads` threads, 0 for every core) and its
/// description as JSON (`input_dim`, `layers`, `loss`, `preprocessing`, `provenance`).
#[pyfunction]
#[pyo3(signature = (path, threads=0))]
pub fn load(path: &str, threads: usize) -> PyResult<(Net, String)> {
    let cpu = match threads {
        0 => Cpu::new(),
        n => Cpu::with_threads(n),
    };
    let (model, meta) = guard(|| load_model_on(path, cpu))?;
    let json = serde_json::to_string(&meta).map_err(json_err)?;
    Ok((
        Net {
            engine: Engine::F32(Core::from_model(model)),
        },
        json,
    ))
}

/// Network inputs, and the unseen categories per text column.
type Encoded<'py> = (Bound<'py, PyAny>, Vec<(String, usize)>);

/// Applies a model's stored preprocessing (JSON) to raw rows of strings under `headers`, as the
/// command line does with a CSV file: the network inputs `[rows, inputs]` (f32), and for each
/// text column with categories unseen in training, `(column, cells)`.
#[pyfunction]
pub fn encode<'py>(
    py: Python<'py>,
    preprocessing: &str,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
) -> PyResult<Encoded<'py>> {
    let pre: Preprocessor = serde_json::from_str(preprocessing).map_err(json_err)?;
    let lines = (2..rows.len() as u64 + 2).collect();
    let table = RawTable {
        source: "input".into(),
        headers,
        rows,
        lines,
        ..Default::default()
    };
    let enc = pre.transform(&table, false).map_err(to_py)?;
    let (n, w) = (enc.x.rows(), enc.x.cols());
    let x = PyArray1::from_vec(py, enc.x.as_slice().to_vec()).reshape([n, w])?;
    Ok((x.into_any(), enc.unseen))
}
