//! The one-pass shifted form of a sum and its squared deviations, and when it may be trusted.
//! Shared by the scalar statistics and the vector row loops; it depends on nothing else in the
//! crate.

/// The one-pass shifted form may cost at most this factor of M2's precision: with d = x − p for
/// a pivot p (a row's first value; for a column, zero, or its value in a block's first row),
/// M2 = Σd² − (Σd)²/n is kept only when M2 ≥ Σd²/16, i.e. when at most 4 bits cancelled. Its
/// rounding is then a few ulps of Σd² ≤ 16·M2, the order of the two-pass sum's own; otherwise
/// the two-pass loops decide. Reading each value once instead of twice halves the float32
/// widening work of a row.
pub const SHIFT_LOSS: f64 = 1.0 / 16.0;

/// Rows the column loops of the one-pass form read side by side (a strip): each strip's sums
/// are added to the accumulators in one step, so the sums over a block of rows do not change
/// when it is cut between strips. Eight measured 1.4x as fast as four on 64-row blocks of 1024
/// float32 columns, sixteen slower than either (2026-11-26).
pub const STRIP_ROWS: usize = 8;

/// (Σx, M2) of `count` values from their sums about a pivot p, Σd and Σd² with d = x − p:
/// Σx = count·p + Σd and M2 = Σd² − (Σd)²/count, or `None` where the [`SHIFT_LOSS`] check
/// fails (too much cancelled, or anything non-finite: NaN fails the comparison too, so such
/// values keep the two-pass IEEE semantics).
pub fn from_shifted_sums(count: f64, pivot: f64, sum_d: f64, sum_sq: f64) -> Option<(f64, f64)> {
    let m2 = sum_sq - sum_d * (sum_d / count);
    let sum = count * pivot + sum_d;
    (m2 >= sum_sq * SHIFT_LOSS && sum.is_finite()).then_some((sum, m2))
}

/// [`from_shifted_sums`] for each column of a block of `count` rows: on entry `sum` and `m2`
/// hold Σd and Σd² about `pivot` (zero where `pivot` is `None`), on exit Σx, M2 and the mean's
/// offset from the pivot, Σd/count; `ok` says which columns pass the check (the others'
/// outputs are meaningless), and the result whether all do. One reciprocal instead of a
/// division per column and no early exit, so the loop vectorises: on 64-row blocks of 1024
/// columns the divisions took a fifth of the statistics' time. Multiplying by 1/count instead
/// of dividing adds at most an ulp to (Σd)²/count, which is at most Σd².
pub fn cols_from_shifted_sums(
    count: f64,
    pivot: Option<&[f64]>,
    [sum, m2, mean]: [&mut [f64]; 3],
    ok: &mut [bool],
) -> bool {
    let inv = 1.0 / count;
    let mut all = true;
    let cols = sum.iter_mut().zip(m2.iter_mut()).zip(mean.iter_mut());
    for (j, (((s, q), u), ok)) in cols.zip(ok.iter_mut()).enumerate() {
        let p = pivot.map_or(0.0, |p| p[j]);
        let d2 = *q - *s * (*s * inv);
        let total = count * p + *s;
        *ok = (d2 >= *q * SHIFT_LOSS) & total.is_finite();
        all &= *ok;
        (*s, *q, *u) = (total, d2, *s * inv);
    }
    all
}
