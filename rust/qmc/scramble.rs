//! Randomisations of digital nets that keep their stratification.
//!
//! * Linear matrix scramble + digital shift (Matoušek 1998; the family scipy uses): each
//!   coordinate's direction numbers are multiplied by a random lower-triangular binary matrix
//!   with unit diagonal (digit `b` of the output depends on digits `b` and above of the input,
//!   counting from the most significant), and the points are XOR-ed with a random shift.
//! * Nested uniform scrambling (Owen 1995), hash-based: digit `b` of a coordinate is flipped by a
//!   random bit that depends on the seed, the coordinate, the level and all the digits above it,
//!   so every elementary interval is permuted independently.
//!
//! Both map each dyadic interval of width 2**-m onto one of the same width, so a set of 2**m
//! consecutive points from a multiple of 2**m keeps one point in every 1/2**m interval.

use rand_xoshiro::rand_core::RngCore;

use crate::qmc::rng::{Stream, derive, mix64, xoshiro};

fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Scrambles bit-major direction numbers `v` (`v[k * d + j]`, `d = shift.len()`) in place and
/// draws the digital shift, both from `seed`.
pub fn linear_matrix_scramble(v: &mut [u64], shift: &mut [u64], bits: u32, seed: u64) {
    let d = shift.len();
    let mut columns = vec![0u64; bits as usize];
    for (j, s) in shift.iter_mut().enumerate() {
        let mut rng = xoshiro(derive(seed, Stream::SobolLms, j as u64, 0));
        *s = rng.next_u64() & low_mask(bits);
        // Column b of the matrix: where input digit of weight 2**b goes. The unit diagonal keeps
        // bit b; the random part only reaches less significant bits.
        for (b, col) in columns.iter_mut().enumerate() {
            *col = (1u64 << b) | (rng.next_u64() & low_mask(b as u32));
        }
        for k in 0..bits as usize {
            let vk = &mut v[k * d + j];
            let mut x = *vk;
            let mut y = 0u64;
            while x != 0 {
                y ^= columns[x.trailing_zeros() as usize];
                x &= x - 1;
            }
            *vk = y;
        }
    }
}

/// Per-level keys for [`owen`]: `bits` keys for each of `d` coordinates, coordinate-major.
pub fn owen_keys(d: usize, bits: u32, seed: u64) -> Vec<u64> {
    let mut keys = Vec::with_capacity(d * bits as usize);
    for j in 0..d {
        for level in 0..bits {
            keys.push(derive(seed, Stream::SobolOwen, j as u64, u64::from(level)));
        }
    }
    keys
}

/// Owen-scrambles the `bits`-bit integer `q` with one coordinate's level keys.
#[inline]
pub fn owen(q: u64, level_keys: &[u64], bits: u32) -> u64 {
    let mut out = q;
    for (level, &key) in level_keys.iter().enumerate().take(bits as usize) {
        let pos = bits - 1 - level as u32;
        // The digits above this one, i.e. the node of the tree this digit hangs from.
        let above = if level == 0 { 0 } else { q >> (pos + 1) };
        out ^= (mix64(key ^ above) >> 63) << pos;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owen_is_a_bijection_preserving_prefix_classes() {
        let bits = 10;
        let keys = owen_keys(1, bits, 5);
        let mut seen = vec![false; 1 << bits];
        for q in 0..1u64 << bits {
            let y = owen(q, &keys, bits);
            assert!(!seen[y as usize]);
            seen[y as usize] = true;
            // Points sharing their top 4 digits land in one top-4 interval.
            let sibling = q ^ 1;
            assert_eq!(y >> 6, owen(sibling, &keys, bits) >> 6);
        }
    }

    #[test]
    fn lms_keeps_the_top_digits_bijective() {
        // With v = all single bits, the scrambled columns must form a unit lower-triangular map.
        let bits = 16u32;
        let mut v: Vec<u64> = (0..bits).map(|k| 1u64 << (bits - 1 - k)).collect();
        let mut shift = vec![0u64; 1];
        linear_matrix_scramble(&mut v, &mut shift, bits, 11);
        for (k, &vk) in v.iter().enumerate() {
            let top = bits - 1 - k as u32;
            assert_eq!(
                vk >> top,
                1,
                "digit {k} keeps its own bit and nothing above"
            );
        }
        assert!(shift[0] < 1 << bits);
    }
}
