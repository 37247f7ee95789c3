//! bntune's exception classes and the mapping from core errors to them.
//!
//! `ShapeError` derives from both `BntuneError` and `ValueError`, `DtypeError` from `BntuneError`
//! and `TypeError`, so callers can catch either the library's family or Python's usual classes.
//! PyO3's `create_exception!` takes a single base, so the classes are made with `type(...)`.

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::error::Error;

struct Classes {
    base: Py<PyType>,
    shape: Py<PyType>,
    dtype: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn make_class<'py>(
    py: Python<'py>,
    name: &str,
    doc: &str,
    bases: Bound<'py, PyTuple>,
) -> PyResult<Py<PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "bntune")?;
    namespace.set_item("__doc__", doc)?;
    let class = py
        .get_type::<PyType>()
        .call1((name, bases, namespace))?
        .cast_into::<PyType>()?;
    Ok(class.unbind())
}

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let base = make_class(
            py,
            "BntuneError",
            "Base class of every error bntune raises itself.",
            PyTuple::new(py, [py.get_type::<PyException>()])?,
        )?;
        let shape = make_class(
            py,
            "ShapeError",
            "An array has the wrong number of dimensions or the wrong extent.",
            PyTuple::new(py, [base.bind(py).clone(), py.get_type::<PyValueError>()])?,
        )?;
        let dtype = make_class(
            py,
            "DtypeError",
            "An array has an unsupported or mismatched dtype.",
            PyTuple::new(py, [base.bind(py).clone(), py.get_type::<PyTypeError>()])?,
        )?;
        Ok(Classes { base, shape, dtype })
    })
}

/// The Python exception for a core error.
pub fn to_py_err(py: Python<'_>, err: Error) -> PyErr {
    let class = match classes(py) {
        Ok(c) => c,
        Err(e) => return e,
    };
    match err {
        Error::Shape(msg) => PyErr::from_type(class.shape.bind(py).clone(), msg),
        Error::Dtype(msg) => PyErr::from_type(class.dtype.bind(py).clone(), msg),
        Error::Value(msg) => PyValueError::new_err(msg),
    }
}

/// Raises a `ShapeError` with `msg` (for checks done in binding code).
#[allow(dead_code)] // used by the kernel bindings
pub fn shape_error(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    to_py_err(py, Error::Shape(msg.into()))
}

/// Raises a `DtypeError` with `msg` (for checks done in binding code).
#[allow(dead_code)] // used by the kernel bindings
pub fn dtype_error(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    to_py_err(py, Error::Dtype(msg.into()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    m.add("BntuneError", c.base.bind(py))?;
    m.add("ShapeError", c.shape.bind(py))?;
    m.add("DtypeError", c.dtype.bind(py))?;
    Ok(())
}
