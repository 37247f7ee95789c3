//! The dispatch: which [`Kernels`] table a kernel call uses, chosen once per call from the
//! SIMD backend.

use super::real::Real;
use super::scalar;
use super::table::Kernels;
use crate::simd::Backend;

/// An element type with scalar and vector inner loops.
pub trait Element: Real {
    /// The inner loops for `backend`; a backend this CPU lacks falls back to scalar. With
    /// `stream`, the normalise loops store with non-temporal stores (for outputs far larger
    /// than the caches; see [`crate::batchnorm::plan::streams`]).
    fn kernels(backend: Backend, stream: bool) -> Kernels<Self>;
}

fn scalar_table<T: Real>() -> Kernels<T> {
    Kernels {
        moments: scalar::moments,
        sum_dy_dot: scalar::sum_dy_dot,
        affine_row: scalar::affine_row,
        bwd_row: scalar::bwd_row,
        scale_row: scalar::scale_row,
        block_sum_cols: scalar::block_sum_cols,
        block_sq_dev_cols: scalar::block_sq_dev_cols,
        block_shifted_cols: scalar::block_shifted_cols,
        block_sum_sq_cols: scalar::block_sum_sq_cols,
        block_dy_dot_cols: scalar::block_dy_dot_cols,
        affine_cols: scalar::affine_cols,
        bwd_cols: scalar::bwd_cols,
        scale_cols: scalar::scale_cols,
    }
}

#[cfg(target_arch = "x86_64")]
fn table<T: Real + crate::simd::avx2::Lanes>(backend: Backend, stream: bool) -> Kernels<T> {
    if backend.runs_avx2_fma() {
        // SAFETY: `runs_avx2_fma` checked that this CPU has AVX2 and FMA.
        unsafe { super::avx2::table(stream) }
    } else {
        scalar_table()
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn table<T: Real>(_backend: Backend, _stream: bool) -> Kernels<T> {
    scalar_table()
}

impl Element for f32 {
    #[cfg(target_arch = "x86_64")]
    fn kernels(backend: Backend, stream: bool) -> Kernels<f32> {
        if backend.runs_avx2_fma() {
            // SAFETY: `runs_avx2_fma` checked that this CPU has AVX2 and FMA.
            unsafe { super::avx2::table_f32(stream) }
        } else {
            scalar_table()
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn kernels(backend: Backend, stream: bool) -> Kernels<f32> {
        table(backend, stream)
    }
}

impl Element for f64 {
    fn kernels(backend: Backend, stream: bool) -> Kernels<f64> {
        table(backend, stream)
    }
}
