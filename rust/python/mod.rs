//! The `bntune._core` extension module: the only Rust code that knows about Python.
//!
//! Each file registers one area; binding code converts arguments, releases the GIL around kernel
//! calls (`py.detach`) and maps [`crate::error::Error`] to Python exceptions, nothing more.

mod batchnorm;
mod errors;
mod qmc;
mod runtime;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    runtime::register(m)?;
    batchnorm::register(m)?;
    qmc::register(m)?;
    Ok(())
}
