//! Latin hypercube designs: n points with exactly one in each 1/n stratum of every coordinate.
//!
//! Coordinate j of a design is `(perm_j[i] + u_ij) / n`, with `perm_j` a uniformly random
//! permutation of 0..n ([`crate::qmc::rng::permutation`] on a Xoshiro256++ stream keyed by the
//! coordinate) and `u_ij` uniform in [0, 1) (scrambled, "jittered") or 0.5 (centred). Each draw
//! is a new design whose randomness is keyed by (seed, index of its first point), so an engine
//! rebuilt at an index continues identically; rows are written in tiles of [`TILE`] rows, each
//! with its own jitter stream, so the thread count never changes a value.
//!
//! Temporary memory: for float64 output with d <= 16, one permutation per thread (the
//! permutations are staged in the second half of the output itself, see
//! [`LatinHypercube::fill_staged`]); otherwise the permutations of up to 16 coordinates at a
//! time, at most as large as the output.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};

use crate::qmc::huge_pages;
use crate::qmc::rng::{Stream, Xoshiro4, derive, mix64, permutation, xoshiro};
use crate::qmc::unit::{Floats, UnitFloat};
use crate::threads;

/// Permutations for this many coordinates are held at once (n u32 each), so each group is one
/// pass over the output.
const GROUP: usize = 16;
const SERIAL_LIMIT: usize = 1 << 15;
/// Rows per tile: a tile's columns are computed in one vectorised pass each, then written row
/// by row; each tile has its own jitter stream.
const TILE: usize = 128;
/// Tiles per parallel task.
const TILES_PER_TASK: usize = 32;

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
pub(crate) fn in_stratum(k: u32, jitter: Option<f64>, n: usize, inv_n: f64) -> f64 {
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
        let n = crate::qmc::parallel::whole_points(out.len(), d)?;
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
        if parallel && d <= GROUP && (n * d) % 2 == 0 {
            if let Floats::F64(out) = T::as_floats(out) {
                return self.fill_staged(start, n, out);
            }
        }
        self.fill_grouped(start, n, parallel, out)
    }

    /// The permutation of coordinate `j`.
    fn permutation(&self, start: u64, j: usize, perm: &mut [u32]) {
        let key = derive(self.seed, Stream::LhsPermutation, start, j as u64);
        permutation(&mut xoshiro(key), perm);
    }

    /// Coordinates `j0 .. j0 + width` of the design.
    fn columns(&self, start: u64, n: usize, j0: usize, width: usize) -> Columns {
        Columns {
            n,
            d: self.d,
            j0,
            width,
            scramble: self.scramble,
            key: derive(self.seed, Stream::LhsJitter, start, j0 as u64),
        }
    }

    /// Any output: the permutations of up to [`GROUP`] coordinates at a time in one buffer,
    /// coordinate-major, then one pass over the output per group.
    fn fill_grouped<T: UnitFloat>(
        &self,
        start: u64,
        n: usize,
        parallel: bool,
        out: &mut [T],
    ) -> Result<()> {
        let d = self.d;
        let group = GROUP.min(d);
        // Zeroed lazily by the allocator (fresh pages), so the advice applies before the
        // first touch, which is each permutation's own thread writing it.
        let mut perms = vec![0u32; group * n];
        huge_pages::advise(&mut perms);
        for j0 in (0..d).step_by(group) {
            let width = group.min(d - j0);
            let perms = &mut perms[..width * n];
            let make = |(g, perm): (usize, &mut [u32])| self.permutation(start, j0 + g, perm);
            if parallel {
                threads::install(|| perms.par_chunks_mut(n).enumerate().for_each(make))?;
            } else {
                perms.chunks_mut(n).enumerate().for_each(make);
            }
            let perms = &*perms;
            let columns = self.columns(start, n, j0, width);
            for_tiles(out, d, 0, parallel, |t0, rows| {
                columns.write(t0, rows, |t, g, len| &perms[g * n + t * TILE..][..len]);
            })?;
        }
        Ok(())
    }

    /// Float64 output with `d <= GROUP` and `n * d` even: the permutations are staged, as
    /// `u32`, in the second half of `out` (bytes `4nd..8nd`), tile-major (tile t's `d`
    /// permutation slices together), so the only other memory is one permutation per thread.
    ///
    /// Writing rows `A..B` overwrites the staged strata of rows `2A - n .. 2B - n`, so rows are
    /// written in phases: `0..n/2` first, then each phase up to halfway to `n` from where the
    /// last one ended (`2B - n <= A`: only strata already used are overwritten, and the rows a
    /// phase writes never overlap the strata it reads). The last rows (under two tiles) are
    /// written from a copy of their strata.
    fn fill_staged(&self, start: u64, n: usize, out: &mut [f64]) -> Result<()> {
        let d = self.d;
        let tiles = n.div_ceil(TILE);
        // One scratch permutation per pool thread, made by its first coordinate; each
        // coordinate's permutation is shuffled there, contiguous (in cache), then copied to its
        // slices of the staging area. Coordinates go to whichever thread is free.
        let workers = threads::num_threads()?;
        let scratch: Vec<Mutex<Vec<u32>>> = (0..workers).map(|_| Mutex::new(Vec::new())).collect();
        {
            let upper = &mut out[n * d / 2..];
            let staging = Staging(upper.as_mut_ptr().cast());
            let staging = &staging;
            threads::install(|| {
                (0..d).into_par_iter().with_max_len(1).for_each(|g| {
                    let me = rayon::current_thread_index().unwrap_or(0) % workers;
                    let mut perm = scratch[me].lock().unwrap_or_else(|e| e.into_inner());
                    if perm.is_empty() {
                        *perm = vec![0u32; n];
                        huge_pages::advise(&mut perm);
                    }
                    self.permutation(start, g, &mut perm);
                    for t in 0..tiles {
                        let len = TILE.min(n - t * TILE);
                        // SAFETY: `upper` is n * d / 2 doubles, exactly n * d u32 of memory,
                        // aligned for both and initialised; tile t's slice of coordinate g,
                        // [t * TILE * d + g * len, + len), is inside it and written by this
                        // thread alone, and nothing reads the staging area until every
                        // coordinate is done. The doubles are all written later.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                perm[t * TILE..].as_ptr(),
                                staging.0.add(t * TILE * d + g * len),
                                len,
                            );
                        }
                    }
                });
            })?;
        }
        drop(scratch);
        let columns = self.columns(start, n, 0, d);
        let mut a = 0;
        loop {
            let b = ((n + a * TILE) / (2 * TILE)).min(tiles);
            if b <= a {
                break;
            }
            let end = (b * TILE).min(n);
            let (head, tail) = out.split_at_mut(end * d);
            // SAFETY: `tail` is doubles, aligned for u32, and any bits are a valid u32.
            let tail: &[u32] =
                unsafe { std::slice::from_raw_parts(tail.as_ptr().cast(), tail.len() * 2) };
            // Tile t's strata start at u32 n * d + t * TILE * d of `out`; `tail` starts at u32
            // 2 * end * d <= n * d + a * TILE * d (the phase condition), and t >= a.
            let strata = |t: usize, g: usize, len: usize| {
                &tail[(n + t * TILE) * d - 2 * end * d + g * len..][..len]
            };
            for_tiles(&mut head[a * TILE * d..], d, a, true, |t0, rows| {
                columns.write(t0, rows, strata);
            })?;
            a = b;
        }
        if a * TILE < n {
            // SAFETY: as above, over the whole of `out`.
            let all: &[u32] =
                unsafe { std::slice::from_raw_parts(out.as_ptr().cast(), out.len() * 2) };
            let rest = all[n * d + a * TILE * d..].to_vec();
            let strata =
                |t: usize, g: usize, len: usize| &rest[(t - a) * TILE * d + g * len..][..len];
            columns.write(a, &mut out[a * TILE * d..], strata);
        }
        Ok(())
    }
}

/// The staging area of [`LatinHypercube::fill_staged`], shared by the threads that fill disjoint
/// slices of it.
struct Staging(*mut u32);

// SAFETY: only used by `fill_staged`, whose threads write disjoint slices.
unsafe impl Sync for Staging {}

/// Calls `write(first_tile, rows)` on chunks of [`TILES_PER_TASK`] tiles of `rows` (whose first
/// tile is `first_tile`), in parallel if asked and there is more than one chunk (a single chunk
/// runs on the calling thread: handing it to the pool only adds two thread switches, which cost
/// milliseconds on a busy machine, and the staged fill's late phases are that small).
fn for_tiles<T: Send>(
    rows: &mut [T],
    d: usize,
    first_tile: usize,
    parallel: bool,
    write: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Result<()> {
    let chunk = TILE * TILES_PER_TASK * d;
    if parallel && rows.len() > chunk {
        threads::install(|| {
            rows.par_chunks_mut(chunk)
                .enumerate()
                .for_each(|(c, rows)| write(first_tile + c * TILES_PER_TASK, rows));
        })
    } else {
        for (c, rows) in rows.chunks_mut(chunk).enumerate() {
            write(first_tile + c * TILES_PER_TASK, rows);
        }
        Ok(())
    }
}

/// Coordinates `j0 .. j0 + width` of a design of `n` points.
struct Columns {
    n: usize,
    d: usize,
    j0: usize,
    width: usize,
    scramble: bool,
    key: u64,
}

impl Columns {
    /// Writes these coordinates of `rows` (whole tiles from tile `t0` on; the last may be
    /// short), `strata(t, g, len)` giving the `len` strata of coordinate `j0 + g` in tile `t`.
    fn write<'s, T: UnitFloat, S: Fn(usize, usize, usize) -> &'s [u32]>(
        &self,
        t0: usize,
        rows: &mut [T],
        strata: S,
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::backend().runs_avx2_fma() {
            // SAFETY: `runs_avx2_fma` checked that this CPU has AVX2.
            unsafe { self.write_avx2(t0, rows, strata) };
            return;
        }
        self.write_tiles::<T, S, false>(t0, rows, strata);
    }

    /// [`Columns::write_tiles`] compiled with 256-bit vectors: the same operations, so the
    /// same values, four lanes at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn write_avx2<'s, T: UnitFloat, S: Fn(usize, usize, usize) -> &'s [u32]>(
        &self,
        t0: usize,
        rows: &mut [T],
        strata: S,
    ) {
        self.write_tiles::<T, S, true>(t0, rows, strata);
    }

    /// The tiles of [`Columns::write`]; `AVX2` (only passed on CPUs with AVX2) draws the jitter
    /// with [`Xoshiro4::fill_units_avx2`].
    #[inline(always)]
    fn write_tiles<'s, T: UnitFloat, S: Fn(usize, usize, usize) -> &'s [u32], const AVX2: bool>(
        &self,
        t0: usize,
        rows: &mut [T],
        strata: S,
    ) {
        let (n, d) = (self.n, self.d);
        let nf = n as f64;
        let inv_n = 1.0 / nf;
        let mut jitter = [0.0f64; TILE];
        let mut columns = [[0.0f64; TILE]; GROUP];
        for (i, tile) in rows.chunks_mut(TILE * d).enumerate() {
            let t = t0 + i;
            let len = tile.len() / d;
            let mut rng = Xoshiro4::new(self.key ^ mix64(t as u64 + 1));
            for (g, column) in columns[..self.width].iter_mut().enumerate() {
                let strata = strata(t, g, len);
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
                // float32 rounds toward zero, which can drop a point below its stratum (a no-op
                // for float64).
                for (x, &k) in x.iter_mut().zip(strata) {
                    *x = T::keep_in_stratum(*x, f64::from(k), nf);
                }
            }
            // Row by row, so each output line is written whole by consecutive stores (column by
            // column, every store would be to a different line).
            for (r, row) in tile.chunks_exact_mut(d).enumerate() {
                let row = &mut row[self.j0..self.j0 + self.width];
                for (x, column) in row.iter_mut().zip(&columns) {
                    *x = T::from_unit_f64(column[r]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every coordinate of `out` (n points of d) has one point per 1/n stratum, at its centre
    /// when not scrambled.
    fn assert_latin(out: &[f64], d: usize, scramble: bool) {
        let n = out.len() / d;
        for j in 0..d {
            let mut seen = vec![false; n];
            for row in out.chunks(d) {
                let x = row[j];
                assert!((0.0..1.0).contains(&x));
                let k = (x * n as f64).floor() as usize;
                assert!(!seen[k], "n={n} d={d} j={j} k={k}");
                seen[k] = true;
                if !scramble {
                    assert_eq!(x, (k as f64 + 0.5) / n as f64);
                }
            }
        }
    }

    #[test]
    fn one_point_per_stratum_in_every_coordinate() {
        // Serial and parallel sizes; the staged path (float64, d <= 16, n * d even) and the
        // grouped one (odd n * d, d > 16); tiles cut short at the end.
        for scramble in [true, false] {
            for (d, n) in [
                (11, 1),
                (11, 7),
                (11, 100),
                (11, 5000),
                (16, 3001),
                (3, 40_001),
            ] {
                let lhs = LatinHypercube::new(d, scramble, 3).unwrap();
                let mut out = vec![0.0f64; n * d];
                lhs.fill(0, &mut out).unwrap();
                assert_latin(&out, d, scramble);
            }
            let lhs = LatinHypercube::new(37, scramble, 5).unwrap();
            let mut out = vec![0.0f64; 1500 * 37];
            lhs.fill(0, &mut out).unwrap();
            assert_latin(&out, 37, scramble);
        }
    }

    #[test]
    fn scalar_and_avx2_tiles_agree() {
        // The portable tile writer against the one compiled for AVX2 (where the CPU has it),
        // on a design whose last tile is short; both against the strata they were given.
        let (n, d) = (1000, 5);
        let perms: Vec<u32> = (0..d as u32)
            .flat_map(|g| (0..n as u32).map(move |i| (i * 7 + g * 13) % n as u32))
            .collect();
        for scramble in [true, false] {
            let lhs = LatinHypercube::new(d, scramble, 2).unwrap();
            let columns = lhs.columns(0, n, 0, d);
            let strata = |t: usize, g: usize, len: usize| &perms[g * n + t * TILE..][..len];
            let mut scalar = vec![0.0f64; n * d];
            columns.write_tiles::<f64, _, false>(0, &mut scalar, strata);
            for (i, row) in scalar.chunks(d).enumerate() {
                for (g, &x) in row.iter().enumerate() {
                    assert_eq!((x * n as f64).floor() as usize, (i * 7 + g * 13) % n);
                }
            }
            #[cfg(target_arch = "x86_64")]
            if crate::simd::Backend::Avx2Fma.is_supported() {
                let mut avx2 = vec![0.0f64; n * d];
                // SAFETY: AVX2 was just detected.
                unsafe { columns.write_avx2(0, &mut avx2, strata) };
                assert_eq!(scalar, avx2);
            }
        }
    }

    #[test]
    fn staged_and_grouped_designs_agree() {
        // The same strata and jitter whichever path writes them: float32 (grouped) is the
        // float64 design (staged) rounded toward zero, or one float32 up where rounding down
        // left the stratum; it stays a Latin hypercube. n = 2**16 + 3 also takes the prefetched
        // shuffle.
        let lhs = LatinHypercube::new(16, true, 8).unwrap();
        let n = (1 << 16) + 3;
        let mut out = vec![0.0f64; n * 16];
        lhs.fill(4, &mut out).unwrap();
        let mut out32 = vec![0.0f32; n * 16];
        lhs.fill(4, &mut out32).unwrap();
        let mut nudged = 0;
        for (&x, &y) in out.iter().zip(&out32) {
            let down = f32::from_unit_f64(x);
            if y != down {
                assert_eq!(y.to_bits(), down.to_bits() + 1);
                nudged += 1;
            }
        }
        assert!(
            nudged > 0,
            "this design has points that rounding toward zero pushes out"
        );
        let widened: Vec<f64> = out32.iter().map(|&y| f64::from(y)).collect();
        assert_latin(&widened, 16, true);
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
