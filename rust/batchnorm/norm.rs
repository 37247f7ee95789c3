//! How a kernel normalises: the per-channel ([`RowNorm`]) and per-column ([`NormCols`])
//! parameters of y = (x − mean)·scale + shift, and the per-column ones of the backward pass's
//! dx = dy·k + (x − mean)·p + q ([`DxCols`]), with their float32 forms. Plain data shared by
//! the scalar and vector loops; it depends on nothing else in the crate.

/// How each column of an (N, C) input is normalised: y = (x − mean)·scale + shift.
///
/// Besides the f64 form it carries a float32 one for float32 kernels:
/// y = (x − hi)·scale32 + shift32, with hi = float32(mean), lo = mean − hi and
/// shift32 = float32(shift − lo·scale). x − hi is exact when x is within a factor 2 of the mean
/// (Sterbenz) and otherwise within half an ulp of itself, so x − mean is kept as if formed in
/// f64; a constant channel gives x − hi = 0, lo = 0, hence exactly shift.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NormCols {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub shift: Vec<f64>,
    pub hi: Vec<f32>,
    pub scale32: Vec<f32>,
    pub shift32: Vec<f32>,
    /// Whether every float32 parameter is finite (else float32 kernels use the f64 form).
    pub float32_ok: bool,
}

impl NormCols {
    pub fn new(mean: Vec<f64>, scale: Vec<f64>, shift: Vec<f64>) -> NormCols {
        let mut n = NormCols {
            float32_ok: true,
            ..NormCols::default()
        };
        for ((&m, &sc), &sh) in mean.iter().zip(&scale).zip(&shift) {
            let (hi, s32, c32) = float32_form(m, sc, sh);
            n.float32_ok &= hi.is_finite() && s32.is_finite() && c32.is_finite();
            n.hi.push(hi);
            n.scale32.push(s32);
            n.shift32.push(c32);
        }
        NormCols {
            mean,
            scale,
            shift,
            ..n
        }
    }
}

/// How the training backward pass forms dx in each column of an (N, C) input:
/// dx = dy·k + (x − mean)·p + q (see `backward`).
///
/// Its float32 form follows [`NormCols`]'s: with hi = float32(mean) and lo = mean − hi,
/// dx = (x − hi)·p32 + (dy·k32 + q32), q32 = float32(q − lo·p). x − hi is as exact as there, and
/// the rest is two fused multiply-adds in float32, so dx is within a few float32 roundings of
/// its terms (the f64 form rounds once); the parameters are C values, converted once per call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DxCols {
    pub mean: Vec<f64>,
    pub k: Vec<f64>,
    pub p: Vec<f64>,
    pub q: Vec<f64>,
    pub hi: Vec<f32>,
    pub k32: Vec<f32>,
    pub p32: Vec<f32>,
    pub q32: Vec<f32>,
    /// Whether every float32 parameter is finite (else float32 kernels use the f64 form).
    pub float32_ok: bool,
}

impl DxCols {
    pub fn new(mean: Vec<f64>, k: Vec<f64>, p: Vec<f64>, q: Vec<f64>) -> DxCols {
        let mut d = DxCols {
            float32_ok: true,
            ..DxCols::default()
        };
        for (((&m, &kj), &pj), &qj) in mean.iter().zip(&k).zip(&p).zip(&q) {
            // (x − mean)·p + q is y = (x − mean)·scale + shift with scale = p, shift = q.
            let (hi, p32, q32) = float32_form(m, pj, qj);
            let k32 = kj as f32;
            d.float32_ok &= hi.is_finite() && k32.is_finite() && p32.is_finite() && q32.is_finite();
            d.hi.push(hi);
            d.k32.push(k32);
            d.p32.push(p32);
            d.q32.push(q32);
        }
        DxCols { mean, k, p, q, ..d }
    }
}

/// How one channel is normalised: y = (x − mean)·scale + shift, with the float32 form of
/// [`NormCols`] computed once per channel rather than once per row.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RowNorm {
    pub mean: f64,
    pub scale: f64,
    pub shift: f64,
    pub hi: f32,
    pub scale32: f32,
    pub shift32: f32,
    /// Whether the float32 parameters are finite (else float32 kernels use the f64 form).
    pub float32_ok: bool,
}

impl RowNorm {
    pub fn new(mean: f64, scale: f64, shift: f64) -> RowNorm {
        let (hi, scale32, shift32) = float32_form(mean, scale, shift);
        RowNorm {
            mean,
            scale,
            shift,
            hi,
            scale32,
            shift32,
            float32_ok: hi.is_finite() && scale32.is_finite() && shift32.is_finite(),
        }
    }
}

/// (hi, scale32, shift32) of y = (x − mean)·scale + shift; see [`NormCols`].
pub fn float32_form(mean: f64, scale: f64, shift: f64) -> (f32, f32, f32) {
    let hi = mean as f32;
    let lo = mean - f64::from(hi);
    (hi, scale as f32, (shift - lo * scale) as f32)
}
