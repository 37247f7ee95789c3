//! The Sobol' Gray-code walk for `bits <= 30` in AVX2 registers, for up to 32 coordinates.
//!
//! Each row's integer point (`d` values below 2**30) lives in `G` vectors of eight `u32` lanes
//! for the whole walk, so a row costs `G` XORs with the direction numbers of the step, `8 * G`
//! conversions and `G` (float32) or `2 * G` (float64) vector stores. The conversions are those of
//! [`UnitFloat::from_u30_fixed`](crate::qmc::unit::UnitFloat::from_u30_fixed), lane for lane, so
//! the values are the scalar path's exactly.
//!
//! When `d` is not a multiple of 8, the last vector of a row also stores lanes past the row's end;
//! they land on the next row, which is written afterwards, so only the final rows of a chunk (where
//! such a store would leave the chunk) are left to the scalar walk.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::{
    __m256, __m256d, __m256i, _mm256_add_epi32, _mm256_castps_si256, _mm256_castsi256_ps,
    _mm256_castsi256_si128, _mm256_cmpgt_epi32, _mm256_cvtepi32_pd, _mm256_cvtepi32_ps,
    _mm256_cvttps_epi32, _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_mul_pd,
    _mm256_mul_ps, _mm256_set1_pd, _mm256_set1_ps, _mm256_setzero_si256, _mm256_storeu_pd,
    _mm256_storeu_ps, _mm256_storeu_si256, _mm256_xor_si256,
};

/// The most coordinates the register walk handles (four vectors per row).
pub const MAX_D: usize = 32;

/// Lanes in one vector of `u32`.
const LANES: usize = 8;

/// An output type the register walk can store eight lanes of.
pub trait Lanes8: Copy {
    /// The broadcast 2**-bits.
    type Scale: Copy;

    /// # Safety
    /// The CPU supports AVX2.
    unsafe fn scale(scale: f64) -> Self::Scale;

    /// Stores eight points' values `q * 2**-bits` (`q < 2**30` in each lane) at `p`.
    ///
    /// # Safety
    /// The CPU supports AVX2 and `p..p+8` is writable.
    unsafe fn store8(p: *mut Self, q: __m256i, scale: Self::Scale);
}

impl Lanes8 for f64 {
    type Scale = __m256d;

    #[inline(always)]
    unsafe fn scale(scale: f64) -> __m256d {
        // SAFETY: forwarded from the caller's contract.
        unsafe { _mm256_set1_pd(scale) }
    }

    #[inline(always)]
    unsafe fn store8(p: *mut f64, q: __m256i, scale: __m256d) {
        // SAFETY: forwarded from the caller's contract. Converting a non-negative i32 to f64 and
        // scaling by a power of two are exact, as in the scalar path.
        unsafe {
            let lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(q));
            let hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256(q, 1));
            _mm256_storeu_pd(p, _mm256_mul_pd(lo, scale));
            _mm256_storeu_pd(p.add(4), _mm256_mul_pd(hi, scale));
        }
    }
}

impl Lanes8 for f32 {
    type Scale = __m256;

    #[inline(always)]
    unsafe fn scale(scale: f64) -> __m256 {
        // SAFETY: forwarded from the caller's contract.
        unsafe { _mm256_set1_ps(scale as f32) }
    }

    #[inline(always)]
    unsafe fn store8(p: *mut f32, q: __m256i, scale: __m256) {
        // SAFETY: forwarded from the caller's contract. As the scalar path: round to nearest,
        // and step one ulp down (adding the all-ones mask is subtracting 1 from the bits) where
        // that went above q, which is q rounded toward zero; the power-of-two scale is exact.
        unsafe {
            let nearest = _mm256_cvtepi32_ps(q);
            let above = _mm256_cmpgt_epi32(_mm256_cvttps_epi32(nearest), q);
            let down = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(nearest), above));
            _mm256_storeu_ps(p, _mm256_mul_ps(down, scale));
        }
    }
}

/// Walks `G` vectors per row: writes the rows of `out` from the point `q` at `index` on while a
/// full-width store stays inside `out`, and returns how many rows it wrote; `q` and `index` are
/// left at the first row not written. `v` holds the direction numbers bit-major with `d` per bit,
/// followed by at least 8 readable values.
///
/// # Safety
/// The CPU supports AVX2; `q.len() == d`, `d <= 8 * G`, and every `k * d + 8 * G <= v.len()` for
/// the steps `k` the walk takes (`v.len() >= (bits) * d + 8` covers every index below 2**bits).
#[target_feature(enable = "avx2")]
unsafe fn walk<T: Lanes8, const G: usize>(
    q: &mut [u32],
    index: &mut u64,
    out: &mut [T],
    v: &[u32],
    scale: f64,
) -> usize {
    let d = q.len();
    let width = LANES * G;
    debug_assert!(d <= width && d > width - LANES);
    if out.len() < width {
        return 0;
    }
    let rows = ((out.len() - width) / d + 1).min(out.len() / d);
    let mut lanes = [0u32; MAX_D];
    lanes[..d].copy_from_slice(q);
    // SAFETY: the CPU supports AVX2 (the caller's contract); `lanes` holds 8 * G >= d values;
    // the stores of row r reach r * d + 8 * G <= out.len() by the choice of `rows`; the loads
    // of step k stay inside `v` by the caller's contract.
    unsafe {
        let scale = T::scale(scale);
        let mut reg = [_mm256_setzero_si256(); G];
        for (g, r) in reg.iter_mut().enumerate() {
            *r = _mm256_loadu_si256(lanes.as_ptr().add(g * LANES).cast());
        }
        let base = out.as_mut_ptr();
        let vp = v.as_ptr();
        let mut i = *index;
        for r in 0..rows {
            let row = base.add(r * d);
            for (g, &q) in reg.iter().enumerate() {
                T::store8(row.add(g * LANES), q, scale);
            }
            let step = vp.add(i.trailing_ones() as usize * d);
            for (g, q) in reg.iter_mut().enumerate() {
                *q = _mm256_xor_si256(*q, _mm256_loadu_si256(step.add(g * LANES).cast()));
            }
            i += 1;
        }
        *index = i;
        for (g, r) in reg.iter().enumerate() {
            _mm256_storeu_si256(lanes.as_mut_ptr().add(g * LANES).cast(), *r);
        }
    }
    q.copy_from_slice(&lanes[..d]);
    rows
}

/// [`walk`] with `G = ceil(d / 8)`; 0 rows (nothing done) for `d > MAX_D`.
///
/// # Safety
/// As [`walk`]: AVX2, and `v` padded with 8 readable values after the `bits * d` numbers.
pub unsafe fn walk_rows<T: Lanes8>(
    q: &mut [u32],
    index: &mut u64,
    out: &mut [T],
    v: &[u32],
    scale: f64,
) -> usize {
    // SAFETY: forwarded from the caller's contract; G is ceil(d / 8) in every arm.
    unsafe {
        match q.len().div_ceil(LANES) {
            1 => walk::<T, 1>(q, index, out, v, scale),
            2 => walk::<T, 2>(q, index, out, v, scale),
            3 => walk::<T, 3>(q, index, out, v, scale),
            4 => walk::<T, 4>(q, index, out, v, scale),
            _ => 0,
        }
    }
}
