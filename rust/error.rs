//! The core's error type. Kernels return `Result<_, Error>`; the bindings map each variant to a
//! Python exception class (`ShapeError` is a `ValueError`, `DtypeError` a `TypeError`).

use std::fmt;

/// Why a core call refused its input. Every message names the offending argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An array has the wrong number of dimensions or the wrong extent.
    Shape(String),
    /// An array has an unsupported or mismatched element type.
    Dtype(String),
    /// A scalar argument is out of its allowed range.
    Value(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape(msg) | Error::Dtype(msg) | Error::Value(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for the core's results.
pub type Result<T> = std::result::Result<T, Error>;
