//! Criterion benches of the pure Rust batch-norm kernels (no Python): forward-train, inference
//! forward and backward on the NCHW and (N, C) shapes, float32 and float64, next to a
//! plain copy of the same bytes (the memory-traffic floor of a forward pass).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use _core::batchnorm::{self, Affine, Element, Saved};
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
    let shapes: &[&[usize]] = match std::env::var("BNTUNE_BENCH_SHAPES").as_deref() {
        Ok("small") => &[&[8, 16, 8, 8], &[256, 1024]],
        _ => &[&[32, 64, 56, 56], &[4096, 1024]],
    };
    for shape in shapes {
        bench_shape::<f32>(c, shape);
        bench_shape::<f64>(c, shape);
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
