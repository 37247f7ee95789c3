//! The one-pass shifted form of a sum and its squared deviations, and when it may be trusted.
//! Shared by the scalar statistics and the vector row loops; it depends on nothing else in the
//! crate.

/// The one-pass shifted form may cost at most this factor of M2's precision: with d = x − p for
/// a pivot p inside the data (a row's first value, or a column's value in a block's first row),
/// M2 = Σd² − (Σd)²/n is kept only when M2 ≥ Σd²/16, i.e. when at most 4 bits cancelled. Its
/// rounding is then a few ulps of Σd² ≤ 16·M2, the order of the two-pass sum's own; otherwise
/// the two-pass loops decide. Reading each value once instead of twice halves the float32
/// widening work of a row.
pub const SHIFT_LOSS: f64 = 1.0 / 16.0;

/// (Σx, M2) of `count` values from their sums about a pivot p, Σd and Σd² with d = x − p:
/// Σx = count·p + Σd and M2 = Σd² − (Σd)²/count, or `None` where the [`SHIFT_LOSS`] check
/// fails (too much cancelled, or anything non-finite: NaN fails the comparison too, so such
/// values keep the two-pass IEEE semantics).
pub fn from_shifted_sums(count: f64, pivot: f64, sum_d: f64, sum_sq: f64) -> Option<(f64, f64)> {
    let m2 = sum_sq - sum_d * (sum_d / count);
    let sum = count * pivot + sum_d;
    (m2 >= sum_sq * SHIFT_LOSS && sum.is_finite()).then_some((sum, m2))
}
