//! Backward kernels.
//!
//! Training: dbeta = Σdy, dgamma = Σdy·x̂ with x̂ = (x − mean)·invstd, and
//! dx = gamma·invstd/M·(M·dy − dbeta − x̂·dgamma), evaluated per element in f64 as
//! dx = dy·k + (x − mean)·p + q with k = gamma·invstd, p = −k·invstd·dgamma/M, q = −k·dbeta/M.
//! Inference (the statistics are constants): the same dgamma and dbeta, dx = dy·gamma·invstd.
//! Float32 (N, C) inputs form dx in float32 lanes, x − mean kept exact as in the forward pass
//! ([`DxCols`]).

use super::blocks::{self, Passes};
use super::kernels::Element;
use super::layout::Layout;
use super::norm::DxCols;
use super::plan::{self, Shared};
use super::table::Kernels;
use crate::error::Result;
use crate::simd::Backend;

/// The parameter gradients of a backward call (f64, length C).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grads {
    pub dgamma: Vec<f64>,
    pub dbeta: Vec<f64>,
}

/// The statistics the forward call normalised with (f64, length C each).
#[derive(Clone, Copy, Debug)]
pub struct Saved<'a> {
    pub mean: &'a [f64],
    pub invstd: &'a [f64],
}

/// Backward: writes dx (the gradient with respect to x) into `dx` and returns dgamma, dbeta.
#[allow(clippy::too_many_arguments)] // the torch signature, minus what the binding resolves
pub fn backward<T: Element>(
    backend: Backend,
    dy: &[T],
    x: &[T],
    shape: &[usize],
    gamma: Option<&[f64]>,
    saved: Saved<'_>,
    training: bool,
    dx: &mut [T],
) -> Result<Grads> {
    let l = Layout::new("x", shape)?;
    l.check_len("x", x.len())?;
    l.check_len("dy", dy.len())?;
    l.check_len("out", dx.len())?;
    if let Some(g) = gamma {
        l.check_channels("gamma", g.len())?;
    }
    l.check_channels("mean", saved.mean.len())?;
    l.check_channels("invstd", saved.invstd.len())?;
    let k = T::kernels(
        backend,
        plan::streams(size_of_val(dx), l.row_len() * size_of::<T>()),
    );
    let job = Job {
        k: &k,
        l,
        dy,
        x,
        gamma,
        saved,
        training,
    };
    if l.s == 1 {
        job.columns(dx)
    } else {
        let (dgamma, dbeta) = job.rows(dx)?.into_iter().unzip();
        Ok(Grads { dgamma, dbeta })
    }
}

struct Job<'a, T> {
    k: &'a Kernels<T>,
    l: Layout,
    dy: &'a [T],
    x: &'a [T],
    gamma: Option<&'a [f64]>,
    saved: Saved<'a>,
    training: bool,
}

/// The per-element coefficients (k, p, q) of dx for one channel, and (dgamma, dbeta).
fn coefficients(
    gamma: f64,
    invstd: f64,
    sum_dy: f64,
    sum_dot: f64,
    m: f64,
    training: bool,
) -> ([f64; 3], (f64, f64)) {
    let dgamma = dgamma_of(sum_dot, invstd);
    let k = k_of(gamma, invstd);
    let (p, q) = if training {
        (p_of(k, invstd, dgamma, m), q_of(k, sum_dy, m))
    } else {
        (0.0, 0.0)
    };
    ([k, p, q], (dgamma, sum_dy))
}

// The formulas of `coefficients`, one each, shared with the column loops of `Job::columns`.

/// dgamma = Σdy·(x − mean)·invstd.
#[inline(always)]
fn dgamma_of(sum_dot: f64, invstd: f64) -> f64 {
    sum_dot * invstd
}

/// k = gamma·invstd.
#[inline(always)]
fn k_of(gamma: f64, invstd: f64) -> f64 {
    gamma * invstd
}

/// p = −k·invstd·dgamma/M.
#[inline(always)]
fn p_of(k: f64, invstd: f64, dgamma: f64, m: f64) -> f64 {
    -k * invstd * dgamma / m
}

/// q = −k·dbeta/M.
#[inline(always)]
fn q_of(k: f64, sum_dy: f64, m: f64) -> f64 {
    -k * sum_dy / m
}

impl<T: Element> Job<'_, T> {
    fn gamma(&self, c: usize) -> f64 {
        self.gamma.map_or(1.0, |g| g[c])
    }

    /// (N, C, S) with S > 1: a task per block of channels ([`blocks`]); its rows of dy and x
    /// are read for the sums and again, from cache, for dx.
    fn rows(&self, dx: &mut [T]) -> Result<Vec<(f64, f64)>> {
        let (l, k) = (self.l, self.k);
        let out = Shared::new(dx);
        let m = l.per_channel() as f64;
        let passes = Passes {
            first: |ch: usize, start: usize, (sum_dy, sum_dot): &mut (f64, f64)| {
                let r = start..start + l.s;
                let mean = self.saved.mean[ch];
                let (a, b) = (k.sum_dy_dot)(&self.dy[r.clone()], &self.x[r], mean);
                *sum_dy += a;
                *sum_dot += b;
            },
            finish: |ch: usize, (sum_dy, sum_dot): (f64, f64)| {
                let invstd = self.saved.invstd[ch];
                coefficients(self.gamma(ch), invstd, sum_dy, sum_dot, m, self.training)
            },
            second: |ch: usize, start: usize, ([kk, p, q], _): &([f64; 3], (f64, f64))| {
                let r = start..start + l.s;
                // SAFETY: each (sample, channel) row is written by one second pass only.
                let dx_row = unsafe { out.part(start, l.s) };
                if self.training {
                    let mean = self.saved.mean[ch];
                    (k.bwd_row)(&self.dy[r.clone()], &self.x[r], mean, *kk, *p, *q, dx_row);
                } else {
                    (k.scale_row)(&self.dy[r], *kk, dx_row);
                }
            },
        };
        let done = blocks::two_passes(l, std::mem::size_of::<T>(), 2, passes)?;
        Ok(done.into_iter().map(|(_, grads)| grads).collect())
    }

    /// (N, C): tasks are groups of whole rows; their per-column sums add up in group order,
    /// then each group's dx is formed by the thread that summed it, in the same parallel region
    /// ([`plan::map_phases`]).
    fn columns(&self, dx: &mut [T]) -> Result<Grads> {
        let (l, k) = (self.l, self.k);
        let cut = plan::RowGroups::new(l.n, l.c, std::mem::size_of::<T>(), 2);
        let out = Shared::new(dx);
        let (grads, _) = plan::map_phases(
            plan::is_parallel(l.len()),
            cut.count(l.n),
            |g| {
                let (mut sum_dy, mut sum_dot) = (vec![0.0; l.c], vec![0.0; l.c]);
                let rows = cut.rows(g, l.n);
                for start in rows.clone().step_by(cut.piece) {
                    let r = start * l.c..(start + cut.piece).min(rows.end) * l.c;
                    let (dy, x) = (&self.dy[r.clone()], &self.x[r]);
                    let mean = self.saved.mean;
                    (k.block_dy_dot_cols)(dy, x, l.c, mean, &mut sum_dy, &mut sum_dot);
                }
                (sum_dy, sum_dot)
            },
            |sums| self.column_form(sums),
            |g, (_, form): &(Grads, DxCols)| {
                let rows = cut.rows(g, l.n);
                let r = rows.start * l.c..rows.end * l.c;
                // SAFETY: group g's rows belong to its task alone.
                let dx_rows = unsafe { out.part(r.start, r.len()) };
                let (dy, x) = (&self.dy[r.clone()], &self.x[r]);
                if self.training {
                    (k.bwd_cols)(dy, x, form, dx_rows);
                } else {
                    (k.scale_cols)(dy, &form.k, dx_rows);
                }
            },
        )?;
        Ok(grads)
    }

    /// The parameter gradients from the row groups' sums (added in group order), and how dx is
    /// formed in each column.
    fn column_form(&self, sums: Vec<(Vec<f64>, Vec<f64>)>) -> (Grads, DxCols) {
        let l = self.l;
        let mut sums = sums.into_iter();
        let (mut sum_dy, mut sum_dot) = sums
            .next()
            .unwrap_or_else(|| (vec![0.0; l.c], vec![0.0; l.c]));
        for (a, b) in sums {
            sum_dy.iter_mut().zip(&a).for_each(|(s, v)| *s += v);
            sum_dot.iter_mut().zip(&b).for_each(|(s, v)| *s += v);
        }
        let m = l.n as f64;
        let (invstd, mean) = (self.saved.invstd, self.saved.mean);
        // The coefficients of `coefficients`, each a loop over the columns that the compiler
        // vectorises (a loop producing every coefficient of a column at once did not).
        let dgamma: Vec<f64> = (sum_dot.iter().zip(invstd))
            .map(|(&s, &i)| dgamma_of(s, i))
            .collect();
        let kk: Vec<f64> = match self.gamma {
            Some(gamma) => gamma
                .iter()
                .zip(invstd)
                .map(|(&g, &i)| k_of(g, i))
                .collect(),
            None => invstd.to_vec(),
        };
        let (p, q) = if self.training {
            let p = (kk.iter().zip(invstd).zip(&dgamma))
                .map(|((&k, &i), &dg)| p_of(k, i, dg, m))
                .collect();
            let q = (kk.iter().zip(&sum_dy))
                .map(|(&k, &s)| q_of(k, s, m))
                .collect();
            (p, q)
        } else {
            (vec![0.0; l.c], vec![0.0; l.c])
        };
        let form = DxCols::new(mean.to_vec(), kk, p, q);
        let grads = Grads {
            dgamma,
            dbeta: sum_dy,
        };
        (grads, form)
    }
}
