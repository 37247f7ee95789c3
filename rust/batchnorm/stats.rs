//! Per-channel mean and biased variance, two-pass and in f64.
//!
//! A channel is cut into pieces small enough to stay in L1 (fixed by the shape, see
//! [`super::plan`]). Each piece is summed, then its squared deviations about its own mean are
//! summed (the two-pass form, never E[x²] − E[x]²). Pieces combine exactly by
//! Σ(x − μ)² = Σ_b [M2_b + n_b·(μ_b − μ)²], in piece order, so the result does not depend on
//! which thread computed which piece.

use super::kernels::Kernels;
use super::plan::PIECE_LEN;

/// The statistics of one piece: its size, Σx and Σ(x − Σx/n)².
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece {
    pub count: f64,
    pub sum: f64,
    pub m2: f64,
}

/// Appends the pieces of one contiguous row (cut every [`PIECE_LEN`] values).
pub fn push_row_pieces<T>(k: &Kernels<T>, row: &[T], pieces: &mut Vec<Piece>) {
    for part in row.chunks(PIECE_LEN) {
        let sum = (k.sum)(part);
        let count = part.len() as f64;
        let m2 = (k.sum_sq_dev)(part, sum / count);
        pieces.push(Piece { count, sum, m2 });
    }
}

/// The mean and biased variance of a channel of `total` values made of `pieces`.
pub fn combine(pieces: &[Piece], total: usize) -> (f64, f64) {
    let m = total as f64;
    let mean = pieces.iter().map(|p| p.sum).sum::<f64>() / m;
    let m2: f64 = pieces
        .iter()
        .map(|p| {
            let d = p.sum / p.count - mean;
            p.m2 + p.count * d * d
        })
        .sum();
    (mean, m2 / m)
}

/// 1/√(var + eps).
pub fn invstd(var: f64, eps: f64) -> f64 {
    1.0 / (var + eps).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batchnorm::kernels::Element;
    use crate::simd::Backend;

    #[test]
    fn pieces_combine_to_the_two_pass_statistics() {
        let x: Vec<f64> = (0..10_000)
            .map(|i| 1e4 + ((i * 37) % 101) as f64 * 0.01)
            .collect();
        let mean_ref = x.iter().sum::<f64>() / x.len() as f64;
        let var_ref = x.iter().map(|v| (v - mean_ref).powi(2)).sum::<f64>() / x.len() as f64;
        for backend in Backend::ALL {
            let k = f64::kernels(backend);
            let mut pieces = Vec::new();
            push_row_pieces(&k, &x[..5000], &mut pieces);
            push_row_pieces(&k, &x[5000..], &mut pieces);
            assert_eq!(pieces.len(), 4);
            let (mean, var) = combine(&pieces, x.len());
            assert!((mean - mean_ref).abs() < 1e-10, "{backend:?}");
            assert!((var - var_ref).abs() < 1e-10 * var_ref, "{backend:?}");
        }
    }

    #[test]
    fn a_constant_channel_has_its_value_as_mean_and_zero_variance() {
        let x = vec![1e7f32; 777];
        let k = f32::kernels(crate::simd::backend());
        let mut pieces = Vec::new();
        push_row_pieces(&k, &x, &mut pieces);
        assert_eq!(combine(&pieces, x.len()), (1e7, 0.0));
    }
}
