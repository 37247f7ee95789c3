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
    OaLhs = 7,
    RandomCd = 8,
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

/// Picks [`permutation`] makes ahead of their swaps; even, so the two picks of a random word
/// share a batch.
const PICKS_AHEAD: usize = 32;

/// Asks for the cache line holding `item` (a hint; nothing is read).
#[inline(always)]
fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch never faults and has no effect beyond the cache; SSE is part of
        // every x86-64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
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

/// Up to this many items (16 MiB of `u32`, within a server's L3) [`permutation`] is a direct
/// Fisher-Yates shuffle: with its picks prefetched it beats the bucket passes below.
const DIRECT_SHUFFLE_LIMIT: usize = 1 << 22;

/// Fills `out` with a uniformly random permutation of `0..out.len()` (at most 2**32 items).
///
/// Up to [`DIRECT_SHUFFLE_LIMIT`] items: the inside-out Fisher-Yates shuffle (slot i takes item
/// i, then trades places with a uniform pick of slots 0..=i), which needs no pass to set the
/// slots up; picks come two per 64-bit draw and are made a batch ahead of their swaps, so that
/// their slots are prefetched. Larger permutations use Rao-Sandelius ([`bucket_permutation`]).
pub fn permutation(rng: &mut Xoshiro256PlusPlus, out: &mut [u32]) {
    let n = out.len();
    if n > DIRECT_SHUFFLE_LIMIT {
        bucket_permutation(rng, out);
        return;
    }
    let mut picks = [0usize; PICKS_AHEAD];
    let mut i = 0;
    while i < n {
        let m = PICKS_AHEAD.min(n - i);
        let mut t = 0;
        while t < m {
            let word = rng.next_u64();
            for half in [(word >> 32) as u32, word as u32] {
                if t < m {
                    // Slot i + t trades with a pick of 0..=i + t.
                    picks[t] = below_given(rng, half, (i + t + 1) as u32) as usize;
                    prefetch(&out[picks[t]]);
                    t += 1;
                }
            }
        }
        for (t, &j) in picks[..m].iter().enumerate() {
            out[i + t] = out[j];
            out[j] = (i + t) as u32;
        }
        i += m;
    }
}

/// A uniformly random permutation by Rao-Sandelius: every item goes to one of 2**k buckets
/// chosen uniformly and independently, then each bucket is shuffled (Fisher-Yates) and the
/// buckets are concatenated, which is exactly uniform. Buckets of a few thousand items stay in
/// L1/L2, where a direct shuffle of a permutation larger than the cache would miss it on nearly
/// every swap. The bucket choices are drawn twice from a replay of the stream (count, then
/// scatter) instead of stored.
fn bucket_permutation(rng: &mut Xoshiro256PlusPlus, out: &mut [u32]) {
    let n = out.len();
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

/// Four Xoshiro256++ streams (Blackman & Vigna) advanced in lockstep, so that loops over them
/// vectorise: bulk uniforms (Latin hypercube jitter) at a fraction of one stream's cost per value.
/// Lane `l` is seeded with the SplitMix64 stream at `key` mixed with `l`.
pub struct Xoshiro4 {
    /// `s[w][l]`: state word `w` of lane `l`.
    s: [[u64; 4]; 4],
}

impl Xoshiro4 {
    pub fn new(key: u64) -> Xoshiro4 {
        let mut s = [[0u64; 4]; 4];
        for l in 0..4 {
            let lane_key = mix64(key ^ (l as u64 + 1).wrapping_mul(GOLDEN));
            for (w, word) in s.iter_mut().enumerate() {
                word[l] = uniform_bits_at(lane_key, w as u64);
            }
        }
        Xoshiro4 { s }
    }

    /// The next output of each lane.
    #[inline(always)]
    pub fn next4(&mut self) -> [u64; 4] {
        let [s0, s1, s2, s3] = &mut self.s;
        let mut out = [0u64; 4];
        for l in 0..4 {
            out[l] = s0[l]
                .wrapping_add(s3[l])
                .rotate_left(23)
                .wrapping_add(s0[l]);
            let t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = s3[l].rotate_left(45);
        }
        out
    }

    /// Fills `out` with uniforms in [0, 1) on the 2**-52 grid, lanes interleaved: the top 52
    /// bits become the mantissa of a double in [1, 2), minus 1 (exact, and no 64-bit integer
    /// conversion, which 256-bit vectors lack).
    #[inline(always)]
    pub fn fill_units(&mut self, out: &mut [f64]) {
        #[inline(always)]
        fn unit52(bits: u64) -> f64 {
            f64::from_bits((bits >> 12) | 1.0f64.to_bits()) - 1.0
        }
        let mut quads = out.chunks_exact_mut(4);
        for quad in &mut quads {
            let bits = self.next4();
            for (u, b) in quad.iter_mut().zip(bits) {
                *u = unit52(b);
            }
        }
        let rest = quads.into_remainder();
        if !rest.is_empty() {
            let bits = self.next4();
            for (u, b) in rest.iter_mut().zip(bits) {
                *u = unit52(b);
            }
        }
    }

    /// [`Xoshiro4::fill_units`] with the four lanes in one 256-bit vector (the same values:
    /// the same integer steps and the same exact conversion). Compilers leave the portable
    /// version's 64-bit rotations, which AVX2 lacks, to scalar code.
    ///
    /// # Safety
    /// The CPU supports AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    pub unsafe fn fill_units_avx2(&mut self, out: &mut [f64]) {
        use std::arch::x86_64::{
            __m256i, _mm256_add_epi64, _mm256_castsi256_pd, _mm256_loadu_si256, _mm256_or_si256,
            _mm256_set1_epi64x, _mm256_set1_pd, _mm256_slli_epi64, _mm256_srli_epi64,
            _mm256_storeu_pd, _mm256_storeu_si256, _mm256_sub_pd, _mm256_xor_si256,
        };
        #[inline]
        #[target_feature(enable = "avx2")]
        fn rotl<const L: i32, const R: i32>(x: __m256i) -> __m256i {
            _mm256_or_si256(_mm256_slli_epi64::<L>(x), _mm256_srli_epi64::<R>(x))
        }
        let one_bits = _mm256_set1_epi64x(1.0f64.to_bits() as i64);
        let one = _mm256_set1_pd(1.0);
        // SAFETY: `self.s[w]` are four u64 (32 bytes) each; unaligned loads and stores.
        let [mut s0, mut s1, mut s2, mut s3] = self
            .s
            .map(|w| unsafe { _mm256_loadu_si256(w.as_ptr().cast()) });
        let mut step = || {
            let result = _mm256_add_epi64(rotl::<23, 41>(_mm256_add_epi64(s0, s3)), s0);
            let t = _mm256_slli_epi64::<17>(s1);
            s2 = _mm256_xor_si256(s2, s0);
            s3 = _mm256_xor_si256(s3, s1);
            s1 = _mm256_xor_si256(s1, s2);
            s0 = _mm256_xor_si256(s0, s3);
            s2 = _mm256_xor_si256(s2, t);
            s3 = rotl::<45, 19>(s3);
            let mantissa = _mm256_or_si256(_mm256_srli_epi64::<12>(result), one_bits);
            _mm256_sub_pd(_mm256_castsi256_pd(mantissa), one)
        };
        let mut quads = out.chunks_exact_mut(4);
        for quad in &mut quads {
            // SAFETY: `quad` holds four f64.
            unsafe { _mm256_storeu_pd(quad.as_mut_ptr(), step()) };
        }
        let rest = quads.into_remainder();
        if !rest.is_empty() {
            let mut quad = [0.0f64; 4];
            // SAFETY: `quad` holds four f64.
            unsafe { _mm256_storeu_pd(quad.as_mut_ptr(), step()) };
            rest.copy_from_slice(&quad[..rest.len()]);
        }
        for (w, v) in self.s.iter_mut().zip([s0, s1, s2, s3]) {
            // SAFETY: `w` is four u64 (32 bytes).
            unsafe { _mm256_storeu_si256(w.as_mut_ptr().cast(), v) };
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

    /// `make` gives permutations, and where item 0 lands over many of them is uniform over
    /// coarse bins; none is close to the identity.
    fn permutations_look_uniform(make: fn(&mut Xoshiro256PlusPlus, &mut [u32])) {
        let n = 40_003;
        let mut p = vec![0u32; n];
        make(&mut xoshiro(5), &mut p);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().enumerate().all(|(i, &v)| v as usize == i));
        let mut bins = [0u32; 4];
        for seed in 0..200 {
            make(&mut xoshiro(seed), &mut p);
            let pos = p.iter().position(|&v| v == 0).unwrap();
            bins[pos * 4 / n] += 1;
            let fixed = p
                .iter()
                .enumerate()
                .filter(|&(i, &v)| v as usize == i)
                .count();
            assert!(fixed < 10, "{fixed} fixed points");
        }
        assert!(bins.iter().all(|&c| (25..75).contains(&c)), "{bins:?}");
    }

    #[test]
    fn large_permutations_are_permutations_and_look_uniform() {
        // 40_003 items: the prefetched direct shuffle, and the bucket passes.
        permutations_look_uniform(permutation);
        permutations_look_uniform(bucket_permutation);
    }

    #[test]
    fn xoshiro4_lanes_are_xoshiro256plusplus() {
        // Each lane must be the published generator: rand_xoshiro's, started from its state.
        let mut four = Xoshiro4::new(11);
        let mut reference: Vec<Xoshiro256PlusPlus> = (0..4)
            .map(|l| {
                let mut seed = [0u8; 32];
                for w in 0..4 {
                    seed[w * 8..w * 8 + 8].copy_from_slice(&four.s[w][l].to_le_bytes());
                }
                Xoshiro256PlusPlus::from_seed(seed)
            })
            .collect();
        for _ in 0..100 {
            let got = four.next4();
            for (l, r) in reference.iter_mut().enumerate() {
                assert_eq!(got[l], r.next_u64());
            }
        }
        // Uniforms: the top 52 bits of each lane's next outputs over 2**52, lanes interleaved,
        // from the portable and (where the CPU has it) the AVX2 version alike.
        let check = |u: &[f64], reference: &mut Vec<Xoshiro256PlusPlus>| {
            for quad in u.chunks(4) {
                let next: Vec<u64> = reference.iter_mut().map(|r| r.next_u64()).collect();
                for (x, b) in quad.iter().zip(next) {
                    assert_eq!(*x, (b >> 12) as f64 / (1u64 << 52) as f64);
                }
            }
        };
        let mut u = [0.0f64; 7];
        four.fill_units(&mut u);
        check(&u, &mut reference);
        #[cfg(target_arch = "x86_64")]
        if crate::simd::Backend::Avx2Fma.is_supported() {
            for len in [8, 5] {
                let mut u = vec![0.0f64; len];
                // SAFETY: AVX2 was just detected.
                unsafe { four.fill_units_avx2(&mut u) };
                check(&u, &mut reference);
            }
        }
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
