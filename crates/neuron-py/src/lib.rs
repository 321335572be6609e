//! The Rust side of the `neuron` Python package: `neuron._core`.
//!
//! [`net::Net`] holds a network and its optimizer and trains them an epoch at a time through the
//! library's training loop ([`neuron::TrainRun`]); `files` reads and writes model files. The
//! scikit-learn estimators are written in Python on top (`python/neuron/sklearn.py`).

mod core;
mod errors;
mod files;
mod net;
mod source;

use pyo3::prelude::*;

/// `neuron._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<net::Net>()?;
    m.add_function(wrap_pyfunction!(files::save, m)?)?;
    m.add_function(wrap_pyfunction!(files::load, m)?)?;
    m.add_function(wrap_pyfunction!(files::encode, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_panic_for_tests, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
