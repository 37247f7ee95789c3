//! Seeds and pseudo-random streams shared by every engine.
//!
//! An integer seed is expanded with SplitMix64 (Steele, Lea & Flood 2014), so the same seed gives
//! the same points on every machine and for any thread count. Each use of randomness (Sobol'
//! scrambling, Halton permutations, a Latin hypercube column, a block of the Random engine) gets
//! its own sub-seed from [`derive`], and then either its own Xoshiro256++ stream (Blackman &
//! Vigna, from the maintained `rand_xoshiro` crate) or, where points must be computable by index,
//! the counter-based [`uniform_at`].

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

use crate::error::{Error, Result};

/// The Weyl increment of SplitMix64 (2**64 / golden ratio, odd).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective 64-bit mixer.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Purposes of randomness, so that sub-seeds for different uses never coincide.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Stream {
    SobolLms = 1,
    SobolOwen = 2,
    HaltonPermutations = 3,
    LhsPermutation = 4,
    LhsJitter = 5,
    RandomBlock = 6,
}

/// A sub-seed for `stream`, keyed by up to two integers (an index and a dimension, say).
pub fn derive(seed: u64, stream: Stream, a: u64, b: u64) -> u64 {
    let mut h = mix64(seed ^ mix64(stream as u64));
    h = mix64(h ^ a.wrapping_mul(GOLDEN));
    mix64(h ^ b.wrapping_add(GOLDEN).wrapping_mul(0xD1B5_4A32_D192_ED03))
}

/// A Xoshiro256++ generator seeded (through SplitMix64, as `rand_xoshiro` does) with `key`.
pub fn xoshiro(key: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(key)
}

/// The `counter`-th output of the SplitMix64 stream started at `key`: random access, no state.
#[inline]
pub fn uniform_bits_at(key: u64, counter: u64) -> u64 {
    mix64(key.wrapping_add(counter.wrapping_add(1).wrapping_mul(GOLDEN)))
}

/// A uniform double in [0, 1) on the 2**-53 grid from 64 random bits.
#[inline]
pub fn unit_f64(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// [`unit_f64`] of [`uniform_bits_at`].
#[inline]
pub fn uniform_at(key: u64, counter: u64) -> f64 {
    unit_f64(uniform_bits_at(key, counter))
}

/// An unbiased integer in `0..bound` (`bound >= 1`): Lemire's multiply-shift with rejection,
/// written out here so the stream never changes with a dependency's version.
#[inline]
pub fn below(rng: &mut impl RngCore, bound: u32) -> u32 {
    let first = rng.next_u32();
    below_given(rng, first, bound)
}

/// Shuffles `items` in place (Fisher-Yates, from the end).
pub fn shuffle<T>(rng: &mut impl RngCore, items: &mut [T]) {
    // Position i - 1 takes a uniform pick of 0..i; two picks per 64-bit draw (both halves of
    // Xoshiro256++ are full quality). len <= 2**32 is guaranteed by the callers' size checks.
    let mut i = items.len();
    while i > 1 {
        let word = rng.next_u64();
        let j = below_given(rng, (word >> 32) as u32, i as u32) as usize;
        items.swap(i - 1, j);
        i -= 1;
        if i > 1 {
            let j = below_given(rng, word as u32, i as u32) as usize;
            items.swap(i - 1, j);
            i -= 1;
        }
    }
}

/// [`below`] starting from the random word `first` (more are drawn only on rejection).
#[inline]
fn below_given(rng: &mut impl RngCore, first: u32, bound: u32) -> u32 {
    let bound64 = u64::from(bound);
    let mut m = u64::from(first) * bound64;
    if (m as u32) < bound {
        let threshold = bound.wrapping_neg() % bound;
        while (m as u32) < threshold {
            m = u64::from(rng.next_u32()) * bound64;
        }
    }
    (m >> 32) as u32
}

/// Below this many items [`permutation`] is a plain Fisher-Yates shuffle (it fits in cache).
const DIRECT_SHUFFLE_LIMIT: usize = 1 << 15;

/// Fills `out` with a uniformly random permutation of `0..out.len()` (at most 2**32 items).
///
/// Large permutations use Rao-Sandelius: every item goes to one of 2**k buckets chosen
/// uniformly and independently, then each bucket is shuffled (Fisher-Yates) and the buckets are
/// concatenated, which is exactly uniform. Buckets of a few thousand items stay in L1/L2, where a
/// direct shuffle of millions of items would miss the cache on nearly every swap. The bucket
/// choices are drawn twice from a replay of the stream (count, then scatter) instead of stored.
pub fn permutation(rng: &mut Xoshiro256PlusPlus, out: &mut [u32]) {
    let n = out.len();
    if n <= DIRECT_SHUFFLE_LIMIT {
        for (i, p) in out.iter_mut().enumerate() {
            *p = i as u32;
        }
        shuffle(rng, out);
        return;
    }
    // About 4096 items per bucket, at most 4096 buckets.
    let k = (n >> 12).next_power_of_two().trailing_zeros().clamp(1, 12);
    let buckets = 1usize << k;
    let replay = rng.clone();
    let mut next = vec![0usize; buckets + 1];
    bucket_draws(rng, n, k, |_, b| next[b + 1] += 1);
    for b in 0..buckets {
        next[b + 1] += next[b];
    }
    let starts = next.clone();
    let mut replay = replay;
    bucket_draws(&mut replay, n, k, |i, b| {
        out[next[b]] = i as u32;
        next[b] += 1;
    });
    for b in 0..buckets {
        shuffle(rng, &mut out[starts[b]..starts[b + 1]]);
    }
}

/// Calls `visit(item, bucket)` for items `0..n`, buckets of `k` bits taken from each random word.
#[inline]
fn bucket_draws(
    rng: &mut Xoshiro256PlusPlus,
    n: usize,
    k: u32,
    mut visit: impl FnMut(usize, usize),
) {
    let per_word = (64 / k) as usize;
    let mask = (1u64 << k) - 1;
    let mut i = 0usize;
    while i < n {
        let mut word = rng.next_u64();
        for _ in 0..per_word.min(n - i) {
            visit(i, (word & mask) as usize);
            word >>= k;
            i += 1;
        }
    }
}

/// A fresh seed from the operating system's entropy source, for `seed=None`.
pub fn entropy_seed() -> Result<u64> {
    let mut buf = [0u8; 8];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::Value(format!("could not read OS entropy for seed=None: {e}")))?;
    Ok(u64::from_le_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_stream() {
        // SplitMix64 with state 0: the first outputs of the published generator.
        assert_eq!(uniform_bits_at(0, 0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(uniform_bits_at(0, 1), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut rng = xoshiro(7);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[below(&mut rng, 6) as usize] += 1;
        }
        for c in counts {
            assert!((9_400..10_600).contains(&c), "{counts:?}");
        }
        assert_eq!(below(&mut rng, 1), 0);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = xoshiro(3);
        let mut v: Vec<u32> = (0..1000).collect();
        shuffle(&mut rng, &mut v);
        assert_ne!(v, (0..1000).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn large_permutations_are_permutations_and_look_uniform() {
        let n = 40_003;
        let mut p = vec![0u32; n];
        permutation(&mut xoshiro(5), &mut p);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().enumerate().all(|(i, &v)| v as usize == i));
        // Where item 0 lands, over many permutations, is uniform over coarse bins; and the
        // permutation is not close to the identity.
        let mut bins = [0u32; 4];
        for seed in 0..200 {
            permutation(&mut xoshiro(seed), &mut p);
            let pos = p.iter().position(|&v| v == 0).unwrap();
            bins[pos * 4 / n] += 1;
        }
        assert!(bins.iter().all(|&c| (25..75).contains(&c)), "{bins:?}");
        let fixed = p
            .iter()
            .enumerate()
            .filter(|&(i, &v)| v as usize == i)
            .count();
        assert!(fixed < 10, "{fixed} fixed points");
    }

    #[test]
    fn derive_separates_streams() {
        let a = derive(1, Stream::SobolLms, 0, 0);
        assert_ne!(a, derive(1, Stream::SobolOwen, 0, 0));
        assert_ne!(a, derive(2, Stream::SobolLms, 0, 0));
        assert_ne!(a, derive(1, Stream::SobolLms, 1, 0));
        assert_ne!(a, derive(1, Stream::SobolLms, 0, 1));
    }
}
