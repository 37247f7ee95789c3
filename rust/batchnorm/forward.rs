//! Forward kernels: training (batch statistics) and inference (running statistics).
//!
//! y = (x − mean)·(gamma·invstd) + beta, with x − mean formed in f64 (float32 AVX2 loops use the
//! equally exact float32 form of [`NormCols`]) and y rounded once, so a float32 channel that is
//! constant 1e7 gives exactly beta and data far from zero loses nothing (unlike folding the
//! mean into one float32 shift, x·(gamma·invstd) + (beta − mean·gamma·invstd)).

use super::blocks::{self, Passes};
use super::kernels::Element;
use super::layout::Layout;
use super::norm::{NormCols, RowNorm};
use super::params::{Affine, Stats, check_eps, check_trainable};
use super::plan::{self, Shared};
use super::stats::{self, ColumnMoments, Moments};
use super::table::Kernels;
use crate::error::Result;
use crate::simd::Backend;

/// Training forward: normalises `x` (shape `shape`) with its batch statistics into `y`.
///
/// Returns the batch mean, biased variance and invstd = 1/√(var + eps) of each channel.
pub fn forward_train<T: Element>(
    backend: Backend,
    x: &[T],
    shape: &[usize],
    affine: Affine<'_>,
    eps: f64,
    y: &mut [T],
) -> Result<Stats> {
    let layout = Layout::new("x", shape)?;
    layout.check_len("x", x.len())?;
    layout.check_len("out", y.len())?;
    affine.check(&layout)?;
    check_eps(eps)?;
    check_trainable("x", shape, &layout)?;
    let k = T::kernels(
        backend,
        plan::streams(size_of_val(y), layout.row_len() * size_of::<T>()),
    );
    if layout.s == 1 {
        train_columns(&k, layout, x, affine, eps, y)
    } else {
        train_rows(&k, layout, x, affine, eps, y).map(Stats::from_triples)
    }
}

/// (N, C, S) with S > 1: a task per block of channels ([`blocks`]), whose rows are read once
/// from memory for the statistics and normalised while still in cache.
fn train_rows<T: Element>(
    k: &Kernels<T>,
    l: Layout,
    x: &[T],
    affine: Affine<'_>,
    eps: f64,
    y: &mut [T],
) -> Result<Vec<(f64, f64, f64)>> {
    let out = Shared::new(y);
    let passes = Passes {
        first: |_ch: usize, start: usize, moments: &mut Moments| {
            moments.add_row(k, &x[start..start + l.s]);
        },
        finish: |ch: usize, moments: Moments| {
            let (mean, var) = (moments.mean(), moments.var());
            let inv = stats::invstd(var, eps);
            let norm = RowNorm::new(mean, affine.gamma(ch) * inv, affine.beta(ch));
            ((mean, var, inv), norm)
        },
        second: |_ch: usize, start: usize, (_, norm): &((f64, f64, f64), RowNorm)| {
            // SAFETY: each (sample, channel) row is written by one second pass only.
            let y_row = unsafe { out.part(start, l.s) };
            (k.affine_row)(&x[start..start + l.s], norm, y_row);
        },
    };
    let done = blocks::two_passes(l, std::mem::size_of::<T>(), 1, passes)?;
    Ok(done.into_iter().map(|(triple, _)| triple).collect())
}

/// (N, C): tasks are groups of whole rows. Each group's moments come from one pass over it, or
/// from pieces small enough to stay in L2 between two passes; groups merge in order, then each
/// group is normalised by the thread that summed it (from its cache when the input fits there),
/// in the same parallel region ([`plan::map_phases`]).
fn train_columns<T: Element>(
    k: &Kernels<T>,
    l: Layout,
    x: &[T],
    affine: Affine<'_>,
    eps: f64,
    y: &mut [T],
) -> Result<Stats> {
    let cut = plan::RowGroups::new(l.n, l.c, std::mem::size_of::<T>(), 1);
    let out = Shared::new(y);
    let (stats, _) = plan::map_phases(
        plan::is_parallel(l.len()),
        cut.count(l.n),
        |g| {
            let rows = cut.rows(g, l.n);
            // Each column in one pass where the shifted form is exact enough, else two passes
            // over pieces small enough to stay in L2 between them.
            ColumnMoments::of_block(k, &x[rows.start * l.c..rows.end * l.c], l.c, cut.piece)
        },
        |groups| normalisation(l.c, groups, affine, eps),
        |g, (_, norm): &(Stats, NormCols)| {
            let rows = cut.rows(g, l.n);
            let at = rows.start * l.c..rows.end * l.c;
            // SAFETY: group g's rows belong to its task alone.
            let y_rows = unsafe { out.part(at.start, at.len()) };
            (k.affine_cols)(&x[at], norm, y_rows);
        },
    )?;
    Ok(stats)
}

/// The statistics of `c` columns from their row groups' moments (merged in group order), and
/// how they normalise.
fn normalisation(
    c: usize,
    groups: Vec<ColumnMoments>,
    affine: Affine<'_>,
    eps: f64,
) -> (Stats, NormCols) {
    let mut groups = groups.into_iter();
    let mut total = groups.next().unwrap_or_else(|| ColumnMoments::new(c));
    for g in groups {
        total.merge(&g);
    }
    // Loops over the C columns that the compiler vectorises (see `NormCols::new`). Divisions,
    // not products with 1/count: a constant column's mean stays its value exactly.
    let count = total.count;
    let mean: Vec<f64> = total.sum.iter().map(|s| s / count).collect();
    let var: Vec<f64> = total.m2.iter().map(|q| q / count).collect();
    let invstd: Vec<f64> = var.iter().map(|&v| stats::invstd(v, eps)).collect();
    let norm = NormCols::new(mean.clone(), scales(affine, &invstd), shifts(affine, c));
    (Stats { mean, var, invstd }, norm)
}

/// gamma·invstd of each channel (invstd without gamma), in a loop the compiler vectorises.
fn scales(affine: Affine<'_>, invstd: &[f64]) -> Vec<f64> {
    match affine.gamma {
        Some(gamma) => gamma.iter().zip(invstd).map(|(g, i)| g * i).collect(),
        None => invstd.to_vec(),
    }
}

/// beta of each of `c` channels (zero without beta).
fn shifts(affine: Affine<'_>, c: usize) -> Vec<f64> {
    affine.beta.map_or_else(|| vec![0.0; c], <[f64]>::to_vec)
}

/// Inference forward: normalises `x` into `y` with the running statistics (f64, length C).
///
/// Returns the running mean and variance as given and invstd = 1/√(running_var + eps).
#[allow(clippy::too_many_arguments)] // the torch signature, minus what the binding resolves
pub fn forward_infer<T: Element>(
    backend: Backend,
    x: &[T],
    shape: &[usize],
    affine: Affine<'_>,
    running_mean: &[f64],
    running_var: &[f64],
    eps: f64,
    y: &mut [T],
) -> Result<Stats> {
    let l = Layout::new("x", shape)?;
    l.check_len("x", x.len())?;
    l.check_len("out", y.len())?;
    affine.check(&l)?;
    l.check_channels("running_mean", running_mean.len())?;
    l.check_channels("running_var", running_var.len())?;
    check_eps(eps)?;
    let k = T::kernels(
        backend,
        plan::streams(size_of_val(y), l.row_len() * size_of::<T>()),
    );
    let invstd: Vec<f64> = running_var.iter().map(|&v| stats::invstd(v, eps)).collect();
    let scale = scales(affine, &invstd);
    let shift = shifts(affine, l.c);
    let out = Shared::new(y);
    let parallel = plan::is_parallel(l.len());
    // One pass with nothing to reduce: cut the rows (of C values for (N, C), else of S values)
    // into equal tasks. Each layout builds only its own form of the parameters: a Vec of
    // RowNorm is 40 bytes a channel, which at C = 4096 crossed glibc's mmap threshold, so
    // every (2, 4096) call mapped and faulted in fresh pages (366 us a call, 2026-12-07).
    if l.s == 1 {
        let norm = NormCols::new(running_mean.to_vec(), scale, shift);
        let per_task = (plan::SEQUENTIAL_BELOW / l.c).max(1);
        plan::map_tasks(parallel, l.n.div_ceil(per_task), |t| {
            let at = t * per_task * l.c..((t + 1) * per_task).min(l.n) * l.c;
            // SAFETY: task t alone owns rows t·per_task.. (t + 1)·per_task.
            let y_rows = unsafe { out.part(at.start, at.len()) };
            (k.affine_cols)(&x[at], &norm, y_rows);
        })?;
    } else {
        let rows = l.n * l.c;
        let per_task = (plan::SEQUENTIAL_BELOW / l.s).max(1);
        let norms: Vec<RowNorm> = (0..l.c)
            .map(|c| RowNorm::new(running_mean[c], scale[c], shift[c]))
            .collect();
        plan::map_tasks(parallel, rows.div_ceil(per_task), |t| {
            for r in t * per_task..((t + 1) * per_task).min(rows) {
                let start = r * l.s;
                // SAFETY: task t alone owns rows t·per_task.. (t + 1)·per_task.
                let y_row = unsafe { out.part(start, l.s) };
                (k.affine_row)(&x[start..start + l.s], &norms[r % l.c], y_row);
            }
        })?;
    }
    Ok(Stats {
        mean: running_mean.to_vec(),
        var: running_var.to_vec(),
        invstd,
    })
}
