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

use crate::qmc::huge_pages;
use crate::qmc::rng::{Stream, Xoshiro4, derive, mix64, permutation, xoshiro};
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
        let group = GROUP.min(d);
        // Zeroed lazily by the allocator (fresh pages), so the advice applies before the
        // first touch, which is each permutation's own thread writing it.
        let mut perms = vec![0u32; group * n];
        huge_pages::advise(&mut perms);
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
            let columns = Columns {
                perms,
                n,
                d,
                j0,
                scramble: self.scramble,
                key: derive(self.seed, Stream::LhsJitter, start, j0 as u64),
            };
            // Fixed chunks of rows (whatever the thread count), each with its own jitter stream.
            let rows_per_chunk = (ROWS_PER_TASK / d).max(1);
            if parallel {
                threads::install(|| {
                    out.par_chunks_mut(rows_per_chunk * d)
                        .enumerate()
                        .for_each(|(c, rows)| columns.write(c, c * rows_per_chunk, rows));
                })?;
            } else {
                for (c, rows) in out.chunks_mut(rows_per_chunk * d).enumerate() {
                    columns.write(c, c * rows_per_chunk, rows);
                }
            }
        }
        Ok(())
    }
}

/// Rows per tile: a tile's column of values is computed in one vectorised pass, then stored.
const TILE: usize = 128;

/// Coordinates `j0 .. j0 + perms.len() / n` of a design, from their permutations.
struct Columns<'a> {
    perms: &'a [u32],
    n: usize,
    d: usize,
    j0: usize,
    scramble: bool,
    key: u64,
}

impl Columns<'_> {
    /// Writes these coordinates of `rows` (whole rows from row `first` on), chunk `c`: tile by
    /// tile, column by column, the jitter drawn in that order from the chunk's own
    /// [`Xoshiro4`] stream.
    fn write<T: UnitFloat>(&self, c: usize, first: usize, rows: &mut [T]) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::backend() == crate::simd::Backend::Avx2Fma {
            // SAFETY: the backend is only Avx2Fma on CPUs that support AVX2.
            unsafe { self.write_avx2(c, first, rows) };
            return;
        }
        self.write_tiles::<T, false>(c, first, rows);
    }

    /// [`Columns::write_tiles`] compiled with 256-bit vectors: the same operations, so the
    /// same values, four lanes at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn write_avx2<T: UnitFloat>(&self, c: usize, first: usize, rows: &mut [T]) {
        self.write_tiles::<T, true>(c, first, rows);
    }

    /// The tiles of [`Columns::write`]; `AVX2` (only passed on CPUs with AVX2) draws the jitter
    /// with [`Xoshiro4::fill_units_avx2`].
    #[inline(always)]
    fn write_tiles<T: UnitFloat, const AVX2: bool>(&self, c: usize, first: usize, rows: &mut [T]) {
        let (n, d) = (self.n, self.d);
        let count = rows.len() / d;
        let mut rng = Xoshiro4::new(self.key ^ mix64(c as u64 + 1));
        let nf = n as f64;
        let inv_n = 1.0 / nf;
        let mut jitter = [0.0f64; TILE];
        let mut columns = [[0.0f64; TILE]; GROUP];
        for t0 in (0..count).step_by(TILE) {
            let len = TILE.min(count - t0);
            for (perm, column) in self.perms.chunks_exact(n).zip(columns.iter_mut()) {
                let strata = &perm[first + t0..first + t0 + len];
                let (u, x) = (&mut jitter[..len], &mut column[..len]);
                let mut outside = false;
                if self.scramble {
                    #[cfg(target_arch = "x86_64")]
                    if AVX2 {
                        // SAFETY: AVX2 is only passed on CPUs that support AVX2.
                        unsafe { rng.fill_units_avx2(u) };
                    } else {
                        rng.fill_units(u);
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    rng.fill_units(u);
                    for ((x, &k), &u) in x.iter_mut().zip(strata).zip(u.iter()) {
                        let kf = f64::from(k);
                        *x = (kf + u) * inv_n;
                        // Rounding can carry (k + u) / n across a stratum edge: fixed below.
                        let y = *x * nf;
                        outside |= (y >= kf + 1.0) | (y < kf);
                    }
                } else {
                    for (x, &k) in x.iter_mut().zip(strata) {
                        *x = (f64::from(k) + 0.5) / nf;
                    }
                }
                if outside {
                    for ((x, &k), &u) in x.iter_mut().zip(strata).zip(u.iter()) {
                        *x = in_stratum(k, Some(u), n, inv_n);
                    }
                }
            }
            // Row by row, so each output line is written whole by consecutive stores (column by
            // column, every store would be to a different line).
            let width = self.perms.len() / n;
            let tile = &mut rows[t0 * d..(t0 + len) * d];
            for (r, row) in tile.chunks_exact_mut(d).enumerate() {
                for (x, column) in row[self.j0..self.j0 + width].iter_mut().zip(&columns) {
                    *x = T::from_unit_f64(column[r]);
                }
            }
        }
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
