//! AVX2+FMA building blocks shared by the kernels: every element type is widened to four f64
//! lanes, so float32 data is summed and normalised in double precision at no extra memory cost.
//!
//! Every function here requires AVX2 and FMA; callers reach them only after
//! [`super::Backend::Avx2Fma`] was detected (see [`super::backend`]).

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::{
    __m256d, _mm_add_pd, _mm_cvtsd_f64, _mm_loadu_ps, _mm_sfence, _mm_storeu_ps, _mm_stream_ps,
    _mm_unpackhi_pd, _mm256_castpd256_pd128, _mm256_cvtpd_ps, _mm256_cvtps_pd,
    _mm256_extractf128_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_stream_pd,
};

/// An element type the AVX2 kernels can widen to and narrow from four f64 lanes.
pub trait Lanes: Copy {
    /// Loads four consecutive elements at `p` as f64 lanes.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA, and `p..p+4` is readable.
    unsafe fn load4(p: *const Self) -> __m256d;

    /// Rounds four f64 lanes to `Self` (to nearest) and stores them at `p`.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA, and `p..p+4` is writable.
    unsafe fn store4(p: *mut Self, v: __m256d);

    /// The alignment, in bytes, [`Lanes::stream4`] needs.
    const STREAM_ALIGN: usize;

    /// Like [`Lanes::store4`], but bypassing the caches (a non-temporal store): for outputs
    /// too large to stay in cache, this saves reading each line before writing it. Callers
    /// issue [`sfence`] before other threads may read what was stored (the batch-norm tasks
    /// do, once each: `batchnorm::plan::map_tasks` and `map_phases`).
    ///
    /// # Safety
    /// As [`Lanes::store4`], and `p` is aligned to [`Lanes::STREAM_ALIGN`] bytes.
    unsafe fn stream4(p: *mut Self, v: __m256d);
}

/// Orders earlier non-temporal stores before every later store.
///
/// # Safety
/// The CPU supports SSE (every x86-64 CPU does).
#[inline(always)]
pub unsafe fn sfence() {
    // SAFETY: forwarded from the caller's contract.
    unsafe { _mm_sfence() }
}

/// How many elements from `p` on precede the first address aligned to `align` bytes (`n` if
/// none does within `n`, as for a misaligned element pointer).
pub fn aligned_head<T>(p: *const T, n: usize, align: usize) -> usize {
    let (addr, size) = (p as usize, std::mem::size_of::<T>());
    if size == 0 || addr % size != 0 {
        return n;
    }
    let mis = addr % align;
    if mis == 0 {
        0
    } else {
        ((align - mis) / size).min(n)
    }
}

impl Lanes for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> __m256d {
        // SAFETY: forwarded from the caller's contract.
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(p)) }
    }

    #[inline(always)]
    unsafe fn store4(p: *mut f32, v: __m256d) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)) }
    }

    const STREAM_ALIGN: usize = 16;

    #[inline(always)]
    unsafe fn stream4(p: *mut f32, v: __m256d) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { _mm_stream_ps(p, _mm256_cvtpd_ps(v)) }
    }
}

impl Lanes for f64 {
    #[inline(always)]
    unsafe fn load4(p: *const f64) -> __m256d {
        // SAFETY: forwarded from the caller's contract.
        unsafe { _mm256_loadu_pd(p) }
    }

    #[inline(always)]
    unsafe fn store4(p: *mut f64, v: __m256d) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { _mm256_storeu_pd(p, v) }
    }

    const STREAM_ALIGN: usize = 32;

    #[inline(always)]
    unsafe fn stream4(p: *mut f64, v: __m256d) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { _mm256_stream_pd(p, v) }
    }
}

/// The sum of the four lanes, added as (l0 + l2) + (l1 + l3).
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[inline(always)]
pub unsafe fn hsum(v: __m256d) -> f64 {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        let pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        _mm_cvtsd_f64(_mm_add_pd(pair, _mm_unpackhi_pd(pair, pair)))
    }
}
