//! The element types the kernels accept (float32 and float64) and how they widen to f64.

/// A floating-point element type of `x`: every statistic is computed in f64 from it.
pub trait Real: Copy + Send + Sync + PartialEq + std::fmt::Debug + Default + 'static {
    /// The numpy name of the type, for error messages.
    const NAME: &'static str;

    /// Exact widening to f64.
    fn to_f64(self) -> f64;

    /// Rounding (to nearest) from f64.
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    const NAME: &'static str = "float32";

    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    #[inline(always)]
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
}

impl Real for f64 {
    const NAME: &'static str = "float64";

    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }

    #[inline(always)]
    fn from_f64(v: f64) -> f64 {
        v
    }
}
