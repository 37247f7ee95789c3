//! Per-channel mean and biased variance, two-pass and in f64.
//!
//! A channel is cut into pieces small enough to stay in L1 (fixed by the shape, see
//! [`super::plan`]). Each piece is summed, then its squared deviations about its own mean are
//! summed (the two-pass form, never E\[x²\] − E\[x\]²), or, where the check of
//! [`SHIFT_LOSS`](super::shifted::SHIFT_LOSS) shows it equally exact, both sums come from one
//! pass about a pivot (the AVX2 row loop, about the row's first value; the column loops, about
//! zero, or else about the block's first row).
//! Pieces merge by Chan et al.'s pairwise update (exact in exact arithmetic, stable in floating
//! point), in piece order, so the result does not depend on which thread computed which piece.

use super::plan::PIECE_LEN;
use super::real::Real;
use super::shifted::{SHIFT_LOSS, STRIP_ROWS, cols_from_shifted_sums};
use super::table::Kernels;

/// The one-pass form about zero goes on for a block when at most one column in this many
/// fails its check: those columns alone are then summed again, two-pass, one at a time (a
/// strided scalar loop, which on rows of a few thousand columns costs less than a second
/// pass over every column). A wide input with few rows per block has a few columns whose
/// first rows happen to lie on one side of zero: before, one such column in 4096 sent the
/// whole block to the form about its first row, reading it again ((64, 4096) float32: a
/// third of the statistics' time, 2026-12-07).
const FEW_COLUMNS: usize = 32;

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
    /// With `mean`, the running mean M2 is taken about: pivot + mean, a value of the data (or
    /// zero) and the mean's offset from it. Two blocks' means then differ by the difference of
    /// their pivots (exact for float32 data) plus that of their offsets (of the order of the
    /// spread), where the difference of the means themselves would carry an ulp of each: on a
    /// column of -3e4 + 0.01·noise that cost 1e-11 of the variance (2026-12-07).
    pub pivot: Vec<f64>,
    /// The running mean's offset from `pivot`.
    pub mean: Vec<f64>,
    pub m2: Vec<f64>,
}

impl ColumnMoments {
    pub fn new(c: usize) -> ColumnMoments {
        ColumnMoments {
            count: 0.0,
            sum: vec![0.0; c],
            pivot: vec![0.0; c],
            mean: vec![0.0; c],
            m2: vec![0.0; c],
        }
    }

    /// Moments of `block`, whole rows of `c` values, column by column in one pass where that
    /// is exact enough (see [`SHIFT_LOSS`](super::shifted::SHIFT_LOSS)), else from two passes
    /// over pieces of `piece_rows` rows (small enough to stay in L2 between the passes).
    ///
    /// The pivot is zero where that is as exact, else the block's first row. About zero, d is x
    /// itself and the loops skip the subtraction; the form's check holds when a column's mean
    /// is within 3.87 standard deviations of zero, as for most inputs of a layer. Whether to
    /// go on about zero is decided after the first [`STRIP_ROWS`] rows (when more than one
    /// column in `FEW_COLUMNS` (32) fails there, only those rows are read twice), and the check on
    /// the whole block decides in the end; a few columns that fail it are summed again alone,
    /// two-pass. Only the columns that fail about the first row take the two-pass result.
    /// Every decision depends on the block alone, so results stay the same for any number of
    /// threads.
    pub fn of_block<T: Real>(
        k: &Kernels<T>,
        block: &[T],
        c: usize,
        piece_rows: usize,
    ) -> ColumnMoments {
        if let Some(m) = Self::about_zero(k, block, c) {
            return m;
        }
        let first = Self::about_first_row(k, block, c);
        if let Some((m, None)) = first {
            return m;
        }
        let mut two = ColumnMoments::new(c);
        for piece in block.chunks((piece_rows * c).max(1)) {
            two.merge(&ColumnMoments::two_pass(k, piece, c));
        }
        let Some((mut m, Some(ok))) = first else {
            return two;
        };
        for j in (0..c).filter(|&j| !ok[j]) {
            m.sum[j] = two.sum[j];
            m.pivot[j] = two.pivot[j];
            m.mean[j] = two.mean[j];
            m.m2[j] = two.m2[j];
        }
        m
    }

    /// Moments of `block` in one pass about zero or else its first row, or `None` where a
    /// column fails both (see [`ColumnMoments::of_block`]).
    pub fn one_pass<T: Real>(k: &Kernels<T>, block: &[T], c: usize) -> Option<ColumnMoments> {
        Self::about_zero(k, block, c).or_else(|| match Self::about_first_row(k, block, c)? {
            (m, None) => Some(m),
            _ => None,
        })
    }

    /// The one-pass moments about a zero pivot, or `None` where the trial on the first rows or
    /// the final check refuses a column.
    pub fn about_zero<T: Real>(k: &Kernels<T>, block: &[T], c: usize) -> Option<ColumnMoments> {
        if c == 0 || block.len() < c {
            return None;
        }
        // A whole number of strips, so the sums go on from the trial unchanged.
        let trial = block.len().min(STRIP_ROWS * c);
        let mut m = ColumnMoments::new(c);
        (k.block_sum_sq_cols)(&block[..trial], c, &mut m.sum, &mut m.m2);
        // The trial needs no division: (Σx)²/n ≤ (1 − SHIFT_LOSS)·Σx² is the check of
        // `from_shifted_sums` up to rounding, and the final check is the exact one. NaN fails.
        let bound = (trial / c) as f64 * (1.0 - SHIFT_LOSS);
        let cols = m.sum.iter().zip(&m.m2);
        // (NaN compares false, so it counts as refused.)
        let passed = cols.fold(0, |n, (&s, &q)| n + usize::from(s * s <= q * bound));
        let refused = c - passed;
        if refused > c / FEW_COLUMNS {
            return None;
        }
        (k.block_sum_sq_cols)(&block[trial..], c, &mut m.sum, &mut m.m2);
        let Some(ok) = m.finish(block.len() / c, None) else {
            return Some(m);
        };
        let refused: Vec<usize> = (0..c).filter(|&j| !ok[j]).collect();
        if refused.len() > c / FEW_COLUMNS {
            return None;
        }
        m.two_pass_columns(block, c, &refused);
        Some(m)
    }

    /// Replaces the moments of the columns `cols` of `block` (whole rows of `c` values) by
    /// their two-pass ones, as [`ColumnMoments::two_pass`] forms them: Σx, then Σ(x − mean)²
    /// about mean = Σx/count, column by column.
    fn two_pass_columns<T: Real>(&mut self, block: &[T], c: usize, cols: &[usize]) {
        for &j in cols {
            let column = || block.iter().skip(j).step_by(c).map(|v| v.to_f64());
            let sum: f64 = column().sum();
            let mean = sum / self.count;
            (self.sum[j], self.pivot[j], self.mean[j]) = (sum, 0.0, mean);
            self.m2[j] = column().map(|v| (v - mean) * (v - mean)).sum();
        }
    }

    /// The one-pass moments about the block's first row, with `None` if every column passes
    /// the check, else which do; `None` for an empty block.
    pub fn about_first_row<T: Real>(
        k: &Kernels<T>,
        block: &[T],
        c: usize,
    ) -> Option<(ColumnMoments, Option<Vec<bool>>)> {
        if c == 0 || block.len() < c {
            return None;
        }
        let first: Vec<f64> = block[..c].iter().map(|v| v.to_f64()).collect();
        let mut m = ColumnMoments::new(c);
        (k.block_shifted_cols)(block, c, &first, &mut m.sum, &mut m.m2);
        let ok = m.finish(block.len() / c, Some(&first));
        Some((m, ok))
    }

    /// Count, Σx, M2 and the mean's offset from `pivot` (zero if `None`) from Σd and Σd²
    /// (held in `sum` and `m2`): `None` if every column passes the check of
    /// [`cols_from_shifted_sums`], else which do.
    fn finish(&mut self, rows: usize, pivot: Option<&[f64]>) -> Option<Vec<bool>> {
        self.count = rows as f64;
        if let Some(p) = pivot {
            self.pivot.copy_from_slice(p);
        }
        let mut ok = vec![false; self.sum.len()];
        let sums = [&mut self.sum[..], &mut self.m2[..], &mut self.mean[..]];
        let all = cols_from_shifted_sums(self.count, pivot, sums, &mut ok);
        (!all).then_some(ok)
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
    /// δ is formed as (pivot_b − pivot_a) + (offset_b − offset_a), see `pivot`.
    pub fn merge(&mut self, other: &ColumnMoments) {
        let n = self.count + other.count;
        if other.count == 0.0 {
            return;
        }
        if self.count == 0.0 {
            // Keep the other's pivot: pivot_a + δ with pivot_a = 0 would round δ to the mean.
            self.clone_from(other);
            return;
        }
        let (wb, wab) = (other.count / n, self.count * other.count / n);
        let cols = self
            .mean
            .iter_mut()
            .zip(self.m2.iter_mut())
            .zip(&self.pivot);
        let others = other.mean.iter().zip(&other.m2).zip(&other.pivot);
        for (((ma, m2a), pa), ((mb, m2b), pb)) in cols.zip(others) {
            let d = (pb - pa) + (mb - *ma);
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

    /// The running mean per column (pivot + offset), which M2 is taken about.
    pub fn running_mean(&self) -> Vec<f64> {
        self.pivot
            .iter()
            .zip(&self.mean)
            .map(|(p, m)| p + m)
            .collect()
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
            assert!((all.running_mean()[j] - mean).abs() < 1e-11);
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

    /// (mean, M2) of column j of rows of `c` values, two-pass in f64 from the widened values.
    fn column_reference<T: Real>(x: &[T], c: usize, j: usize) -> (f64, f64) {
        let col: Vec<f64> = x.iter().skip(j).step_by(c).map(|v| v.to_f64()).collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        (mean, col.iter().map(|v| (v - mean).powi(2)).sum())
    }

    fn assert_matches_reference<T: Real>(m: &ColumnMoments, x: &[T], c: usize, what: &str) {
        assert_eq!(m.count, (x.len() / c) as f64, "{what}");
        for j in 0..c {
            let (mean, m2) = column_reference(x, c, j);
            let sd = (m2 / m.count).sqrt();
            let got = m.sum_mean()[j];
            assert!(
                (got - mean).abs() <= 1e-14 * mean.abs().max(sd),
                "{what} column {j}: mean {got} against {mean}"
            );
            assert!(
                (m.m2[j] - m2).abs() <= 1e-12 * m2,
                "{what} column {j}: M2 {} against {m2}",
                m.m2[j]
            );
        }
    }

    /// float32 columns of hard kinds, as rows of 13 values (three vectors and a tail).
    fn hard_columns(rows: usize, kind: &str) -> Vec<f32> {
        let c = 13;
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut noise = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        };
        (0..rows * c)
            .map(|i| {
                let (r, j) = (i / c, i % c);
                let v = noise();
                let x = match kind {
                    // Values straddling zero, some columns with a mean of up to 2 spreads.
                    "about zero" => v + (j % 3) as f64 * 0.5 * v.abs().max(0.5),
                    // A tiny spread about zero, and about zero with a far-out first row.
                    "tiny about zero" => 1e-20 * v,
                    // 1e7 + a few integers: every value exact in float32, the mean far out.
                    "offset 1e7" => 1e7 + ((i * 7919) % 11) as f64 - 5.0,
                    // Within a few ulps of 1: a tiny variance about a far-out mean.
                    "tiny about 1" => 1.0 + ((i * 31) % 5) as f64 * f64::from(f32::EPSILON),
                    // The first strip about zero with a spread of 1e4 (the trial about zero
                    // passes), the rest 1e4 + noise (the block's mean is 6 spreads from zero;
                    // about the first row, -1e4, it is 12).
                    "zero then 1e4" if r < STRIP_ROWS => {
                        (if r % 2 == 0 { -1e4 } else { 1e4 }) * (1.0 + 0.1 * v)
                    }
                    "zero then 1e4" => 1e4 + v,
                    _ => unreachable!("{kind}"),
                };
                x as f32
            })
            .collect()
    }

    #[test]
    fn columns_about_zero_are_taken_where_exact_and_match_the_definition() {
        let c = 13;
        for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
            let k = f32::kernels(backend, false);
            for rows in [1, 2, 7, 8, 9, 23, 64, 301] {
                for kind in [
                    "about zero",
                    "tiny about zero",
                    "offset 1e7",
                    "tiny about 1",
                ] {
                    let x = hard_columns(rows, kind);
                    let what = format!("{backend:?} {rows} rows {kind}");
                    let zero = ColumnMoments::about_zero(&k, &x, c);
                    // One row about zero cancels completely: x² − x²/1 = 0.
                    let want_zero = kind.ends_with("about zero") && rows >= STRIP_ROWS;
                    if want_zero || zero.is_some() {
                        assert!(zero.is_some() && kind.ends_with("about zero"), "{what}");
                    }
                    if !kind.ends_with("zero") {
                        // Far-out means fail the trial about zero: the first row is the pivot.
                        assert!(zero.is_none(), "{what}");
                        assert!(
                            ColumnMoments::about_first_row(&k, &x, c).is_some(),
                            "{what}"
                        );
                    }
                    let m = ColumnMoments::one_pass(&k, &x, c).expect(&what);
                    assert_matches_reference(&m, &x, c, &what);
                }
            }
        }
    }

    #[test]
    fn columns_fall_back_when_zero_passes_the_trial_but_not_the_block() {
        let c = 13;
        let x = hard_columns(301, "zero then 1e4");
        for j in 0..c {
            let head: Vec<f64> = (0..STRIP_ROWS).map(|r| f64::from(x[r * c + j])).collect();
            let (s, q) = (
                head.iter().sum::<f64>(),
                head.iter().map(|v| v * v).sum::<f64>(),
            );
            assert!(
                s * s <= q * STRIP_ROWS as f64 * (1.0 - SHIFT_LOSS),
                "trial {j}"
            );
        }
        for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
            let k = f32::kernels(backend, false);
            // The trial on the first strip passes, the whole block's check does not, and
            // neither does the first row's: the block needs the two-pass form.
            assert!(
                ColumnMoments::about_zero(&k, &x, c).is_none(),
                "{backend:?}"
            );
            assert!(ColumnMoments::one_pass(&k, &x, c).is_none(), "{backend:?}");
            let m = ColumnMoments::two_pass(&k, &x, c);
            assert_matches_reference(&m, &x, c, &format!("{backend:?} two-pass"));
        }
    }

    #[test]
    fn a_few_columns_far_from_zero_are_summed_again_alone() {
        // 64 columns about zero; FEW_COLUMNS lets 64/32 = 2 of them fail the form about zero
        // (their mean is 1e4 spreads out, or a value is NaN), a third sends the block on.
        let (n, c) = (40, 64);
        let base: Vec<f32> = (0..n * c)
            .map(|i| (((i * 7919) % 1013) as f32 / 1013.0 - 0.5) * 3.0)
            .collect();
        let far = |x: &mut [f32], j: usize| (0..n).for_each(|r| x[r * c + j] += 1e4);
        for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
            let k = f32::kernels(backend, false);
            let mut two = base.clone();
            far(&mut two, 5);
            far(&mut two, 63);
            let m = ColumnMoments::about_zero(&k, &two, c).expect("two columns are few");
            assert_matches_reference(&m, &two, c, &format!("{backend:?} two far columns"));
            let mut late = base.clone();
            // far out after the trial's rows only: the final check catches it
            (STRIP_ROWS..n).for_each(|r| late[r * c + 9] += 1e4);
            let m = ColumnMoments::about_zero(&k, &late, c).expect("one column is few");
            assert_matches_reference(&m, &late, c, &format!("{backend:?} one late column"));
            let mut nan = base.clone();
            nan[20 * c + 4] = f32::NAN;
            let m = ColumnMoments::about_zero(&k, &nan, c).expect("one column is few");
            assert!(m.sum_mean()[4].is_nan() && m.m2[4].is_nan(), "{backend:?}");
            let mut three = two.clone();
            far(&mut three, 30);
            assert!(
                ColumnMoments::about_zero(&k, &three, c).is_none(),
                "{backend:?}: three columns are not few"
            );
            let m = ColumnMoments::of_block(&k, &three, c, 8);
            assert_matches_reference(&m, &three, c, &format!("{backend:?} three far columns"));
        }
    }

    #[test]
    fn non_finite_columns_are_left_to_the_two_pass_form() {
        let c = 13;
        for bad in [f32::NAN, f32::INFINITY] {
            let mut x = hard_columns(40, "about zero");
            x[20 * c + 4] = bad;
            for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
                let k = f32::kernels(backend, false);
                assert!(
                    ColumnMoments::one_pass(&k, &x, c).is_none(),
                    "{backend:?} {bad}"
                );
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
