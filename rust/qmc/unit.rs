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

/// An output slice as its concrete type, for kernels with a vector path per type.
pub enum Floats<'a> {
    F64(&'a mut [f64]),
    F32(&'a mut [f32]),
}

/// A float type samplers can write.
pub trait UnitFloat: Copy + Send + Sync + 'static {
    /// The slice as its concrete type.
    fn as_floats(out: &mut [Self]) -> Floats<'_>;
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
    /// `x`, a double in stratum `k` of `n` ([k/n, (k+1)/n) of [0, 1)), or a double near it whose
    /// [`UnitFloat::from_unit_f64`] stays in that stratum: rounding toward zero can take a value
    /// just above k/n below it, and the next value up is then used. Strata narrower than this
    /// type's spacing near x cannot all be hit; x is returned as it is then.
    #[inline]
    fn keep_in_stratum(x: f64, _k: f64, _n: f64) -> f64 {
        x
    }
    /// [`UnitFloat::from_small_fixed`] for `q < 2**30` held in a `u32`: the same value, but
    /// through 32-bit lanes (the signed conversion is exact here), twice as many per vector.
    #[inline]
    fn from_u30_fixed(q: u32, scale: f64) -> Self {
        Self::from_unit_f64(f64::from(q as i32) * scale)
    }
}

impl UnitFloat for f64 {
    fn as_floats(out: &mut [f64]) -> Floats<'_> {
        Floats::F64(out)
    }

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

    #[inline]
    fn from_u30_fixed(q: u32, scale: f64) -> f64 {
        // Exact (q < 2**30, scale a power of two), and below 1: no clamp needed.
        f64::from(q as i32) * scale
    }
}

impl UnitFloat for f32 {
    fn as_floats(out: &mut [f32]) -> Floats<'_> {
        Floats::F32(out)
    }

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
    fn keep_in_stratum(x: f64, k: f64, n: f64) -> f64 {
        let down = truncate_to_f32(x);
        if f64::from(down) * n >= k {
            return x;
        }
        let up = f64::from(f32::from_bits(down.to_bits() + 1));
        if up * n < k + 1.0 { up } else { x }
    }

    #[inline]
    fn from_small_fixed(q: u64, scale: f64) -> f32 {
        truncate_to_f32(small_to_f64(q) * scale)
    }

    #[inline]
    fn from_u30_fixed(q: u32, scale: f64) -> f32 {
        // Round q to the nearest float, then step down one ulp if that went above q: the float
        // just below q's nearest is below q, so this is q rounded toward zero. q < 2**30 keeps
        // the round trip through i32 in range; scaling by a power of two is then exact.
        let q = q as i32;
        let nearest = q as f32;
        // SAFETY: `nearest` is finite and at most 2**30, so it fits an i32 (a plain truncating
        // conversion; the saturating `as` would not vectorise).
        let back: i32 = unsafe { nearest.to_int_unchecked() };
        let above = u32::from(back > q);
        f32::from_bits(nearest.to_bits() - above) * scale as f32
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
    fn u30_conversions_are_exact_or_round_toward_zero() {
        for bits in [1u32, 7, 24, 25, 26, 30] {
            let scale = scale_f64(bits);
            let top = (1u32 << bits) - 1;
            for q in [
                0,
                1,
                top / 3,
                top / 2 + 1,
                top / 2 + 3,
                top / 7 * 5,
                top - 1,
                top,
            ] {
                // q / 2**bits is exact in float64; float32 must be the nearest float below it.
                let exact = f64::from(q) / 2f64.powi(bits as i32);
                assert_eq!(f64::from_u30_fixed(q, scale), exact);
                let mut below = exact as f32;
                if f64::from(below) > exact {
                    below = f32::from_bits(below.to_bits() - 1);
                }
                assert_eq!(f32::from_u30_fixed(q, scale), below, "q={q} bits={bits}");
            }
        }
    }

    #[test]
    fn f32_from_unit_f64_rounds_toward_zero() {
        assert_eq!(f32::from_unit_f64(ONE_BELOW_F64), 1.0 - 2f32.powi(-24));
        assert_eq!(f32::from_unit_f64(0.1), 0.099_999_994);
        assert_eq!(f32::from_unit_f64(0.5), 0.5);
    }
}
