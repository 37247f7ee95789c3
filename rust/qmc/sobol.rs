//! Sobol' sequences in Gray-code order (Antonov & Saleev), bit-identical to
//! `scipy.stats.qmc.Sobol(d, scramble=False, bits=bits)` when unscrambled.
//!
//! Point `i` is `shift XOR (XOR of V_k over the set bits k of gray(i) = i ^ (i >> 1))`, where
//! `V_k` are the `bits`-bit direction numbers of each coordinate. Jumping to any index therefore
//! costs O(d * bits), and consecutive points differ by one `V_k` (k = trailing ones of i).

use crate::error::{Error, Result};
use crate::qmc::direction_numbers::{self, MAX_DIM};
use crate::qmc::parallel::{check_range, for_row_chunks};
use std::sync::{Arc, Mutex, OnceLock};

use crate::qmc::scramble::{self, LinearScramble};
#[cfg(target_arch = "x86_64")]
use crate::qmc::sobol_avx2;
#[cfg(target_arch = "x86_64")]
use crate::qmc::unit::Floats;
use crate::qmc::unit::{UnitFloat, scale_f64};

/// Zeros after the narrow direction numbers, for whole-vector reads (see `narrow_directions`).
const PAD: usize = 32;
#[cfg(target_arch = "x86_64")]
const _: () = assert!(PAD >= sobol_avx2::MAX_D);

/// Writes the rows of `chunk` from the integer point `q` at `index` on, XORing in the direction
/// number of the Gray-code step after each row (`v` bit-major, `q.len()` values per bit).
#[inline(always)]
fn narrow_walk<T: UnitFloat>(
    q: &mut [u32],
    mut index: u64,
    chunk: &mut [T],
    v: &[u32],
    scale: f64,
) {
    let d = q.len();
    let rows = chunk.len() / d;
    // Fixed groups of LANES values become whole vectors; a loop over `d` alone would not for
    // small `d` (the vectoriser unrolls past 16 lanes and leaves such rows to a scalar tail).
    const LANES: usize = 8;
    let main = d - d % LANES;
    for (r, row) in chunk.chunks_exact_mut(d).enumerate() {
        for (xs, qs) in row[..main]
            .chunks_exact_mut(LANES)
            .zip(q[..main].chunks_exact(LANES))
        {
            for i in 0..LANES {
                xs[i] = T::from_u30_fixed(qs[i], scale);
            }
        }
        for (x, &qj) in row[main..].iter_mut().zip(&q[main..]) {
            *x = T::from_u30_fixed(qj, scale);
        }
        if r + 1 < rows {
            let k = index.trailing_ones() as usize;
            let vk = &v[k * d..(k + 1) * d];
            for (qs, vs) in q[..main]
                .chunks_exact_mut(LANES)
                .zip(vk[..main].chunks_exact(LANES))
            {
                for i in 0..LANES {
                    qs[i] ^= vs[i];
                }
            }
            for (qj, vj) in q[main..].iter_mut().zip(&vk[main..]) {
                *qj ^= vj;
            }
            index += 1;
        }
    }
}

/// [`narrow_walk`] compiled with 256-bit vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn narrow_walk_avx2<T: UnitFloat>(
    q: &mut [u32],
    index: u64,
    chunk: &mut [T],
    v: &[u32],
    scale: f64,
) {
    narrow_walk(q, index, chunk, v, scale);
}

/// How a Sobol' engine randomises its points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SobolScramble {
    /// The plain sequence (first point 0).
    None,
    /// Left linear matrix scramble and digital shift (LMS + shift), as scipy.
    Lms,
    /// Nested uniform (Owen) scrambling, hash-based.
    Owen,
}

/// A Sobol' sequence of `d` coordinates with `bits`-bit integers (at most 2**bits points).
#[derive(Clone, Debug)]
pub struct Sobol {
    d: usize,
    bits: u32,
    scramble: SobolScramble,
    /// Unscrambled direction numbers, bit-major: `v[k * d + j]` is V_k of coordinate j.
    v: Arc<Vec<u64>>,
    /// LMS + shift, when so scrambled.
    lms: Option<LinearScramble>,
    /// The LMS-scrambled direction numbers, made on the first draw large enough to need them
    /// (a single point is cheaper as L * unscrambled point, which keeps construction cheap).
    scrambled_v: OnceLock<Vec<u64>>,
    /// The walked direction numbers as `u32`, for `bits <= 30` (made on the first large draw):
    /// half the bytes per XOR and a four-lane conversion.
    narrow_v: OnceLock<Vec<u32>>,
    /// Digital shift: point 0 (zero unless LMS-scrambled).
    shift: Vec<u64>,
    /// Owen scrambling: one key per (coordinate, digit level), coordinate-major.
    owen_keys: Vec<u64>,
}

/// The unscrambled direction numbers V_0..V_{bits-1} of coordinate `dim`, as scipy computes
/// them: the recurrence of Bratley & Fox (1988) on Joe & Kuo's initial numbers, then each V_k
/// moved to the top of the `bits`-bit word.
fn direction_numbers(dim: usize, bits: u32, out: &mut [u64]) {
    let bits = bits as usize;
    if dim == 0 {
        for (k, v) in out.iter_mut().enumerate().take(bits) {
            *v = 1u64 << (bits - 1 - k);
        }
        return;
    }
    let entry = &direction_numbers::table()[dim];
    let s = entry.degree as usize;
    for j in 0..bits {
        out[j] = if j < s {
            u64::from(entry.m[j])
        } else {
            let mut v = out[j - s];
            for k in 0..s {
                // Branch-free: polynomial coefficients are random bits, a branch mispredicts.
                let tap = 0u64.wrapping_sub(u64::from((entry.poly >> (s - 1 - k)) & 1));
                v ^= (out[j - k - 1] << (k + 1)) & tap;
            }
            v
        };
    }
    for (j, v) in out.iter_mut().enumerate().take(bits) {
        *v <<= bits - 1 - j;
    }
}

/// The unscrambled direction numbers of `d` coordinates, bit-major.
fn compute_directions(d: usize, bits: u32) -> Vec<u64> {
    let nbits = bits as usize;
    let mut v = vec![0u64; d * nbits];
    let mut column = vec![0u64; nbits];
    for j in 0..d {
        direction_numbers(j, bits, &mut column);
        for (k, &vk) in column.iter().enumerate() {
            v[k * d + j] = vk;
        }
    }
    v
}

/// Tables up to this many numbers are remembered, so that building many engines of one shape
/// (the tuner builds one per trial) does not redo the recurrence each time.
const CACHED_TABLE_LIMIT: usize = 1 << 16;
/// How many (d, bits) shapes are remembered.
const CACHED_SHAPES: usize = 8;

fn cached_directions(d: usize, bits: u32) -> Arc<Vec<u64>> {
    type Cache = Vec<((usize, u32), Arc<Vec<u64>>)>;
    static CACHE: Mutex<Cache> = Mutex::new(Vec::new());
    if d * bits as usize > CACHED_TABLE_LIMIT {
        return Arc::new(compute_directions(d, bits));
    }
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(pos) = cache.iter().position(|(shape, _)| *shape == (d, bits)) {
        let entry = cache.remove(pos);
        let table = Arc::clone(&entry.1);
        cache.push(entry); // most recently used last
        return table;
    }
    let table = Arc::new(compute_directions(d, bits));
    if cache.len() == CACHED_SHAPES {
        cache.remove(0);
    }
    cache.push(((d, bits), Arc::clone(&table)));
    table
}

impl Sobol {
    /// The largest `d` this engine supports (Joe & Kuo's table).
    pub const MAX_D: usize = MAX_DIM;

    /// Builds the engine; `seed` only matters when scrambled.
    pub fn new(d: usize, bits: u32, scramble: SobolScramble, seed: u64) -> Result<Sobol> {
        if !(1..=MAX_DIM).contains(&d) {
            return Err(Error::Value(format!(
                "d must be between 1 and {MAX_DIM} for Sobol', got {d}"
            )));
        }
        if !(1..=64).contains(&bits) {
            return Err(Error::Value(format!(
                "bits must be between 1 and 64, got {bits}"
            )));
        }
        let v = cached_directions(d, bits);
        let mut shift = vec![0u64; d];
        let mut owen_keys = Vec::new();
        let mut lms = None;
        match scramble {
            SobolScramble::None => {}
            SobolScramble::Lms => {
                let l = LinearScramble::new(d, bits, seed);
                shift.copy_from_slice(&l.shift);
                lms = Some(l);
            }
            SobolScramble::Owen => owen_keys = scramble::owen_keys(d, bits, seed),
        }
        Ok(Sobol {
            d,
            bits,
            scramble,
            v,
            lms,
            scrambled_v: OnceLock::new(),
            narrow_v: OnceLock::new(),
            shift,
            owen_keys,
        })
    }

    pub fn d(&self) -> usize {
        self.d
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    pub fn scramble(&self) -> SobolScramble {
        self.scramble
    }

    /// How many distinct points the engine has: 2**bits.
    pub fn max_points(&self) -> u128 {
        1u128 << self.bits
    }

    /// The direction numbers the Gray-code walk XORs in (LMS-scrambled if so scrambled).
    fn directions(&self) -> &[u64] {
        match &self.lms {
            None => &self.v,
            Some(lms) => self.scrambled_v.get_or_init(|| {
                let mut v = self.v.to_vec();
                lms.apply_to_directions(&mut v);
                v
            }),
        }
    }

    /// The integer point at `index` (before Owen scrambling), written to `q`, from the
    /// unscrambled direction numbers: LMS is linear, so it is applied once to the sum.
    fn integer_point(&self, index: u64, q: &mut [u64]) {
        q.fill(0);
        let mut gray = index ^ (index >> 1);
        while gray != 0 {
            let k = gray.trailing_zeros() as usize;
            gray &= gray - 1;
            for (qj, vj) in q.iter_mut().zip(&self.v[k * self.d..(k + 1) * self.d]) {
                *qj ^= vj;
            }
        }
        if let Some(lms) = &self.lms {
            for (j, (qj, sj)) in q.iter_mut().zip(&self.shift).enumerate() {
                *qj = lms.apply(j, *qj) ^ sj;
            }
        }
    }

    /// Writes `chunk` (whole rows) with the points from `index` on, advancing in Gray-code
    /// order. `OWEN` and `SMALL` (bits <= 52) are hoisted out of the loop as constants.
    fn fill_chunk<T: UnitFloat, const OWEN: bool, const SMALL: bool>(
        &self,
        mut index: u64,
        chunk: &mut [T],
    ) {
        let d = self.d;
        let bits = self.bits;
        let scale = scale_f64(bits);
        let levels = self.bits as usize;
        let mut q = vec![0u64; d];
        self.integer_point(index, &mut q);
        let rows = chunk.len() / d;
        // Walking needs every direction number; a single point does not.
        let v = if rows > 1 { self.directions() } else { &self.v };
        for (r, row) in chunk.chunks_exact_mut(d).enumerate() {
            if OWEN {
                for (j, (x, &qj)) in row.iter_mut().zip(&q).enumerate() {
                    let keys = &self.owen_keys[j * levels..(j + 1) * levels];
                    *x = T::from_fixed(scramble::owen(qj, keys, self.bits), bits);
                }
            } else {
                if SMALL {
                    for (x, &qj) in row.iter_mut().zip(&q) {
                        *x = T::from_small_fixed(qj, scale);
                    }
                } else {
                    for (x, &qj) in row.iter_mut().zip(&q) {
                        *x = T::from_fixed(qj, bits);
                    }
                }
            }
            if r + 1 < rows {
                let k = index.trailing_ones() as usize;
                for (qj, vj) in q.iter_mut().zip(&v[k * d..(k + 1) * d]) {
                    *qj ^= vj;
                }
                index += 1;
            }
        }
    }

    /// [`Sobol::fill_chunk`] without Owen scrambling for `bits <= 30`: the walk in `u32` lanes,
    /// converted by [`UnitFloat::from_u30_fixed`] (the same values as the `u64` walk); with
    /// AVX2, in registers ([`sobol_avx2`]) for `d <= 32`, else compiled for AVX2.
    fn fill_chunk_narrow<T: UnitFloat>(&self, index: u64, chunk: &mut [T], v: &[u32]) {
        let mut wide = vec![0u64; self.d];
        self.integer_point(index, &mut wide);
        // Every value is below 2**bits <= 2**30, so the casts keep it whole.
        let mut q: Vec<u32> = wide.iter().map(|&x| x as u32).collect();
        let scale = scale_f64(self.bits);
        #[cfg(target_arch = "x86_64")]
        if crate::simd::backend().runs_avx2_fma() {
            let mut index = index;
            // SAFETY: `runs_avx2_fma` checked that this CPU has AVX2, and `v` is padded
            // (see `narrow_directions`).
            let done = unsafe {
                match T::as_floats(chunk) {
                    Floats::F64(out) => sobol_avx2::walk_rows(&mut q, &mut index, out, v, scale),
                    Floats::F32(out) => sobol_avx2::walk_rows(&mut q, &mut index, out, v, scale),
                }
            };
            let rest = &mut chunk[done * self.d..];
            if !rest.is_empty() {
                // SAFETY: as above.
                unsafe { narrow_walk_avx2(&mut q, index, rest, v, scale) };
            }
            return;
        }
        narrow_walk(&mut q, index, chunk, v, scale);
    }

    /// The walked direction numbers as `u32` (valid only for `bits <= 30`), followed by [`PAD`]
    /// zeros: the register walk reads whole vectors, up to 32 values past the numbers of the
    /// last step it takes (from 2**bits - 1, after the final row).
    fn narrow_directions(&self) -> &[u32] {
        self.narrow_v.get_or_init(|| {
            let v = self.directions();
            let mut narrow = Vec::with_capacity(v.len() + PAD);
            narrow.extend(v.iter().map(|&x| x as u32));
            narrow.resize(v.len() + PAD, 0);
            narrow
        })
    }

    /// Writes points `start, start + 1, ...` (row-major, `d` values each) into `out`.
    pub fn fill<T: UnitFloat>(&self, start: u64, out: &mut [T]) -> Result<()> {
        let n = out.len() / self.d;
        check_range(
            start,
            n,
            self.max_points(),
            "a Sobol' engine with this bits",
        )?;
        let owen = self.scramble == SobolScramble::Owen;
        let small = self.bits <= 52;
        // Large draws only: the narrow table is built once per engine.
        if !owen && self.bits <= 30 && n >= 1024 {
            let v = self.narrow_directions();
            return for_row_chunks(out, self.d, |first, chunk| {
                self.fill_chunk_narrow(start + first as u64, chunk, v)
            });
        }
        for_row_chunks(out, self.d, |first, chunk| {
            let index = start + first as u64;
            match (owen, small) {
                (false, true) => self.fill_chunk::<T, false, true>(index, chunk),
                (false, false) => self.fill_chunk::<T, false, false>(index, chunk),
                (true, true) => self.fill_chunk::<T, true, true>(index, chunk),
                (true, false) => self.fill_chunk::<T, true, false>(index, chunk),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_points_of_the_3d_sequence() {
        let s = Sobol::new(3, 30, SobolScramble::None, 0).unwrap();
        let mut out = vec![0.0f64; 8 * 3];
        s.fill(0, &mut out).unwrap();
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 0.0,
            0.5, 0.5, 0.5,
            0.75, 0.25, 0.25,
            0.25, 0.75, 0.75,
            0.375, 0.375, 0.625,
            0.875, 0.875, 0.125,
            0.625, 0.125, 0.875,
            0.125, 0.625, 0.375,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn a_draw_from_an_index_matches_the_full_draw() {
        for scramble in [SobolScramble::None, SobolScramble::Lms, SobolScramble::Owen] {
            let s = Sobol::new(5, 30, scramble, 42).unwrap();
            let mut all = vec![0.0f64; 100 * 5];
            s.fill(0, &mut all).unwrap();
            let mut tail = vec![0.0f64; 37 * 5];
            s.fill(63, &mut tail).unwrap();
            assert_eq!(&all[63 * 5..], &tail[..]);
        }
    }

    #[test]
    fn large_draws_match_single_points() {
        // Large draws walk in u32 lanes when bits <= 30; single points jump by index in u64.
        for bits in [26, 30, 31] {
            for scramble in [SobolScramble::None, SobolScramble::Lms] {
                let s = Sobol::new(7, bits, scramble, 5).unwrap();
                let n = 3000;
                let mut all = vec![0.0f64; n * 7];
                s.fill(0, &mut all).unwrap();
                let mut all32 = vec![0.0f32; n * 7];
                s.fill(0, &mut all32).unwrap();
                for i in [0, 1, 2, 1023, 1024, 2047, 2999] {
                    let mut one = [0.0f64; 7];
                    s.fill(i as u64, &mut one).unwrap();
                    assert_eq!(&all[i * 7..(i + 1) * 7], &one, "{scramble:?} bits={bits}");
                    let mut one32 = [0.0f32; 7];
                    s.fill(i as u64, &mut one32).unwrap();
                    assert_eq!(
                        &all32[i * 7..(i + 1) * 7],
                        &one32,
                        "{scramble:?} bits={bits}"
                    );
                }
            }
        }
    }

    /// Points `start..start + n` from single-point jumps (the `u64` path), converted one by one.
    fn by_index<T: UnitFloat>(s: &Sobol, start: u64, n: usize) -> Vec<T> {
        let mut q = vec![0u64; s.d];
        let mut out = Vec::with_capacity(n * s.d);
        for i in start..start + n as u64 {
            s.integer_point(i, &mut q);
            out.extend(
                q.iter()
                    .map(|&x| T::from_u30_fixed(x as u32, scale_f64(s.bits))),
            );
        }
        out
    }

    /// The scalar walk and (where the CPU has AVX2) the register walk against single points,
    /// for widths that fill 1..4 vectors exactly or partly, and past the register walk's limit.
    fn walks_match<T: UnitFloat + PartialEq + std::fmt::Debug>() {
        for d in [1, 3, 7, 8, 9, 16, 17, 24, 31, 32, 33] {
            for (bits, start) in [(30, 12_345u64), (12, (1 << 12) - 700)] {
                let s = Sobol::new(d, bits, SobolScramble::Lms, 7).unwrap();
                let n = 700;
                let expected = by_index::<T>(&s, start, n);
                let v = s.narrow_directions();
                let mut q0 = vec![0u64; d];
                s.integer_point(start, &mut q0);
                let q0: Vec<u32> = q0.iter().map(|&x| x as u32).collect();
                let mut scalar = vec![T::from_unit_f64(0.5); n * d];
                narrow_walk(&mut q0.clone(), start, &mut scalar, v, scale_f64(bits));
                assert_eq!(scalar, expected, "scalar d={d} bits={bits}");
                let mut fast = vec![T::from_unit_f64(0.5); n * d];
                s.fill(start, &mut fast).unwrap();
                assert_eq!(fast, expected, "backend d={d} bits={bits}");
                #[cfg(target_arch = "x86_64")]
                if crate::simd::Backend::Avx2Fma.is_supported() {
                    let (mut q, mut index) = (q0.clone(), start);
                    let mut out = vec![T::from_unit_f64(0.5); n * d];
                    // SAFETY: AVX2 was just detected; `v` is padded.
                    let done = unsafe {
                        match T::as_floats(&mut out) {
                            Floats::F64(o) => {
                                sobol_avx2::walk_rows(&mut q, &mut index, o, v, scale_f64(bits))
                            }
                            Floats::F32(o) => {
                                sobol_avx2::walk_rows(&mut q, &mut index, o, v, scale_f64(bits))
                            }
                        }
                    };
                    assert_eq!(done + 8 > n, d <= 32, "d={d}");
                    narrow_walk(&mut q, index, &mut out[done * d..], v, scale_f64(bits));
                    assert_eq!(out, expected, "avx2 d={d} bits={bits}");
                }
            }
        }
    }

    #[test]
    fn register_and_scalar_walks_match_single_points() {
        walks_match::<f64>();
        walks_match::<f32>();
    }

    #[test]
    fn scrambled_sets_are_stratified() {
        for scramble in [SobolScramble::Lms, SobolScramble::Owen] {
            let m = 8;
            let s = Sobol::new(4, 30, scramble, 9).unwrap();
            let mut out = vec![0.0f64; (1 << m) * 4];
            s.fill(0, &mut out).unwrap();
            for j in 0..4 {
                let mut seen = vec![false; 1 << m];
                for row in out.chunks(4) {
                    seen[(row[j] * f64::from(1 << m)) as usize] = true;
                }
                assert!(seen.iter().all(|&b| b), "{scramble:?} coordinate {j}");
            }
        }
    }

    #[test]
    fn bad_arguments_and_the_end_of_the_sequence() {
        assert!(Sobol::new(0, 30, SobolScramble::None, 0).is_err());
        assert!(Sobol::new(MAX_DIM + 1, 30, SobolScramble::None, 0).is_err());
        assert!(Sobol::new(2, 0, SobolScramble::None, 0).is_err());
        assert!(Sobol::new(2, 65, SobolScramble::None, 0).is_err());
        let s = Sobol::new(2, 3, SobolScramble::None, 0).unwrap();
        let mut out = vec![0.0f32; 2 * 2];
        assert!(s.fill(6, &mut out).is_ok());
        assert!(s.fill(7, &mut out).is_err());
        let s = Sobol::new(2, 64, SobolScramble::Lms, 1).unwrap();
        assert!(s.fill(u64::MAX, &mut out[..2]).is_ok());
        assert!(s.fill(u64::MAX, &mut out).is_err());
    }
}
