//! One type over the four samplers, for callers (the bindings, the tuner) that hold any of them.

use crate::error::{Error, Result};
use crate::qmc::halton::Halton;
use crate::qmc::lhs::LatinHypercube;
use crate::qmc::oa_lhs::OaLatinHypercube;
use crate::qmc::random::RandomEngine;
use crate::qmc::sobol::{Sobol, SobolScramble};
use crate::qmc::unit::UnitFloat;

/// A sampler of points in [0, 1)^d, addressed by point index.
#[derive(Clone, Debug)]
pub enum Engine {
    Sobol(Sobol),
    Halton(Halton),
    LatinHypercube(LatinHypercube),
    OaLatinHypercube(OaLatinHypercube),
    Random(RandomEngine),
}

/// Scrambling options as the Python API spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scramble {
    None,
    /// The engine's default randomisation (LMS + shift for Sobol', digit permutations for
    /// Halton, jitter for Latin hypercubes).
    Default,
    /// Nested uniform scrambling (Sobol' only).
    Owen,
}

impl Engine {
    /// Builds the engine called `kind` ("sobol", "halton", "lhs", "oa-lhs", "random").
    pub fn new(kind: &str, d: usize, scramble: Scramble, bits: u32, seed: u64) -> Result<Engine> {
        if scramble == Scramble::Owen && kind != "sobol" {
            return Err(Error::Value(format!(
                "scramble='owen' is only available for Sobol', not {kind}"
            )));
        }
        let on = scramble != Scramble::None;
        Ok(match kind {
            "sobol" => {
                let mode = match scramble {
                    Scramble::None => SobolScramble::None,
                    Scramble::Default => SobolScramble::Lms,
                    Scramble::Owen => SobolScramble::Owen,
                };
                Engine::Sobol(Sobol::new(d, bits, mode, seed)?)
            }
            "halton" => Engine::Halton(Halton::new(d, on, seed)?),
            "lhs" => Engine::LatinHypercube(LatinHypercube::new(d, on, seed)?),
            "oa-lhs" => Engine::OaLatinHypercube(OaLatinHypercube::new(d, on, seed)?),
            "random" => Engine::Random(RandomEngine::new(d, seed)?),
            other => {
                return Err(Error::Value(format!(
                    "kind must be 'sobol', 'halton', 'lhs', 'oa-lhs' or 'random', got {other:?}"
                )));
            }
        })
    }

    pub fn d(&self) -> usize {
        match self {
            Engine::Sobol(e) => e.d(),
            Engine::Halton(e) => e.d(),
            Engine::LatinHypercube(e) => e.d(),
            Engine::OaLatinHypercube(e) => e.d(),
            Engine::Random(e) => e.d(),
        }
    }

    /// The number of points the engine can index (2**bits for Sobol').
    pub fn max_points(&self) -> u128 {
        match self {
            Engine::Sobol(e) => e.max_points(),
            Engine::Halton(e) => e.max_points(),
            Engine::LatinHypercube(e) => e.max_points(),
            Engine::OaLatinHypercube(e) => e.max_points(),
            Engine::Random(e) => e.max_points(),
        }
    }

    /// Refuses a draw of `n` points the engine cannot make whatever the memory (strength-2
    /// Latin hypercubes need n = p² for a prime p >= d - 1), so callers can ask before
    /// allocating the output.
    pub fn check_count(&self, n: usize) -> Result<()> {
        match self {
            Engine::OaLatinHypercube(e) if n > 0 => e.side(n).map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Writes the points from index `start` on (a new design keyed by `start`, for Latin
    /// hypercubes) into the row-major `out`.
    pub fn fill<T: UnitFloat>(&self, start: u64, out: &mut [T]) -> Result<()> {
        match self {
            Engine::Sobol(e) => e.fill(start, out),
            Engine::Halton(e) => e.fill(start, out),
            Engine::LatinHypercube(e) => e.fill(start, out),
            Engine::OaLatinHypercube(e) => e.fill(start, out),
            Engine::Random(e) => e.fill(start, out),
        }
    }
}
