//! The table of inner loops a kernel call uses, chosen once per call from the SIMD backend.
//!
//! Row loops work on one contiguous (sample, channel) row with scalar statistics; column loops
//! work on a stretch of one sample of an (N, C) input with per-column statistics.

use super::real::Real;
use super::scalar;
use crate::simd::Backend;

/// The inner loops for element type `T`; see [`scalar`] for what each computes.
// The signatures are the documentation of the table; aliases would only hide them.
#[allow(clippy::type_complexity)]
#[derive(Clone, Copy)]
pub struct Kernels<T> {
    pub sum: fn(&[T]) -> f64,
    pub sum_sq_dev: fn(&[T], f64) -> f64,
    pub sum_dy_dot: fn(&[T], &[T], f64) -> (f64, f64),
    pub affine_row: fn(&[T], f64, f64, f64, &mut [T]),
    pub bwd_row: fn(&[T], &[T], f64, f64, f64, f64, &mut [T]),
    pub scale_row: fn(&[T], f64, &mut [T]),
    pub acc_cols: fn(&[T], &mut [f64]),
    pub acc_sq_dev_cols: fn(&[T], &[f64], &mut [f64]),
    pub acc_dy_dot_cols: fn(&[T], &[T], &[f64], &mut [f64], &mut [f64]),
    pub affine_cols: fn(&[T], &[f64], &[f64], &[f64], &mut [T]),
    pub bwd_cols: fn(&[T], &[T], &[f64], &[f64], &[f64], &[f64], &mut [T]),
    pub scale_cols: fn(&[T], &[f64], &mut [T]),
}

/// An element type with scalar and vector inner loops.
pub trait Element: Real {
    /// The inner loops for `backend`; a backend this CPU lacks falls back to scalar.
    fn kernels(backend: Backend) -> Kernels<Self>;
}

fn scalar_table<T: Real>() -> Kernels<T> {
    Kernels {
        sum: scalar::sum,
        sum_sq_dev: scalar::sum_sq_dev,
        sum_dy_dot: scalar::sum_dy_dot,
        affine_row: scalar::affine_row,
        bwd_row: scalar::bwd_row,
        scale_row: scalar::scale_row,
        acc_cols: scalar::acc_cols,
        acc_sq_dev_cols: scalar::acc_sq_dev_cols,
        acc_dy_dot_cols: scalar::acc_dy_dot_cols,
        affine_cols: scalar::affine_cols,
        bwd_cols: scalar::bwd_cols,
        scale_cols: scalar::scale_cols,
    }
}

#[cfg(target_arch = "x86_64")]
fn table<T: Real + crate::simd::avx2::Lanes>(backend: Backend) -> Kernels<T> {
    if backend == Backend::Avx2Fma && backend.is_supported() {
        // SAFETY: AVX2 and FMA were just detected on this CPU.
        unsafe { super::avx2::table() }
    } else {
        scalar_table()
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn table<T: Real>(_backend: Backend) -> Kernels<T> {
    scalar_table()
}

impl Element for f32 {
    #[cfg(target_arch = "x86_64")]
    fn kernels(backend: Backend) -> Kernels<f32> {
        if backend == Backend::Avx2Fma && backend.is_supported() {
            // SAFETY: AVX2 and FMA were just detected on this CPU.
            unsafe { super::avx2::table_f32() }
        } else {
            scalar_table()
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn kernels(backend: Backend) -> Kernels<f32> {
        table(backend)
    }
}

impl Element for f64 {
    fn kernels(backend: Backend) -> Kernels<f64> {
        table(backend)
    }
}
