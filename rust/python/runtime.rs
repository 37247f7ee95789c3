//! Process-wide settings: the SIMD backend and the size of the kernels' thread pool.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::errors::to_py_err;
use crate::{simd, threads};

/// The vector instruction set the kernels use on this CPU, e.g. "avx2+fma" or "scalar".
#[pyfunction]
fn simd_backend() -> &'static str {
    simd::backend().name()
}

/// Sets the number of threads every bntune kernel runs on (one shared pool).
#[pyfunction]
fn set_num_threads(py: Python<'_>, n: i64) -> PyResult<()> {
    if n < 1 {
        return Err(PyValueError::new_err(format!(
            "n must be a positive number of threads, got {n}"
        )));
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    py.detach(|| threads::set_num_threads(n))
        .map_err(|e| to_py_err(py, e))
}

/// The number of threads bntune kernels run on (default: the cores available to this process).
#[pyfunction]
fn get_num_threads(py: Python<'_>) -> PyResult<usize> {
    py.detach(threads::num_threads)
        .map_err(|e| to_py_err(py, e))
}

/// Runs the kernels' parallel work on the team of the OpenMP runtime `library` (already loaded
/// in this process, e.g. torch's libgomp), or back on bntune's own pool when `library` is None.
#[pyfunction]
#[pyo3(signature = (library))]
fn join_openmp(py: Python<'_>, library: Option<&str>) -> PyResult<()> {
    match library {
        Some(path) => threads::openmp::join(path).map_err(|e| to_py_err(py, e)),
        None => {
            threads::openmp::leave();
            Ok(())
        }
    }
}

/// Whether the kernels' parallel work runs on an OpenMP team ([`join_openmp`]).
#[pyfunction]
fn openmp_joined() -> bool {
    threads::openmp::joined()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Inputs with fewer elements run on the calling thread whatever the thread count.
    m.add("SEQUENTIAL_BELOW", crate::batchnorm::plan::SEQUENTIAL_BELOW)?;
    m.add_function(wrap_pyfunction!(join_openmp, m)?)?;
    m.add_function(wrap_pyfunction!(openmp_joined, m)?)?;
    m.add_function(wrap_pyfunction!(simd_backend, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    Ok(())
}
