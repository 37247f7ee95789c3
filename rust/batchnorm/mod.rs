//! Batch-norm forward and backward kernels on plain slices (no Python here).
//!
//! An input of shape (N, C, d1, ..., dk) is normalised per channel over its M = N·d1·…·dk values
//! ([`layout`]). Statistics are exact: f64 accumulation, the two-pass variance, x − mean formed
//! in f64 ([`stats`]). Work is cut into tasks fixed by the shape and run in the one thread pool
//! ([`plan`]), so results are bitwise identical for any number of threads. Inner loops come in a
//! scalar reference version and an AVX2+FMA one, picked by the caller's [`crate::simd::Backend`].

mod avx2;
pub mod backward;
pub mod blocks;
pub mod forward;
pub mod kernels;
pub mod layout;
pub mod params;
pub mod plan;
pub mod real;
pub mod running;
mod scalar;
pub mod stats;

#[cfg(test)]
mod tests;

pub use backward::{Grads, Saved, backward};
pub use forward::{forward_infer, forward_train};
pub use kernels::Element;
pub use layout::Layout;
pub use params::{Affine, Stats, check_momentum};
pub use real::Real;
pub use running::{bessel, update_running};
