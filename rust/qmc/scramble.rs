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

/// Linear matrix scrambles and digital shifts of `d` coordinates, drawn from `seed`.
#[derive(Clone, Debug)]
pub struct LinearScramble {
    bits: usize,
    /// Coordinate-major: `columns[j * bits + b]` is column b of coordinate j's matrix, i.e.
    /// where an input digit of weight 2**b goes. The unit diagonal keeps bit b; the random
    /// part only reaches less significant bits.
    columns: Vec<u64>,
    /// The digital shift of each coordinate.
    pub shift: Vec<u64>,
}

impl LinearScramble {
    pub fn new(d: usize, bits: u32, seed: u64) -> LinearScramble {
        let nbits = bits as usize;
        let mut columns = Vec::with_capacity(d * nbits);
        let mut shift = Vec::with_capacity(d);
        for j in 0..d {
            let mut rng = xoshiro(derive(seed, Stream::SobolLms, j as u64, 0));
            shift.push(rng.next_u64() & low_mask(bits));
            for b in 0..bits {
                columns.push((1u64 << b) | (rng.next_u64() & low_mask(b)));
            }
        }
        LinearScramble {
            bits: nbits,
            columns,
            shift,
        }
    }

    /// The matrix of coordinate `j` times `x` (over GF(2)), without the shift.
    #[inline]
    pub fn apply(&self, j: usize, mut x: u64) -> u64 {
        let columns = &self.columns[j * self.bits..(j + 1) * self.bits];
        let mut y = 0u64;
        while x != 0 {
            y ^= columns[x.trailing_zeros() as usize];
            x &= x - 1;
        }
        y
    }

    /// Scrambles bit-major direction numbers (`v[k * d + j]`, `d = shift.len()`) in place.
    pub fn apply_to_directions(&self, v: &mut [u64]) {
        let d = self.shift.len();
        for (i, vk) in v.iter_mut().enumerate() {
            *vk = self.apply(i % d, *vk);
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
        // Applied to single bits, the scrambled columns must form a unit lower-triangular map.
        let bits = 16u32;
        let lms = LinearScramble::new(1, bits, 11);
        for k in 0..bits {
            let top = bits - 1 - k;
            assert_eq!(
                lms.apply(0, 1 << top) >> top,
                1,
                "digit {k} keeps its bit, nothing above"
            );
        }
        assert!(lms.shift[0] < 1 << bits);
        // Linear: the image of a sum is the sum of the images.
        assert_eq!(
            lms.apply(0, 0b1010 ^ 0b0110),
            lms.apply(0, 0b1010) ^ lms.apply(0, 0b0110)
        );
    }
}
