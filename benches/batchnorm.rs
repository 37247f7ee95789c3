//! Criterion benches of the pure Rust batch-norm kernels (no Python): forward-train, inference
//! forward and backward on the NCHW and (N, C) shapes, float32 and float64, next to a
//! plain copy of the same bytes (the memory-traffic floor of a forward pass).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use _core::batchnorm::stats::ColumnMoments;
use _core::batchnorm::{self, Affine, Element, Saved, plan};
use _core::simd;

fn input<T: Element>(len: usize) -> Vec<T> {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            T::from_f64((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
        .collect()
}

fn bench_shape<T: Element>(c: &mut Criterion, shape: &[usize]) {
    let len: usize = shape.iter().product();
    let x = input::<T>(len);
    let dy = input::<T>(len);
    let mut y = vec![T::default(); len];
    let backend = simd::backend();
    let label = format!("{shape:?} {}", T::NAME);
    let mut group = c.benchmark_group("batchnorm");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(
        2 * (len * std::mem::size_of::<T>()) as u64,
    ));
    group.bench_function(BenchmarkId::new("copy", &label), |b| {
        b.iter(|| y.copy_from_slice(black_box(&x)))
    });
    if shape.len() == 2 {
        // The statistics pass alone, over the row groups the forward pass uses, next to a
        // plain sum of the same bytes (the floor of a pass that only reads).
        let k = T::kernels(backend, false);
        let cut = plan::RowGroups::new(shape[0], shape[1], std::mem::size_of::<T>(), 1);
        group.bench_function(BenchmarkId::new("column_stats", &label), |b| {
            b.iter(|| {
                for g in x.chunks(cut.group * shape[1]) {
                    black_box(ColumnMoments::one_pass(&k, g, shape[1]));
                }
            })
        });
        group.bench_function(BenchmarkId::new("sum", &label), |b| {
            // Eight independent chains, so the loop reads instead of waiting on one add.
            b.iter(|| {
                let mut acc = [0.0f64; 8];
                for part in black_box(&x).chunks_exact(8) {
                    for (a, v) in acc.iter_mut().zip(part) {
                        *a += v.to_f64();
                    }
                }
                acc.iter().sum::<f64>()
            })
        });
    }
    group.bench_function(BenchmarkId::new("forward_train", &label), |b| {
        b.iter(|| batchnorm::forward_train(backend, &x, shape, Affine::default(), 1e-5, &mut y))
    });
    let (rm, rv) = (vec![0.0; shape[1]], vec![1.0; shape[1]]);
    group.bench_function(BenchmarkId::new("forward_infer", &label), |b| {
        b.iter(|| {
            let a = Affine::default();
            batchnorm::forward_infer(backend, &x, shape, a, &rm, &rv, 1e-5, &mut y)
        })
    });
    let stats = batchnorm::forward_train(backend, &x, shape, Affine::default(), 1e-5, &mut y);
    let stats = stats.expect("valid shape");
    group.throughput(Throughput::Bytes(
        3 * (len * std::mem::size_of::<T>()) as u64,
    ));
    group.bench_function(BenchmarkId::new("backward", &label), |b| {
        b.iter(|| {
            let saved = Saved {
                mean: &stats.mean,
                invstd: &stats.invstd,
            };
            batchnorm::backward(backend, &dy, &x, shape, None, saved, true, &mut y)
        })
    });
    group.finish();
}

fn kernels(c: &mut Criterion) {
    if let Some(n) = std::env::var("BNTUNE_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        _core::threads::set_num_threads(n).expect("a valid thread count");
    }
    // "small", "default", or shapes such as "4096x1024,16x128x28x28"; BNTUNE_BENCH_DTYPES
    // "f32", "f64" or both (the default).
    let shapes: Vec<Vec<usize>> = match std::env::var("BNTUNE_BENCH_SHAPES").as_deref() {
        Ok("small") => vec![vec![8, 16, 8, 8], vec![256, 1024]],
        Ok(list) if list != "default" => list
            .split(',')
            .map(|s| s.split('x').map(|v| v.parse().expect("a shape")).collect())
            .collect(),
        _ => vec![vec![32, 64, 56, 56], vec![4096, 1024]],
    };
    let dtypes = std::env::var("BNTUNE_BENCH_DTYPES").unwrap_or_default();
    for shape in &shapes {
        if !dtypes.contains("f64") || dtypes.contains("f32") {
            bench_shape::<f32>(c, shape);
        }
        if !dtypes.contains("f32") || dtypes.contains("f64") {
            bench_shape::<f64>(c, shape);
        }
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
