//! Latin hypercube designs: n points with exactly one in each 1/n stratum of every coordinate.
//!
//! Coordinate j of a design is `(perm_j[i] + u_ij) / n`, with `perm_j` a uniformly random
//! permutation of 0..n ([`crate::qmc::rng::permutation`] on a Xoshiro256++ stream) and `u_ij`
//! uniform in [0, 1) (scrambled, "jittered") or 0.5 (centred). Each draw is a new design whose
//! randomness is keyed by (seed, index of its first point), so an engine rebuilt at an index
//! continues identically. Temporary memory: the permutations of up to 16 coordinates at a time,
//! at most half the size of the float64 output.

use rayon::prelude::*;

use crate::error::{Error, Result};
use rand_xoshiro::rand_core::RngCore;

use crate::qmc::rng::{Stream, derive, mix64, permutation, unit_f64, xoshiro};
use crate::qmc::unit::UnitFloat;
use crate::threads;

/// Permutations for this many coordinates are held at once (n u32 each): at most half the
/// size of the float64 output, and each group is one pass over the output.
const GROUP: usize = 16;
const SERIAL_LIMIT: usize = 1 << 15;
/// Values written per parallel task.
const ROWS_PER_TASK: usize = 1 << 16;

/// A Latin hypercube sampler.
#[derive(Clone, Debug)]
pub struct LatinHypercube {
    d: usize,
    seed: u64,
    scramble: bool,
}

/// A point of stratum `k` of `n`: `(k + u) / n` jittered (as `(k + u) * (1/n)`, a multiply),
/// `(k + 1/2) / n` exactly when centred, nudged by ulps so that `floor(x * n) == k` holds in
/// floating point too.
#[inline]
fn in_stratum(k: u32, jitter: Option<f64>, n: usize, inv_n: f64) -> f64 {
    let nf = n as f64;
    let kf = f64::from(k);
    let mut x = match jitter {
        Some(u) => ((kf + u) * inv_n).min(1.0),
        None => (kf + 0.5) / nf,
    };
    // floor(x * n) > k  <=>  x * n >= k + 1 (k + 1 is exact): float compares, no libm floor.
    while x * nf >= kf + 1.0 {
        x = f64::from_bits(x.to_bits() - 1);
    }
    while x * nf < kf {
        x = f64::from_bits(x.to_bits() + 1);
    }
    x
}

impl LatinHypercube {
    pub const MAX_D: usize = 1 << 20;

    pub fn new(d: usize, scramble: bool, seed: u64) -> Result<LatinHypercube> {
        if !(1..=Self::MAX_D).contains(&d) {
            return Err(Error::Value(format!(
                "d must be between 1 and {} for LatinHypercube, got {d}",
                Self::MAX_D
            )));
        }
        Ok(LatinHypercube { d, seed, scramble })
    }

    pub fn d(&self) -> usize {
        self.d
    }

    pub fn max_points(&self) -> u128 {
        1u128 << 64
    }

    /// Writes a new design of `out.len() / d` points, keyed by `start`, into `out`.
    pub fn fill<T: UnitFloat>(&self, start: u64, out: &mut [T]) -> Result<()> {
        let d = self.d;
        if out.len() % d != 0 {
            return Err(Error::Shape(format!(
                "out must hold whole points of d={d} values, got {} values",
                out.len()
            )));
        }
        let n = out.len() / d;
        crate::qmc::parallel::check_range(start, n, self.max_points(), "a Latin hypercube")?;
        if n > u32::MAX as usize {
            return Err(Error::Value(format!(
                "n must be at most {} for LatinHypercube, got {n}",
                u32::MAX
            )));
        }
        if n == 0 {
            return Ok(());
        }
        let parallel = out.len() > SERIAL_LIMIT;
        let inv_n = 1.0 / n as f64;
        let group = GROUP.min(d);
        let mut perms = vec![0u32; group * n];
        for j0 in (0..d).step_by(group) {
            let width = group.min(d - j0);
            let perms = &mut perms[..width * n];
            let make = |(g, perm): (usize, &mut [u32])| {
                let key = derive(self.seed, Stream::LhsPermutation, start, (j0 + g) as u64);
                permutation(&mut xoshiro(key), perm);
            };
            if parallel {
                threads::install(|| perms.par_chunks_mut(n).enumerate().for_each(make))?;
            } else {
                perms.chunks_mut(n).enumerate().for_each(make);
            }
            let perms = &*perms;
            let keys: Vec<u64> = (j0..j0 + width)
                .map(|j| derive(self.seed, Stream::LhsJitter, start, j as u64))
                .collect();
            let scramble = self.scramble;
            // Fixed chunks of rows (whatever the thread count), each coordinate's jitter from its
            // own Xoshiro256++ stream keyed by (seed, first index, coordinate, chunk); within a
            // chunk (which stays in cache) coordinate by coordinate, in tight loops.
            let rows_per_chunk = (ROWS_PER_TASK / d).max(1);
            let write = |c: usize, rows: &mut [T]| {
                let first = c * rows_per_chunk;
                let count = rows.len() / d;
                for (g, &key) in keys.iter().enumerate() {
                    let perm = &perms[g * n + first..g * n + first + count];
                    let column = rows.iter_mut().skip(j0 + g).step_by(d);
                    let mut rng = xoshiro(key ^ mix64(c as u64 + 1));
                    for (x, &k) in column.zip(perm) {
                        let u = scramble.then(|| unit_f64(rng.next_u64()));
                        *x = T::from_unit_f64(in_stratum(k, u, n, inv_n));
                    }
                }
            };
            if parallel {
                threads::install(|| {
                    out.par_chunks_mut(rows_per_chunk * d)
                        .enumerate()
                        .for_each(|(c, rows)| write(c, rows));
                })?;
            } else {
                for (c, rows) in out.chunks_mut(rows_per_chunk * d).enumerate() {
                    write(c, rows);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_per_stratum_in_every_coordinate() {
        for scramble in [true, false] {
            for n in [1usize, 7, 100, 5000] {
                let lhs = LatinHypercube::new(11, scramble, 3).unwrap();
                let mut out = vec![0.0f64; n * 11];
                lhs.fill(0, &mut out).unwrap();
                for j in 0..11 {
                    let mut seen = vec![false; n];
                    for row in out.chunks(11) {
                        let k = (row[j] * n as f64).floor() as usize;
                        assert!(!seen[k]);
                        seen[k] = true;
                        if !scramble {
                            assert_eq!(row[j], (k as f64 + 0.5) / n as f64);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stratum_edges_hold_in_floating_point() {
        for n in [3usize, 10, 49, 1000] {
            for k in [0u32, 1, (n / 2) as u32, n as u32 - 1] {
                for u in [None, Some(0.0), Some(0.5), Some(1.0 - f64::EPSILON / 2.0)] {
                    let x = in_stratum(k, u, n, 1.0 / n as f64);
                    assert_eq!((x * n as f64).floor(), f64::from(k));
                    assert!(x < 1.0);
                }
            }
        }
    }
}
