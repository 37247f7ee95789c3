//! Bindings for `crate::qmc`: one engine class over the samplers, `discrepancy` and the
//! random-cd optimizer.
//!
//! Argument checks with Python-side messages live in `bntune/qmc.py`; the core re-checks
//! everything, so a bad call that bypasses the Python layer still gets a clean exception.

use std::sync::Arc;

use numpy::{PyArray2, PyArrayMethods, PyReadonlyArray2, PyReadwriteArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::errors::{shape_error, to_py_err};
use crate::qmc::discrepancy::{Method, discrepancy_of_part};
use crate::qmc::random_cd::random_cd as core_random_cd;
use crate::qmc::rng::entropy_seed;
use crate::qmc::unit::UnitFloat;
use crate::qmc::{Engine, Scramble};

/// A sampler of points in [0, 1)^d, addressed by point index (see `bntune.qmc`).
#[pyclass(module = "bntune._core", name = "QmcEngine")]
struct QmcEngine {
    engine: Arc<Engine>,
    kind: String,
    scramble: String,
    bits: u32,
    seed: u64,
    index: u64,
}

fn parse_scramble(name: &str) -> PyResult<Scramble> {
    match name {
        "none" => Ok(Scramble::None),
        "default" => Ok(Scramble::Default),
        "owen" => Ok(Scramble::Owen),
        other => Err(PyValueError::new_err(format!(
            "scramble must be 'none', 'default' or 'owen', got {other:?}"
        ))),
    }
}

fn to_count(n: u64, name: &str) -> PyResult<usize> {
    usize::try_from(n)
        .map_err(|_| PyValueError::new_err(format!("{name}={n} is too large for this machine")))
}

/// Larger outputs are allocated through `numpy.empty`, which reports failure as MemoryError.
const DIRECT_ALLOCATION_LIMIT: usize = 1 << 27;

/// Allocates an (n, d) array and fills it with points `start..start + n`, GIL released.
fn draw_into<'py, T: UnitFloat + numpy::Element>(
    py: Python<'py>,
    engine: &Engine,
    start: u64,
    n: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let d = engine.d();
    n.checked_mul(d)
        .filter(|&len| len <= isize::MAX as usize / 8)
        .ok_or_else(|| PyValueError::new_err(format!("n={n} points of d={d} is too large")))?;
    let array = if n * d <= DIRECT_ALLOCATION_LIMIT {
        // SAFETY: every element is written by `fill` before the array is returned; on error
        // the uninitialised array is dropped without being read.
        unsafe { PyArray2::<T>::new(py, [n, d], false) }
    } else {
        // rust-numpy panics when numpy cannot allocate; numpy.empty raises MemoryError instead.
        let dtype = numpy::dtype::<T>(py);
        py.import("numpy")?
            .getattr("empty")?
            .call1(((n, d), dtype))?
            .cast_into::<PyArray2<T>>()?
    };
    // SAFETY: the array was just created, so nothing else references its data.
    let out = unsafe { array.as_slice_mut() }
        .map_err(|e| shape_error(py, format!("could not write the output array: {e}")))?;
    py.detach(|| engine.fill(start, out))
        .map_err(|e| to_py_err(py, e))?;
    Ok(array.into_any())
}

fn draw<'py>(
    py: Python<'py>,
    engine: &Engine,
    start: u64,
    n: usize,
    float32: bool,
) -> PyResult<Bound<'py, PyAny>> {
    check_range(engine, start, n)?;
    engine.check_count(n).map_err(|e| to_py_err(py, e))?;
    if float32 {
        draw_into::<f32>(py, engine, start, n)
    } else {
        draw_into::<f64>(py, engine, start, n)
    }
}

fn check_range(engine: &Engine, start: u64, n: usize) -> PyResult<()> {
    let end = u128::from(start) + n as u128;
    let max = engine.max_points();
    if end > max {
        let hint = match engine {
            Engine::Sobol(_) => " (consider increasing `bits`)",
            _ => "",
        };
        return Err(PyValueError::new_err(format!(
            "at most {max} points can be drawn from this engine{hint}; {start} were drawn or \
             skipped before, so n={n} would need {end}"
        )));
    }
    Ok(())
}

#[pymethods]
impl QmcEngine {
    /// `kind`: "sobol", "halton", "lhs", "oa-lhs" or "random"; `scramble`: "none", "default" or "owen";
    /// `seed=None` draws one from the operating system.
    #[new]
    #[pyo3(signature = (kind, d, scramble, bits, seed))]
    fn new(
        py: Python<'_>,
        kind: &str,
        d: i64,
        scramble: &str,
        bits: i64,
        seed: Option<u64>,
    ) -> PyResult<Self> {
        let mode = parse_scramble(scramble)?;
        let d = usize::try_from(d)
            .map_err(|_| PyValueError::new_err(format!("d must be positive, got {d}")))?;
        let bits_u32 = u32::try_from(bits)
            .ok()
            .filter(|b| (1..=64).contains(b))
            .ok_or_else(|| {
                PyValueError::new_err(format!("bits must be between 1 and 64, got {bits}"))
            })?;
        let seed = match seed {
            Some(s) => s,
            None => entropy_seed().map_err(|e| to_py_err(py, e))?,
        };
        let engine = py
            .detach(|| Engine::new(kind, d, mode, bits_u32, seed))
            .map_err(|e| to_py_err(py, e))?;
        Ok(QmcEngine {
            engine: Arc::new(engine),
            kind: kind.to_owned(),
            scramble: scramble.to_owned(),
            bits: bits_u32,
            seed,
            index: 0,
        })
    }

    #[getter]
    fn kind(&self) -> &str {
        &self.kind
    }

    #[getter]
    fn d(&self) -> usize {
        self.engine.d()
    }

    #[getter]
    fn bits(&self) -> u32 {
        self.bits
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }

    #[getter]
    fn scramble(&self) -> &str {
        &self.scramble
    }

    /// The index of the next point `random` returns.
    #[getter]
    fn index(&self) -> u64 {
        self.index
    }

    /// The number of points the engine can index.
    #[getter]
    fn max_points(&self) -> u128 {
        self.engine.max_points()
    }

    /// The next `n` points as an (n, d) array (float32 if asked), advancing the index by `n`.
    #[pyo3(signature = (n, float32=false))]
    fn random<'py>(slf: &Bound<'py, Self>, n: u64, float32: bool) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let n = to_count(n, "n")?;
        let (engine, start) = {
            let mut me = slf.borrow_mut();
            check_range(&me.engine, me.index, n)?;
            let start = me.index;
            me.index += n as u64;
            (Arc::clone(&me.engine), start)
        };
        let result = draw(py, &engine, start, n, float32);
        if result.is_err() {
            // Nothing was drawn: give the points back, unless another thread drew after us.
            let mut me = slf.borrow_mut();
            if me.index == start + n as u64 {
                me.index = start;
            }
        }
        result
    }

    /// Points `index .. index + n` without touching the engine's own position.
    #[pyo3(signature = (index, n, float32=false))]
    fn random_at<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        n: u64,
        float32: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = to_count(n, "n")?;
        draw(py, &self.engine, index, n, float32)
    }

    /// Skips `n` points (O(1) here: points are computed from their index).
    fn fast_forward(&mut self, n: u64) -> PyResult<()> {
        let n = to_count(n, "n")?;
        check_range(&self.engine, self.index, n)?;
        self.index += n as u64;
        Ok(())
    }

    /// Moves to point `index` (used by reset and unpickling).
    fn seek(&mut self, index: u64) -> PyResult<()> {
        check_range(&self.engine, index, 0)?;
        self.index = index;
        Ok(())
    }
}

/// The discrepancy of a C-contiguous float64 (n, d) sample in [0, 1]^d, as part of a design
/// with `more` points still to come (0: the sample is the whole design).
#[pyfunction]
#[pyo3(name = "qmc_discrepancy", signature = (sample, method, more=0))]
fn discrepancy(
    py: Python<'_>,
    sample: PyReadonlyArray2<'_, f64>,
    method: &str,
    more: usize,
) -> PyResult<f64> {
    let method = Method::parse(method).map_err(|e| to_py_err(py, e))?;
    let d = sample.shape()[1];
    let data = sample
        .as_slice()
        .map_err(|_| shape_error(py, "sample must be C-contiguous"))?;
    py.detach(|| discrepancy_of_part(data, d, method, more))
        .map_err(|e| to_py_err(py, e))
}

/// Lowers the centred discrepancy of a C-contiguous float64 (n, d) sample in place by swaps
/// within columns (scipy's "random-cd"); returns the final discrepancy.
#[pyfunction]
#[pyo3(name = "qmc_random_cd")]
fn random_cd(
    py: Python<'_>,
    mut sample: PyReadwriteArray2<'_, f64>,
    seed: u64,
    n_iters: u64,
    n_nochange: u64,
) -> PyResult<f64> {
    let d = sample.shape()[1];
    let data = sample
        .as_slice_mut()
        .map_err(|_| shape_error(py, "sample must be C-contiguous"))?;
    py.detach(|| core_random_cd(data, d, seed, n_iters, n_nochange))
        .map_err(|e| to_py_err(py, e))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<QmcEngine>()?;
    m.add_function(wrap_pyfunction!(discrepancy, m)?)?;
    m.add_function(wrap_pyfunction!(random_cd, m)?)?;
    Ok(())
}
