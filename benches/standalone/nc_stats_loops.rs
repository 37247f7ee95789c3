//! Standalone loops for the (N, C) column statistics pass, one thread, float32: the strip loop
//! bntune used (first-row pivot, widened to f64), the same without the subtraction (zero
//! pivot), eight columns per load, the subtraction in float32, sums of d in float32 (inexact:
//! a speed reference only), all in float32 (torch-like, inexact), next to a contiguous sum and
//! a copy. Not part of the crate; build and run with
//!
//!     rustc -C opt-level=3 -o /tmp/nc benches/standalone/nc_stats_loops.rs
//!     /tmp/nc N C GROUP_ROWS          # e.g. 4096 1024 256, 256 1024 64, 4096 64 1024
//!
//! It prints ns per element (median and best of 30), the second of two rounds.

use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

const C: usize = 1024;

#[target_feature(enable = "avx2,fma")]
unsafe fn cur(x: &[f32], c: usize, pivot: &[f64], acc_d: &mut [f64], acc_sq: &mut [f64]) {
    let rows = x.len() / c;
    let p = x.as_ptr();
    let mut r = 0;
    while r + 8 <= rows {
        let mut j = 0;
        while j + 4 <= c {
            let m = _mm256_loadu_pd(pivot.as_ptr().add(j));
            let (mut s, mut q) = ([_mm256_setzero_pd(); 2], [_mm256_setzero_pd(); 2]);
            for k in 0..8 {
                let d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(p.add((r + k) * c + j))), m);
                s[k % 2] = _mm256_add_pd(s[k % 2], d);
                q[k % 2] = _mm256_fmadd_pd(d, d, q[k % 2]);
            }
            let sd = _mm256_add_pd(_mm256_loadu_pd(acc_d.as_ptr().add(j)), _mm256_add_pd(s[0], s[1]));
            let sq = _mm256_add_pd(_mm256_loadu_pd(acc_sq.as_ptr().add(j)), _mm256_add_pd(q[0], q[1]));
            _mm256_storeu_pd(acc_d.as_mut_ptr().add(j), sd);
            _mm256_storeu_pd(acc_sq.as_mut_ptr().add(j), sq);
            j += 4;
        }
        r += 8;
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn curfms(x: &[f32], c: usize, pivot: &[f64], acc_d: &mut [f64], acc_sq: &mut [f64]) {
    let rows = x.len() / c;
    let p = x.as_ptr();
    let mut r = 0;
    while r + 8 <= rows {
        let mut j = 0;
        while j + 4 <= c {
            let m = _mm256_loadu_pd(pivot.as_ptr().add(j)); let one = _mm256_set1_pd(1.0);
            let (mut s, mut q) = ([_mm256_setzero_pd(); 2], [_mm256_setzero_pd(); 2]);
            for k in 0..8 {
                let d = _mm256_fmsub_pd(_mm256_cvtps_pd(_mm_loadu_ps(p.add((r + k) * c + j))), one, m);
                s[k % 2] = _mm256_add_pd(s[k % 2], d);
                q[k % 2] = _mm256_fmadd_pd(d, d, q[k % 2]);
            }
            let sd = _mm256_add_pd(_mm256_loadu_pd(acc_d.as_ptr().add(j)), _mm256_add_pd(s[0], s[1]));
            let sq = _mm256_add_pd(_mm256_loadu_pd(acc_sq.as_ptr().add(j)), _mm256_add_pd(q[0], q[1]));
            _mm256_storeu_pd(acc_d.as_mut_ptr().add(j), sd);
            _mm256_storeu_pd(acc_sq.as_mut_ptr().add(j), sq);
            j += 4;
        }
        r += 8;
    }
}

// pivot 0: no subtraction
#[target_feature(enable = "avx2,fma")]
unsafe fn nosub<const R: usize>(x: &[f32], c: usize, acc_d: &mut [f64], acc_sq: &mut [f64]) {
    let rows = x.len() / c;
    let p = x.as_ptr();
    let mut r = 0;
    while r + R <= rows {
        let mut j = 0;
        while j + 4 <= c {
            let (mut s, mut q) = ([_mm256_setzero_pd(); 2], [_mm256_setzero_pd(); 2]);
            for k in 0..R {
                let d = _mm256_cvtps_pd(_mm_loadu_ps(p.add((r + k) * c + j)));
                s[k % 2] = _mm256_add_pd(s[k % 2], d);
                q[k % 2] = _mm256_fmadd_pd(d, d, q[k % 2]);
            }
            let sd = _mm256_add_pd(_mm256_loadu_pd(acc_d.as_ptr().add(j)), _mm256_add_pd(s[0], s[1]));
            let sq = _mm256_add_pd(_mm256_loadu_pd(acc_sq.as_ptr().add(j)), _mm256_add_pd(q[0], q[1]));
            _mm256_storeu_pd(acc_d.as_mut_ptr().add(j), sd);
            _mm256_storeu_pd(acc_sq.as_mut_ptr().add(j), sq);
            j += 4;
        }
        r += R;
    }
}

// 8 columns per j step (two f64 vectors from one 256-bit f32 load)
#[target_feature(enable = "avx2,fma")]
unsafe fn wide8<const R: usize, const SUB: bool>(x: &[f32], c: usize, pivot: &[f64], acc_d: &mut [f64], acc_sq: &mut [f64]) {
    let rows = x.len() / c;
    let p = x.as_ptr();
    let mut r = 0;
    while r + R <= rows {
        let mut j = 0;
        while j + 8 <= c {
            let m0 = _mm256_loadu_pd(pivot.as_ptr().add(j));
            let m1 = _mm256_loadu_pd(pivot.as_ptr().add(j + 4));
            let (mut s, mut q) = ([_mm256_setzero_pd(); 2], [_mm256_setzero_pd(); 2]);
            for k in 0..R {
                let v = _mm256_loadu_ps(p.add((r + k) * c + j));
                let mut a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                let mut b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
                if SUB { a = _mm256_sub_pd(a, m0); b = _mm256_sub_pd(b, m1); }
                s[0] = _mm256_add_pd(s[0], a);
                s[1] = _mm256_add_pd(s[1], b);
                q[0] = _mm256_fmadd_pd(a, a, q[0]);
                q[1] = _mm256_fmadd_pd(b, b, q[1]);
            }
            for h in 0..2 {
                let sd = _mm256_add_pd(_mm256_loadu_pd(acc_d.as_ptr().add(j + 4 * h)), s[h]);
                let sq = _mm256_add_pd(_mm256_loadu_pd(acc_sq.as_ptr().add(j + 4 * h)), q[h]);
                _mm256_storeu_pd(acc_d.as_mut_ptr().add(j + 4 * h), sd);
                _mm256_storeu_pd(acc_sq.as_mut_ptr().add(j + 4 * h), sq);
            }
            j += 8;
        }
        r += R;
    }
}

// 8 columns per j step (two f64 vectors from one 256-bit f32 load)
#[target_feature(enable = "avx2,fma")]
unsafe fn wide8fms<const R: usize, const SUB: bool>(x: &[f32], c: usize, pivot: &[f64], acc_d: &mut [f64], acc_sq: &mut [f64]) {
    let rows = x.len() / c;
    let p = x.as_ptr();
    let mut r = 0;
    while r + R <= rows {
        let mut j = 0;
        while j + 8 <= c {
            let m0 = _mm256_loadu_pd(pivot.as_ptr().add(j));
            let m1 = _mm256_loadu_pd(pivot.as_ptr().add(j + 4));
            let (mut s, mut q) = ([_mm256_setzero_pd(); 2], [_mm256_setzero_pd(); 2]);
            for k in 0..R {
                let v = _mm256_loadu_ps(p.add((r + k) * c + j));
                let mut a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                let mut b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
                if SUB { let one = _mm256_set1_pd(1.0); a = _mm256_fmsub_pd(a, one, m0); b = _mm256_fmsub_pd(b, one, m1); }
                s[0] = _mm256_add_pd(s[0], a);
                s[1] = _mm256_add_pd(s[1], b);
                q[0] = _mm256_fmadd_pd(a, a, q[0]);
                q[1] = _mm256_fmadd_pd(b, b, q[1]);
            }
            for h in 0..2 {
                let sd = _mm256_add_pd(_mm256_loadu_pd(acc_d.as_ptr().add(j + 4 * h)), s[h]);
                let sq = _mm256_add_pd(_mm256_loadu_pd(acc_sq.as_ptr().add(j + 4 * h)), q[h]);
                _mm256_storeu_pd(acc_d.as_mut_ptr().add(j + 4 * h), sd);
                _mm256_storeu_pd(acc_sq.as_mut_ptr().add(j + 4 * h), sq);
            }
            j += 8;
        }
        r += R;
    }
}

// f32 sub (exact under precondition), widen d, f64 sums
#[target_feature(enable = "avx2,fma")]
unsafe fn sub32<const R: usize>(x: &[f32], c: usize, pivot: &[f32], acc_d: &mut [f64], acc_sq: &mut [f64]) {
    let rows = x.len() / c;
    let p = x.as_ptr();
    let mut r = 0;
    while r + R <= rows {
        let mut j = 0;
        while j + 8 <= c {
            let m = _mm256_loadu_ps(pivot.as_ptr().add(j));
            let (mut s, mut q) = ([_mm256_setzero_pd(); 2], [_mm256_setzero_pd(); 2]);
            for k in 0..R {
                let v = _mm256_sub_ps(_mm256_loadu_ps(p.add((r + k) * c + j)), m);
                let a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                let b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
                s[0] = _mm256_add_pd(s[0], a);
                s[1] = _mm256_add_pd(s[1], b);
                q[0] = _mm256_fmadd_pd(a, a, q[0]);
                q[1] = _mm256_fmadd_pd(b, b, q[1]);
            }
            for h in 0..2 {
                let sd = _mm256_add_pd(_mm256_loadu_pd(acc_d.as_ptr().add(j + 4 * h)), s[h]);
                let sq = _mm256_add_pd(_mm256_loadu_pd(acc_sq.as_ptr().add(j + 4 * h)), q[h]);
                _mm256_storeu_pd(acc_d.as_mut_ptr().add(j + 4 * h), sd);
                _mm256_storeu_pd(acc_sq.as_mut_ptr().add(j + 4 * h), sq);
            }
            j += 8;
        }
        r += R;
    }
}

// f32 sum of d over strip (inexact in general; speed reference), f64 d^2
#[target_feature(enable = "avx2,fma")]
unsafe fn sum32<const R: usize>(x: &[f32], c: usize, pivot: &[f32], acc_d: &mut [f64], acc_sq: &mut [f64]) {
    let rows = x.len() / c;
    let p = x.as_ptr();
    let mut r = 0;
    while r + R <= rows {
        let mut j = 0;
        while j + 8 <= c {
            let m = _mm256_loadu_ps(pivot.as_ptr().add(j));
            let mut s = _mm256_setzero_ps();
            let mut q = [_mm256_setzero_pd(); 2];
            for k in 0..R {
                let v = _mm256_sub_ps(_mm256_loadu_ps(p.add((r + k) * c + j)), m);
                s = _mm256_add_ps(s, v);
                let a = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
                let b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
                q[0] = _mm256_fmadd_pd(a, a, q[0]);
                q[1] = _mm256_fmadd_pd(b, b, q[1]);
            }
            let sv = [_mm256_cvtps_pd(_mm256_castps256_ps128(s)), _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1))];
            for h in 0..2 {
                let sd = _mm256_add_pd(_mm256_loadu_pd(acc_d.as_ptr().add(j + 4 * h)), sv[h]);
                let sq = _mm256_add_pd(_mm256_loadu_pd(acc_sq.as_ptr().add(j + 4 * h)), q[h]);
                _mm256_storeu_pd(acc_d.as_mut_ptr().add(j + 4 * h), sd);
                _mm256_storeu_pd(acc_sq.as_mut_ptr().add(j + 4 * h), sq);
            }
            j += 8;
        }
        r += R;
    }
}

// pure f32 sums (torch-like speed reference)
#[target_feature(enable = "avx2,fma")]
unsafe fn allf32<const R: usize>(x: &[f32], c: usize, pivot: &[f32], acc_d: &mut [f32], acc_sq: &mut [f32]) {
    let rows = x.len() / c;
    let p = x.as_ptr();
    let mut r = 0;
    while r + R <= rows {
        let mut j = 0;
        while j + 8 <= c {
            let m = _mm256_loadu_ps(pivot.as_ptr().add(j));
            let mut s = _mm256_loadu_ps(acc_d.as_ptr().add(j));
            let mut q = _mm256_loadu_ps(acc_sq.as_ptr().add(j));
            for k in 0..R {
                let v = _mm256_sub_ps(_mm256_loadu_ps(p.add((r + k) * c + j)), m);
                s = _mm256_add_ps(s, v);
                q = _mm256_fmadd_ps(v, v, q);
            }
            _mm256_storeu_ps(acc_d.as_mut_ptr().add(j), s);
            _mm256_storeu_ps(acc_sq.as_mut_ptr().add(j), q);
            j += 8;
        }
        r += R;
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn readsum(x: &[f32]) -> f32 {
    let mut a = [_mm256_setzero_ps(); 4];
    let p = x.as_ptr();
    let mut i = 0;
    while i + 32 <= x.len() {
        for k in 0..4 { a[k] = _mm256_add_ps(a[k], _mm256_loadu_ps(p.add(i + 8 * k))); }
        i += 32;
    }
    let v = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
    let mut o = [0f32; 8];
    _mm256_storeu_ps(o.as_mut_ptr(), v);
    o.iter().sum()
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().unwrap()).collect();
    let n = args.first().copied().unwrap_or(4096);
    let c = args.get(1).copied().unwrap_or(C);
    let group = args.get(2).copied().unwrap_or(256);
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let x: Vec<f32> = (0..n * c).map(|_| { s ^= s << 13; s ^= s >> 7; s ^= s << 17; ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32 }).collect();
    let mut y = vec![0f32; n * c];
    let piv64: Vec<f64> = x[..c].iter().map(|&v| v as f64).collect();
    let piv32: Vec<f32> = x[..c].to_vec();
    let mut ad = vec![0f64; c];
    let mut aq = vec![0f64; c];
    let mut bd = vec![0f32; c];
    let mut bq = vec![0f32; c];
    let reps = 30;
    let mut res: Vec<(&str, Vec<f64>)> = vec![];
    macro_rules! t { ($name:expr, $body:expr) => {{
        let mut v = vec![];
        for _ in 0..reps { let t0 = Instant::now(); $body; v.push(t0.elapsed().as_secs_f64() / (n * c) as f64 * 1e9); }
        res.push(($name, v));
    }}}
    for _round in 0..2 {
    res.clear();
    unsafe {
        t!("copy", { y.copy_from_slice(black_box(&x)); black_box(&y); });
        t!("readsum", { black_box(readsum(black_box(&x))); });
        t!("cur8", { for g in x.chunks(group * c) { cur(g, c, &piv64, &mut ad, &mut aq); } black_box(&ad); });
        t!("curfms8", { for g in x.chunks(group * c) { curfms(g, c, &piv64, &mut ad, &mut aq); } black_box(&ad); });
        t!("wide8fms_8", { for g in x.chunks(group * c) { wide8fms::<8, true>(g, c, &piv64, &mut ad, &mut aq); } black_box(&ad); });
        t!("nosub4", { for g in x.chunks(group * c) { nosub::<4>(g, c, &mut ad, &mut aq); } black_box(&ad); });
        t!("nosub8", { for g in x.chunks(group * c) { nosub::<8>(g, c, &mut ad, &mut aq); } black_box(&ad); });
        t!("wide8_4sub", { for g in x.chunks(group * c) { wide8::<4, true>(g, c, &piv64, &mut ad, &mut aq); } black_box(&ad); });
        t!("wide8_8sub", { for g in x.chunks(group * c) { wide8::<8, true>(g, c, &piv64, &mut ad, &mut aq); } black_box(&ad); });
        t!("wide8_8nosub", { for g in x.chunks(group * c) { wide8::<8, false>(g, c, &piv64, &mut ad, &mut aq); } black_box(&ad); });
        t!("wide8_16nosub", { for g in x.chunks(group * c) { wide8::<16, false>(g, c, &piv64, &mut ad, &mut aq); } black_box(&ad); });
        t!("sub32_8", { for g in x.chunks(group * c) { sub32::<8>(g, c, &piv32, &mut ad, &mut aq); } black_box(&ad); });
        t!("sum32_8", { for g in x.chunks(group * c) { sum32::<8>(g, c, &piv32, &mut ad, &mut aq); } black_box(&ad); });
        t!("allf32_8", { for g in x.chunks(group * c) { allf32::<8>(g, c, &piv32, &mut bd, &mut bq); } black_box(&bd); });
        t!("allf32_4", { for g in x.chunks(group * c) { allf32::<4>(g, c, &piv32, &mut bd, &mut bq); } black_box(&bd); });
    }
    }
    for (name, mut v) in res { v.sort_by(|a, b| a.partial_cmp(b).unwrap()); println!("{name:>14} median {:.3} min {:.3} ns/el", v[v.len() / 2], v[0]); }
}
