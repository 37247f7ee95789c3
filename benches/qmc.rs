//! Criterion benches of the pure-Rust samplers (no Python): draws of 2**16 points in d=16,
//! scrambled Sobol' construction at d=1111, the tuner's per-trial pattern, discrepancy, the
//! random-cd optimizer and strength-2 Latin hypercubes.

use std::hint::black_box;

use _core::qmc::discrepancy::{Method, discrepancy};
use _core::qmc::random_cd::random_cd;
use _core::qmc::{Engine, Scramble};
use criterion::{Criterion, criterion_group, criterion_main};

const N: usize = 1 << 16;
const D: usize = 16;

fn draws(c: &mut Criterion) {
    let mut group = c.benchmark_group("draw 2**16 x 16");
    for (name, kind, scramble) in [
        ("sobol", "sobol", Scramble::None),
        ("sobol lms", "sobol", Scramble::Default),
        ("sobol owen", "sobol", Scramble::Owen),
        ("halton scrambled", "halton", Scramble::Default),
        ("lhs", "lhs", Scramble::Default),
        ("random", "random", Scramble::None),
    ] {
        let engine = Engine::new(kind, D, scramble, 30, 1).expect("valid engine");
        let mut out64 = vec![0.0f64; N * D];
        group.bench_function(format!("{name} f64"), |b| {
            b.iter(|| engine.fill(0, black_box(&mut out64)).expect("in range"))
        });
        let mut out32 = vec![0.0f32; N * D];
        group.bench_function(format!("{name} f32"), |b| {
            b.iter(|| engine.fill(0, black_box(&mut out32)).expect("in range"))
        });
    }
    group.finish();
}

fn construction(c: &mut Criterion) {
    c.bench_function("sobol lms construction d=1111", |b| {
        b.iter(|| Engine::new("sobol", black_box(1111), Scramble::Default, 30, 1))
    });
    c.bench_function("per trial: sobol d=8 build + point 100000", |b| {
        let mut out = [0.0f64; 8];
        let mut seed = 0u64;
        b.iter(|| {
            seed += 1;
            let engine = Engine::new("sobol", 8, Scramble::Default, 30, seed).expect("valid");
            engine.fill(100_000, &mut out).expect("in range");
            black_box(out[0])
        })
    });
}

fn discrepancies(c: &mut Criterion) {
    let engine = Engine::new("random", 8, Scramble::None, 64, 3).expect("valid");
    let mut sample = vec![0.0f64; 1024 * 8];
    engine.fill(0, &mut sample).expect("in range");
    c.bench_function("discrepancy CD n=1024 d=8", |b| {
        b.iter(|| discrepancy(black_box(&sample), 8, Method::Centered))
    });
}

fn optimizers(c: &mut Criterion) {
    let engine = Engine::new("lhs", 8, Scramble::Default, 64, 3).expect("valid");
    let mut design = vec![0.0f64; 256 * 8];
    engine.fill(0, &mut design).expect("in range");
    c.bench_function("random-cd n=256 d=8 (10000 tries at most)", |b| {
        b.iter(|| {
            let mut sample = design.clone();
            random_cd(black_box(&mut sample), 8, 1, 10_000, 100).expect("in the cube")
        })
    });
    let oa = Engine::new("oa-lhs", 16, Scramble::Default, 64, 3).expect("valid");
    let mut out = vec![0.0f64; 31 * 31 * 16];
    c.bench_function("strength-2 Latin hypercube n=31**2 d=16", |b| {
        b.iter(|| {
            oa.fill(0, black_box(&mut out))
                .expect("n is a prime squared")
        })
    });
}

criterion_group!(benches, draws, construction, discrepancies, optimizers);
criterion_main!(benches);
