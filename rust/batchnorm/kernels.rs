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
    pub moments: fn(&[T]) -> (f64, f64),
    pub sum_dy_dot: fn(&[T], &[T], f64) -> (f64, f64),
    pub affine_row: fn(&[T], &RowNorm, &mut [T]),
    pub bwd_row: fn(&[T], &[T], f64, f64, f64, f64, &mut [T]),
    pub scale_row: fn(&[T], f64, &mut [T]),
    pub block_sum_cols: fn(&[T], usize, &mut [f64]),
    pub block_sq_dev_cols: fn(&[T], usize, &[f64], &mut [f64]),
    pub block_shifted_cols: fn(&[T], usize, &[f64], &mut [f64], &mut [f64]),
    pub block_dy_dot_cols: fn(&[T], &[T], usize, &[f64], &mut [f64], &mut [f64]),
    pub affine_cols: fn(&[T], &NormCols, &mut [T]),
    pub bwd_cols: fn(&[T], &[T], &[f64], &[f64], &[f64], &[f64], &mut [T]),
    pub scale_cols: fn(&[T], &[f64], &mut [T]),
}

/// How each column of an (N, C) input is normalised: y = (x − mean)·scale + shift.
///
/// Besides the f64 form it carries a float32 one for float32 kernels:
/// y = (x − hi)·scale32 + shift32, with hi = float32(mean), lo = mean − hi and
/// shift32 = float32(shift − lo·scale). x − hi is exact when x is within a factor 2 of the mean
/// (Sterbenz) and otherwise within half an ulp of itself, so x − mean is kept as if formed in
/// f64; a constant channel gives x − hi = 0, lo = 0, hence exactly shift.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NormCols {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub shift: Vec<f64>,
    pub hi: Vec<f32>,
    pub scale32: Vec<f32>,
    pub shift32: Vec<f32>,
    /// Whether every float32 parameter is finite (else float32 kernels use the f64 form).
    pub float32_ok: bool,
}

impl NormCols {
    pub fn new(mean: Vec<f64>, scale: Vec<f64>, shift: Vec<f64>) -> NormCols {
        let mut n = NormCols {
            float32_ok: true,
            ..NormCols::default()
        };
        for ((&m, &sc), &sh) in mean.iter().zip(&scale).zip(&shift) {
            let (hi, s32, c32) = float32_form(m, sc, sh);
            n.float32_ok &= hi.is_finite() && s32.is_finite() && c32.is_finite();
            n.hi.push(hi);
            n.scale32.push(s32);
            n.shift32.push(c32);
        }
        NormCols {
            mean,
            scale,
            shift,
            ..n
        }
    }
}

/// How one channel is normalised: y = (x − mean)·scale + shift, with the float32 form of
/// [`NormCols`] computed once per channel rather than once per row.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RowNorm {
    pub mean: f64,
    pub scale: f64,
    pub shift: f64,
    pub hi: f32,
    pub scale32: f32,
    pub shift32: f32,
    /// Whether the float32 parameters are finite (else float32 kernels use the f64 form).
    pub float32_ok: bool,
}

impl RowNorm {
    pub fn new(mean: f64, scale: f64, shift: f64) -> RowNorm {
        let (hi, scale32, shift32) = float32_form(mean, scale, shift);
        RowNorm {
            mean,
            scale,
            shift,
            hi,
            scale32,
            shift32,
            float32_ok: hi.is_finite() && scale32.is_finite() && shift32.is_finite(),
        }
    }
}

/// (hi, scale32, shift32) of y = (x − mean)·scale + shift; see [`NormCols`].
pub fn float32_form(mean: f64, scale: f64, shift: f64) -> (f32, f32, f32) {
    let hi = mean as f32;
    let lo = mean - f64::from(hi);
    (hi, scale as f32, (shift - lo * scale) as f32)
}

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
        block_dy_dot_cols: scalar::block_dy_dot_cols,
        affine_cols: scalar::affine_cols,
        bwd_cols: scalar::bwd_cols,
        scale_cols: scalar::scale_cols,
    }
}

#[cfg(target_arch = "x86_64")]
fn table<T: Real + crate::simd::avx2::Lanes>(backend: Backend, stream: bool) -> Kernels<T> {
    if backend == Backend::Avx2Fma && backend.is_supported() {
        // SAFETY: AVX2 and FMA were just detected on this CPU.
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
        if backend == Backend::Avx2Fma && backend.is_supported() {
            // SAFETY: AVX2 and FMA were just detected on this CPU.
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
