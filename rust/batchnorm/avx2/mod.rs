//! The AVX2+FMA inner loops: the formulas of [`super::scalar`] on four f64 lanes at a time
//! (float32 is widened on load and rounded once on store), with the scalar loops finishing the
//! last few elements. Reached only through [`table`], after AVX2 and FMA were detected.
//!
//! [`rows`] holds the loops over one contiguous (sample, channel) row, [`cols`] those over rows of
//! an (N, C) input with per-column statistics.

#![cfg(target_arch = "x86_64")]

mod cols;
mod rows;

use std::arch::x86_64::{__m256, __m256d, _mm256_loadu_pd, _mm256_storeu_ps, _mm256_stream_ps};

use super::real::Real;
use super::table::Kernels;
use crate::simd::avx2::Lanes;
use cols::{
    affine_cols, affine_cols_f32, block_dy_dot_cols, block_shifted_cols, block_sq_dev_cols,
    block_sum_cols, block_sum_sq_cols, bwd_cols, bwd_cols_f32, scale_cols,
};
use rows::{affine_row, affine_row_f32, bwd_row, moments, scale_row, sum_dy_dot};

/// The AVX2 table for `T`.
///
/// # Safety
/// The CPU supports AVX2 and FMA: every function in the table executes those instructions.
pub unsafe fn table<T: Real + Lanes>(stream: bool) -> Kernels<T> {
    let plain = Kernels {
        moments: moments::<T>,
        sum_dy_dot: sum_dy_dot::<T>,
        affine_row: affine_row::<T, false>,
        bwd_row: bwd_row::<T, false>,
        scale_row: scale_row::<T>,
        block_sum_cols: block_sum_cols::<T>,
        block_sq_dev_cols: block_sq_dev_cols::<T>,
        block_shifted_cols: block_shifted_cols::<T>,
        block_sum_sq_cols: block_sum_sq_cols::<T>,
        block_dy_dot_cols: block_dy_dot_cols::<T>,
        affine_cols: affine_cols::<T, false>,
        bwd_cols: bwd_cols::<T, false>,
        scale_cols: scale_cols::<T>,
    };
    if stream {
        Kernels {
            affine_row: affine_row::<T, true>,
            bwd_row: bwd_row::<T, true>,
            affine_cols: affine_cols::<T, true>,
            bwd_cols: bwd_cols::<T, true>,
            ..plain
        }
    } else {
        plain
    }
}

/// The AVX2 table for float32: the generic one, with the normalise passes and the (N, C)
/// backward's dx pass in 8 float32 lanes (see [`NormCols`](crate::batchnorm::norm::NormCols)
/// and [`DxCols`](crate::batchnorm::norm::DxCols)).
///
/// # Safety
/// The CPU supports AVX2 and FMA.
pub unsafe fn table_f32(stream: bool) -> Kernels<f32> {
    // SAFETY: forwarded from the caller's contract.
    let generic = unsafe { table::<f32>(stream) };
    if stream {
        Kernels {
            affine_row: affine_row_f32::<true>,
            affine_cols: affine_cols_f32::<true>,
            bwd_cols: bwd_cols_f32::<true>,
            ..generic
        }
    } else {
        Kernels {
            affine_row: affine_row_f32::<false>,
            affine_cols: affine_cols_f32::<false>,
            bwd_cols: bwd_cols_f32::<false>,
            ..generic
        }
    }
}

/// Stores four lanes, streaming (non-temporal) when `NT`.
///
/// # Safety
/// As [`Lanes::store4`] / [`Lanes::stream4`].
#[inline(always)]
pub(super) unsafe fn put4<T: Lanes, const NT: bool>(p: *mut T, v: __m256d) {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        if NT {
            T::stream4(p, v)
        } else {
            T::store4(p, v)
        }
    }
}

/// Stores eight float32 lanes, streaming (non-temporal, `p` 32-byte aligned) when `NT`.
///
/// # Safety
/// AVX is available, `p..p + 8` is writable, and aligned to 32 bytes when `NT`.
#[inline(always)]
pub(super) unsafe fn put8<const NT: bool>(p: *mut f32, v: __m256) {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        if NT {
            _mm256_stream_ps(p, v)
        } else {
            _mm256_storeu_ps(p, v)
        }
    }
}

/// Loads four per-column f64 parameters.
///
/// # Safety
/// AVX2 is available and `p[i..i + 4]` is readable.
#[inline(always)]
pub(super) unsafe fn param4(p: &[f64], i: usize) -> __m256d {
    // SAFETY: forwarded from the caller's contract.
    unsafe { _mm256_loadu_pd(p.as_ptr().add(i)) }
}
