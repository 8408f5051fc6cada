//! One error type for the whole pipeline. Every variant names what is at
//! fault (file, ONNX node, field) so the CLI can print it as is.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The model file could not be read as ONNX at all.
    #[error("{path}: not a loadable ONNX model: {reason}")]
    Model { path: PathBuf, reason: String },
    /// A node the front end cannot lower.
    #[error("node `{node}` ({op}): {reason}")]
    Node {
        node: String,
        op: String,
        reason: String,
    },
    /// A data file (calibration, input, ranges) is malformed.
    #[error("{path}: {reason}")]
    Data { path: PathBuf, reason: String },
    /// Bad command-line option value.
    #[error("option {option}: {reason}")]
    Option { option: String, reason: String },
    /// Quantization could not find parameters (e.g. an empty range).
    #[error("quantization of `{what}`: {reason}")]
    Quant { what: String, reason: String },
    /// The validator refused the integer program.
    #[error("validation failed at `{what}`: {reason}")]
    Validate { what: String, reason: String },
    /// The C compiler or kbuild failed; `output` is its own message.
    #[error("{tool} failed:\n{output}")]
    Build { tool: String, output: String },
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn data(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            reason: reason.into(),
        }
    }
    pub fn node(node: impl Into<String>, op: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Node {
            node: node.into(),
            op: op.into(),
            reason: reason.into(),
        }
    }
    pub fn option(option: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Option {
            option: option.into(),
            reason: reason.into(),
        }
    }
}
