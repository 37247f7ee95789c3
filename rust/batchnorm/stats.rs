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

/// Per-column count, mean and Σ(x − mean)² of a run of rows of an (N, C) input.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnMoments {
    pub count: f64,
    pub mean: Vec<f64>,
    pub m2: Vec<f64>,
}

impl ColumnMoments {
    pub fn new(c: usize) -> ColumnMoments {
        ColumnMoments {
            count: 0.0,
            mean: vec![0.0; c],
            m2: vec![0.0; c],
        }
    }

    /// Two-pass moments of `block`, whole rows of `c` values (small enough to stay in L2).
    pub fn of_rows<T>(k: &Kernels<T>, block: &[T], c: usize) -> ColumnMoments {
        let mut m = ColumnMoments::new(c);
        (k.block_sum_cols)(block, c, &mut m.mean);
        m.count = (block.len() / c.max(1)) as f64;
        for v in &mut m.mean {
            *v /= m.count;
        }
        (k.block_sq_dev_cols)(block, c, &m.mean, &mut m.m2);
        m
    }

    /// Adds the moments of more rows (Chan et al.'s pairwise update, exact in exact
    /// arithmetic): with δ = mean_b − mean_a, mean += δ·n_b/n and M2 += M2_b + δ²·n_a·n_b/n.
    pub fn merge(&mut self, other: &ColumnMoments) {
        let n = self.count + other.count;
        if other.count == 0.0 {
            return;
        }
        let (wb, wab) = (other.count / n, self.count * other.count / n);
        let cols = self.mean.iter_mut().zip(self.m2.iter_mut());
        for ((ma, m2a), (mb, m2b)) in cols.zip(other.mean.iter().zip(&other.m2)) {
            let d = mb - *ma;
            *ma += d * wb;
            *m2a += m2b + d * d * wab;
        }
        self.count = n;
    }
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
            let k = f64::kernels(backend, false);
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
    fn merged_column_moments_match_the_definition() {
        let (n, c) = (37, 5);
        let x: Vec<f32> = (0..n * c)
            .map(|i| 1e4 + ((i * 53) % 97) as f32 * 0.25)
            .collect();
        let k = f32::kernels(crate::simd::backend(), false);
        let mut all = ColumnMoments::new(c);
        for rows in [0..10, 10..11, 11..37] {
            let part = ColumnMoments::of_rows(&k, &x[rows.start * c..rows.end * c], c);
            all.merge(&part);
        }
        for j in 0..c {
            let col: Vec<f64> = (0..n).map(|i| f64::from(x[i * c + j])).collect();
            let mean = col.iter().sum::<f64>() / n as f64;
            let m2: f64 = col.iter().map(|v| (v - mean).powi(2)).sum();
            assert!((all.mean[j] - mean).abs() < 1e-11);
            assert!((all.m2[j] - m2).abs() < 1e-9 * m2);
        }
        assert_eq!(all.count, n as f64);
    }

    #[test]
    fn a_constant_channel_has_its_value_as_mean_and_zero_variance() {
        let x = vec![1e7f32; 777];
        let k = f32::kernels(crate::simd::backend(), false);
        let mut pieces = Vec::new();
        push_row_pieces(&k, &x, &mut pieces);
        assert_eq!(combine(&pieces, x.len()), (1e7, 0.0));
    }
}
