//! Orthogonal-array Latin hypercubes of strength 2 (Owen 1992; Tang 1993).
//!
//! For a prime p, the rows (a, b) of Z_p x Z_p and the p + 1 columns a, b, a + b, a + 2b, ...,
//! a + (p - 1)b (mod p) form an orthogonal array OA(p², p + 1, p, 2): in any two columns every
//! pair of symbols occurs exactly once. Each column's symbols are relabelled at random, and the
//! p rows holding symbol s get the p sub-strata of [s/p, (s + 1)/p) in random order, so every
//! column is also a Latin hypercube of n = p² points, and every 2-D projection has one point in
//! each cell of the p x p grid. The first d columns (d <= p + 1) are returned.
//!
//! A design is keyed by (seed, index of its first point), like [`crate::qmc::lhs`].

use crate::error::{Error, Result};
use crate::qmc::lhs::in_stratum;
use crate::qmc::rng::{Stream, derive, permutation, unit_f64, xoshiro};
use crate::qmc::unit::UnitFloat;
use rand_xoshiro::rand_core::RngCore;

/// A strength-2 orthogonal-array Latin hypercube sampler.
#[derive(Clone, Debug)]
pub struct OaLatinHypercube {
    d: usize,
    seed: u64,
    scramble: bool,
}

fn is_prime(p: usize) -> bool {
    p >= 2 && (2..).take_while(|k| k * k <= p).all(|k| p % k != 0)
}

/// The squares of the primes nearest below and above `sqrt(n)`, for error messages.
fn nearby_prime_squares(n: usize) -> (usize, usize) {
    let root = n.isqrt();
    let below = (2..=root.max(2)).rev().find(|&p| is_prime(p)).unwrap_or(2);
    let above = (root + 1..).find(|&p| is_prime(p)).unwrap_or(2);
    (below * below, above * above)
}

impl OaLatinHypercube {
    pub fn new(d: usize, scramble: bool, seed: u64) -> Result<OaLatinHypercube> {
        if d == 0 {
            return Err(Error::Value(
                "d must be positive for an orthogonal-array Latin hypercube, got 0".into(),
            ));
        }
        Ok(OaLatinHypercube { d, seed, scramble })
    }

    pub fn d(&self) -> usize {
        self.d
    }

    pub fn max_points(&self) -> u128 {
        1u128 << 64
    }

    /// The prime p with n = p², checked against d.
    pub fn side(&self, n: usize) -> Result<usize> {
        let p = n.isqrt();
        if p * p != n || !is_prime(p) {
            let (low, high) = nearby_prime_squares(n);
            return Err(Error::Value(format!(
                "n is not the square of a prime number: strength=2 needs n = p**2 for a prime \
                 p, got n={n} (close values: {low}, {high})"
            )));
        }
        if self.d > p + 1 {
            return Err(Error::Value(format!(
                "n is too small for d: strength=2 needs n = p**2 with p >= d - 1 = {}, got \
                 n={n} for d={}",
                self.d - 1,
                self.d
            )));
        }
        Ok(p)
    }

    /// Writes a new design of `out.len() / d` points, keyed by `start`, into `out`.
    pub fn fill<T: UnitFloat>(&self, start: u64, out: &mut [T]) -> Result<()> {
        let d = self.d;
        let n = crate::qmc::parallel::whole_points(out.len(), d)?;
        if n == 0 {
            return Ok(());
        }
        let p = self.side(n)?;
        let inv_n = 1.0 / n as f64;
        let mut relabel = vec![0u32; p];
        let mut sub = vec![0u32; n];
        for j in 0..d {
            let mut rng = xoshiro(derive(self.seed, Stream::OaLhs, start, j as u64));
            permutation(&mut rng, &mut relabel);
            // p permutations of 0..p, one per symbol, side by side.
            for block in sub.chunks_exact_mut(p) {
                permutation(&mut rng, block);
            }
            let mut used = vec![0usize; p];
            for (row, point) in out.chunks_exact_mut(d).enumerate() {
                let (a, b) = (row / p, row % p);
                let symbol = match j {
                    0 => a,
                    1 => b,
                    _ => (a + (j - 1) * b) % p,
                };
                let stratum =
                    relabel[symbol] as usize * p + sub[symbol * p + used[symbol]] as usize;
                used[symbol] += 1;
                let jitter = self.scramble.then(|| unit_f64(rng.next_u64()));
                let k = stratum as u32;
                let x = in_stratum(k, jitter, n, inv_n);
                point[j] = T::from_unit_f64(T::keep_in_stratum(x, f64::from(k), n as f64));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_of_columns_is_an_orthogonal_array_and_every_column_latin() {
        for (p, d, scramble) in [(2, 3, true), (5, 6, false), (7, 4, true)] {
            let n = p * p;
            let engine = OaLatinHypercube::new(d, scramble, 11).unwrap();
            let mut out = vec![0.0f64; n * d];
            engine.fill(3, &mut out).unwrap();
            for j in 0..d {
                let mut strata: Vec<usize> = (0..n)
                    .map(|i| (out[i * d + j] * n as f64) as usize)
                    .collect();
                strata.sort_unstable();
                assert_eq!(strata, (0..n).collect::<Vec<_>>());
                for k in j + 1..d {
                    let mut cells: Vec<usize> = (0..n)
                        .map(|i| {
                            let a = (out[i * d + j] * p as f64) as usize;
                            a * p + (out[i * d + k] * p as f64) as usize
                        })
                        .collect();
                    cells.sort_unstable();
                    assert_eq!(cells, (0..n).collect::<Vec<_>>());
                }
            }
        }
    }

    #[test]
    fn bad_sizes_are_refused_with_the_reason() {
        let engine = OaLatinHypercube::new(5, true, 0).unwrap();
        let mut out = vec![0.0f64; 16 * 5];
        let err = engine.fill(0, &mut out).unwrap_err().to_string();
        assert!(err.contains("not the square of a prime"), "{err}");
        let mut out = vec![0.0f64; 9 * 5];
        let err = engine.fill(0, &mut out).unwrap_err().to_string();
        assert!(err.contains("too small for d"), "{err}");
        assert_eq!(nearby_prime_squares(16), (9, 25));
    }
}
