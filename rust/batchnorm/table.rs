//! The table of inner loops a kernel call uses (filled by [`super::kernels`]).
//!
//! Row loops work on one contiguous (sample, channel) row with scalar statistics; column loops
//! work on whole rows of an (N, C) input (C values each, then a part row if the length is not
//! a multiple of C) with per-column statistics.

use super::norm::{DxCols, NormCols, RowNorm};

/// The inner loops for element type `T`; the scalar reference loops (`scalar.rs`) say what each
/// computes.
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
    pub block_sum_sq_cols: fn(&[T], usize, &mut [f64], &mut [f64]),
    pub block_dy_dot_cols: fn(&[T], &[T], usize, &[f64], &mut [f64], &mut [f64]),
    pub affine_cols: fn(&[T], &NormCols, &mut [T]),
    pub bwd_cols: fn(&[T], &[T], &DxCols, &mut [T]),
    pub scale_cols: fn(&[T], &[f64], &mut [T]),
}
