//! Library errors and Rust panics as Python exceptions.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{
    PyFloatingPointError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::PyErr;

use neuron::NeuronError;

/// The Python exception for a library error: `ValueError` for what the caller gave (shapes,
/// arguments, data, model files), `OSError` for files, `FloatingPointError` for a diverged loss,
/// `KeyboardInterrupt` for an interruption, `RuntimeError` for a device.
pub fn to_py(e: NeuronError) -> PyErr {
    let msg = e.to_string();
    match e {
        NeuronError::Io { .. } => PyOSError::new_err(msg),
        NeuronError::Diverged(_) => PyFloatingPointError::new_err(msg),
        NeuronError::Interrupted => PyKeyboardInterrupt::new_err(msg),
        NeuronError::Device(_) => PyRuntimeError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// Runs `f`, turning its error into a Python exception and a panic into a `RuntimeError` (the
/// process lives on).
pub fn guard<T>(f: impl FnOnce() -> neuron::Result<T>) -> Result<T, PyErr> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_py),
        Err(p) => {
            let what = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            Err(PyRuntimeError::new_err(format!(
                "internal error in neuron: {what}"
            )))
        }
    }
}

/// Panics inside [`guard`]: lets the tests check that a Rust panic reaches Python as a
/// `RuntimeError` and the interpreter lives on.
#[pyo3::pyfunction]
pub fn _panic_for_tests() -> Result<(), PyErr> {
    guard(|| -> neuron::Result<()> { panic!("a deliberate panic") })
}
