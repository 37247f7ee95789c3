//! Pseudo-random points from Xoshiro256++ (Blackman & Vigna; the `rand_xoshiro` crate).
//!
//! Points are grouped in blocks of `B = max(1, BLOCK_VALUES / d)` points: block `b` is the
//! Xoshiro256++ stream seeded (via SplitMix64) with a sub-seed of (seed, b), and point `i` takes
//! the `d` outputs starting at `(i mod B) * d` of its block. A value is `(x >> 11) * 2**-53`.
//! The stream is therefore the same on every platform and for every thread count, and any index
//! is reached after at most `BLOCK_VALUES` generator steps.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::RngCore;

use crate::error::{Error, Result};
use crate::qmc::parallel::{check_range, for_row_chunks};
use crate::qmc::rng::{Stream, derive, unit_f64, xoshiro};
use crate::qmc::unit::UnitFloat;

/// Values per independently seeded block (rounded down to whole points, at least one point).
pub const BLOCK_VALUES: u64 = 1 << 14;

/// Uniform pseudo-random points in [0, 1)^d.
#[derive(Clone, Debug)]
pub struct RandomEngine {
    d: usize,
    seed: u64,
}

impl RandomEngine {
    pub const MAX_D: usize = 1 << 20;

    pub fn new(d: usize, seed: u64) -> Result<RandomEngine> {
        if !(1..=Self::MAX_D).contains(&d) {
            return Err(Error::Value(format!(
                "d must be between 1 and {} for Random, got {d}",
                Self::MAX_D
            )));
        }
        Ok(RandomEngine { d, seed })
    }

    pub fn d(&self) -> usize {
        self.d
    }

    pub fn max_points(&self) -> u128 {
        1u128 << 64
    }

    /// Points per block.
    fn block(&self) -> u64 {
        (BLOCK_VALUES / self.d as u64).max(1)
    }

    /// The generator positioned at the first value of point `index`.
    fn stream_at(&self, index: u64) -> Xoshiro256PlusPlus {
        let block = self.block();
        let mut rng = xoshiro(derive(self.seed, Stream::RandomBlock, index / block, 0));
        for _ in 0..(index % block) * self.d as u64 {
            rng.next_u64();
        }
        rng
    }

    /// Writes points `start, start + 1, ...` (row-major, `d` values each) into `out`.
    pub fn fill<T: UnitFloat>(&self, start: u64, out: &mut [T]) -> Result<()> {
        let n = out.len() / self.d;
        check_range(start, n, self.max_points(), "a Random engine")?;
        for_row_chunks(out, self.d, |first, chunk| {
            let mut index = start + first as u64;
            let mut rng = self.stream_at(index);
            let rows = chunk.len() / self.d;
            for (r, row) in chunk.chunks_exact_mut(self.d).enumerate() {
                for x in row.iter_mut() {
                    *x = T::from_unit_f64(unit_f64(rng.next_u64()));
                }
                if r + 1 < rows {
                    index += 1;
                    if index % self.block() == 0 {
                        rng = self.stream_at(index);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_from_any_index_agree_and_look_uniform() {
        // d = 40: blocks of 409 points, so these draws cross several block boundaries.
        let e = RandomEngine::new(40, 17).unwrap();
        let mut all = vec![0.0f64; 3000 * 40];
        e.fill(0, &mut all).unwrap();
        for start in [1500usize, 409, 817, 818] {
            let mut tail = vec![0.0f64; (3000 - start) * 40];
            e.fill(start as u64, &mut tail).unwrap();
            assert_eq!(&all[start * 40..], &tail[..]);
        }
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!(all.iter().all(|&x| (0.0..1.0).contains(&x)));
        let other = RandomEngine::new(40, 18).unwrap();
        let mut b = vec![0.0f64; 40];
        other.fill(0, &mut b).unwrap();
        assert_ne!(&all[..40], &b[..]);
    }
}
