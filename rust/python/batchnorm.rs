//! Bindings for `crate::batchnorm`: `batch_norm_forward` and `batch_norm_backward`.
//!
//! All argument checks happen here, before the GIL is released and before anything is written,
//! so a refused call leaves `out` and the running statistics untouched. The kernels get
//! C-contiguous slices (a non-contiguous `x` or `dy` is copied once) and f64 per-channel vectors.

use numpy::ndarray::ArrayViewD;
use numpy::prelude::*;
use numpy::{PyArray1, PyArrayDyn, PyReadonlyArrayDyn, PyReadwriteArray1, PyUntypedArray};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::borrow::Cow;

use super::errors::{dtype_error, shape_error, to_py_err};
use crate::batchnorm::{self, Affine, Element, Layout, Saved, layout::shape_str};
use crate::error::Error;
use crate::simd;

/// What an argument that is not the expected array is, for error messages.
fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.cast::<PyUntypedArray>() {
        Ok(a) => format!("an array of dtype {}", a.dtype()),
        Err(_) => match obj.get_type().name() {
            Ok(name) => format!("an object of type {name}"),
            Err(_) => "an object of unknown type".to_owned(),
        },
    }
}

/// `obj` as an array of `T`, or a TypeError naming `name`.
fn typed<'a, 'py, T: Element + numpy::Element>(
    name: &str,
    obj: &'a Bound<'py, PyAny>,
) -> PyResult<&'a Bound<'py, PyArrayDyn<T>>> {
    obj.cast::<PyArrayDyn<T>>().map_err(|_| {
        dtype_error(
            obj.py(),
            format!(
                "{name} must be a numpy array of x's dtype {}, got {}",
                T::NAME,
                describe(obj)
            ),
        )
    })
}

/// Checks that a per-channel array has shape (C,).
fn check_channels(py: Python<'_>, name: &str, shape: &[usize], c: usize) -> PyResult<()> {
    if shape != [c] {
        return Err(shape_error(
            py,
            format!(
                "{name} must have shape ({c},) to match x's {c} channels, got shape {}",
                shape_str(shape)
            ),
        ));
    }
    Ok(())
}

/// An optional per-channel array of `T` (gamma, beta) widened to f64.
fn channel_vec<T: Element + numpy::Element>(
    name: &str,
    obj: Option<&Bound<'_, PyAny>>,
    c: usize,
) -> PyResult<Option<Vec<f64>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let arr = typed::<T>(name, obj)?;
    check_channels(obj.py(), name, arr.shape(), c)?;
    let ro = arr.try_readonly().map_err(|e| borrow_error(name, e))?;
    Ok(Some(widened(&ro, |v| v.to_f64())))
}

/// The values of `ro` in order, converted by `f`: a plain loop over a contiguous array (the
/// usual case), ndarray's iterator (about 3 ns an element on a dynamic-rank view) otherwise.
fn widened<T: numpy::Element + Copy>(
    ro: &PyReadonlyArrayDyn<'_, T>,
    f: impl Fn(T) -> f64,
) -> Vec<f64> {
    match ro.as_slice() {
        Ok(values) => values.iter().map(|&v| f(v)).collect(),
        Err(_) => ro.as_array().iter().map(|&v| f(v)).collect(),
    }
}

/// A required per-channel float array of either precision (mean, invstd) as f64.
fn stats_vec(name: &str, obj: &Bound<'_, PyAny>, c: usize) -> PyResult<Vec<f64>> {
    let py = obj.py();
    let to_vec =
        |shape: &[usize], values: Vec<f64>| check_channels(py, name, shape, c).map(|()| values);
    if let Ok(a) = obj.cast::<PyArrayDyn<f64>>() {
        let ro = a.try_readonly().map_err(|e| borrow_error(name, e))?;
        return to_vec(a.shape(), widened(&ro, |v| v));
    }
    if let Ok(a) = obj.cast::<PyArrayDyn<f32>>() {
        let ro = a.try_readonly().map_err(|e| borrow_error(name, e))?;
        return to_vec(a.shape(), widened(&ro, f64::from));
    }
    Err(dtype_error(
        py,
        format!(
            "{name} must be a float64 (or float32) numpy array, got {}",
            describe(obj)
        ),
    ))
}

fn borrow_error(name: &str, e: numpy::BorrowError) -> PyErr {
    match e {
        numpy::BorrowError::NotWriteable => PyValueError::new_err(format!(
            "{name} must be a writable array, got a read-only one"
        )),
        _ => PyValueError::new_err(format!(
            "{name} must not share memory with another argument of this call"
        )),
    }
}

/// A running statistic: x's dtype, shape (C,), contiguous and writable — checked now, before
/// anything is written.
fn running_array<'py, T: Element + numpy::Element>(
    name: &str,
    obj: Option<&Bound<'py, PyAny>>,
    c: usize,
) -> PyResult<Option<PyReadwriteArray1<'py, T>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let arr = typed::<T>(name, obj)?;
    check_channels(obj.py(), name, arr.shape(), c)?;
    if !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(format!(
            "{name} must be contiguous (it is updated in place), got a strided view"
        )));
    }
    let arr = arr
        .clone()
        .cast_into::<PyArray1<T>>()
        .map_err(PyErr::from)?;
    arr.try_readwrite()
        .map(Some)
        .map_err(|e| borrow_error(name, e))
}

/// The output array: the caller's `out` (checked: x's dtype and shape, C-contiguous, writable)
/// or a new, uninitialised one.
///
/// Only called once every argument has been checked, and its result is handed to exactly one
/// kernel call (`forward_train`, `forward_infer` or `backward`), each of which writes every
/// element of its output before anything reads it (`out_is_fully_written` in the core's tests
/// runs them on NaN-filled outputs); if that call fails the array is dropped unseen.
fn output_array<'py, T: Element + numpy::Element>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let Some(out) = out.filter(|o| !o.is_none()) else {
        // SAFETY: `T` is f32 or f64 (plain bytes, nothing to drop), and no element is read
        // before the kernel writes it (see above): this is `np.empty` passed as `out`, without
        // the 0.7-1.0 ms per 25 MB that zero-filling cost.
        return Ok(unsafe { PyArrayDyn::<T>::new(py, shape, false) });
    };
    let arr = typed::<T>("out", out)?;
    if arr.shape() != shape {
        return Err(shape_error(
            py,
            format!(
                "out must have x's shape {}, got shape {}",
                shape_str(shape),
                shape_str(arr.shape())
            ),
        ));
    }
    if !arr.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "out must be a C-contiguous array, got a strided or Fortran-ordered one",
        ));
    }
    Ok(arr.clone())
}

/// A C-contiguous slice of `ro`, copying once if the array is strided or Fortran-ordered.
fn contiguous<'a, T: Clone + numpy::Element>(
    arr_is_c: bool,
    ro: &'a PyReadonlyArrayDyn<'_, T>,
) -> Cow<'a, [T]> {
    if arr_is_c {
        if let Ok(s) = ro.as_slice() {
            return Cow::Borrowed(s);
        }
    }
    let view: ArrayViewD<'_, T> = ro.as_array();
    Cow::Owned(view.iter().cloned().collect())
}

#[allow(clippy::too_many_arguments)]
fn forward_typed<'py, T: Element + numpy::Element>(
    x: &Bound<'py, PyArrayDyn<T>>,
    gamma: Option<&Bound<'py, PyAny>>,
    beta: Option<&Bound<'py, PyAny>>,
    running_mean: Option<&Bound<'py, PyAny>>,
    running_var: Option<&Bound<'py, PyAny>>,
    training: bool,
    momentum: f64,
    eps: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let py = x.py();
    let shape = x.shape().to_vec();
    let err = |e: Error| to_py_err(py, e);
    let layout = Layout::new("x", &shape).map_err(err)?;
    let c = layout.c;
    let gamma = channel_vec::<T>("gamma", gamma, c)?;
    let beta = channel_vec::<T>("beta", beta, c)?;
    let mut rm = running_array::<T>("running_mean", running_mean, c)?;
    let mut rv = running_array::<T>("running_var", running_var, c)?;
    if training {
        batchnorm::params::check_trainable("x", &shape, &layout).map_err(err)?;
        batchnorm::check_momentum(momentum).map_err(err)?;
    } else if rm.is_none() || rv.is_none() {
        return Err(PyValueError::new_err(
            "training=False normalises with the running statistics: running_mean and \
             running_var must be given, got None",
        ));
    }
    batchnorm::params::check_eps(eps).map_err(err)?;
    let y = output_array::<T>(py, out, &shape)?;
    let x_ro = x.try_readonly().map_err(|e| borrow_error("x", e))?;
    let mut y_rw = y.try_readwrite().map_err(|e| borrow_error("out", e))?;
    let xs = contiguous(x.is_c_contiguous(), &x_ro);
    let ys = y_rw
        .as_slice_mut()
        .map_err(|_| PyValueError::new_err("out must be C-contiguous"))?;
    let rm_s = rm.as_mut().map(|a| a.as_slice_mut()).transpose();
    let rv_s = rv.as_mut().map(|a| a.as_slice_mut()).transpose();
    let (Ok(rm_s), Ok(rv_s)) = (rm_s, rv_s) else {
        return Err(PyValueError::new_err(
            "running_mean and running_var must be contiguous",
        ));
    };
    let backend = simd::backend();
    let affine_vecs = (gamma, beta);
    let stats = py
        .detach(|| {
            let affine = Affine {
                gamma: affine_vecs.0.as_deref(),
                beta: affine_vecs.1.as_deref(),
            };
            if training {
                let stats = batchnorm::forward_train(backend, &xs, &shape, affine, eps, ys)?;
                let m = layout.per_channel();
                if let Some(rm) = rm_s {
                    batchnorm::update_running(rm, &stats.mean, momentum, 1.0);
                }
                if let Some(rv) = rv_s {
                    batchnorm::update_running(rv, &stats.var, momentum, batchnorm::bessel(m));
                }
                Ok(stats)
            } else {
                let widen = |s: Option<&mut [T]>| -> Vec<f64> {
                    s.map_or_else(Vec::new, |s| s.iter().map(|v| v.to_f64()).collect())
                };
                let (rm, rv) = (widen(rm_s), widen(rv_s));
                batchnorm::forward_infer(backend, &xs, &shape, affine, &rm, &rv, eps, ys)
            }
        })
        .map_err(err)?;
    drop(y_rw);
    Ok((
        y.into_any(),
        PyArray1::from_vec(py, stats.mean).into_any(),
        PyArray1::from_vec(py, stats.invstd).into_any(),
    ))
}

/// Batch-norm forward; see `bntune.functional.batch_norm_forward`.
#[pyfunction]
#[pyo3(signature = (x, gamma, beta, running_mean, running_var, training, momentum, eps, out))]
#[allow(clippy::too_many_arguments)]
fn batch_norm_forward<'py>(
    x: &Bound<'py, PyAny>,
    gamma: Option<Bound<'py, PyAny>>,
    beta: Option<Bound<'py, PyAny>>,
    running_mean: Option<Bound<'py, PyAny>>,
    running_var: Option<Bound<'py, PyAny>>,
    training: bool,
    momentum: f64,
    eps: f64,
    out: Option<Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let (g, b, rm, rv, o) = (
        gamma.as_ref(),
        beta.as_ref(),
        running_mean.as_ref(),
        running_var.as_ref(),
        out.as_ref(),
    );
    if let Ok(x) = x.cast::<PyArrayDyn<f32>>() {
        return forward_typed(x, g, b, rm, rv, training, momentum, eps, o);
    }
    if let Ok(x) = x.cast::<PyArrayDyn<f64>>() {
        return forward_typed(x, g, b, rm, rv, training, momentum, eps, o);
    }
    Err(dtype_error(
        x.py(),
        format!(
            "x must be a float32 or float64 numpy array, got {}",
            describe(x)
        ),
    ))
}

#[allow(clippy::too_many_arguments)]
fn backward_typed<'py, T: Element + numpy::Element>(
    dy: &Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    gamma: Option<&Bound<'py, PyAny>>,
    mean: &Bound<'py, PyAny>,
    invstd: &Bound<'py, PyAny>,
    training: bool,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let py = dy.py();
    let err = |e: Error| to_py_err(py, e);
    let x = x.cast::<PyArrayDyn<T>>().map_err(|_| {
        dtype_error(
            py,
            format!(
                "x must be a numpy array of dy's dtype {}, got {}",
                T::NAME,
                describe(x)
            ),
        )
    })?;
    let shape = dy.shape().to_vec();
    let layout = Layout::new("dy", &shape).map_err(err)?;
    if x.shape() != shape.as_slice() {
        return Err(shape_error(
            py,
            format!(
                "x must have dy's shape {}, got shape {}",
                shape_str(&shape),
                shape_str(x.shape())
            ),
        ));
    }
    let c = layout.c;
    let gamma = channel_vec::<T>("gamma", gamma, c)?;
    let mean = stats_vec("mean", mean, c)?;
    let invstd = stats_vec("invstd", invstd, c)?;
    let dx = output_array::<T>(py, out, &shape)?;
    let dy_ro = dy.try_readonly().map_err(|e| borrow_error("dy", e))?;
    let x_ro = x.try_readonly().map_err(|e| borrow_error("x", e))?;
    let mut dx_rw = dx.try_readwrite().map_err(|e| borrow_error("out", e))?;
    let dys = contiguous(dy.is_c_contiguous(), &dy_ro);
    let xs = contiguous(x.is_c_contiguous(), &x_ro);
    let dxs = dx_rw
        .as_slice_mut()
        .map_err(|_| PyValueError::new_err("out must be C-contiguous"))?;
    let backend = simd::backend();
    let grads = py
        .detach(|| {
            let saved = Saved {
                mean: &mean,
                invstd: &invstd,
            };
            batchnorm::backward(
                backend,
                &dys,
                &xs,
                &shape,
                gamma.as_deref(),
                saved,
                training,
                dxs,
            )
        })
        .map_err(err)?;
    drop(dx_rw);
    let narrow = |v: Vec<f64>| -> Vec<T> { v.into_iter().map(T::from_f64).collect() };
    Ok((
        dx.into_any(),
        PyArray1::from_vec(py, narrow(grads.dgamma)).into_any(),
        PyArray1::from_vec(py, narrow(grads.dbeta)).into_any(),
    ))
}

/// Batch-norm backward; see `bntune.functional.batch_norm_backward`.
#[pyfunction]
#[pyo3(signature = (dy, x, gamma, mean, invstd, training, out))]
fn batch_norm_backward<'py>(
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    gamma: Option<Bound<'py, PyAny>>,
    mean: &Bound<'py, PyAny>,
    invstd: &Bound<'py, PyAny>,
    training: bool,
    out: Option<Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    if let Ok(dy) = dy.cast::<PyArrayDyn<f32>>() {
        return backward_typed(dy, x, gamma.as_ref(), mean, invstd, training, out.as_ref());
    }
    if let Ok(dy) = dy.cast::<PyArrayDyn<f64>>() {
        return backward_typed(dy, x, gamma.as_ref(), mean, invstd, training, out.as_ref());
    }
    Err(dtype_error(
        dy.py(),
        format!(
            "dy must be a float32 or float64 numpy array, got {}",
            describe(dy)
        ),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(batch_norm_forward, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_backward, m)?)?;
    Ok(())
}
