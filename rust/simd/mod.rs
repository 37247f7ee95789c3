//! Run-time choice of the vector instruction set the kernels use.
//!
//! The wheel is built for the baseline CPU of its target (never `target-cpu=native`); kernels
//! compile their vector paths with `#[target_feature]` and pick one at run time through
//! [`backend`]. The scalar path is always compiled and always selectable, so every vector path can
//! be tested against it: `BNTUNE_SIMD=scalar` in the environment forces it for the whole process.

use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
pub mod avx2;

/// The environment variable that can force a backend (read once, at first use).
pub const ENV_VAR: &str = "BNTUNE_SIMD";

/// A vector instruction set a kernel may be compiled for.
///
/// Ordered from least to most capable within one architecture. AVX-512 (x86-64) and NEON
/// (aarch64) get their own variants once kernels for them exist and can be tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// Portable Rust, no explicit vector instructions: the reference path.
    Scalar,
    /// x86-64 AVX2 with fused multiply-add (256-bit vectors).
    Avx2Fma,
}

impl Backend {
    /// Every backend this build knows, least capable first.
    pub const ALL: [Backend; 2] = [Backend::Scalar, Backend::Avx2Fma];

    /// The name reported by `bntune.simd_backend()` and accepted in `BNTUNE_SIMD`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Avx2Fma => "avx2+fma",
        }
    }

    /// Whether this CPU can run the backend.
    pub fn is_supported(self) -> bool {
        match self {
            Backend::Scalar => true,
            Backend::Avx2Fma => avx2_fma_supported(),
        }
    }

    /// Whether code handed this backend takes its AVX2+FMA path: it asks for it and this CPU
    /// has it. The one test in front of every call into `#[target_feature(enable = "avx2,fma")]`
    /// code, in `batchnorm` and `qmc` alike, so each such call has the same SAFETY argument.
    pub fn runs_avx2_fma(self) -> bool {
        self == Backend::Avx2Fma && self.is_supported()
    }

    /// Parses a `BNTUNE_SIMD` value (case-insensitive; `avx2` is accepted for `avx2+fma`).
    /// `None` for `auto`, an empty value or a name this build does not know.
    pub fn parse(request: &str) -> Option<Backend> {
        match request.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Backend::Scalar),
            "avx2" | "avx2+fma" | "avx2fma" => Some(Backend::Avx2Fma),
            _ => None,
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma_supported() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_fma_supported() -> bool {
    false
}

/// Chooses a backend from an optional request and a predicate telling which backends run here.
///
/// Without a (recognised) request, the most capable supported backend wins. A request can only
/// lower the choice: asking for a backend this CPU lacks gives the best supported one below it,
/// so an environment variable can never make a kernel execute an illegal instruction.
pub fn resolve(request: Option<&str>, supported: impl Fn(Backend) -> bool) -> Backend {
    let ceiling = request.and_then(Backend::parse);
    Backend::ALL
        .iter()
        .rev()
        .copied()
        .filter(|b| ceiling.is_none_or(|c| *b <= c))
        .find(|b| supported(*b))
        .unwrap_or(Backend::Scalar)
}

/// The backend every kernel in this process uses: detected once, honouring `BNTUNE_SIMD`.
pub fn backend() -> Backend {
    static CHOSEN: OnceLock<Backend> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let request = std::env::var(ENV_VAR).ok();
        resolve(request.as_deref(), Backend::is_supported)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_request_the_best_supported_backend_wins() {
        assert_eq!(resolve(None, |_| true), Backend::Avx2Fma);
        assert_eq!(resolve(None, |b| b == Backend::Scalar), Backend::Scalar);
        assert_eq!(resolve(Some("auto"), |_| true), Backend::Avx2Fma);
        assert_eq!(resolve(Some(""), |_| true), Backend::Avx2Fma);
    }

    #[test]
    fn only_a_supported_avx2_backend_runs_avx2() {
        assert!(!Backend::Scalar.runs_avx2_fma());
        assert_eq!(
            Backend::Avx2Fma.runs_avx2_fma(),
            Backend::Avx2Fma.is_supported()
        );
    }

    #[test]
    fn scalar_request_forces_scalar() {
        assert_eq!(resolve(Some("scalar"), |_| true), Backend::Scalar);
        assert_eq!(resolve(Some(" SCALAR "), |_| true), Backend::Scalar);
    }

    #[test]
    fn a_request_never_enables_an_unsupported_backend() {
        let only_scalar = |b: Backend| b == Backend::Scalar;
        assert_eq!(resolve(Some("avx2+fma"), only_scalar), Backend::Scalar);
        assert_eq!(resolve(Some("avx2"), |_| true), Backend::Avx2Fma);
    }

    #[test]
    fn unknown_requests_fall_back_to_detection() {
        assert_eq!(resolve(Some("sse9"), |_| true), Backend::Avx2Fma);
    }

    #[test]
    fn names_round_trip_through_parse() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.name()), Some(b));
        }
    }

    #[test]
    fn scalar_is_always_supported_and_detection_is_consistent() {
        assert!(Backend::Scalar.is_supported());
        assert!(backend().is_supported());
        assert_eq!(backend(), backend());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_detection_matches_the_cpu() {
        let cpu = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        assert_eq!(Backend::Avx2Fma.is_supported(), cpu);
    }
}
