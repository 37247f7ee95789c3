//! The portable reference path of every inner loop: plain f64 arithmetic, four independent
//! accumulators in the reductions so they pipeline. The AVX2 path computes the same formulas.

use super::norm::{DxCols, NormCols, RowNorm};
use super::real::Real;

/// Σ x.
pub fn sum<T: Real>(x: &[T]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v.to_f64();
        }
    }
    let mut total = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for v in chunks.remainder() {
        total += v.to_f64();
    }
    total
}

/// Σ (x − mean)².
pub fn sum_sq_dev<T: Real>(x: &[T], mean: f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            let d = v.to_f64() - mean;
            *a += d * d;
        }
    }
    let mut total = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for v in chunks.remainder() {
        let d = v.to_f64() - mean;
        total += d * d;
    }
    total
}

/// (Σx, Σ(x − m)²) with m = Σx/n: the two passes over one piece.
pub fn moments<T: Real>(x: &[T]) -> (f64, f64) {
    let total = sum(x);
    (total, sum_sq_dev(x, total / x.len() as f64))
}

/// (Σ dy, Σ dy·(x − mean)).
pub fn sum_dy_dot<T: Real>(dy: &[T], x: &[T], mean: f64) -> (f64, f64) {
    let mut s = [0.0f64; 2];
    let mut d = [0.0f64; 2];
    let mut pairs = dy.chunks_exact(2).zip(x.chunks_exact(2));
    for (g, v) in &mut pairs {
        for i in 0..2 {
            let gi = g[i].to_f64();
            s[i] += gi;
            d[i] += gi * (v[i].to_f64() - mean);
        }
    }
    let (mut s, mut d) = (s[0] + s[1], d[0] + d[1]);
    let done = dy.len().min(x.len()) / 2 * 2;
    for (g, v) in dy[done..].iter().zip(&x[done..]) {
        let gi = g.to_f64();
        s += gi;
        d += gi * (v.to_f64() - mean);
    }
    (s, d)
}

/// out = (x − mean)·scale + shift.
pub fn affine_row<T: Real>(x: &[T], norm: &RowNorm, out: &mut [T]) {
    let (mean, scale, shift) = (norm.mean, norm.scale, norm.shift);
    for (o, v) in out.iter_mut().zip(x) {
        *o = T::from_f64((v.to_f64() - mean) * scale + shift);
    }
}

/// out = dy·k + (x − mean)·p + q.
pub fn bwd_row<T: Real>(dy: &[T], x: &[T], mean: f64, k: f64, p: f64, q: f64, out: &mut [T]) {
    for ((o, g), v) in out.iter_mut().zip(dy).zip(x) {
        *o = T::from_f64((v.to_f64() - mean) * p + (g.to_f64() * k + q));
    }
}

/// out = dy·k.
pub fn scale_row<T: Real>(dy: &[T], k: f64, out: &mut [T]) {
    for (o, g) in out.iter_mut().zip(dy) {
        *o = T::from_f64(g.to_f64() * k);
    }
}

/// acc[j] += x[j].
pub fn acc_cols<T: Real>(x: &[T], acc: &mut [f64]) {
    for (a, v) in acc.iter_mut().zip(x) {
        *a += v.to_f64();
    }
}

/// acc[j] += (x[j] − mean[j])².
pub fn acc_sq_dev_cols<T: Real>(x: &[T], mean: &[f64], acc: &mut [f64]) {
    for ((a, v), m) in acc.iter_mut().zip(x).zip(mean) {
        let d = v.to_f64() - m;
        *a += d * d;
    }
}

/// With d = x[j] − pivot[j]: acc_d[j] += d and acc_sq[j] += d².
pub fn acc_shifted_cols<T: Real>(x: &[T], pivot: &[f64], acc_d: &mut [f64], acc_sq: &mut [f64]) {
    let acc = acc_d.iter_mut().zip(acc_sq.iter_mut());
    for (((ad, aq), v), p) in acc.zip(x).zip(pivot) {
        let d = v.to_f64() - p;
        *ad += d;
        *aq += d * d;
    }
}

/// acc[j] += x[j] and acc_sq[j] += x[j]² (the shifted sums about a zero pivot).
pub fn acc_sum_sq_cols<T: Real>(x: &[T], acc: &mut [f64], acc_sq: &mut [f64]) {
    for ((a, q), v) in acc.iter_mut().zip(acc_sq.iter_mut()).zip(x) {
        let v = v.to_f64();
        *a += v;
        *q += v * v;
    }
}

/// acc_dy[j] += dy[j]; acc_dot[j] += dy[j]·(x[j] − mean[j]).
pub fn acc_dy_dot_cols<T: Real>(
    dy: &[T],
    x: &[T],
    mean: &[f64],
    acc_dy: &mut [f64],
    acc_dot: &mut [f64],
) {
    let it = acc_dy.iter_mut().zip(acc_dot.iter_mut());
    for ((((s, d), g), v), m) in it.zip(dy).zip(x).zip(mean) {
        let gi = g.to_f64();
        *s += gi;
        *d += gi * (v.to_f64() - m);
    }
}

/// out[j] = (x[j] − mean[j])·scale[j] + shift[j], for rows of C = mean.len() values (the
/// column loops take whole rows, and a part row last).
pub fn affine_cols<T: Real>(x: &[T], norm: &NormCols, out: &mut [T]) {
    let c = norm.mean.len().max(1);
    for (xr, or) in x.chunks(c).zip(out.chunks_mut(c)) {
        let params = norm.mean.iter().zip(&norm.scale).zip(&norm.shift);
        for ((o, v), ((m, sc), sh)) in or.iter_mut().zip(xr).zip(params) {
            *o = T::from_f64((v.to_f64() - m) * sc + sh);
        }
    }
}

/// acc[j] += Σ_rows x[row][j] for a block of whole rows of `c` values.
pub fn block_sum_cols<T: Real>(x: &[T], c: usize, acc: &mut [f64]) {
    for row in x.chunks_exact(c.max(1)) {
        acc_cols(row, acc);
    }
}

/// acc[j] += Σ_rows (x[row][j] − mean[j])² for a block of whole rows of `c` values.
pub fn block_sq_dev_cols<T: Real>(x: &[T], c: usize, mean: &[f64], acc: &mut [f64]) {
    for row in x.chunks_exact(c.max(1)) {
        acc_sq_dev_cols(row, mean, acc);
    }
}

/// With d = x[row][j] − pivot[j]: acc_d[j] += Σ_rows d and acc_sq[j] += Σ_rows d², for a
/// block of whole rows of `c` values (the one-pass shifted form of [`super::shifted::SHIFT_LOSS`]).
pub fn block_shifted_cols<T: Real>(
    x: &[T],
    c: usize,
    pivot: &[f64],
    acc_d: &mut [f64],
    acc_sq: &mut [f64],
) {
    for row in x.chunks_exact(c.max(1)) {
        acc_shifted_cols(row, pivot, acc_d, acc_sq);
    }
}

/// acc[j] += Σ_rows x and acc_sq[j] += Σ_rows x², for a block of whole rows of `c` values
/// ([`block_shifted_cols`] about a zero pivot).
pub fn block_sum_sq_cols<T: Real>(x: &[T], c: usize, acc: &mut [f64], acc_sq: &mut [f64]) {
    for row in x.chunks_exact(c.max(1)) {
        acc_sum_sq_cols(row, acc, acc_sq);
    }
}

/// acc_dy[j] += Σ_rows dy; acc_dot[j] += Σ_rows dy·(x − mean[j]) for blocks of whole rows.
pub fn block_dy_dot_cols<T: Real>(
    dy: &[T],
    x: &[T],
    c: usize,
    mean: &[f64],
    acc_dy: &mut [f64],
    acc_dot: &mut [f64],
) {
    for (g, v) in dy.chunks_exact(c.max(1)).zip(x.chunks_exact(c.max(1))) {
        acc_dy_dot_cols(g, v, mean, acc_dy, acc_dot);
    }
}

/// out[j] = dy[j]·k[j] + (x[j] − mean[j])·p[j] + q[j] in f64 (the f64 form of [`DxCols`]),
/// for rows of C = mean.len() values.
pub fn bwd_cols<T: Real>(dy: &[T], x: &[T], d: &DxCols, out: &mut [T]) {
    let c = d.mean.len().max(1);
    let rows = dy.chunks(c).zip(x.chunks(c)).zip(out.chunks_mut(c));
    for ((gr, xr), or) in rows {
        let params = d.mean.iter().zip(&d.k).zip(&d.p).zip(&d.q);
        for (((o, g), v), (((m, kj), pj), qj)) in or.iter_mut().zip(gr).zip(xr).zip(params) {
            *o = T::from_f64((v.to_f64() - m) * pj + (g.to_f64() * kj + qj));
        }
    }
}

/// out[j] = dy[j]·k[j], for rows of C = k.len() values.
pub fn scale_cols<T: Real>(dy: &[T], k: &[f64], out: &mut [T]) {
    let c = k.len().max(1);
    for (gr, or) in dy.chunks(c).zip(out.chunks_mut(c)) {
        for ((o, g), kj) in or.iter_mut().zip(gr).zip(k) {
            *o = T::from_f64(g.to_f64() * kj);
        }
    }
}
