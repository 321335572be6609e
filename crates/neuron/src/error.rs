//! Typed errors returned by every fallible operation of the library.

use thiserror::Error;

/// Everything that can go wrong when building, training or using a network.
///
/// Library code never panics on input a caller can supply; it returns one of these instead.
#[derive(Debug, Error)]
pub enum NeuronError {
    /// Two shapes that must agree do not. Both shapes are named.
    #[error("shape mismatch in {op}: expected {expected}, got {got}")]
    Shape {
        /// The operation that noticed the mismatch.
        op: String,
        /// The shape the operation needed.
        expected: String,
        /// The shape it was given.
        got: String,
    },
    /// An argument (hyper-parameter, option, layer size...) is out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Training data or labels are unusable (empty, non-finite, wrong classes...).
    #[error("invalid data: {0}")]
    Data(String),
    /// An input value given for prediction is NaN or infinite (indices count from 0).
    #[error("invalid data: input row {row}, column {column} is NaN or infinite")]
    NonFinite {
        /// The row of the first such value.
        row: usize,
        /// Its column.
        column: usize,
    },
    /// A loss or gradient became NaN or infinite.
    #[error("training diverged: {0}")]
    Diverged(String),
    /// A saved model, checkpoint or optimizer state does not fit what it is loaded into.
    #[error("invalid model: {0}")]
    Model(String),
    /// An input/output failure, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory being read or written.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A GPU could not be used (no driver or libraries, no device) or one of its operations failed.
    #[error("GPU: {0}")]
    Device(String),
    /// Training was stopped on request (for example by Ctrl-C) before it finished.
    #[error("training interrupted")]
    Interrupted,
}

/// Shorthand for results whose error is [`NeuronError`].
pub type Result<T, E = NeuronError> = std::result::Result<T, E>;

impl NeuronError {
    /// Builds a [`NeuronError::Shape`] from anything printable.
    pub fn shape(op: &str, expected: impl ToString, got: impl ToString) -> Self {
        NeuronError::Shape {
            op: op.to_string(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// Builds a [`NeuronError::InvalidArgument`].
    pub fn arg(msg: impl Into<String>) -> Self {
        NeuronError::InvalidArgument(msg.into())
    }

    /// Builds a [`NeuronError::Data`].
    pub fn data(msg: impl Into<String>) -> Self {
        NeuronError::Data(msg.into())
    }

    /// Builds a [`NeuronError::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        NeuronError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
