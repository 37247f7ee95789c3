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
    /// Both forms from the f64 one. Each line below is a loop over the C columns that the
    /// compiler vectorises; a loop pushing every field of one column at a time did not, and on
    /// (256, 1024) float32 the per-column work was then a fifth of a call's time.
    pub fn new(mean: Vec<f64>, scale: Vec<f64>, shift: Vec<f64>) -> NormCols {
        let hi = hi_parts(&mean);
        let scale32: Vec<f32> = scale.iter().map(|&s| s as f32).collect();
        let shift32 = shifts32(&mean, &scale, &shift);
        let float32_ok = all_finite(&hi) & all_finite(&scale32) & all_finite(&shift32);
        NormCols {
            mean,
            scale,
            shift,
            hi,
            scale32,
            shift32,
            float32_ok,
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
    /// Both forms from the f64 one, in vectorised loops over the columns (see [`NormCols::new`]).
    pub fn new(mean: Vec<f64>, k: Vec<f64>, p: Vec<f64>, q: Vec<f64>) -> DxCols {
        // (x − mean)·p + q is y = (x − mean)·scale + shift with scale = p, shift = q.
        let hi = hi_parts(&mean);
        let k32: Vec<f32> = k.iter().map(|&v| v as f32).collect();
        let p32: Vec<f32> = p.iter().map(|&v| v as f32).collect();
        let q32 = shifts32(&mean, &p, &q);
        let float32_ok = all_finite(&hi) & all_finite(&k32) & all_finite(&p32) & all_finite(&q32);
        DxCols {
            mean,
            k,
            p,
            q,
            hi,
            k32,
            p32,
            q32,
            float32_ok,
        }
    }
}

/// The `hi` of [`float32_form`] of each column.
fn hi_parts(mean: &[f64]) -> Vec<f32> {
    mean.iter().map(|&m| float32_form(m, 0.0, 0.0).0).collect()
}

/// The float32 shift of [`float32_form`] of each column (inlined, so the loop vectorises).
fn shifts32(mean: &[f64], scale: &[f64], shift: &[f64]) -> Vec<f32> {
    let cols = mean.iter().zip(scale).zip(shift);
    cols.map(|((&m, &sc), &sh)| float32_form(m, sc, sh).2)
        .collect()
}

/// Whether every value is finite (no early exit, so the loop vectorises).
fn all_finite(values: &[f32]) -> bool {
    values.iter().fold(true, |ok, v| ok & v.is_finite())
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
#[inline(always)]
pub fn float32_form(mean: f64, scale: f64, shift: f64) -> (f32, f32, f32) {
    let hi = mean as f32;
    let lo = mean - f64::from(hi);
    (hi, scale as f32, (shift - lo * scale) as f32)
}
