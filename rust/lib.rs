//! bntune's Rust core: batch-norm kernels and quasi-random samplers on plain slices, plus the
//! thin PyO3 bindings (behind the `python` feature) that expose them as `bntune._core`.

pub mod batchnorm;
pub mod error;
pub mod qmc;
pub mod simd;
pub mod threads;

#[cfg(feature = "python")]
mod python;
