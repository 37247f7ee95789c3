//! Quasi-random samplers of the unit cube and their discrepancies, on plain slices.
//!
//! * [`sobol`]: Sobol' sequences with Joe & Kuo's `new-joe-kuo-6.21201` direction numbers
//!   (shipped in `data/`, see [`direction_numbers`] for where they come from), bit-identical to
//!   scipy when unscrambled; LMS + shift or Owen scrambling ([`scramble`]).
//! * [`halton`]: Halton sequences over the first d primes, optionally digit-permuted.
//! * [`lhs`]: Latin hypercube designs, jittered or centred; [`oa_lhs`]: orthogonal-array
//!   Latin hypercubes of strength 2.
//! * [`random`]: Xoshiro256++ points.
//! * [`discrepancy`]: CD, WD, MD and L2-star discrepancies as scipy defines them;
//!   [`random_cd`] lowers a design's CD by swaps within columns (scipy's "random-cd").
//!
//! Every engine computes a point from its index (Latin hypercubes: a design from the index of its
//! first point), so an engine is fully described by (kind, d, seed, scramble, bits, index), large
//! draws split over the thread pool by index range, and results never depend on the thread count.
//! Seeds are expanded by [`rng`]; float conversions live in [`unit`].

pub mod direction_numbers;
pub mod discrepancy;
pub mod engine;
pub mod halton;
mod huge_pages;
pub mod lhs;
pub mod oa_lhs;
mod parallel;
pub mod random;
pub mod random_cd;
pub mod rng;
pub mod scramble;
pub mod sobol;
#[cfg(target_arch = "x86_64")]
mod sobol_avx2;
pub mod unit;

pub use engine::{Engine, Scramble};
