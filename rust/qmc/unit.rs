//! Conversions of sampler outputs to floats in [0, 1).
//!
//! float64 follows scipy: a `bits`-bit integer `q` becomes `q * 2**-bits`, rounded to nearest
//! (exact when `q` has at most 53 significant bits); the single case that rounds up to 1.0
//! (possible only for `bits > 53`) is stepped down to the largest double below 1.
//! float32 is computed from the exact value rounded toward zero, so it never reaches 1.0 either;
//! it is not a cast of the float64 result (a cast would round to nearest).

/// The largest double below 1.
pub const ONE_BELOW_F64: f64 = 1.0 - f64::EPSILON / 2.0;

/// 2**-bits as a double, for `bits` in 0..=64.
#[inline]
pub fn scale_f64(bits: u32) -> f64 {
    f64::from_bits(u64::from(1023 - bits) << 52)
}

/// 2**-bits as a float, for `bits` in 0..=64.
#[inline]
pub fn scale_f32(bits: u32) -> f32 {
    f32::from_bits((127 - bits) << 23)
}

/// `q` as a double, exact when `q < 2**52`, through the exponent trick so loops vectorise.
#[inline]
fn small_to_f64(q: u64) -> f64 {
    const TWO52: f64 = 4_503_599_627_370_496.0;
    f64::from_bits(q | TWO52.to_bits()) - TWO52
}

/// A float type samplers can write.
pub trait UnitFloat: Copy + Send + Sync + 'static {
    /// `q * 2**-bits` for `q < 2**bits` (see the module docs for the rounding).
    fn from_fixed(q: u64, bits: u32) -> Self;
    /// A double in [0, 1) converted without reaching 1.0 (float32 rounds toward zero).
    fn from_unit_f64(x: f64) -> Self;
    /// [`UnitFloat::from_fixed`] for `bits <= 52`, with `scale = scale_f64(bits)` precomputed:
    /// branch-free, so loops over it vectorise.
    #[inline]
    fn from_small_fixed(q: u64, scale: f64) -> Self {
        Self::from_unit_f64(small_to_f64(q) * scale)
    }
}

impl UnitFloat for f64 {
    #[inline]
    fn from_fixed(q: u64, bits: u32) -> f64 {
        if bits <= 52 {
            small_to_f64(q) * scale_f64(bits)
        } else {
            (q as f64 * scale_f64(bits)).min(ONE_BELOW_F64)
        }
    }

    #[inline]
    fn from_unit_f64(x: f64) -> f64 {
        x.min(ONE_BELOW_F64)
    }

    #[inline]
    fn from_small_fixed(q: u64, scale: f64) -> f64 {
        // Exact, and below 1 because q < 2**bits: no clamp needed.
        small_to_f64(q) * scale
    }
}

impl UnitFloat for f32 {
    #[inline]
    fn from_fixed(q: u64, bits: u32) -> f32 {
        if bits <= 52 {
            truncate_to_f32(small_to_f64(q) * scale_f64(bits))
        } else {
            let significant = 64 - q.leading_zeros();
            let drop = significant.saturating_sub(24);
            ((q >> drop << drop) as f32) * scale_f32(bits)
        }
    }

    #[inline]
    fn from_unit_f64(x: f64) -> f32 {
        truncate_to_f32(x)
    }

    #[inline]
    fn from_small_fixed(q: u64, scale: f64) -> f32 {
        truncate_to_f32(small_to_f64(q) * scale)
    }
}

/// Rounds a double toward zero to a float by dropping the 29 mantissa bits a float lacks; the
/// conversion that follows is then exact. Branch-free, so it vectorises. Exact for 0 and for
/// values of at least 2**-126 (float normals), which covers every sampler here: their smallest
/// non-zero outputs are above 2**-90.
#[inline]
fn truncate_to_f32(x: f64) -> f32 {
    f64::from_bits(x.to_bits() & !((1u64 << 29) - 1)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_conversions() {
        assert_eq!(f64::from_fixed(0, 30), 0.0);
        assert_eq!(f64::from_fixed(1 << 29, 30), 0.5);
        assert_eq!(f64::from_fixed((1 << 30) - 1, 30), 1.0 - 2f64.powi(-30));
        assert_eq!(f64::from_fixed(u64::MAX, 64), ONE_BELOW_F64);
        assert_eq!(f64::from_fixed(3 << 62, 64), 0.75);
        let top = f32::from_fixed((1 << 30) - 1, 30);
        assert!(top < 1.0);
        assert_eq!(top, 1.0 - 2f32.powi(-24));
        assert_eq!(f32::from_fixed(u64::MAX, 64), 1.0 - 2f32.powi(-24));
        assert_eq!(f32::from_fixed(1, 64), 2f32.powi(-64));
        // (2**25 - 1) / 2**25 rounds toward zero, not up to 1.
        assert_eq!(f32::from_fixed((1 << 25) - 1, 25), 1.0 - 2f32.powi(-24));
    }

    #[test]
    fn f32_from_unit_f64_rounds_toward_zero() {
        assert_eq!(f32::from_unit_f64(ONE_BELOW_F64), 1.0 - 2f32.powi(-24));
        assert_eq!(f32::from_unit_f64(0.1), 0.099_999_994);
        assert_eq!(f32::from_unit_f64(0.5), 0.5);
    }
}
