//! "random-cd": lowering a design's centred discrepancy by swapping values within a column.
//!
//! Each step picks a column c and two rows r, s at random and swaps x[r, c] and x[s, c], keeping
//! the swap when the centred discrepancy (CD, [`crate::qmc::discrepancy`]) goes down. A swap
//! keeps every column's values, so a Latin hypercube stays one. The search stops after
//! `n_iters` steps or `n_nochange` steps in a row without improvement (scipy's defaults are
//! 10 000 and 100).
//!
//! The change of CD for a swap is found in O(n d) without the n x n pair matrix (Jin, Chen &
//! Sudjianto 2005 give an equivalent update). With z = x - 1/2, write
//! f(u, v) = 1 + |u - 1/2|/2 + |v - 1/2|/2 - |u - v|/2 (the pair factor),
//! q(u) = 1 + |u - 1/2|/2 - (u - 1/2)²/2 (the single-point factor), a = x[r, c], b = x[s, c],
//! and for rows r and s the products over the other columns k != c:
//! A_j = Π f(x_rk, x_jk), B_j = Π f(x_sk, x_jk), G_r = Π q(x_rk), D_r = Π (1 + |z_rk|).
//! Only terms holding row r or s change (the r-s pair term is symmetric in a and b), so
//!
//! ΔCD = -2/n (G_r - G_s)(q(b) - q(a)) + 1/n² [ (D_r - D_s)(|b - 1/2| - |a - 1/2|)
//!       + 2 Σ_{j != r, s} (A_j - B_j)(f(b, x_jc) - f(a, x_jc)) ].

use crate::error::{Error, Result};
use crate::qmc::discrepancy::{Method, discrepancy};
use crate::qmc::rng::{Stream, below, derive, xoshiro};

#[inline]
fn pair(u: f64, v: f64) -> f64 {
    1.0 + 0.5 * (u - 0.5).abs() + 0.5 * (v - 0.5).abs() - 0.5 * (u - v).abs()
}

#[inline]
fn single(u: f64) -> f64 {
    let z = (u - 0.5).abs();
    1.0 + 0.5 * z - 0.5 * z * z
}

/// The design column by column (`cols[k * n + j]` is x_jk, `dist` holds |x - 1/2|), so that
/// the products over rows j run along contiguous memory and vectorise; kept in step with the
/// row-major sample on every swap.
struct Work {
    n: usize,
    d: usize,
    cols: Vec<f64>,
    dist: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
}

impl Work {
    fn new(sample: &[f64], n: usize, d: usize) -> Work {
        let mut cols = vec![0.0; n * d];
        for (j, row) in sample.chunks_exact(d).enumerate() {
            for (k, &x) in row.iter().enumerate() {
                cols[k * n + j] = x;
            }
        }
        let dist = cols.iter().map(|x| (x - 0.5).abs()).collect();
        Work {
            n,
            d,
            cols,
            dist,
            a: vec![0.0; n],
            b: vec![0.0; n],
        }
    }

    fn swap(&mut self, r: usize, s: usize, c: usize) {
        self.cols.swap(c * self.n + r, c * self.n + s);
        self.dist.swap(c * self.n + r, c * self.n + s);
    }

    /// The change of CD if `x[r, c]` and `x[s, c]` were swapped (rows `r != s`).
    fn swap_delta(&mut self, r: usize, s: usize, c: usize) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::backend() == crate::simd::Backend::Avx2Fma {
            // SAFETY: the backend is only Avx2Fma on CPUs that support AVX2.
            return unsafe { self.swap_delta_avx2(r, s, c) };
        }
        self.swap_delta_any(r, s, c)
    }

    /// [`Work::swap_delta_any`] compiled with 256-bit vectors: the same operations in the
    /// same order (no fused multiply-adds), so the same value.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn swap_delta_avx2(&mut self, r: usize, s: usize, c: usize) -> f64 {
        self.swap_delta_any(r, s, c)
    }

    #[inline(always)]
    fn swap_delta_any(&mut self, r: usize, s: usize, c: usize) -> f64 {
        let (n, d) = (self.n, self.d);
        let (a, b) = (self.cols[c * n + r], self.cols[c * n + s]);
        self.a.fill(1.0);
        self.b.fill(1.0);
        let (mut g_r, mut g_s, mut d_r, mut d_s) = (1.0, 1.0, 1.0, 1.0);
        for k in (0..d).filter(|&k| k != c) {
            let col = &self.cols[k * n..(k + 1) * n];
            let dist = &self.dist[k * n..(k + 1) * n];
            let (x_r, x_s) = (col[r], col[s]);
            let (z_r, z_s) = (dist[r], dist[s]);
            g_r *= single(x_r);
            g_s *= single(x_s);
            d_r *= 1.0 + z_r;
            d_s *= 1.0 + z_s;
            for (((pa, pb), &x), &z) in self.a.iter_mut().zip(&mut self.b).zip(col).zip(dist) {
                *pa *= 1.0 + 0.5 * (z_r + z - (x_r - x).abs());
                *pb *= 1.0 + 0.5 * (z_s + z - (x_s - x).abs());
            }
        }
        let col_c = &self.cols[c * n..(c + 1) * n];
        let mut pairs = 0.0;
        for (j, ((&pa, &pb), &x)) in self.a.iter().zip(&self.b).zip(col_c).enumerate() {
            if j != r && j != s {
                pairs += (pa - pb) * (pair(b, x) - pair(a, x));
            }
        }
        let nf = n as f64;
        -2.0 / nf * (g_r - g_s) * (single(b) - single(a))
            + ((d_r - d_s) * ((b - 0.5).abs() - (a - 0.5).abs()) + 2.0 * pairs) / (nf * nf)
    }
}

/// Improves the row-major (n, d) `sample` in place; returns its final CD. The random choices
/// come from a stream keyed by `seed`, so the result is reproducible (and the same on every
/// CPU: the vector path computes the scalar path's values).
pub fn random_cd(
    sample: &mut [f64],
    d: usize,
    seed: u64,
    n_iters: u64,
    n_nochange: u64,
) -> Result<f64> {
    if d == 0 || sample.len() % d != 0 {
        return Err(Error::Shape(format!(
            "sample must have at least one column and whole rows, got {} values for d={d}",
            sample.len()
        )));
    }
    let n = sample.len() / d;
    if n > u32::MAX as usize {
        return Err(Error::Value(format!(
            "random-cd handles at most {} points, got {n}",
            u32::MAX
        )));
    }
    let mut best = discrepancy(sample, d, Method::Centered)?;
    // A swap cannot change the CD of one point, nor of one column (it only reorders rows).
    if n <= 1 || d == 1 {
        return Ok(best);
    }
    let mut work = Work::new(sample, n, d);
    let mut rng = xoshiro(derive(seed, Stream::RandomCd, 0, 0));
    let (mut iters, mut unchanged) = (0u64, 0u64);
    while unchanged < n_nochange && iters < n_iters {
        iters += 1;
        let c = below(&mut rng, d as u32) as usize;
        let r = below(&mut rng, n as u32) as usize;
        let s = below(&mut rng, n as u32) as usize;
        let delta = if r == s {
            0.0
        } else {
            work.swap_delta(r, s, c)
        };
        if best + delta < best {
            sample.swap(r * d + c, s * d + c);
            work.swap(r, s, c);
            best += delta;
            unchanged = 0;
        } else {
            unchanged += 1;
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg_sample(n: usize, d: usize) -> Vec<f64> {
        let mut state = 12345u64;
        (0..n * d)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn swap_delta_matches_recomputing_the_discrepancy() {
        let (n, d) = (9, 4);
        let mut sample = lcg_sample(n, d);
        for (r, s, c) in [(0, 1, 0), (2, 7, 3), (8, 3, 1)] {
            let before = discrepancy(&sample, d, Method::Centered).unwrap();
            let delta = Work::new(&sample, n, d).swap_delta(r, s, c);
            sample.swap(r * d + c, s * d + c);
            let after = discrepancy(&sample, d, Method::Centered).unwrap();
            assert!(
                (after - before - delta).abs() < 1e-13,
                "{after} {before} {delta}"
            );
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_vector_path_computes_the_scalar_values() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let (n, d) = (37, 5);
        let mut work = Work::new(&lcg_sample(n, d), n, d);
        for (r, s, c) in [(0, 36, 0), (5, 9, 4), (20, 3, 2)] {
            let scalar = work.swap_delta_any(r, s, c);
            // SAFETY: AVX2 was detected above.
            let vector = unsafe { work.swap_delta_avx2(r, s, c) };
            assert_eq!(scalar.to_bits(), vector.to_bits());
        }
    }

    #[test]
    fn lowers_the_discrepancy_and_keeps_each_column() {
        let (n, d) = (30, 3);
        let original = lcg_sample(n, d);
        let mut sample = original.clone();
        let reported = random_cd(&mut sample, d, 7, 10_000, 100).unwrap();
        let before = discrepancy(&original, d, Method::Centered).unwrap();
        let after = discrepancy(&sample, d, Method::Centered).unwrap();
        assert!(after < before);
        assert!((after - reported).abs() < 1e-12);
        for c in 0..d {
            let mut x: Vec<f64> = original.iter().skip(c).step_by(d).copied().collect();
            let mut y: Vec<f64> = sample.iter().skip(c).step_by(d).copied().collect();
            x.sort_by(f64::total_cmp);
            y.sort_by(f64::total_cmp);
            assert_eq!(x, y);
        }
    }
}
