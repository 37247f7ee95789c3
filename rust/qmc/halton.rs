//! Halton sequences: coordinate j is the radical inverse of the point index in the j-th prime.
//!
//! Unscrambled values are computed exactly as scipy's `van_der_corput` sums them (digits from
//! the least significant, weights 1/b, 1/b**2, ... obtained by repeated division), so they are
//! bit-identical to `scipy.stats.qmc.Halton(d, scramble=False)`. Scrambling applies an
//! independent random permutation to each digit position, including the leading zeros, over the
//! same `ceil(54 / log2(b)) - 1` digits scipy uses (Owen 2017, "A randomized Halton algorithm in
//! R"). A table of the sums of the low digits makes both cost about one addition per value.

use crate::error::{Error, Result};
use crate::qmc::parallel::{check_range, for_row_chunks};
use crate::qmc::rng::{Stream, derive, shuffle, xoshiro};
use crate::qmc::unit::UnitFloat;

/// Low-digit tables are kept to at most this many entries per coordinate.
const TABLE_LIMIT: u64 = 1024;

/// The first `d` primes.
pub fn first_primes(d: usize) -> Vec<u32> {
    let mut primes: Vec<u32> = Vec::with_capacity(d);
    let mut candidate = 2u32;
    while primes.len() < d {
        if primes
            .iter()
            .take_while(|&&p| p * p <= candidate)
            .all(|&p| candidate % p != 0)
        {
            primes.push(candidate);
        }
        candidate += 1;
    }
    primes
}

#[derive(Clone, Debug)]
struct Coordinate {
    base: u64,
    /// Number of low digits the table covers, and base**low.
    low: usize,
    block: u64,
    /// Sum over the low digits of each residue mod `block`.
    table: Vec<f64>,
    /// weights[t] = 1/b divided t more times by b, as scipy's loop computes it.
    weights: Vec<f64>,
    /// Scrambled: perms[t * base + digit]; empty when unscrambled.
    perms: Vec<u32>,
}

impl Coordinate {
    fn new(base: u32, perms: Vec<u32>, digits: usize) -> Coordinate {
        let b = u64::from(base);
        let mut low = 0usize;
        let mut block = 1u64;
        while low < digits && block * b <= TABLE_LIMIT {
            block *= b;
            low += 1;
        }
        let mut weights = Vec::with_capacity(digits + 1);
        let mut w = 1.0 / base as f64;
        for _ in 0..=digits.max(64) {
            weights.push(w);
            w /= base as f64;
        }
        let mut c = Coordinate {
            base: b,
            low,
            block,
            table: Vec::new(),
            weights,
            perms,
        };
        c.table = (0..block).map(|r| c.sum_digits(r, 0, low)).collect();
        c
    }

    fn scrambled(&self) -> bool {
        !self.perms.is_empty()
    }

    /// Sum of the digit terms of `q` for digit positions `first..first + count`.
    fn sum_digits(&self, mut q: u64, first: usize, count: usize) -> f64 {
        let mut s = 0.0;
        for t in first..first + count {
            let digit = q % self.base;
            let digit = if self.scrambled() {
                u64::from(self.perms[t * self.base as usize + digit as usize])
            } else {
                digit
            };
            s += digit as f64 * self.weights[t];
            q /= self.base;
        }
        s
    }

    fn digits(&self) -> usize {
        self.perms.len() / self.base as usize
    }

    /// Scrambled values of points `index, index + 1, ...` into `out`: table of the low digits
    /// plus the sum of the high digits, recomputed once per block.
    fn fill_scrambled<'a, T: UnitFloat>(&self, index: u64, out: impl Iterator<Item = &'a mut T>) {
        let high_digits = self.digits() - self.low;
        let mut r = (index % self.block) as usize;
        let mut q = index / self.block;
        let mut high = self.sum_digits(q, self.low, high_digits);
        let block = self.block as usize;
        for x in out {
            *x = T::from_unit_f64(self.table[r] + high);
            r += 1;
            if r == block {
                r = 0;
                q += 1;
                high = self.sum_digits(q, self.low, high_digits);
            }
        }
    }

    /// Unscrambled values, operation for operation as scipy computes them.
    fn fill_exact<'a, T: UnitFloat>(&self, index: u64, out: impl Iterator<Item = &'a mut T>) {
        let mut r = (index % self.block) as usize;
        let mut q = index / self.block;
        let block = self.block as usize;
        for x in out {
            *x = T::from_unit_f64(self.continue_exact(self.table[r], q));
            r += 1;
            if r == block {
                r = 0;
                q += 1;
            }
        }
    }

    /// scipy's unscrambled loop, resumed after the low digits from their partial sum.
    #[inline]
    fn continue_exact(&self, mut s: f64, mut q: u64) -> f64 {
        let mut t = self.low;
        while q > 0 {
            s += (q % self.base) as f64 * self.weights[t];
            q /= self.base;
            t += 1;
        }
        s
    }
}

/// A Halton sequence over the first `d` primes, scrambled or not.
#[derive(Clone, Debug)]
pub struct Halton {
    d: usize,
    coords: Vec<Coordinate>,
}

impl Halton {
    /// The largest `d` supported: scrambling tables grow like d**2 log d.
    pub const MAX_D: usize = 1000;

    pub fn new(d: usize, scramble: bool, seed: u64) -> Result<Halton> {
        if !(1..=Self::MAX_D).contains(&d) {
            return Err(Error::Value(format!(
                "d must be between 1 and {} for Halton, got {d}",
                Self::MAX_D
            )));
        }
        let coords = first_primes(d)
            .into_iter()
            .enumerate()
            .map(|(j, base)| {
                let digits = (54.0 / f64::from(base).log2()).ceil() as usize - 1;
                if scramble {
                    let mut rng = xoshiro(derive(seed, Stream::HaltonPermutations, j as u64, 0));
                    let mut perms = Vec::with_capacity(digits * base as usize);
                    for _ in 0..digits {
                        let start = perms.len();
                        perms.extend(0..base);
                        shuffle(&mut rng, &mut perms[start..]);
                    }
                    Coordinate::new(base, perms, digits)
                } else {
                    // Unscrambled sums run over every digit; the table covers the low ones.
                    Coordinate::new(base, Vec::new(), 64)
                }
            })
            .collect();
        Ok(Halton { d, coords })
    }

    pub fn d(&self) -> usize {
        self.d
    }

    /// Points are indexed by u64 (scipy: a C long).
    pub fn max_points(&self) -> u128 {
        1u128 << 63
    }

    /// Writes points `start, start + 1, ...` (row-major, `d` values each) into `out`.
    pub fn fill<T: UnitFloat>(&self, start: u64, out: &mut [T]) -> Result<()> {
        let n = out.len() / self.d;
        check_range(start, n, self.max_points(), "a Halton sequence")?;
        let d = self.d;
        for_row_chunks(out, d, |first, chunk| {
            let index = start + first as u64;
            // Coordinate by coordinate: the block state then lives in registers, and the chunk
            // (a few hundred KB) stays in cache between coordinates.
            for (j, c) in self.coords.iter().enumerate() {
                let column = chunk.iter_mut().skip(j).step_by(d);
                if c.scrambled() {
                    c.fill_scrambled(index, column);
                } else {
                    c.fill_exact(index, column);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes() {
        assert_eq!(first_primes(8), vec![2, 3, 5, 7, 11, 13, 17, 19]);
        assert_eq!(*first_primes(1000).last().unwrap(), 7919);
    }

    #[test]
    fn unscrambled_radical_inverses() {
        let h = Halton::new(2, false, 0).unwrap();
        let mut out = vec![0.0f64; 6 * 2];
        h.fill(0, &mut out).unwrap();
        let expected = [
            0.0,
            0.0,
            0.5,
            1.0 / 3.0,
            0.25,
            2.0 / 3.0,
            0.75,
            1.0 / 9.0,
            0.125,
            1.0 / 9.0 + 1.0 / 3.0,
            0.625,
            1.0 / 9.0 + 2.0 / 3.0,
        ];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() <= 1e-16, "{a} vs {b}");
        }
    }

    #[test]
    fn scrambled_first_digit_is_stratified_and_draws_agree() {
        let h = Halton::new(3, true, 4).unwrap();
        let mut out = vec![0.0f64; 30 * 3];
        h.fill(0, &mut out).unwrap();
        // 30 = 2*3*5 points: each coordinate has 30/b points in every 1/b interval.
        for (j, b) in [2usize, 3, 5].into_iter().enumerate() {
            let mut counts = vec![0; b];
            for row in out.chunks(3) {
                counts[(row[j] * b as f64) as usize] += 1;
            }
            assert!(counts.iter().all(|&c| c == 30 / b), "{counts:?}");
        }
        let mut tail = vec![0.0f64; 7 * 3];
        h.fill(23, &mut tail).unwrap();
        assert_eq!(&out[23 * 3..], &tail[..]);
        assert!(Halton::new(0, true, 0).is_err());
        assert!(Halton::new(1001, true, 0).is_err());
    }
}
