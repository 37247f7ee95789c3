//! AVX2 loops over whole rows of an (N, C) input, with per-column statistics.

use std::arch::x86_64::{
    _mm256_add_pd, _mm256_fmadd_pd, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_mul_pd,
    _mm256_setzero_pd, _mm256_storeu_pd, _mm256_sub_pd, _mm256_sub_ps,
};

use super::{param4, put4, put8};
use crate::batchnorm::norm::{DxCols, NormCols};
use crate::batchnorm::real::Real;
use crate::batchnorm::scalar;
use crate::batchnorm::shifted::STRIP_ROWS;
use crate::simd::avx2::{Lanes, aligned_head};

// The safe wrappers in this file are handed out only by `super::table`, whose caller vouched
// for AVX2 and FMA; each `*_impl` reads and writes only within the lengths it was given.

/// The starts of rows r..r + 4 of rows of `c` elements at `p`: the four sequential streams a
/// strip reads side by side.
///
/// # Safety
/// Rows r..r + 4 are within the allocation `p` points into.
#[inline(always)]
unsafe fn strip<T>(p: *const T, r: usize, c: usize) -> [*const T; 4] {
    // SAFETY: forwarded from the caller's contract.
    std::array::from_fn(|k| unsafe { p.add((r + k) * c) })
}

pub(super) fn block_sum_cols<T: Real + Lanes>(x: &[T], c: usize, acc: &mut [f64]) {
    // SAFETY: see the note above the wrappers.
    unsafe { block_sum_cols_impl(x, c, acc) }
}

/// Column sums of a block of rows, in strips of four rows read side by side (four sequential
/// streams the prefetcher follows): each strip adds its rows in registers, so the accumulators
/// are loaded and stored once per four rows.
#[target_feature(enable = "avx2,fma")]
unsafe fn block_sum_cols_impl<T: Real + Lanes>(x: &[T], c: usize, acc: &mut [f64]) {
    if c == 0 {
        return;
    }
    let rows = x.len() / c;
    let w = c.min(acc.len());
    let p = x.as_ptr();
    let mut r = 0;
    // SAFETY: every load reads [r·c + j..r·c + j + 4] with r < rows and j + 4 <= w <= c, so
    // within rows·c <= x.len(); acc accesses stay below w <= acc.len().
    unsafe {
        while r + 4 <= rows {
            let row = strip(p, r, c);
            let mut j = 0;
            while j + 4 <= w {
                let a = _mm256_add_pd(T::load4(row[0].add(j)), T::load4(row[1].add(j)));
                let b = _mm256_add_pd(T::load4(row[2].add(j)), T::load4(row[3].add(j)));
                let sum = _mm256_add_pd(param4(acc, j), _mm256_add_pd(a, b));
                _mm256_storeu_pd(acc.as_mut_ptr().add(j), sum);
                j += 4;
            }
            for (jj, a) in (j..w).zip(&mut acc[j..w]) {
                let v = |k: usize| x[(r + k) * c + jj].to_f64();
                *a += (v(0) + v(1)) + (v(2) + v(3));
            }
            r += 4;
        }
    }
    for rr in r..rows {
        scalar::acc_cols(&x[rr * c..rr * c + w], &mut acc[..w]);
    }
}

pub(super) fn block_sq_dev_cols<T: Real + Lanes>(x: &[T], c: usize, mean: &[f64], acc: &mut [f64]) {
    // SAFETY: see the note above the wrappers.
    unsafe { block_sq_dev_cols_impl(x, c, mean, acc) }
}

/// Σ(x − mean)² per column, in strips of four rows like [`block_sum_cols_impl`].
#[target_feature(enable = "avx2,fma")]
unsafe fn block_sq_dev_cols_impl<T: Real + Lanes>(
    x: &[T],
    c: usize,
    mean: &[f64],
    acc: &mut [f64],
) {
    if c == 0 {
        return;
    }
    let rows = x.len() / c;
    let w = c.min(acc.len()).min(mean.len());
    let p = x.as_ptr();
    let mut r = 0;
    // SAFETY: as in `block_sum_cols_impl`; mean accesses stay below w <= mean.len().
    unsafe {
        while r + 4 <= rows {
            let row = strip(p, r, c);
            let mut j = 0;
            while j + 4 <= w {
                let m = param4(mean, j);
                let d0 = _mm256_sub_pd(T::load4(row[0].add(j)), m);
                let d1 = _mm256_sub_pd(T::load4(row[1].add(j)), m);
                let d2 = _mm256_sub_pd(T::load4(row[2].add(j)), m);
                let d3 = _mm256_sub_pd(T::load4(row[3].add(j)), m);
                let a = _mm256_fmadd_pd(d1, d1, _mm256_mul_pd(d0, d0));
                let b = _mm256_fmadd_pd(d3, d3, _mm256_mul_pd(d2, d2));
                let sum = _mm256_add_pd(param4(acc, j), _mm256_add_pd(a, b));
                _mm256_storeu_pd(acc.as_mut_ptr().add(j), sum);
                j += 4;
            }
            for jj in j..w {
                // The lanes' arithmetic, fused alike: a column's result must not depend on
                // whether it falls in a vector or in the tail.
                let d = |k: usize| x[(r + k) * c + jj].to_f64() - mean[jj];
                let a = d(1).mul_add(d(1), d(0) * d(0));
                let b = d(3).mul_add(d(3), d(2) * d(2));
                acc[jj] += a + b;
            }
            r += 4;
        }
    }
    for rr in r..rows {
        scalar::acc_sq_dev_cols(&x[rr * c..rr * c + w], &mean[..w], &mut acc[..w]);
    }
}

pub(super) fn block_shifted_cols<T: Real + Lanes>(
    x: &[T],
    c: usize,
    pivot: &[f64],
    acc_d: &mut [f64],
    acc_sq: &mut [f64],
) {
    // SAFETY: see the note above the wrappers.
    unsafe { block_shifted_cols_impl::<T, true>(x, c, pivot, [acc_d, acc_sq]) }
}

pub(super) fn block_sum_sq_cols<T: Real + Lanes>(
    x: &[T],
    c: usize,
    acc: &mut [f64],
    acc_sq: &mut [f64],
) {
    // SAFETY: see the note above the wrappers.
    unsafe { block_shifted_cols_impl::<T, false>(x, c, &[], [acc, acc_sq]) }
}

/// Σd and Σd² per column with d = x − pivot (d = x without `SUB`: the pivot is zero and
/// unused), in one pass over strips of [`STRIP_ROWS`] rows, each lane summing the strip's even
/// rows and odd rows in two chains. The zero pivot's loop, with no subtraction, runs in about
/// 0.5-0.8x the time on float32 (2026-12-07): the subtractions compete with the widening
/// conversions and the additions for the same floating-point pipes.
#[target_feature(enable = "avx2,fma")]
unsafe fn block_shifted_cols_impl<T: Real + Lanes, const SUB: bool>(
    x: &[T],
    c: usize,
    pivot: &[f64],
    [acc_d, acc_sq]: [&mut [f64]; 2],
) {
    if c == 0 {
        return;
    }
    let rows = x.len() / c;
    let w = if SUB { c.min(pivot.len()) } else { c };
    let w = w.min(acc_d.len()).min(acc_sq.len());
    let p = x.as_ptr();
    let mut r = 0;
    // SAFETY: every load reads [(r + k)·c + j..(r + k)·c + j + 4] with r + k < rows and
    // j + 4 <= w <= c, so within rows·c <= x.len(); pivot (read only with `SUB`, when
    // w <= pivot.len()) and accumulator accesses stay below w.
    unsafe {
        while r + STRIP_ROWS <= rows {
            let mut j = 0;
            while j + 4 <= w {
                let m = if SUB {
                    param4(pivot, j)
                } else {
                    _mm256_setzero_pd()
                };
                let (mut s, mut q) = ([_mm256_setzero_pd(); 2], [_mm256_setzero_pd(); 2]);
                for k in 0..STRIP_ROWS {
                    let v = T::load4(p.add((r + k) * c + j));
                    let d = if SUB { _mm256_sub_pd(v, m) } else { v };
                    s[k % 2] = _mm256_add_pd(s[k % 2], d);
                    q[k % 2] = _mm256_fmadd_pd(d, d, q[k % 2]);
                }
                let sd = _mm256_add_pd(param4(acc_d, j), _mm256_add_pd(s[0], s[1]));
                let sq = _mm256_add_pd(param4(acc_sq, j), _mm256_add_pd(q[0], q[1]));
                _mm256_storeu_pd(acc_d.as_mut_ptr().add(j), sd);
                _mm256_storeu_pd(acc_sq.as_mut_ptr().add(j), sq);
                j += 4;
            }
            for jj in j..w {
                // The lanes' arithmetic, fused alike (see `block_sq_dev_cols_impl`).
                let at = if SUB { pivot[jj] } else { 0.0 };
                let (mut s, mut q) = ([0.0; 2], [0.0; 2]);
                for k in 0..STRIP_ROWS {
                    let d = x[(r + k) * c + jj].to_f64() - at;
                    s[k % 2] += d;
                    q[k % 2] = d.mul_add(d, q[k % 2]);
                }
                acc_d[jj] += s[0] + s[1];
                acc_sq[jj] += q[0] + q[1];
            }
            r += STRIP_ROWS;
        }
    }
    for rr in r..rows {
        let row = &x[rr * c..rr * c + w];
        if SUB {
            scalar::acc_shifted_cols(row, &pivot[..w], &mut acc_d[..w], &mut acc_sq[..w]);
        } else {
            scalar::acc_sum_sq_cols(row, &mut acc_d[..w], &mut acc_sq[..w]);
        }
    }
}

pub(super) fn block_dy_dot_cols<T: Real + Lanes>(
    dy: &[T],
    x: &[T],
    c: usize,
    mean: &[f64],
    acc_dy: &mut [f64],
    acc_dot: &mut [f64],
) {
    // SAFETY: see the note above the wrappers.
    unsafe { block_dy_dot_cols_impl(dy, x, c, mean, [acc_dy, acc_dot]) }
}

/// Σdy and Σdy·(x − mean) per column, in strips of four rows like [`block_sum_cols_impl`].
#[target_feature(enable = "avx2,fma")]
unsafe fn block_dy_dot_cols_impl<T: Real + Lanes>(
    dy: &[T],
    x: &[T],
    c: usize,
    mean: &[f64],
    [acc_dy, acc_dot]: [&mut [f64]; 2],
) {
    if c == 0 {
        return;
    }
    let rows = dy.len().min(x.len()) / c;
    let w = c.min(mean.len()).min(acc_dy.len()).min(acc_dot.len());
    let (pg, px) = (dy.as_ptr(), x.as_ptr());
    let mut r = 0;
    // SAFETY: as in `block_sum_cols_impl`, for dy and x alike.
    unsafe {
        while r + 4 <= rows {
            let mut j = 0;
            while j + 4 <= w {
                let m = param4(mean, j);
                let (mut s, mut d) = (param4(acc_dy, j), param4(acc_dot, j));
                let (mut s4, mut d4) = (_mm256_setzero_pd(), _mm256_setzero_pd());
                for k in 0..4 {
                    let at = (r + k) * c + j;
                    let g = T::load4(pg.add(at));
                    s4 = _mm256_add_pd(s4, g);
                    d4 = _mm256_fmadd_pd(g, _mm256_sub_pd(T::load4(px.add(at)), m), d4);
                }
                s = _mm256_add_pd(s, s4);
                d = _mm256_add_pd(d, d4);
                _mm256_storeu_pd(acc_dy.as_mut_ptr().add(j), s);
                _mm256_storeu_pd(acc_dot.as_mut_ptr().add(j), d);
                j += 4;
            }
            for jj in j..w {
                let (mut s4, mut d4) = (0.0, 0.0);
                for k in 0..4 {
                    let g = dy[(r + k) * c + jj].to_f64();
                    s4 += g;
                    // Fused like the lanes (see `block_sq_dev_cols_impl`).
                    d4 = g.mul_add(x[(r + k) * c + jj].to_f64() - mean[jj], d4);
                }
                acc_dy[jj] += s4;
                acc_dot[jj] += d4;
            }
            r += 4;
        }
    }
    for rr in r..rows {
        let at = rr * c..rr * c + w;
        scalar::acc_dy_dot_cols(
            &dy[at.clone()],
            &x[at],
            &mean[..w],
            &mut acc_dy[..w],
            &mut acc_dot[..w],
        );
    }
}

/// Cuts `len` elements of whole rows of `c` values (then a part row, if any) into strips of
/// `strips` rows (if any), and rows: `strip(start)` takes the strip whose
/// first row starts at element `start`, `row(start, len)` the row (or part row) there.
#[inline(always)]
fn by_strips(
    len: usize,
    c: usize,
    strips: Option<usize>,
    mut strip: impl FnMut(usize),
    mut row: impl FnMut(usize, usize),
) {
    if c == 0 {
        return;
    }
    let rows = len / c;
    let mut r = 0;
    if let Some(height) = strips {
        while r + height <= rows {
            strip(r * c);
            r += height;
        }
    }
    while r * c < len {
        row(r * c, c.min(len - r * c));
        r += 1;
    }
}

/// Rows the normalise and dx loops of an (N, C) input write side by side: each load of a
/// column's parameters serves this many rows. With a load of each parameter per row, the
/// float32 normalise pass of a (256, 1024) input (in L2) issued four loads per eight values
/// written and took twice the time of a copy (2026-12-07). A strip's loads all come before
/// its stores: rows of 4 KiB put the next row's load at the address of the store just made,
/// modulo 4 KiB, which the CPU takes for a dependency ("4K aliasing") when the input and
/// output start at the same offset in a page. Paired in one process (thread CPU time, one
/// thread, float32, 2026-12-07), the backward pass with these strips took 0.81-0.90x the time
/// of one row at a time on (256, 1024), (4096, 64), (1024, 512); strips of two rows 0.80-0.86x
/// on those, but 1.07-1.24x the time of four on (4096, 64), (1024, 512), (2048, 256).
const OUT_STRIP: usize = 4;

/// Whether rows are written a strip at a time: not with streaming stores. Each row of a strip
/// then fills its own write-combining buffers, a half line at a time, and they are flushed
/// part-filled: the float32 forward pass of (4096, 1024) and (32768, 1024), whose outputs
/// are streamed, took 2.7-2.9x the time of row by row, the backward 6-7x (2026-12-07).
fn strips_fit<const NT: bool>() -> bool {
    !NT
}

/// The rows of a dx strip, for rows of `row_bytes` bytes: [`OUT_STRIP`], or where rows are a
/// multiple of 4 KiB apart [`OUT_STRIP_4K`] (`None`: row by row). Every row of a strip then
/// falls in the same set of the 8-way L1 at each step, and four rows of dy, x and dx are twelve
/// lines for its eight ways when the arrays start at nearby offsets in their pages; and the
/// next row's loads sit at the address, modulo 4 KiB, of the store just made to the row before,
/// which the CPU takes for a dependency. The (256, 1024) float32 backward pass (f64 dx form)
/// took 280-534 us as dx moved within its page (dy and x at the start of theirs), 277-308 us in
/// strips of two rows, at numpy's own placement 0.89-0.93x the time of four (one thread, CPU
/// time); with four rows and stores before the next row's loads, 1.29-1.40x the time of row by
/// row (2 threads; the float64 (256, 512) 1.15x). Two rows, loads first, against row by row
/// (paired, float32 dx form): 0.94-0.98x the time on (256, 1024), (1024, 1024), (256, 512),
/// (2048, 512) on one thread, 0.84-0.96x on two; float64 0.84-1.05x (2026-12-07).
fn dx_strip_rows<const NT: bool>(row_bytes: usize) -> Option<usize> {
    if !strips_fit::<NT>() {
        None
    } else if row_bytes % 4096 == 0 {
        OUT_STRIP_4K
    } else {
        Some(OUT_STRIP)
    }
}

/// See [`dx_strip_rows`].
const OUT_STRIP_4K: Option<usize> = Some(2);

pub(super) fn affine_cols<T: Real + Lanes, const NT: bool>(
    x: &[T],
    norm: &NormCols,
    out: &mut [T],
) {
    let c = norm.mean.len();
    let len = x.len().min(out.len());
    by_strips(
        len,
        c,
        None,
        |_| {},
        |at, n| {
            // SAFETY: see the note above the wrappers.
            unsafe { affine_cols_impl::<T, NT>(&x[at..at + n], norm, &mut out[at..at + n]) }
        },
    );
}

#[target_feature(enable = "avx2,fma")]
unsafe fn affine_cols_impl<T: Real + Lanes, const NT: bool>(
    x: &[T],
    norm: &NormCols,
    out: &mut [T],
) {
    let (mean, scale, shift) = (&norm.mean[..], &norm.scale[..], &norm.shift[..]);
    let n = x.len().min(mean.len()).min(scale.len());
    let n = n.min(shift.len()).min(out.len());
    // Fused like the lanes, so a value is the same in the head, the body or the tail.
    let one = |j: usize| T::from_f64((x[j].to_f64() - mean[j]).mul_add(scale[j], shift[j]));
    let head = if NT {
        aligned_head(out.as_ptr(), n, T::STREAM_ALIGN)
    } else {
        0
    };
    for (j, o) in (0..head).zip(&mut out[..head]) {
        *o = one(j);
    }
    let mut i = head;
    // SAFETY: every access touches [i..i + 4] of each slice with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let d = _mm256_sub_pd(T::load4(x.as_ptr().add(i)), param4(mean, i));
            let y = _mm256_fmadd_pd(d, param4(scale, i), param4(shift, i));
            put4::<T, NT>(out.as_mut_ptr().add(i), y);
            i += 4;
        }
    }
    for (j, o) in (i..n).zip(&mut out[i..n]) {
        *o = one(j);
    }
}

pub(super) fn affine_cols_f32<const NT: bool>(x: &[f32], norm: &NormCols, out: &mut [f32]) {
    if !norm.float32_ok {
        return affine_cols::<f32, NT>(x, norm, out);
    }
    let c = norm.hi.len();
    let len = x.len().min(out.len());
    let (xp, op) = (x.as_ptr(), out.as_mut_ptr());
    // Four rows of x and y are eight lines, which the L1's ways hold even on 4 KiB rows.
    let height = strips_fit::<NT>().then_some(OUT_STRIP);
    let strip = |at: usize| {
        // SAFETY: see the note above the wrappers; the strip's rows of c values from `at` lie
        // within both slices (`by_strips` hands out whole rows below len).
        unsafe { affine_strip_f32_impl::<NT, OUT_STRIP>(xp.add(at), norm, op.add(at)) }
    };
    let row = |at: usize, n: usize| {
        // SAFETY: as above, for one row (or part row) of n values from `at`.
        unsafe {
            let (xs, os) = (
                std::slice::from_raw_parts(xp.add(at), n),
                std::slice::from_raw_parts_mut(op.add(at), n),
            );
            affine_cols_f32_impl::<NT>(xs, norm, os)
        }
    };
    by_strips(len, c, height, strip, row);
}

/// [`affine_cols_f32_impl`] on [`OUT_STRIP`] rows at once: each load of a column's float32
/// parameters serves every row of the strip. The same operations on each value as the row
/// loop, so the values do not depend on which loop wrote them.
///
/// # Safety
/// AVX2 and FMA are available; `x` and `out` point to OUT_STRIP rows of c = norm.hi.len()
/// values each, and `norm.scale32` and `norm.shift32` have c values too. With `NT` (which
/// [`strips_fit`] leaves to the row loop) the rows start at the same offset from a 32-byte
/// boundary.
#[target_feature(enable = "avx2,fma")]
unsafe fn affine_strip_f32_impl<const NT: bool, const R: usize>(
    x: *const f32,
    norm: &NormCols,
    out: *mut f32,
) {
    let (hi, s, b) = (&norm.hi[..], &norm.scale32[..], &norm.shift32[..]);
    let c = hi.len().min(s.len()).min(b.len());
    // SAFETY: the caller's contract: every access stays within the strip's rows and the
    // parameters' c values.
    unsafe {
        let one = |k: usize, j: usize| {
            *out.add(k * c + j) = (*x.add(k * c + j) - hi[j]).mul_add(s[j], b[j]);
        };
        let head = if NT { aligned_head(out, c, 32) } else { 0 };
        for j in 0..head {
            (0..R).for_each(|k| one(k, j));
        }
        let mut j = head;
        while j + 8 <= c {
            let (vh, vs, vb) = (
                _mm256_loadu_ps(hi.as_ptr().add(j)),
                _mm256_loadu_ps(s.as_ptr().add(j)),
                _mm256_loadu_ps(b.as_ptr().add(j)),
            );
            // Every load of the step before its stores (see `OUT_STRIP`).
            let y: [_; R] = std::array::from_fn(|k| {
                let t = _mm256_sub_ps(_mm256_loadu_ps(x.add(k * c + j)), vh);
                _mm256_fmadd_ps(t, vs, vb)
            });
            for (k, y) in y.into_iter().enumerate() {
                put8::<NT>(out.add(k * c + j), y);
            }
            j += 8;
        }
        for j in j..c {
            (0..R).for_each(|k| one(k, j));
        }
    }
}

/// The float32 form of [`NormCols`] in 8 float32 lanes.
#[target_feature(enable = "avx2,fma")]
unsafe fn affine_cols_f32_impl<const NT: bool>(x: &[f32], norm: &NormCols, out: &mut [f32]) {
    let (hi, s, b) = (&norm.hi[..], &norm.scale32[..], &norm.shift32[..]);
    let n = x
        .len()
        .min(hi.len())
        .min(s.len())
        .min(b.len())
        .min(out.len());
    let one = |j: usize| (x[j] - hi[j]).mul_add(s[j], b[j]);
    let head = if NT {
        aligned_head(out.as_ptr(), n, 32)
    } else {
        0
    };
    for (j, o) in (0..head).zip(&mut out[..head]) {
        *o = one(j);
    }
    let mut i = head;
    // SAFETY: every access touches [i..i + 8] of each slice with i + 8 <= n.
    unsafe {
        while i + 8 <= n {
            let t = _mm256_sub_ps(
                _mm256_loadu_ps(x.as_ptr().add(i)),
                _mm256_loadu_ps(hi.as_ptr().add(i)),
            );
            let y = _mm256_fmadd_ps(
                t,
                _mm256_loadu_ps(s.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
            );
            put8::<NT>(out.as_mut_ptr().add(i), y);
            i += 8;
        }
    }
    for (j, o) in (i..n).zip(&mut out[i..n]) {
        *o = one(j);
    }
}

pub(super) fn bwd_cols<T: Real + Lanes, const NT: bool>(
    dy: &[T],
    x: &[T],
    d: &DxCols,
    out: &mut [T],
) {
    let c = d.mean.len();
    let params = [&d.mean[..], &d.k, &d.p, &d.q];
    let len = dy.len().min(x.len()).min(out.len());
    let (gp, xp, op) = (dy.as_ptr(), x.as_ptr(), out.as_mut_ptr());
    let height = dx_strip_rows::<NT>(c * size_of::<T>());
    let strip = |at: usize| {
        // SAFETY: see the note above the wrappers; the strip's rows of c values from `at` lie
        // within the three slices (`by_strips` hands out whole rows below len).
        unsafe {
            if height == Some(OUT_STRIP) {
                bwd_strip_impl::<T, NT, OUT_STRIP>(gp.add(at), xp.add(at), params, op.add(at))
            } else {
                bwd_strip_impl::<T, NT, 2>(gp.add(at), xp.add(at), params, op.add(at))
            }
        }
    };
    let row = |at: usize, n: usize| {
        // SAFETY: as above, for one row (or part row) of n values from `at`.
        unsafe {
            let (gs, xs, os) = (
                std::slice::from_raw_parts(gp.add(at), n),
                std::slice::from_raw_parts(xp.add(at), n),
                std::slice::from_raw_parts_mut(op.add(at), n),
            );
            bwd_cols_impl::<T, NT>(gs, xs, params, os)
        }
    };
    by_strips(len, c, height, strip, row);
}

/// [`bwd_cols_impl`] on `R` rows at once: each load of a column's four f64
/// coefficients serves every row of the strip (six loads per four values written become
/// three). The same operations on each value as the row loop.
///
/// # Safety
/// AVX2 and FMA are available; `dy`, `x` and `out` point to R rows of c = mean.len() values
/// each, and `k`, `p` and `q` have c values too. With `NT` (which
/// [`strips_fit`] leaves to the row loop) the rows start at the same offset from a
/// [`Lanes::STREAM_ALIGN`] boundary.
#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_strip_impl<T: Real + Lanes, const NT: bool, const R: usize>(
    dy: *const T,
    x: *const T,
    [mean, k, p, q]: [&[f64]; 4],
    out: *mut T,
) {
    let c = mean.len().min(k.len()).min(p.len()).min(q.len());
    // SAFETY: the caller's contract: every access stays within the strip's rows and the
    // coefficients' c values.
    unsafe {
        let one = |r: usize, j: usize| {
            let at = r * c + j;
            let base = (*dy.add(at)).to_f64().mul_add(k[j], q[j]);
            *out.add(at) = T::from_f64(((*x.add(at)).to_f64() - mean[j]).mul_add(p[j], base));
        };
        let head = if NT {
            aligned_head(out, c, T::STREAM_ALIGN)
        } else {
            0
        };
        for j in 0..head {
            (0..R).for_each(|r| one(r, j));
        }
        let mut j = head;
        while j + 4 <= c {
            let (vm, vk, vp, vq) = (param4(mean, j), param4(k, j), param4(p, j), param4(q, j));
            // Every load of the step before its stores (see `OUT_STRIP`).
            let v: [_; R] = std::array::from_fn(|r| {
                let at = r * c + j;
                let base = _mm256_fmadd_pd(T::load4(dy.add(at)), vk, vq);
                let dev = _mm256_sub_pd(T::load4(x.add(at)), vm);
                _mm256_fmadd_pd(dev, vp, base)
            });
            for (r, v) in v.into_iter().enumerate() {
                put4::<T, NT>(out.add(r * c + j), v);
            }
            j += 4;
        }
        for j in j..c {
            (0..R).for_each(|r| one(r, j));
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_cols_impl<T: Real + Lanes, const NT: bool>(
    dy: &[T],
    x: &[T],
    [mean, k, p, q]: [&[f64]; 4],
    out: &mut [T],
) {
    let n = dy.len().min(x.len()).min(out.len());
    let n = n.min(mean.len()).min(k.len()).min(p.len()).min(q.len());
    // Fused like the lanes, so a value is the same in the head, the body or the tail.
    let one = |j: usize| {
        let base = dy[j].to_f64().mul_add(k[j], q[j]);
        T::from_f64((x[j].to_f64() - mean[j]).mul_add(p[j], base))
    };
    let head = if NT {
        aligned_head(out.as_ptr(), n, T::STREAM_ALIGN)
    } else {
        0
    };
    for (j, o) in (0..head).zip(&mut out[..head]) {
        *o = one(j);
    }
    let mut i = head;
    // SAFETY: every access touches [i..i + 4] of each slice with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let base = _mm256_fmadd_pd(T::load4(dy.as_ptr().add(i)), param4(k, i), param4(q, i));
            let dev = _mm256_sub_pd(T::load4(x.as_ptr().add(i)), param4(mean, i));
            let v = _mm256_fmadd_pd(dev, param4(p, i), base);
            put4::<T, NT>(out.as_mut_ptr().add(i), v);
            i += 4;
        }
    }
    for (j, o) in (i..n).zip(&mut out[i..n]) {
        *o = one(j);
    }
}

pub(super) fn bwd_cols_f32<const NT: bool>(dy: &[f32], x: &[f32], d: &DxCols, out: &mut [f32]) {
    if !d.float32_ok {
        return bwd_cols::<f32, NT>(dy, x, d, out);
    }
    let c = d.hi.len();
    let params = [&d.hi[..], &d.k32, &d.p32, &d.q32];
    let len = dy.len().min(x.len()).min(out.len());
    let (gp, xp, op) = (dy.as_ptr(), x.as_ptr(), out.as_mut_ptr());
    let height = dx_strip_rows::<NT>(c * size_of::<f32>());
    let strip = |at: usize| {
        // SAFETY: see the note above the wrappers; the strip's rows of c values from `at` lie
        // within the three slices (`by_strips` hands out whole rows below len).
        unsafe {
            if height == Some(OUT_STRIP) {
                bwd_strip_f32_impl::<NT, OUT_STRIP>(gp.add(at), xp.add(at), params, op.add(at))
            } else {
                bwd_strip_f32_impl::<NT, 2>(gp.add(at), xp.add(at), params, op.add(at))
            }
        }
    };
    let row = |at: usize, n: usize| {
        // SAFETY: as above, for one row (or part row) of n values from `at`.
        unsafe {
            let (gs, xs, os) = (
                std::slice::from_raw_parts(gp.add(at), n),
                std::slice::from_raw_parts(xp.add(at), n),
                std::slice::from_raw_parts_mut(op.add(at), n),
            );
            bwd_cols_f32_impl::<NT>(gs, xs, params, os)
        }
    };
    by_strips(len, c, height, strip, row);
}

/// [`bwd_cols_f32_impl`] on `R` rows at once: each load of a column's float32
/// coefficients serves every row of the strip. The same operations on each value as the row
/// loop.
///
/// # Safety
/// AVX2 and FMA are available; `dy`, `x` and `out` point to R rows of c = hi.len()
/// values each, and `k`, `p` and `q` have c values too. With `NT` (which [`strips_fit`] leaves
/// to the row loop) the rows start at the same offset from a 32-byte boundary.
#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_strip_f32_impl<const NT: bool, const R: usize>(
    dy: *const f32,
    x: *const f32,
    [hi, k, p, q]: [&[f32]; 4],
    out: *mut f32,
) {
    let c = hi.len().min(k.len()).min(p.len()).min(q.len());
    // SAFETY: the caller's contract: every access stays within the strip's rows and the
    // coefficients' c values.
    unsafe {
        let one = |r: usize, j: usize| {
            let at = r * c + j;
            let base = (*dy.add(at)).mul_add(k[j], q[j]);
            *out.add(at) = (*x.add(at) - hi[j]).mul_add(p[j], base);
        };
        let head = if NT { aligned_head(out, c, 32) } else { 0 };
        for j in 0..head {
            (0..R).for_each(|r| one(r, j));
        }
        let mut j = head;
        while j + 8 <= c {
            let (vh, vk, vp, vq) = (
                _mm256_loadu_ps(hi.as_ptr().add(j)),
                _mm256_loadu_ps(k.as_ptr().add(j)),
                _mm256_loadu_ps(p.as_ptr().add(j)),
                _mm256_loadu_ps(q.as_ptr().add(j)),
            );
            // Every load of the step before its stores (see `OUT_STRIP`).
            let v: [_; R] = std::array::from_fn(|r| {
                let at = r * c + j;
                let base = _mm256_fmadd_ps(_mm256_loadu_ps(dy.add(at)), vk, vq);
                let dev = _mm256_sub_ps(_mm256_loadu_ps(x.add(at)), vh);
                _mm256_fmadd_ps(dev, vp, base)
            });
            for (r, v) in v.into_iter().enumerate() {
                put8::<NT>(out.add(r * c + j), v);
            }
            j += 8;
        }
        for j in j..c {
            (0..R).for_each(|r| one(r, j));
        }
    }
}

/// The float32 form of [`DxCols`] in 8 float32 lanes: (x − hi)·p32 + (dy·k32 + q32).
#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_cols_f32_impl<const NT: bool>(
    dy: &[f32],
    x: &[f32],
    [hi, k, p, q]: [&[f32]; 4],
    out: &mut [f32],
) {
    let n = dy.len().min(x.len()).min(out.len());
    let n = n.min(hi.len()).min(k.len()).min(p.len()).min(q.len());
    let one = |j: usize| (x[j] - hi[j]).mul_add(p[j], dy[j].mul_add(k[j], q[j]));
    let head = if NT {
        aligned_head(out.as_ptr(), n, 32)
    } else {
        0
    };
    for (j, o) in (0..head).zip(&mut out[..head]) {
        *o = one(j);
    }
    let mut i = head;
    let (pg, px, ph, pk, pp, pq) = (
        dy.as_ptr(),
        x.as_ptr(),
        hi.as_ptr(),
        k.as_ptr(),
        p.as_ptr(),
        q.as_ptr(),
    );
    // SAFETY: every access touches [i..i + 8] of each slice with i + 8 <= n.
    unsafe {
        while i + 8 <= n {
            let g = _mm256_loadu_ps(pg.add(i));
            let base = _mm256_fmadd_ps(g, _mm256_loadu_ps(pk.add(i)), _mm256_loadu_ps(pq.add(i)));
            let dev = _mm256_sub_ps(_mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(ph.add(i)));
            let v = _mm256_fmadd_ps(dev, _mm256_loadu_ps(pp.add(i)), base);
            put8::<NT>(out.as_mut_ptr().add(i), v);
            i += 8;
        }
    }
    for (j, o) in (i..n).zip(&mut out[i..n]) {
        *o = one(j);
    }
}

pub(super) fn scale_cols<T: Real + Lanes>(dy: &[T], k: &[f64], out: &mut [T]) {
    let len = dy.len().min(out.len());
    by_strips(
        len,
        k.len(),
        None,
        |_| {},
        |at, n| {
            // SAFETY: see the note above the wrappers.
            unsafe { scale_cols_impl(&dy[at..at + n], k, &mut out[at..at + n]) }
        },
    );
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
