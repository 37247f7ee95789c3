//! Batch-norm forward and backward kernels on plain slices (no Python here).
//!
//! An input of shape (N, C, d1, ..., dk) is normalised per channel over its M = N·d1·…·dk values
//! ([`layout`]). Statistics are exact: f64 accumulation, the two-pass variance, x − mean formed
//! in f64 ([`stats`]). Work is cut into tasks fixed by the shape and run in the one thread pool
//! ([`plan`]), so results are bitwise identical for any number of threads. Inner loops come in a
//! scalar reference version and an AVX2+FMA one, picked by the caller's [`crate::simd::Backend`].
//!
//! The modules form a one-way chain; each uses only modules of the stages before its own:
//!
//! ```text
//! real, norm, shifted, layout, plan     plain data and formulas, depending on nothing
//!   -> table, scalar -> avx2            the table's type, then the loops that fill it
//!   -> kernels                          the dispatch: which table a call uses
//!   -> stats, params, running, blocks   statistics and the shape of the work
//!   -> forward, backward                the entry points
//! ```
//!
//! The loops share [`norm`] (how a channel or column is normalised) and [`shifted`] (the one-pass
//! sums) and never reach back into the dispatch ([`kernels`]) or the statistics built on it.
//! The SIMD choice is made the same way here and in [`crate::qmc`]:
//! [`crate::simd::Backend::runs_avx2_fma`] guards every call into AVX2 code.

mod avx2;
pub mod backward;
pub mod blocks;
pub mod forward;
pub mod kernels;
pub mod layout;
pub mod norm;
pub mod params;
pub mod plan;
pub mod real;
pub mod running;
mod scalar;
pub mod shifted;
pub mod stats;
pub mod table;

#[cfg(test)]
mod tests;

pub use backward::{Grads, Saved, backward};
pub use forward::{forward_infer, forward_train};
pub use kernels::Element;
pub use layout::Layout;
pub use params::{Affine, Stats, check_momentum};
pub use real::Real;
pub use running::{bessel, update_running};
