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

/// The change of CD if `x[r, c]` and `x[s, c]` were swapped (rows `r != s`).
fn swap_delta(sample: &[f64], n: usize, d: usize, r: usize, s: usize, c: usize) -> f64 {
    let row_r = &sample[r * d..(r + 1) * d];
    let row_s = &sample[s * d..(s + 1) * d];
    let (a, b) = (row_r[c], row_s[c]);
    let (mut g_r, mut g_s, mut d_r, mut d_s) = (1.0, 1.0, 1.0, 1.0);
    for k in (0..d).filter(|&k| k != c) {
        g_r *= single(row_r[k]);
        g_s *= single(row_s[k]);
        d_r *= 1.0 + (row_r[k] - 0.5).abs();
        d_s *= 1.0 + (row_s[k] - 0.5).abs();
    }
    let mut pairs = 0.0;
    for (j, row_j) in sample.chunks_exact(d).enumerate() {
        if j == r || j == s {
            continue;
        }
        let (mut a_j, mut b_j) = (1.0, 1.0);
        for k in (0..d).filter(|&k| k != c) {
            a_j *= pair(row_r[k], row_j[k]);
            b_j *= pair(row_s[k], row_j[k]);
        }
        pairs += (a_j - b_j) * (pair(b, row_j[c]) - pair(a, row_j[c]));
    }
    let nf = n as f64;
    -2.0 / nf * (g_r - g_s) * (single(b) - single(a))
        + ((d_r - d_s) * ((b - 0.5).abs() - (a - 0.5).abs()) + 2.0 * pairs) / (nf * nf)
}

/// Improves the row-major (n, d) `sample` in place; returns its final CD. The random choices
/// come from a stream keyed by `seed`, so the result is reproducible.
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
            swap_delta(sample, n, d, r, s, c)
        };
        if best + delta < best {
            sample.swap(r * d + c, s * d + c);
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
            let delta = swap_delta(&sample, n, d, r, s, c);
            sample.swap(r * d + c, s * d + c);
            let after = discrepancy(&sample, d, Method::Centered).unwrap();
            assert!(
                (after - before - delta).abs() < 1e-13,
                "{after} {before} {delta}"
            );
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
