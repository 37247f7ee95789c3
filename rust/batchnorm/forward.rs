//! Forward kernels: training (batch statistics) and inference (running statistics).
//!
//! y = (x − mean)·(gamma·invstd) + beta, with x − mean formed in f64 and y rounded once, so a
//! float32 channel that is constant 1e7 gives exactly beta and data far from zero loses nothing.

use super::kernels::{Element, Kernels};
use super::layout::Layout;
use super::params::{Affine, Stats, check_eps, check_trainable};
use super::plan::{self, Shared};
use super::stats::{self, Piece};
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
    check_trainable(shape, &layout)?;
    let k = T::kernels(backend);
    let triples = if layout.s == 1 {
        train_columns(&k, layout, x, affine, eps, y)?
    } else {
        train_rows(&k, layout, x, affine, eps, y)?
    };
    Ok(Stats::from_triples(triples))
}

/// (N, C, S) with S > 1: one task per channel, whose N rows are read once from memory for the
/// statistics and normalised while still in cache.
fn train_rows<T: Element>(
    k: &Kernels<T>,
    l: Layout,
    x: &[T],
    affine: Affine<'_>,
    eps: f64,
    y: &mut [T],
) -> Result<Vec<(f64, f64, f64)>> {
    let out = Shared::new(y);
    let m = l.per_channel();
    plan::map_tasks(plan::is_parallel(l.len()), l.c, |ch| {
        let row_start = |i: usize| (i * l.c + ch) * l.s;
        let mut pieces = Vec::with_capacity(l.n * l.s.div_ceil(plan::PIECE_LEN));
        for i in 0..l.n {
            let start = row_start(i);
            stats::push_row_pieces(k, &x[start..start + l.s], &mut pieces);
        }
        let (mean, var) = stats::combine(&pieces, m);
        let inv = stats::invstd(var, eps);
        let (scale, shift) = (affine.gamma(ch) * inv, affine.beta(ch));
        for i in 0..l.n {
            let start = row_start(i);
            // SAFETY: row (i, ch) belongs to this channel's task alone.
            let y_row = unsafe { out.part(start, l.s) };
            (k.affine_row)(&x[start..start + l.s], mean, scale, shift, y_row);
        }
        (mean, var, inv)
    })
}

/// (N, C): one task per block of columns (a few cache lines wide), cut into pieces of rows.
fn train_columns<T: Element>(
    k: &Kernels<T>,
    l: Layout,
    x: &[T],
    affine: Affine<'_>,
    eps: f64,
    y: &mut [T],
) -> Result<Vec<(f64, f64, f64)>> {
    let size = std::mem::size_of::<T>();
    let width = plan::column_block(l.n, l.c, size, 1);
    let rows = plan::rows_per_piece(width, size);
    let out = Shared::new(y);
    let blocks = plan::map_tasks(plan::is_parallel(l.len()), l.c.div_ceil(width), |b| {
        let c0 = b * width;
        let w = width.min(l.c - c0);
        let row = |i: usize| &x[i * l.c + c0..i * l.c + c0 + w];
        let chunks = l.n.div_ceil(rows);
        let mut pieces = vec![
            Piece {
                count: 0.0,
                sum: 0.0,
                m2: 0.0
            };
            chunks * w
        ];
        let (mut sum, mut m2, mut mu) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
        for (ci, r0) in (0..l.n).step_by(rows).enumerate() {
            let r1 = (r0 + rows).min(l.n);
            sum.fill(0.0);
            m2.fill(0.0);
            for i in r0..r1 {
                (k.acc_cols)(row(i), &mut sum);
            }
            let count = (r1 - r0) as f64;
            for (u, s) in mu.iter_mut().zip(&sum) {
                *u = s / count;
            }
            for i in r0..r1 {
                (k.acc_sq_dev_cols)(row(i), &mu, &mut m2);
            }
            for j in 0..w {
                pieces[j * chunks + ci] = Piece {
                    count,
                    sum: sum[j],
                    m2: m2[j],
                };
            }
        }
        let mut mean = vec![0.0; w];
        let (mut scale, mut shift) = (vec![0.0; w], vec![0.0; w]);
        let mut triples = Vec::with_capacity(w);
        for j in 0..w {
            let (mj, var) = stats::combine(&pieces[j * chunks..(j + 1) * chunks], l.n);
            let inv = stats::invstd(var, eps);
            mean[j] = mj;
            scale[j] = affine.gamma(c0 + j) * inv;
            shift[j] = affine.beta(c0 + j);
            triples.push((mj, var, inv));
        }
        for i in 0..l.n {
            // SAFETY: columns c0..c0 + w of every row belong to this block's task alone.
            let y_row = unsafe { out.part(i * l.c + c0, w) };
            (k.affine_cols)(row(i), &mean, &scale, &shift, y_row);
        }
        triples
    })?;
    Ok(blocks.into_iter().flatten().collect())
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
    let k = T::kernels(backend);
    let invstd: Vec<f64> = running_var.iter().map(|&v| stats::invstd(v, eps)).collect();
    let scale: Vec<f64> = (0..l.c).map(|c| affine.gamma(c) * invstd[c]).collect();
    let shift: Vec<f64> = (0..l.c).map(|c| affine.beta(c)).collect();
    // One pass with nothing to reduce: cut the rows (of S values, or of C values for (N, C))
    // into equal tasks.
    let (rows, row_len) = if l.s == 1 {
        (l.n, l.c)
    } else {
        (l.n * l.c, l.s)
    };
    let per_task = (plan::SEQUENTIAL_BELOW / row_len).max(1);
    let out = Shared::new(y);
    plan::map_tasks(plan::is_parallel(l.len()), rows.div_ceil(per_task), |t| {
        for r in t * per_task..((t + 1) * per_task).min(rows) {
            let start = r * row_len;
            let x_row = &x[start..start + row_len];
            // SAFETY: task t alone owns rows t·per_task.. (t + 1)·per_task.
            let y_row = unsafe { out.part(start, row_len) };
            if l.s == 1 {
                (k.affine_cols)(x_row, running_mean, &scale, &shift, y_row);
            } else {
                let c = r % l.c;
                (k.affine_row)(x_row, running_mean[c], scale[c], shift[c], y_row);
            }
        }
    })?;
    Ok(Stats {
        mean: running_mean.to_vec(),
        var: running_var.to_vec(),
        invstd,
    })
}
