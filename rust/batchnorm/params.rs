//! The per-channel arguments every kernel shares, and their checks.

use super::layout::{Layout, shape_str};
use crate::error::{Error, Result};

/// The optional per-channel scale (gamma, default 1) and shift (beta, default 0), in f64.
#[derive(Clone, Copy, Debug, Default)]
pub struct Affine<'a> {
    pub gamma: Option<&'a [f64]>,
    pub beta: Option<&'a [f64]>,
}

impl Affine<'_> {
    /// gamma of channel `c` (1 without gamma).
    #[inline]
    pub fn gamma(&self, c: usize) -> f64 {
        self.gamma.map_or(1.0, |g| g[c])
    }

    /// beta of channel `c` (0 without beta).
    #[inline]
    pub fn beta(&self, c: usize) -> f64 {
        self.beta.map_or(0.0, |b| b[c])
    }

    pub fn check(&self, layout: &Layout) -> Result<()> {
        if let Some(g) = self.gamma {
            layout.check_channels("gamma", g.len())?;
        }
        if let Some(b) = self.beta {
            layout.check_channels("beta", b.len())?;
        }
        Ok(())
    }
}

/// The per-channel statistics a forward call normalised with (all of length C, f64).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// The batch mean (training) or the running mean (inference).
    pub mean: Vec<f64>,
    /// The biased batch variance (training) or the running variance (inference).
    pub var: Vec<f64>,
    /// 1/√(var + eps).
    pub invstd: Vec<f64>,
}

impl Stats {
    pub(crate) fn from_triples(triples: Vec<(f64, f64, f64)>) -> Stats {
        let c = triples.len();
        let mut s = Stats {
            mean: Vec::with_capacity(c),
            var: Vec::with_capacity(c),
            invstd: Vec::with_capacity(c),
        };
        for (m, v, i) in triples {
            s.mean.push(m);
            s.var.push(v);
            s.invstd.push(i);
        }
        s
    }
}

/// eps must be a finite number ≥ 0.
pub fn check_eps(eps: f64) -> Result<()> {
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(Error::Value(format!(
            "eps must be a finite number >= 0, got {eps}"
        )));
    }
    Ok(())
}

/// momentum must be finite.
pub fn check_momentum(momentum: f64) -> Result<()> {
    if !momentum.is_finite() {
        return Err(Error::Value(format!(
            "momentum must be a finite number, got {momentum}"
        )));
    }
    Ok(())
}

/// Training needs at least two values per channel (as in torch): the statistics of one value
/// are degenerate. A shape problem of the array `name`.
pub fn check_trainable(name: &str, shape: &[usize], layout: &Layout) -> Result<()> {
    if layout.per_channel() < 2 {
        return Err(Error::Shape(format!(
            "{name}: batch norm in training needs more than one value per channel, got shape {}",
            shape_str(shape)
        )));
    }
    Ok(())
}
