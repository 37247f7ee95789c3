//! AVX2 loops over one contiguous (sample, channel) row: sums, the normalise pass and dx.

use std::arch::x86_64::{
    __m256d, _mm256_add_pd, _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_mul_pd,
    _mm256_set1_pd, _mm256_set1_ps, _mm256_setzero_pd, _mm256_sub_pd, _mm256_sub_ps,
};

use super::{put4, put8};
use crate::batchnorm::norm::RowNorm;
use crate::batchnorm::real::Real;
use crate::batchnorm::scalar;
use crate::batchnorm::shifted::from_shifted_sums;
use crate::simd::avx2::{Lanes, aligned_head, hsum};

// The safe wrappers in this file are handed out only by `super::table`, whose caller vouched
// for AVX2 and FMA; each `*_impl` reads and writes only within the lengths it was given.

pub(super) fn moments<T: Real + Lanes>(x: &[T]) -> (f64, f64) {
    // SAFETY: see the note above the wrappers.
    unsafe { shifted_moments_impl(x).unwrap_or_else(|| moments_impl(x)) }
}

/// (Σx, Σ(x − m)²) in ONE pass, or `None` where the two-pass loops must decide.
///
/// Sums d = x − x[0] and d² (the shifted-data form: x[0] is a value of the row, so d is
/// centred about as well as x − m up to one sample's spread), then Σx = n·x[0] + Σd and
/// M2 = Σd² − (Σd)²/n ([`from_shifted_sums`]). Rounding in M2 is a few ulps of Σd², hence at
/// most 16× that of M2 when the `SHIFT_LOSS` check holds — the same order as the two-pass sum's
/// own rounding; a row whose first value is far out (or anything non-finite) goes to the
/// two-pass loops instead.
/// One pass instead of two halves the float32 widening work, which bounds the float32 forward.
#[target_feature(enable = "avx2,fma")]
unsafe fn shifted_moments_impl<T: Real + Lanes>(x: &[T]) -> Option<(f64, f64)> {
    let pivot = x.first()?.to_f64();
    let n = x.len();
    let p = x.as_ptr();
    let mut i = 0;
    // SAFETY: every load reads p[i..i + 4] with i + 4 <= n.
    let (mut sd, mut sq) = unsafe {
        let vp = _mm256_set1_pd(pivot);
        let mut s = [_mm256_setzero_pd(); 4];
        let mut q = [_mm256_setzero_pd(); 4];
        while i + 16 <= n {
            for j in 0..4 {
                let d = _mm256_sub_pd(T::load4(p.add(i + 4 * j)), vp);
                s[j] = _mm256_add_pd(s[j], d);
                q[j] = _mm256_fmadd_pd(d, d, q[j]);
            }
            i += 16;
        }
        while i + 4 <= n {
            let d = _mm256_sub_pd(T::load4(p.add(i)), vp);
            s[0] = _mm256_add_pd(s[0], d);
            q[0] = _mm256_fmadd_pd(d, d, q[0]);
            i += 4;
        }
        let pair =
            |v: [__m256d; 4]| _mm256_add_pd(_mm256_add_pd(v[0], v[2]), _mm256_add_pd(v[1], v[3]));
        (hsum(pair(s)), hsum(pair(q)))
    };
    for v in &x[i..] {
        let d = v.to_f64() - pivot;
        sd += d;
        sq += d * d;
    }
    from_shifted_sums(n as f64, pivot, sd, sq)
}

/// (Σx, Σ(x − m)²) with m = Σx/n: both passes of one piece in one call.
#[target_feature(enable = "avx2,fma")]
unsafe fn moments_impl<T: Real + Lanes>(x: &[T]) -> (f64, f64) {
    // SAFETY: forwarded: AVX2 and FMA are available.
    unsafe {
        let total = sum_impl(x);
        (total, sum_sq_dev_impl(x, total / x.len() as f64))
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn sum_impl<T: Real + Lanes>(x: &[T]) -> f64 {
    let n = x.len();
    let p = x.as_ptr();
    let mut i = 0;
    // SAFETY: every load reads p[i..i + 4] with i + 4 <= n.
    unsafe {
        let mut a = [_mm256_setzero_pd(); 4];
        while i + 16 <= n {
            for (j, acc) in a.iter_mut().enumerate() {
                *acc = _mm256_add_pd(*acc, T::load4(p.add(i + 4 * j)));
            }
            i += 16;
        }
        while i + 4 <= n {
            a[0] = _mm256_add_pd(a[0], T::load4(p.add(i)));
            i += 4;
        }
        let v = _mm256_add_pd(_mm256_add_pd(a[0], a[2]), _mm256_add_pd(a[1], a[3]));
        hsum(v) + scalar::sum(&x[i..])
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn sum_sq_dev_impl<T: Real + Lanes>(x: &[T], mean: f64) -> f64 {
    let n = x.len();
    let p = x.as_ptr();
    let mut i = 0;
    // SAFETY: every load reads p[i..i + 4] with i + 4 <= n.
    unsafe {
        let m = _mm256_set1_pd(mean);
        let mut a = [_mm256_setzero_pd(); 4];
        while i + 16 <= n {
            for (j, acc) in a.iter_mut().enumerate() {
                let d = _mm256_sub_pd(T::load4(p.add(i + 4 * j)), m);
                *acc = _mm256_fmadd_pd(d, d, *acc);
            }
            i += 16;
        }
        while i + 4 <= n {
            let d = _mm256_sub_pd(T::load4(p.add(i)), m);
            a[0] = _mm256_fmadd_pd(d, d, a[0]);
            i += 4;
        }
        let v = _mm256_add_pd(_mm256_add_pd(a[0], a[2]), _mm256_add_pd(a[1], a[3]));
        hsum(v) + scalar::sum_sq_dev(&x[i..], mean)
    }
}

pub(super) fn sum_dy_dot<T: Real + Lanes>(dy: &[T], x: &[T], mean: f64) -> (f64, f64) {
    // SAFETY: see the note above the wrappers.
    unsafe { sum_dy_dot_impl(dy, x, mean) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn sum_dy_dot_impl<T: Real + Lanes>(dy: &[T], x: &[T], mean: f64) -> (f64, f64) {
    let n = dy.len().min(x.len());
    let (pg, px) = (dy.as_ptr(), x.as_ptr());
    let mut i = 0;
    // SAFETY: every load reads [i..i + 4] of dy and x with i + 4 <= n.
    unsafe {
        let m = _mm256_set1_pd(mean);
        // Four independent chains each: the FMA latency, not the loads, bounds fewer.
        let mut s = [_mm256_setzero_pd(); 4];
        let mut d = [_mm256_setzero_pd(); 4];
        while i + 16 <= n {
            for j in 0..4 {
                let g = T::load4(pg.add(i + 4 * j));
                let dev = _mm256_sub_pd(T::load4(px.add(i + 4 * j)), m);
                s[j] = _mm256_add_pd(s[j], g);
                d[j] = _mm256_fmadd_pd(g, dev, d[j]);
            }
            i += 16;
        }
        while i + 4 <= n {
            let g = T::load4(pg.add(i));
            s[0] = _mm256_add_pd(s[0], g);
            d[0] = _mm256_fmadd_pd(g, _mm256_sub_pd(T::load4(px.add(i)), m), d[0]);
            i += 4;
        }
        let (ts, td) = scalar::sum_dy_dot(&dy[i..n], &x[i..n], mean);
        let pair =
            |v: [__m256d; 4]| _mm256_add_pd(_mm256_add_pd(v[0], v[2]), _mm256_add_pd(v[1], v[3]));
        (hsum(pair(s)) + ts, hsum(pair(d)) + td)
    }
}

pub(super) fn affine_row<T: Real + Lanes, const NT: bool>(x: &[T], norm: &RowNorm, out: &mut [T]) {
    // SAFETY: see the note above the wrappers.
    unsafe { affine_row_impl::<T, NT>(x, norm, out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn affine_row_impl<T: Real + Lanes, const NT: bool>(x: &[T], norm: &RowNorm, out: &mut [T]) {
    let (mean, scale, shift) = (norm.mean, norm.scale, norm.shift);
    let n = x.len().min(out.len());
    let (px, po) = (x.as_ptr(), out.as_mut_ptr());
    // Fused like the lanes: the head's length moves with `out`'s address, results must not.
    let one = |v: T| T::from_f64((v.to_f64() - mean).mul_add(scale, shift));
    // Streaming stores need aligned addresses: the head up to the first one is stored plainly.
    let mut i = if NT {
        aligned_head(po, n, T::STREAM_ALIGN)
    } else {
        0
    };
    for (o, &v) in out[..i].iter_mut().zip(&x[..i]) {
        *o = one(v);
    }
    // SAFETY: every access touches [i..i + 4] of x and out with i + 4 <= n.
    unsafe {
        let (m, sc, sh) = (
            _mm256_set1_pd(mean),
            _mm256_set1_pd(scale),
            _mm256_set1_pd(shift),
        );
        while i + 8 <= n {
            let a = _mm256_sub_pd(T::load4(px.add(i)), m);
            let b = _mm256_sub_pd(T::load4(px.add(i + 4)), m);
            put4::<T, NT>(po.add(i), _mm256_fmadd_pd(a, sc, sh));
            put4::<T, NT>(po.add(i + 4), _mm256_fmadd_pd(b, sc, sh));
            i += 8;
        }
        while i + 4 <= n {
            let a = _mm256_sub_pd(T::load4(px.add(i)), m);
            put4::<T, NT>(po.add(i), _mm256_fmadd_pd(a, sc, sh));
            i += 4;
        }
    }
    for (o, &v) in out[i..n].iter_mut().zip(&x[i..n]) {
        *o = one(v);
    }
}

pub(super) fn bwd_row<T: Real + Lanes, const NT: bool>(
    dy: &[T],
    x: &[T],
    mean: f64,
    k: f64,
    p: f64,
    q: f64,
    out: &mut [T],
) {
    // SAFETY: see the note above the wrappers.
    unsafe { bwd_row_impl::<T, NT>(dy, x, mean, [k, p, q], out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_row_impl<T: Real + Lanes, const NT: bool>(
    dy: &[T],
    x: &[T],
    mean: f64,
    [k, p, q]: [f64; 3],
    out: &mut [T],
) {
    let n = dy.len().min(x.len()).min(out.len());
    let (pg, px, po) = (dy.as_ptr(), x.as_ptr(), out.as_mut_ptr());
    // Fused like the lanes: the head's length moves with `out`'s address, results must not.
    let one = |g: T, v: T| T::from_f64((v.to_f64() - mean).mul_add(p, g.to_f64().mul_add(k, q)));
    let mut i = if NT {
        aligned_head(po, n, T::STREAM_ALIGN)
    } else {
        0
    };
    for ((o, &g), &v) in out[..i].iter_mut().zip(&dy[..i]).zip(&x[..i]) {
        *o = one(g, v);
    }
    // SAFETY: every access touches [i..i + 4] of dy, x and out with i + 4 <= n.
    unsafe {
        let (vm, vk, vp, vq) = (
            _mm256_set1_pd(mean),
            _mm256_set1_pd(k),
            _mm256_set1_pd(p),
            _mm256_set1_pd(q),
        );
        while i + 4 <= n {
            let base = _mm256_fmadd_pd(T::load4(pg.add(i)), vk, vq);
            let dev = _mm256_sub_pd(T::load4(px.add(i)), vm);
            put4::<T, NT>(po.add(i), _mm256_fmadd_pd(dev, vp, base));
            i += 4;
        }
    }
    for ((o, &g), &v) in out[i..n].iter_mut().zip(&dy[i..n]).zip(&x[i..n]) {
        *o = one(g, v);
    }
}

pub(super) fn scale_row<T: Real + Lanes>(dy: &[T], k: f64, out: &mut [T]) {
    // SAFETY: see the note above the wrappers.
    unsafe { scale_row_impl(dy, k, out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn scale_row_impl<T: Real + Lanes>(dy: &[T], k: f64, out: &mut [T]) {
    let n = dy.len().min(out.len());
    let (pg, po) = (dy.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    // SAFETY: every access touches [i..i + 4] of dy and out with i + 4 <= n.
    unsafe {
        let vk = _mm256_set1_pd(k);
        while i + 4 <= n {
            T::store4(po.add(i), _mm256_mul_pd(T::load4(pg.add(i)), vk));
            i += 4;
        }
    }
    scalar::scale_row(&dy[i..n], k, &mut out[i..n]);
}

pub(super) fn affine_row_f32<const NT: bool>(x: &[f32], norm: &RowNorm, out: &mut [f32]) {
    if !norm.float32_ok {
        // Statistics beyond float32's range: keep every step in f64.
        return affine_row::<f32, NT>(x, norm, out);
    }
    // SAFETY: see the note above the wrappers.
    unsafe { affine_row_f32_impl::<NT>(x, [norm.hi, norm.scale32, norm.shift32], out) }
}

/// The float32 form of [`NormCols`] (y = (x − hi)·s + b) for one row, in 8 float32 lanes: half
/// the work of the widening path, which matters because this pass reads data already in cache.
#[target_feature(enable = "avx2,fma")]
unsafe fn affine_row_f32_impl<const NT: bool>(x: &[f32], [hi, s, b]: [f32; 3], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let (px, po) = (x.as_ptr(), out.as_mut_ptr());
    let head = if NT { aligned_head(po, n, 32) } else { 0 };
    for (o, v) in out[..head].iter_mut().zip(&x[..head]) {
        *o = (v - hi).mul_add(s, b);
    }
    let mut i = head;
    // SAFETY: every access touches [i..i + 8] of x and out with i + 8 <= n.
    unsafe {
        let (vh, vs, vb) = (_mm256_set1_ps(hi), _mm256_set1_ps(s), _mm256_set1_ps(b));
        while i + 8 <= n {
            let t = _mm256_sub_ps(_mm256_loadu_ps(px.add(i)), vh);
            put8::<NT>(po.add(i), _mm256_fmadd_ps(t, vs, vb));
            i += 8;
        }
    }
    for (o, v) in out[i..n].iter_mut().zip(&x[i..n]) {
        *o = (v - hi).mul_add(s, b);
    }
}
