//! Per-channel mean and biased variance, two-pass and in f64.
//!
//! A channel is cut into pieces small enough to stay in L1 (fixed by the shape, see
//! [`super::plan`]). Each piece is summed, then its squared deviations about its own mean are
//! summed (the two-pass form, never E\[x²\] − E\[x\]²), or, where the check of
//! [`SHIFT_LOSS`](super::shifted::SHIFT_LOSS) shows it equally exact, both sums come from one pass about a value of the data (the AVX2
//! row loop, about the row's first value; the column loops, about the block's first row).
//! Pieces merge by Chan et al.'s pairwise update (exact in exact arithmetic, stable in floating
//! point), in piece order, so the result does not depend on which thread computed which piece.

use super::plan::PIECE_LEN;
use super::real::Real;
use super::shifted::{SHIFT_LOSS, STRIP_ROWS, cols_from_shifted_sums};
use super::table::Kernels;

/// Count, Σx and Σ(x − mean)² of the values seen so far.
///
/// M2 follows Chan et al.'s pairwise update about a running mean; the reported mean is Σx/n,
/// which keeps IEEE semantics for infinities (a +inf value gives mean +inf, not inf − inf).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    pub count: f64,
    pub sum: f64,
    running: f64,
    pub m2: f64,
}

impl Moments {
    /// Adds a piece of `count` values with Σx = `sum` and Σ(x − sum/count)² = `m2`: with
    /// δ = mean_b − mean_a, mean_a += δ·n_b/n and M2 += m2 + δ²·n_a·n_b/n.
    pub fn merge(&mut self, count: f64, sum: f64, m2: f64) {
        if count == 0.0 {
            return;
        }
        let n = self.count + count;
        // Two divisions, off the dependency chain through `running`.
        let inv_n = 1.0 / n;
        let d = sum / count - self.running;
        self.running += d * (count * inv_n);
        self.m2 += m2 + d * d * (self.count * count * inv_n);
        self.count = n;
        self.sum += sum;
    }

    /// Adds one contiguous row, two-pass, in pieces of at most [`PIECE_LEN`] values.
    pub fn add_row<T>(&mut self, k: &Kernels<T>, row: &[T]) {
        for part in row.chunks(PIECE_LEN) {
            let count = part.len() as f64;
            let (sum, m2) = (k.moments)(part);
            self.merge(count, sum, m2);
        }
    }

    /// Σx/n.
    pub fn mean(&self) -> f64 {
        self.sum / self.count
    }

    /// The biased variance M2/n.
    pub fn var(&self) -> f64 {
        self.m2 / self.count
    }
}

/// Per-column count, mean and Σ(x − mean)² of a run of rows of an (N, C) input.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnMoments {
    pub count: f64,
    /// Σx per column: the reported mean is sum/count (see [`Moments`]).
    pub sum: Vec<f64>,
    /// The running mean M2 is taken about.
    pub mean: Vec<f64>,
    pub m2: Vec<f64>,
}

impl ColumnMoments {
    pub fn new(c: usize) -> ColumnMoments {
        ColumnMoments {
            count: 0.0,
            sum: vec![0.0; c],
            mean: vec![0.0; c],
            m2: vec![0.0; c],
        }
    }

    /// Moments of `block`, whole rows of `c` values, in one pass (see
    /// [`SHIFT_LOSS`](super::shifted::SHIFT_LOSS)); `None` if a column would lose too much to
    /// cancellation, or is not finite, and must be taken by [`ColumnMoments::two_pass`] instead.
    ///
    /// The pivot is zero where that is as exact, else the block's first row. About zero, d is x
    /// itself and the loops skip the subtraction; the form's check holds when a column's mean
    /// is within 3.87 standard deviations of zero, as for most inputs of a layer. Whether to
    /// go on about zero is decided after the first [`STRIP_ROWS`] rows (a column whose mean is
    /// far from zero fails there, and only those rows are read twice), and the check on the
    /// whole block decides in the end; the decision depends on the block alone, so results stay
    /// the same for any number of threads.
    pub fn one_pass<T: Real>(k: &Kernels<T>, block: &[T], c: usize) -> Option<ColumnMoments> {
        if c == 0 || block.len() < c {
            return None;
        }
        let rows = block.len() / c;
        // A whole number of strips, so the sums go on from the trial unchanged.
        let trial = block.len().min(STRIP_ROWS * c);
        let mut m = ColumnMoments::new(c);
        (k.block_sum_sq_cols)(&block[..trial], c, &mut m.sum, &mut m.m2);
        // The trial needs no division: (Σx)²/n ≤ (1 − SHIFT_LOSS)·Σx² is the check of
        // `from_shifted_sums` up to rounding, and the final check is the exact one. NaN fails.
        let bound = (trial / c) as f64 * (1.0 - SHIFT_LOSS);
        let cols = m.sum.iter().zip(&m.m2);
        if cols.fold(true, |ok, (&s, &q)| ok & (s * s <= q * bound)) {
            (k.block_sum_sq_cols)(&block[trial..], c, &mut m.sum, &mut m.m2);
            if m.finish(rows, None) {
                return Some(m);
            }
        }
        let first: Vec<f64> = block[..c].iter().map(|v| v.to_f64()).collect();
        let mut m = ColumnMoments::new(c);
        (k.block_shifted_cols)(block, c, &first, &mut m.sum, &mut m.m2);
        m.finish(rows, Some(&first)).then_some(m)
    }

    /// Count, Σx, M2 and mean from Σd and Σd² about `pivot` (zero if `None`), held in `sum`
    /// and `m2`; false where [`cols_from_shifted_sums`] refuses a column.
    fn finish(&mut self, rows: usize, pivot: Option<&[f64]>) -> bool {
        self.count = rows as f64;
        cols_from_shifted_sums(self.count, pivot, &mut self.sum, &mut self.m2, &mut self.mean)
    }

    /// Two-pass moments of `block` (small enough to stay in L2 between the passes): the column
    /// sums, then Σ(x − mean)² about their means.
    pub fn two_pass<T>(k: &Kernels<T>, block: &[T], c: usize) -> ColumnMoments {
        let mut m = ColumnMoments::new(c);
        (k.block_sum_cols)(block, c, &mut m.sum);
        m.count = (block.len() / c.max(1)) as f64;
        for (u, s) in m.mean.iter_mut().zip(&m.sum) {
            *u = s / m.count;
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
        for (s, t) in self.sum.iter_mut().zip(&other.sum) {
            *s += t;
        }
        self.count = n;
    }

    /// Σx/n per column.
    pub fn sum_mean(&self) -> Vec<f64> {
        self.sum.iter().map(|s| s / self.count).collect()
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
    fn rows_merge_to_the_two_pass_statistics() {
        let x: Vec<f64> = (0..10_000)
            .map(|i| 1e4 + ((i * 37) % 101) as f64 * 0.01)
            .collect();
        let mean_ref = x.iter().sum::<f64>() / x.len() as f64;
        let var_ref = x.iter().map(|v| (v - mean_ref).powi(2)).sum::<f64>() / x.len() as f64;
        for backend in Backend::ALL {
            let k = f64::kernels(backend, false);
            let mut m = Moments::default();
            m.add_row(&k, &x[..5000]);
            m.add_row(&k, &x[5000..]);
            let (mean, var) = (m.mean(), m.var());
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
        let (mut all, mut all_one_pass) = (ColumnMoments::new(c), ColumnMoments::new(c));
        for rows in [0..10, 10..11, 11..37] {
            let part = &x[rows.start * c..rows.end * c];
            all.merge(&ColumnMoments::two_pass(&k, part, c));
            all_one_pass.merge(&ColumnMoments::one_pass(&k, part, c).unwrap());
        }
        for j in 0..c {
            let a = (all_one_pass.sum_mean()[j], all_one_pass.m2[j]);
            assert!(
                (a.0 - all.sum_mean()[j]).abs() < 1e-11 && (a.1 - all.m2[j]).abs() < 1e-9 * a.1
            );
            let col: Vec<f64> = (0..n).map(|i| f64::from(x[i * c + j])).collect();
            let mean = col.iter().sum::<f64>() / n as f64;
            let m2: f64 = col.iter().map(|v| (v - mean).powi(2)).sum();
            assert!((all.mean[j] - mean).abs() < 1e-11);
            assert!((all.sum_mean()[j] - mean).abs() < 1e-11);
            assert!((all.m2[j] - m2).abs() < 1e-9 * m2);
        }
        assert_eq!(all.count, n as f64);
    }

    #[test]
    fn one_pass_and_two_pass_rows_agree_with_the_definition() {
        // A centred row (the one-pass shifted form applies) and rows whose first value is far
        // out (the shift would cancel too much, so the two-pass loops take over).
        let base: Vec<f64> = (0..3001)
            .map(|i| ((i * 7919) % 1013) as f64 / 1013.0 - 0.5)
            .collect();
        for first in [0.25, -0.5, 1e6, -3e3] {
            let mut row = base.clone();
            row[0] = first;
            let n = row.len() as f64;
            let mean_ref = row.iter().sum::<f64>() / n;
            let m2_ref = row.iter().map(|v| (v - mean_ref).powi(2)).sum::<f64>();
            for backend in Backend::ALL {
                let k = f64::kernels(backend, false);
                let (sum, m2) = (k.moments)(&row);
                assert!((sum / n - mean_ref).abs() <= 1e-13 * mean_ref.abs().max(1.0));
                assert!((m2 - m2_ref).abs() <= 1e-12 * m2_ref, "{backend:?} {first}");
                let k32 = f32::kernels(backend, false);
                let row32: Vec<f32> = row.iter().map(|&v| v as f32).collect();
                let wide: Vec<f64> = row32.iter().map(|&v| f64::from(v)).collect();
                let mean32 = wide.iter().sum::<f64>() / n;
                let m2_32 = wide.iter().map(|v| (v - mean32).powi(2)).sum::<f64>();
                let (sum, m2) = (k32.moments)(&row32);
                assert!((sum / n - mean32).abs() <= 1e-13 * mean32.abs().max(1.0));
                assert!(
                    (m2 - m2_32).abs() <= 1e-12 * m2_32,
                    "{backend:?} {first} f32"
                );
            }
        }
    }

    #[test]
    fn one_pass_and_two_pass_columns_agree_with_the_definition() {
        // Columns about 1e4 (one pass about the first row applies) and blocks whose first row
        // is far out in one column (the shift would cancel too much: two-pass for the block).
        // 23 rows: two strips of eight and seven rows left over; 6 columns: a vector and a tail.
        let (n, c) = (23, 6);
        let base: Vec<f64> = (0..n * c)
            .map(|i| 1e4 + ((i * 7919) % 1013) as f64 / 1013.0 - 0.5)
            .collect();
        // The outliers sit in the tail column 5 and in the vector column 1 of the first row.
        let cases = [
            (0, None, true),
            (5, Some(1e6), false),
            (1, Some(-3e3), false),
        ];
        for (at, outlier, one_pass) in cases {
            let mut x = base.clone();
            if let Some(v) = outlier {
                x[at] = v;
            }
            for backend in Backend::ALL {
                let k = f64::kernels(backend, false);
                let shifted = ColumnMoments::one_pass(&k, &x, c);
                assert_eq!(shifted.is_some(), one_pass, "{backend:?} {outlier:?}");
                for m in [shifted, Some(ColumnMoments::two_pass(&k, &x, c))]
                    .iter()
                    .flatten()
                {
                    for j in 0..c {
                        let col: Vec<f64> = (0..n).map(|i| x[i * c + j]).collect();
                        let mean = col.iter().sum::<f64>() / n as f64;
                        let m2: f64 = col.iter().map(|v| (v - mean).powi(2)).sum();
                        assert!((m.sum_mean()[j] - mean).abs() <= 1e-13 * mean.abs());
                        assert!(
                            (m.m2[j] - m2).abs() <= 1e-11 * m2,
                            "{backend:?} {outlier:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_constant_column_has_its_value_as_mean_and_zero_variance() {
        let (n, c) = (19, 5);
        let x: Vec<f32> = (0..n * c)
            .map(|i| if i % c == 2 { 1e7 } else { i as f32 })
            .collect();
        for backend in Backend::ALL {
            let k = f32::kernels(backend, false);
            let one = ColumnMoments::one_pass(&k, &x, c).unwrap();
            for m in [one, ColumnMoments::two_pass(&k, &x, c)] {
                assert_eq!((m.sum_mean()[2], m.m2[2]), (1e7, 0.0), "{backend:?}");
            }
        }
    }

    #[test]
    fn a_constant_channel_has_its_value_as_mean_and_zero_variance() {
        let x = vec![1e7f32; 777];
        let k = f32::kernels(crate::simd::backend(), false);
        let mut m = Moments::default();
        m.add_row(&k, &x[..100]);
        m.add_row(&k, &x[100..]);
        assert_eq!((m.mean(), m.var()), (1e7, 0.0));
    }
}
