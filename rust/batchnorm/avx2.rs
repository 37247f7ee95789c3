//! The AVX2+FMA inner loops: the formulas of [`super::scalar`] on four f64 lanes at a time
//! (float32 is widened on load and rounded once on store), with the scalar loops finishing the
//! last few elements. Reached only through [`table`], after AVX2 and FMA were detected.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::{
    __m256d, _mm256_add_pd, _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_pd, _mm256_loadu_ps,
    _mm256_mul_pd, _mm256_set1_pd, _mm256_set1_ps, _mm256_setzero_pd, _mm256_storeu_pd,
    _mm256_storeu_ps, _mm256_sub_pd, _mm256_sub_ps,
};

use super::kernels::Kernels;
use super::real::Real;
use super::scalar;
use crate::simd::avx2::{Lanes, hsum};

/// The AVX2 table for `T`.
///
/// # Safety
/// The CPU supports AVX2 and FMA: every function in the table executes those instructions.
pub unsafe fn table<T: Real + Lanes>() -> Kernels<T> {
    Kernels {
        sum: sum::<T>,
        sum_sq_dev: sum_sq_dev::<T>,
        sum_dy_dot: sum_dy_dot::<T>,
        affine_row: affine_row::<T>,
        bwd_row: bwd_row::<T>,
        scale_row: scale_row::<T>,
        acc_cols: acc_cols::<T>,
        acc_sq_dev_cols: acc_sq_dev_cols::<T>,
        acc_dy_dot_cols: acc_dy_dot_cols::<T>,
        affine_cols: affine_cols::<T>,
        bwd_cols: bwd_cols::<T>,
        scale_cols: scale_cols::<T>,
    }
}

/// The AVX2 table for float32: the generic one, with the normalise pass of rows in 8 float32
/// lanes (see [`affine_row_f32`]).
///
/// # Safety
/// The CPU supports AVX2 and FMA.
pub unsafe fn table_f32() -> Kernels<f32> {
    Kernels {
        affine_row: affine_row_f32,
        // SAFETY: forwarded from the caller's contract.
        ..unsafe { table::<f32>() }
    }
}

// The safe wrappers below are private and only handed out by `table`, whose caller vouched for
// AVX2 and FMA; each `*_impl` reads and writes only within the lengths it was given.

fn sum<T: Real + Lanes>(x: &[T]) -> f64 {
    // SAFETY: see the note above the wrappers.
    unsafe { sum_impl(x) }
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

fn sum_sq_dev<T: Real + Lanes>(x: &[T], mean: f64) -> f64 {
    // SAFETY: see the note above the wrappers.
    unsafe { sum_sq_dev_impl(x, mean) }
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

fn sum_dy_dot<T: Real + Lanes>(dy: &[T], x: &[T], mean: f64) -> (f64, f64) {
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
        let mut s = [_mm256_setzero_pd(); 2];
        let mut d = [_mm256_setzero_pd(); 2];
        while i + 8 <= n {
            for j in 0..2 {
                let g = T::load4(pg.add(i + 4 * j));
                let dev = _mm256_sub_pd(T::load4(px.add(i + 4 * j)), m);
                s[j] = _mm256_add_pd(s[j], g);
                d[j] = _mm256_fmadd_pd(g, dev, d[j]);
            }
            i += 8;
        }
        while i + 4 <= n {
            let g = T::load4(pg.add(i));
            s[0] = _mm256_add_pd(s[0], g);
            d[0] = _mm256_fmadd_pd(g, _mm256_sub_pd(T::load4(px.add(i)), m), d[0]);
            i += 4;
        }
        let (ts, td) = scalar::sum_dy_dot(&dy[i..n], &x[i..n], mean);
        (
            hsum(_mm256_add_pd(s[0], s[1])) + ts,
            hsum(_mm256_add_pd(d[0], d[1])) + td,
        )
    }
}

fn affine_row<T: Real + Lanes>(x: &[T], mean: f64, scale: f64, shift: f64, out: &mut [T]) {
    // SAFETY: see the note above the wrappers.
    unsafe { affine_row_impl(x, mean, scale, shift, out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn affine_row_impl<T: Real + Lanes>(
    x: &[T],
    mean: f64,
    scale: f64,
    shift: f64,
    out: &mut [T],
) {
    let n = x.len().min(out.len());
    let (px, po) = (x.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
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
            T::store4(po.add(i), _mm256_fmadd_pd(a, sc, sh));
            T::store4(po.add(i + 4), _mm256_fmadd_pd(b, sc, sh));
            i += 8;
        }
        while i + 4 <= n {
            let a = _mm256_sub_pd(T::load4(px.add(i)), m);
            T::store4(po.add(i), _mm256_fmadd_pd(a, sc, sh));
            i += 4;
        }
    }
    scalar::affine_row(&x[i..n], mean, scale, shift, &mut out[i..n]);
}

fn bwd_row<T: Real + Lanes>(dy: &[T], x: &[T], mean: f64, k: f64, p: f64, q: f64, out: &mut [T]) {
    // SAFETY: see the note above the wrappers.
    unsafe { bwd_row_impl(dy, x, mean, [k, p, q], out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_row_impl<T: Real + Lanes>(
    dy: &[T],
    x: &[T],
    mean: f64,
    [k, p, q]: [f64; 3],
    out: &mut [T],
) {
    let n = dy.len().min(x.len()).min(out.len());
    let (pg, px, po) = (dy.as_ptr(), x.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
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
            T::store4(po.add(i), _mm256_fmadd_pd(dev, vp, base));
            i += 4;
        }
    }
    scalar::bwd_row(&dy[i..n], &x[i..n], mean, k, p, q, &mut out[i..n]);
}

fn scale_row<T: Real + Lanes>(dy: &[T], k: f64, out: &mut [T]) {
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

/// Loads four per-column f64 parameters.
///
/// # Safety
/// AVX2 is available and `p[i..i + 4]` is readable.
#[inline(always)]
unsafe fn param4(p: &[f64], i: usize) -> __m256d {
    // SAFETY: forwarded from the caller's contract.
    unsafe { _mm256_loadu_pd(p.as_ptr().add(i)) }
}

fn acc_cols<T: Real + Lanes>(x: &[T], acc: &mut [f64]) {
    // SAFETY: see the note above the wrappers.
    unsafe { acc_cols_impl(x, acc) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn acc_cols_impl<T: Real + Lanes>(x: &[T], acc: &mut [f64]) {
    let n = x.len().min(acc.len());
    let mut i = 0;
    // SAFETY: every access touches [i..i + 4] of x and acc with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let a = _mm256_add_pd(param4(acc, i), T::load4(x.as_ptr().add(i)));
            _mm256_storeu_pd(acc.as_mut_ptr().add(i), a);
            i += 4;
        }
    }
    scalar::acc_cols(&x[i..n], &mut acc[i..n]);
}

fn acc_sq_dev_cols<T: Real + Lanes>(x: &[T], mean: &[f64], acc: &mut [f64]) {
    // SAFETY: see the note above the wrappers.
    unsafe { acc_sq_dev_cols_impl(x, mean, acc) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn acc_sq_dev_cols_impl<T: Real + Lanes>(x: &[T], mean: &[f64], acc: &mut [f64]) {
    let n = x.len().min(mean.len()).min(acc.len());
    let mut i = 0;
    // SAFETY: every access touches [i..i + 4] of x, mean and acc with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let d = _mm256_sub_pd(T::load4(x.as_ptr().add(i)), param4(mean, i));
            let a = _mm256_fmadd_pd(d, d, param4(acc, i));
            _mm256_storeu_pd(acc.as_mut_ptr().add(i), a);
            i += 4;
        }
    }
    scalar::acc_sq_dev_cols(&x[i..n], &mean[i..n], &mut acc[i..n]);
}

fn acc_dy_dot_cols<T: Real + Lanes>(
    dy: &[T],
    x: &[T],
    mean: &[f64],
    acc_dy: &mut [f64],
    acc_dot: &mut [f64],
) {
    // SAFETY: see the note above the wrappers.
    unsafe { acc_dy_dot_cols_impl(dy, x, mean, acc_dy, acc_dot) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn acc_dy_dot_cols_impl<T: Real + Lanes>(
    dy: &[T],
    x: &[T],
    mean: &[f64],
    acc_dy: &mut [f64],
    acc_dot: &mut [f64],
) {
    let n = dy.len().min(x.len()).min(mean.len());
    let n = n.min(acc_dy.len()).min(acc_dot.len());
    let mut i = 0;
    // SAFETY: every access touches [i..i + 4] of each slice with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let g = T::load4(dy.as_ptr().add(i));
            let dev = _mm256_sub_pd(T::load4(x.as_ptr().add(i)), param4(mean, i));
            let s = _mm256_add_pd(param4(acc_dy, i), g);
            let d = _mm256_fmadd_pd(g, dev, param4(acc_dot, i));
            _mm256_storeu_pd(acc_dy.as_mut_ptr().add(i), s);
            _mm256_storeu_pd(acc_dot.as_mut_ptr().add(i), d);
            i += 4;
        }
    }
    scalar::acc_dy_dot_cols(
        &dy[i..n],
        &x[i..n],
        &mean[i..n],
        &mut acc_dy[i..n],
        &mut acc_dot[i..n],
    );
}

fn affine_cols<T: Real + Lanes>(
    x: &[T],
    mean: &[f64],
    scale: &[f64],
    shift: &[f64],
    out: &mut [T],
) {
    // SAFETY: see the note above the wrappers.
    unsafe { affine_cols_impl(x, mean, scale, shift, out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn affine_cols_impl<T: Real + Lanes>(
    x: &[T],
    mean: &[f64],
    scale: &[f64],
    shift: &[f64],
    out: &mut [T],
) {
    let n = x.len().min(mean.len()).min(scale.len());
    let n = n.min(shift.len()).min(out.len());
    let mut i = 0;
    // SAFETY: every access touches [i..i + 4] of each slice with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let d = _mm256_sub_pd(T::load4(x.as_ptr().add(i)), param4(mean, i));
            let y = _mm256_fmadd_pd(d, param4(scale, i), param4(shift, i));
            T::store4(out.as_mut_ptr().add(i), y);
            i += 4;
        }
    }
    scalar::affine_cols(
        &x[i..n],
        &mean[i..n],
        &scale[i..n],
        &shift[i..n],
        &mut out[i..n],
    );
}

fn bwd_cols<T: Real + Lanes>(
    dy: &[T],
    x: &[T],
    mean: &[f64],
    k: &[f64],
    p: &[f64],
    q: &[f64],
    out: &mut [T],
) {
    // SAFETY: see the note above the wrappers.
    unsafe { bwd_cols_impl(dy, x, [mean, k, p, q], out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_cols_impl<T: Real + Lanes>(
    dy: &[T],
    x: &[T],
    [mean, k, p, q]: [&[f64]; 4],
    out: &mut [T],
) {
    let n = dy.len().min(x.len()).min(out.len());
    let n = n.min(mean.len()).min(k.len()).min(p.len()).min(q.len());
    let mut i = 0;
    // SAFETY: every access touches [i..i + 4] of each slice with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let base = _mm256_fmadd_pd(T::load4(dy.as_ptr().add(i)), param4(k, i), param4(q, i));
            let dev = _mm256_sub_pd(T::load4(x.as_ptr().add(i)), param4(mean, i));
            let v = _mm256_fmadd_pd(dev, param4(p, i), base);
            T::store4(out.as_mut_ptr().add(i), v);
            i += 4;
        }
    }
    scalar::bwd_cols(
        &dy[i..n],
        &x[i..n],
        &mean[i..n],
        &k[i..n],
        &p[i..n],
        &q[i..n],
        &mut out[i..n],
    );
}

fn scale_cols<T: Real + Lanes>(dy: &[T], k: &[f64], out: &mut [T]) {
    // SAFETY: see the note above the wrappers.
    unsafe { scale_cols_impl(dy, k, out) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn scale_cols_impl<T: Real + Lanes>(dy: &[T], k: &[f64], out: &mut [T]) {
    let n = dy.len().min(k.len()).min(out.len());
    let mut i = 0;
    // SAFETY: every access touches [i..i + 4] of each slice with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let v = _mm256_mul_pd(T::load4(dy.as_ptr().add(i)), param4(k, i));
            T::store4(out.as_mut_ptr().add(i), v);
            i += 4;
        }
    }
    scalar::scale_cols(&dy[i..n], &k[i..n], &mut out[i..n]);
}

fn affine_row_f32(x: &[f32], mean: f64, scale: f64, shift: f64, out: &mut [f32]) {
    let (hi, lo) = (mean as f32, (mean - f64::from(mean as f32)) as f32);
    let (s, b) = (scale as f32, shift as f32);
    if !(hi.is_finite() && lo.is_finite() && s.is_finite() && b.is_finite()) {
        // Statistics beyond float32's range: keep every step in f64.
        return affine_row::<f32>(x, mean, scale, shift, out);
    }
    // SAFETY: see the note above the wrappers.
    unsafe { affine_row_f32_impl(x, [hi, lo, s, b], out) }
}

/// y = ((x − hi) − lo)·s + b in float32, where hi + lo is the f64 mean split into two float32.
///
/// x − hi is exact whenever x is within a factor 2 of the mean (Sterbenz) and otherwise off by
/// half an ulp of itself; subtracting lo then leaves x − mean to within an ulp or two of its own
/// size, as if formed in f64. A constant channel gives x − hi = 0 and lo = 0, hence exactly b.
/// Float32 lanes halve the work of the widening path, which matters because this pass runs on
/// data already in cache.
#[target_feature(enable = "avx2,fma")]
unsafe fn affine_row_f32_impl(x: &[f32], [hi, lo, s, b]: [f32; 4], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let (px, po) = (x.as_ptr(), out.as_mut_ptr());
    let mut i = 0;
    // SAFETY: every access touches [i..i + 8] of x and out with i + 8 <= n.
    unsafe {
        let (vh, vl, vs, vb) = (
            _mm256_set1_ps(hi),
            _mm256_set1_ps(lo),
            _mm256_set1_ps(s),
            _mm256_set1_ps(b),
        );
        while i + 8 <= n {
            let t = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(px.add(i)), vh), vl);
            _mm256_storeu_ps(po.add(i), _mm256_fmadd_ps(t, vs, vb));
            i += 8;
        }
    }
    for (o, v) in out[i..n].iter_mut().zip(&x[i..n]) {
        *o = ((v - hi) - lo).mul_add(s, b);
    }
}
