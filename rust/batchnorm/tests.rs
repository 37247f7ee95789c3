//! Kernels against a naive f64 reference written straight from the formulas.

use super::*;
use crate::error::Error;
use crate::simd::Backend;

/// A deterministic pseudo-random stream in [-1, 1) (no dependency needed for tests).
fn noise(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

fn layout_of(shape: &[usize]) -> (usize, usize, usize) {
    (shape[0], shape[1], shape[2..].iter().product())
}

/// Mean, biased variance per channel, straight from the definition.
fn reference_stats(x: &[f64], shape: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let (n, c, s) = layout_of(shape);
    let m = (n * s) as f64;
    let vals = |ch: usize| (0..n).flat_map(move |i| (0..s).map(move |j| (i * c + ch) * s + j));
    let mean: Vec<f64> = (0..c)
        .map(|ch| vals(ch).map(|i| x[i]).sum::<f64>() / m)
        .collect();
    let var = (0..c)
        .map(|ch| vals(ch).map(|i| (x[i] - mean[ch]).powi(2)).sum::<f64>() / m)
        .collect();
    (mean, var)
}

const SHAPES: &[&[usize]] = &[
    &[2, 1],
    &[5, 7],
    &[300, 37],
    &[2, 3, 5],
    &[3, 7, 5, 3],
    &[2, 1, 4097],
    &[4, 5, 3, 2, 3],
    &[64, 40, 33],
];

fn max_rel_err(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn forward_train_matches_the_reference_on_every_backend() {
    for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
        for (si, shape) in SHAPES.iter().enumerate() {
            let len: usize = shape.iter().product();
            let c = shape[1];
            let x: Vec<f64> = noise(len, si as u64)
                .iter()
                .map(|v| 3.0 + 2.0 * v)
                .collect();
            let gamma = noise(c, 100 + si as u64);
            let beta = noise(c, 200 + si as u64);
            let (mean, var) = reference_stats(&x, shape);
            let mut want = vec![0.0; len];
            let (n, _, s) = layout_of(shape);
            for i in 0..n {
                for ch in 0..c {
                    for j in 0..s {
                        let at = (i * c + ch) * s + j;
                        want[at] =
                            (x[at] - mean[ch]) / (var[ch] + 1e-5).sqrt() * gamma[ch] + beta[ch];
                    }
                }
            }
            let affine = Affine {
                gamma: Some(&gamma),
                beta: Some(&beta),
            };
            let mut y = vec![0.0; len];
            let stats = forward_train(backend, &x, shape, affine, 1e-5, &mut y).unwrap();
            assert!(max_rel_err(&y, &want) < 1e-12, "{backend:?} {shape:?}");
            assert!(max_rel_err(&stats.mean, &mean) < 1e-14, "{shape:?}");
            assert!(max_rel_err(&stats.var, &var) < 1e-14, "{shape:?}");

            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let x32_64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
            let (mean, var) = reference_stats(&x32_64, shape);
            let mut y32 = vec![0.0f32; len];
            let stats = forward_train(backend, &x32, shape, affine, 1e-5, &mut y32).unwrap();
            assert!(max_rel_err(&stats.mean, &mean) < 1e-14, "{shape:?}");
            assert!(max_rel_err(&stats.var, &var) < 1e-13, "{shape:?}");
        }
    }
}

#[test]
fn column_statistics_fall_back_to_two_passes_where_one_would_cancel() {
    // An (N, C) input whose groups start with a far-out value in one column: the one-pass form
    // about the group's first row would cancel too much there, so those groups take two passes.
    let shape = [20_000, 7];
    let cut = plan::RowGroups::new(shape[0], shape[1], 8, 1);
    assert!(cut.count(shape[0]) >= 2, "{cut:?}");
    let mut x: Vec<f64> = noise(shape[0] * shape[1], 7)
        .iter()
        .map(|v| 1e4 + v)
        .collect();
    x[2] = 1e4 + 5e3;
    x[cut.group * shape[1] + 6] = 1e4 - 7e3;
    // The reference sums x − 1e4 (exact, by Sterbenz): a plain sum of values near 1e4 would
    // itself be off by about 1e-10 in the mean here.
    let (mean, var): (Vec<f64>, Vec<f64>) = (0..shape[1])
        .map(|c| {
            let col: Vec<f64> = x
                .iter()
                .skip(c)
                .step_by(shape[1])
                .map(|v| v - 1e4)
                .collect();
            let m = col.iter().sum::<f64>() / shape[0] as f64;
            let var = col.iter().map(|d| (d - m).powi(2)).sum::<f64>() / shape[0] as f64;
            (1e4 + m, var)
        })
        .unzip();
    for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
        let k = f64::kernels(backend, false);
        let groups = x.chunks(cut.group * shape[1]);
        let one_pass = groups.map(|g| stats::ColumnMoments::one_pass(&k, g, shape[1]).is_some());
        // The first two groups start with the far-out values, the others do not.
        let want_one_pass = (0..cut.count(shape[0])).map(|g| g >= 2).collect::<Vec<_>>();
        assert_eq!(one_pass.collect::<Vec<_>>(), want_one_pass, "{backend:?}");
        let mut y = vec![0.0; x.len()];
        let stats = forward_train(backend, &x, &shape, Affine::default(), 1e-5, &mut y).unwrap();
        assert!(max_rel_err(&stats.mean, &mean) < 1e-14, "{backend:?}");
        assert!(max_rel_err(&stats.var, &var) < 1e-12, "{backend:?}");
        let want: Vec<f64> = (x.iter().enumerate())
            .map(|(j, v)| (v - mean[j % shape[1]]) / (var[j % shape[1]] + 1e-5).sqrt())
            .collect();
        // #3's float64 bound: the plain f64 column sums of the two-pass pieces are good to a
        // few ulps of 1e4 in the mean, which the spread of 0.6 turns into about 2e-11 in y.
        assert!(max_rel_err(&y, &want) <= 1e-10, "{backend:?}");
    }
}

#[test]
fn float32_columns_of_hard_kinds_match_the_reference() {
    // (N, C) float32 columns in four row groups. Mixed: straddling zero, 1e7 + integers and
    // 1 + a few ulps (far-out means: the groups take their statistics about their first row),
    // tiny values about zero, a column about zero in each group's first rows and about 1e4
    // after (the first row's pivot fails too: two passes), a tiny spread about -3e4. About
    // zero: only the kinds whose groups take their statistics about a zero pivot.
    let (n, c) = (3000, 10);
    let cut = plan::RowGroups::new(n, c, 4, 1);
    assert!(cut.count(n) >= 4, "{cut:?}");
    let v = noise(n * c, 41);
    let value = |i: usize, about_zero: bool| {
        let (r, j, v) = (i / c, i % c, v[i]);
        let x = match (j, about_zero) {
            (0 | 1, _) | (2 | 3 | 5 | 6, true) => v + (j % 2) as f64 * 0.7,
            (4, _) => 1e-20 * v,
            (2, false) => 1e7 + ((r * 7919) % 11) as f64 - 5.0,
            (3, false) => 1.0 + ((r * 31) % 5) as f64 * f64::from(f32::EPSILON),
            (5, false) if r % cut.group < 8 => (if r % 2 == 0 { -1e4 } else { 1e4 }) * (1.0 + v),
            (5, false) => 1e4 + v,
            (6, false) => -3e4 + 1e-2 * v,
            _ => 0.5 * v - 0.25,
        };
        x as f32
    };
    let gamma = noise(c, 42);
    let beta = noise(c, 43);
    let affine = Affine {
        gamma: Some(&gamma),
        beta: Some(&beta),
    };
    for about_zero in [false, true] {
        let x: Vec<f32> = (0..n * c).map(|i| value(i, about_zero)).collect();
        let wide: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let (mean, var) = reference_stats(&wide, &[n, c]);
        let k = f32::kernels(crate::simd::backend(), false);
        let groups = x.chunks(cut.group * c);
        let zero = groups.map(|g| stats::ColumnMoments::about_zero(&k, g, c).is_some());
        assert!(zero.into_iter().all(|z| z == about_zero), "{about_zero}");
        for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
            let mut y = vec![0.0f32; n * c];
            let stats = forward_train(backend, &x, &[n, c], affine, 1e-5, &mut y).unwrap();
            for j in 0..c {
                let sd = var[j].sqrt();
                let what = format!("{backend:?} {about_zero} column {j}");
                let mean_err = (stats.mean[j] - mean[j]).abs();
                assert!(
                    mean_err <= 1e-14 * mean[j].abs().max(sd),
                    "{what}: {mean_err}"
                );
                // Relative to the variance itself, however small. Groups merged their
                // running means as values (an ulp of 3e4 each), the -3e4 column's variance
                // was then off by 8.5e-12 (6e-14 as pivot + offset). One column that
                // needs two passes (5) leaves the others of its groups their one-pass sums.
                let var_err = (stats.var[j] - var[j]).abs();
                assert!(var_err <= 1e-13 * var[j], "{what}: {var_err}");
            }
            let want = (0..n * c).map(|i| {
                let j = i % c;
                (wide[i] - mean[j]) / (var[j] + 1e-5).sqrt() * gamma[j] + beta[j]
            });
            for (i, (&got, w)) in y.iter().zip(want).enumerate() {
                let err = (f64::from(got) - w).abs();
                assert!(
                    err <= 1e-6 * w.abs().max(1.0),
                    "{backend:?} y[{i}] {got} vs {w}"
                );
            }
        }
    }
}

#[test]
fn backward_matches_the_reference_on_every_backend() {
    for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
        for (si, shape) in SHAPES.iter().enumerate() {
            let len: usize = shape.iter().product();
            let (n, c, s) = layout_of(shape);
            let x = noise(len, 300 + si as u64);
            let dy = noise(len, 400 + si as u64);
            let gamma = noise(c, 500 + si as u64);
            let (mean, var) = reference_stats(&x, shape);
            let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + 1e-5).sqrt()).collect();
            let m = (n * s) as f64;
            let (mut dbeta, mut dgamma) = (vec![0.0; c], vec![0.0; c]);
            for i in 0..n {
                for ch in 0..c {
                    for j in 0..s {
                        let at = (i * c + ch) * s + j;
                        dbeta[ch] += dy[at];
                        dgamma[ch] += dy[at] * (x[at] - mean[ch]) * invstd[ch];
                    }
                }
            }
            for training in [true, false] {
                let mut want = vec![0.0; len];
                for i in 0..n {
                    for ch in 0..c {
                        for j in 0..s {
                            let at = (i * c + ch) * s + j;
                            let xhat = (x[at] - mean[ch]) * invstd[ch];
                            let g = gamma[ch] * invstd[ch];
                            want[at] = if training {
                                g / m * (m * dy[at] - dbeta[ch] - xhat * dgamma[ch])
                            } else {
                                dy[at] * g
                            };
                        }
                    }
                }
                let mut dx = vec![0.0; len];
                let saved = Saved {
                    mean: &mean,
                    invstd: &invstd,
                };
                let grads = backward(
                    backend,
                    &dy,
                    &x,
                    shape,
                    Some(&gamma),
                    saved,
                    training,
                    &mut dx,
                )
                .unwrap();
                assert!(max_rel_err(&dx, &want) < 1e-12, "{backend:?} {shape:?}");
                assert!(max_rel_err(&grads.dbeta, &dbeta) < 1e-12, "{shape:?}");
                assert!(max_rel_err(&grads.dgamma, &dgamma) < 1e-12, "{shape:?}");
            }
        }
    }
}

#[test]
fn inference_uses_the_running_statistics() {
    for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
        for shape in SHAPES {
            let len: usize = shape.iter().product();
            let (_, c, s) = layout_of(shape);
            let x: Vec<f32> = noise(len, 7).iter().map(|&v| v as f32).collect();
            let rm = noise(c, 8);
            let rv: Vec<f64> = noise(c, 9).iter().map(|v| 1.5 + v).collect();
            let mut y = vec![0.0f32; len];
            let stats = forward_infer(backend, &x, shape, Affine::default(), &rm, &rv, 0.0, &mut y)
                .unwrap();
            for (at, (&yv, &xv)) in y.iter().zip(&x).enumerate() {
                let ch = at / s % c;
                let want = (f64::from(xv) - rm[ch]) / rv[ch].sqrt();
                assert!((f64::from(yv) - want).abs() <= 1e-6 * want.abs().max(1.0));
            }
            assert_eq!(stats.mean, rm);
        }
    }
}

#[test]
fn a_constant_float32_channel_normalises_to_exactly_beta() {
    for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
        for shape in [&[64usize, 3][..], &[8, 3, 33]] {
            let len: usize = shape.iter().product();
            let (_, c, s) = layout_of(shape);
            let x: Vec<f32> = (0..len)
                .map(|i| if i / s % c == 1 { 1e7 } else { i as f32 })
                .collect();
            let beta = [0.5, -0.25, 2.0];
            let affine = Affine {
                gamma: None,
                beta: Some(&beta),
            };
            let mut y = vec![0.0f32; len];
            forward_train(backend, &x, shape, affine, 1e-5, &mut y).unwrap();
            assert!((0..len).filter(|i| i / s % c == 1).all(|i| y[i] == -0.25));
        }
    }
}

#[test]
fn bad_arguments_are_refused_before_writing() {
    let x = vec![1.0f64; 12];
    let mut y = vec![7.0f64; 12];
    let b = Backend::Scalar;
    let err = forward_train(b, &x, &[1, 12], Affine::default(), 1e-5, &mut y).unwrap_err();
    assert_eq!(
        err,
        Error::Shape(
            "x: batch norm in training needs more than one value per channel, got shape (1, 12)"
                .into()
        )
    );
    let short = [1.0; 3];
    let affine = Affine {
        gamma: Some(&short),
        beta: None,
    };
    assert!(matches!(
        forward_train(b, &x, &[3, 4], affine, 1e-5, &mut y),
        Err(Error::Shape(m)) if m.contains("gamma")
    ));
    assert!(forward_train(b, &x, &[3, 4], Affine::default(), -1.0, &mut y).is_err());
    assert!(forward_train(b, &x, &[3, 5], Affine::default(), 1e-5, &mut y).is_err());
    assert!(y.iter().all(|&v| v == 7.0));
}

#[test]
fn streaming_stores_give_the_plain_results_bit_for_bit_at_any_alignment() {
    use super::norm::{DxCols, NormCols, RowNorm};
    fn check<T: Element>(tol: f64) {
        let len = 203;
        let x: Vec<T> = noise(len + 8, 21)
            .iter()
            .map(|&v| T::from_f64(5.0 + v))
            .collect();
        let dy: Vec<T> = noise(len + 8, 22).iter().map(|&v| T::from_f64(v)).collect();
        let cols = len;
        let norm = NormCols::new(noise(cols, 23), noise(cols, 24), noise(cols, 25));
        let (m, p, q) = (norm.mean.clone(), norm.scale.clone(), norm.shift.clone());
        let dx_form = DxCols::new(m, noise(cols, 26), p, q);
        let row_norm = RowNorm::new(5.0, 1.5, -0.5);
        for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
            let (plain, stream) = (T::kernels(backend, false), T::kernels(backend, true));
            for off in 0..8 {
                let (xs, gs) = (&x[off..off + len], &dy[off..off + len]);
                let mut a = vec![T::default(); len + 8];
                let mut b = vec![T::default(); len + 8];
                // The streamed head's length follows the address; the values must not.
                let same = |a: &[T], b: &[T]| {
                    (a.iter().zip(b)).all(|(p, q)| p.to_f64().to_bits() == q.to_f64().to_bits())
                };
                let close = |a: &[T], b: &[T]| {
                    a.iter().zip(b).all(|(p, q)| {
                        (p.to_f64() - q.to_f64()).abs() <= tol * q.to_f64().abs().max(1.0)
                    })
                };
                (plain.affine_row)(xs, &row_norm, &mut a[off..off + len]);
                (stream.affine_row)(xs, &row_norm, &mut b[off..off + len]);
                assert!(same(&a, &b), "affine_row {backend:?} {off}");
                (plain.affine_cols)(xs, &norm, &mut a[off..off + len]);
                (stream.affine_cols)(xs, &norm, &mut b[off..off + len]);
                assert!(same(&a, &b), "affine_cols {backend:?} {off}");
                (plain.bwd_row)(gs, xs, 5.0, 0.7, -0.2, 0.1, &mut a[off..off + len]);
                (stream.bwd_row)(gs, xs, 5.0, 0.7, -0.2, 0.1, &mut b[off..off + len]);
                assert!(same(&a, &b), "bwd_row {backend:?} {off}");
                (plain.bwd_cols)(gs, xs, &dx_form, &mut a[off..off + len]);
                (stream.bwd_cols)(gs, xs, &dx_form, &mut b[off..off + len]);
                assert!(same(&a, &b), "bwd_cols {backend:?} {off}");
                let want: Vec<T> = xs
                    .iter()
                    .map(|v| T::from_f64((v.to_f64() - 5.0) * 1.5 - 0.5))
                    .collect();
                (stream.affine_row)(xs, &row_norm, &mut b[off..off + len]);
                assert!(
                    close(&b[off..off + len], &want),
                    "affine_row vs formula {off}"
                );
            }
        }
    }
    check::<f32>(4e-7);
    check::<f64>(1e-15);
}

#[test]
fn column_loops_write_a_block_of_rows_as_they_write_each_row() {
    use super::norm::{DxCols, NormCols};
    // The column loops take a task's rows at once, in strips of rows sharing each load of the
    // parameters (not when streaming): a value must not depend on the strip, the row, the
    // alignment or the streaming, and a part row at the end is written too.
    fn check<T: Element>() {
        let same = |a: &[T], b: &[T]| {
            (a.iter().zip(b)).all(|(p, q)| p.to_f64().to_bits() == q.to_f64().to_bits())
        };
        // 1024 columns: rows of 4 KiB (float32) and 8 KiB (float64), in strips of two rows.
        for c in [1, 3, 8, 13, 64, 1024] {
            let norm = NormCols::new(noise(c, 31), noise(c, 32), noise(c, 33));
            let pk = noise(c, 34);
            let (m, p, q) = (norm.mean.clone(), norm.scale.clone(), norm.shift.clone());
            let dx_form = DxCols::new(m, pk.clone(), p, q);
            for rows in [1, 3, 4, 5, 9] {
                let len = rows * c + c / 2;
                let x: Vec<T> = noise(len + 8, 35)
                    .iter()
                    .map(|&v| T::from_f64(3.0 + v))
                    .collect();
                let dy: Vec<T> = noise(len + 8, 36).iter().map(|&v| T::from_f64(v)).collect();
                for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
                    let (plain, stream) = (T::kernels(backend, false), T::kernels(backend, true));
                    for off in 0..8 {
                        let (xs, gs) = (&x[off..off + len], &dy[off..off + len]);
                        let what = format!("{backend:?} c {c} rows {rows} off {off}");
                        let by_row = |f: &dyn Fn(std::ops::Range<usize>, &mut [T])| {
                            let mut out = vec![T::from_f64(f64::NAN); len];
                            for at in (0..len).step_by(c) {
                                let r = at..(at + c).min(len);
                                f(r.clone(), &mut out[r]);
                            }
                            out
                        };
                        let mut a = vec![T::from_f64(f64::NAN); len + 8];
                        let mut b = vec![T::from_f64(f64::NAN); len + 8];
                        let want = by_row(&|r, o| (plain.affine_cols)(&xs[r], &norm, o));
                        (plain.affine_cols)(xs, &norm, &mut a[off..off + len]);
                        (stream.affine_cols)(xs, &norm, &mut b[off..off + len]);
                        assert!(same(&a[off..off + len], &want), "affine {what}");
                        assert!(same(&b[off..off + len], &want), "affine streamed {what}");
                        let want =
                            by_row(&|r, o| (plain.bwd_cols)(&gs[r.clone()], &xs[r], &dx_form, o));
                        (plain.bwd_cols)(gs, xs, &dx_form, &mut a[off..off + len]);
                        (stream.bwd_cols)(gs, xs, &dx_form, &mut b[off..off + len]);
                        assert!(same(&a[off..off + len], &want), "bwd {what}");
                        assert!(same(&b[off..off + len], &want), "bwd streamed {what}");
                        let want = by_row(&|r, o| (plain.scale_cols)(&gs[r], &pk, o));
                        (plain.scale_cols)(gs, &pk, &mut a[off..off + len]);
                        assert!(same(&a[off..off + len], &want), "scale {what}");
                    }
                }
            }
        }
    }
    check::<f32>();
    check::<f64>();
}

/// The Python binding hands these kernels uninitialised outputs, so each must write every
/// element: run them on NaN-filled outputs (including outputs large enough to be streamed) and
/// check that nothing NaN is left.
#[test]
fn out_is_fully_written() {
    fn check<T: Element>(big: &[&[usize]]) {
        for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
            for (si, shape) in SHAPES.iter().chain(big).enumerate() {
                let len: usize = shape.iter().product();
                let c = shape[1];
                let x: Vec<T> = noise(len, 600 + si as u64)
                    .into_iter()
                    .map(T::from_f64)
                    .collect();
                let dy: Vec<T> = noise(len, 700 + si as u64)
                    .into_iter()
                    .map(T::from_f64)
                    .collect();
                let gamma = noise(c, 800 + si as u64);
                let affine = Affine {
                    gamma: Some(&gamma),
                    beta: None,
                };
                let unwritten = |out: &[T]| out.iter().filter(|v| v.to_f64().is_nan()).count();
                let mut y = vec![T::from_f64(f64::NAN); len];
                let stats = forward_train(backend, &x, shape, affine, 1e-5, &mut y).unwrap();
                assert_eq!(unwritten(&y), 0, "forward_train {backend:?} {shape:?}");
                let mut y = vec![T::from_f64(f64::NAN); len];
                let (ones, zeros) = (vec![1.0; c], vec![0.0; c]);
                forward_infer(backend, &x, shape, affine, &zeros, &ones, 1e-5, &mut y).unwrap();
                assert_eq!(unwritten(&y), 0, "forward_infer {backend:?} {shape:?}");
                for training in [true, false] {
                    let mut dx = vec![T::from_f64(f64::NAN); len];
                    let saved = Saved {
                        mean: &stats.mean,
                        invstd: &stats.invstd,
                    };
                    let g = Some(gamma.as_slice());
                    backward(backend, &dy, &x, shape, g, saved, training, &mut dx).unwrap();
                    assert_eq!(
                        unwritten(&dx),
                        0,
                        "backward {backend:?} {shape:?} {training}"
                    );
                }
            }
        }
    }
    // The streamed shapes only for float32, which has loops of its own; f64's are generic.
    check::<f32>(&[&[2, 3, 400_000], &[40_000, 64]]);
    check::<f64>(&[]);
}
