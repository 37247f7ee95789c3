//! The in-place update of running statistics after a training step (torch's rule).

use super::real::Real;

/// running ← (1 − momentum)·running + momentum·batch·correction, computed in f64.
///
/// For the running mean `correction` is 1; for the running variance it is M/(M − 1), which turns
/// the biased batch variance into the unbiased one.
pub fn update_running<T: Real>(running: &mut [T], batch: &[f64], momentum: f64, correction: f64) {
    for (r, b) in running.iter_mut().zip(batch) {
        *r = T::from_f64((1.0 - momentum) * r.to_f64() + momentum * (b * correction));
    }
}

/// M/(M − 1): the factor from the biased to the unbiased variance of M values.
pub fn bessel(m: usize) -> f64 {
    let m = m as f64;
    m / (m - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_statistics_move_by_momentum() {
        let mut r = [1.0f32, 2.0];
        update_running(&mut r, &[3.0, 4.0], 0.25, 1.0);
        assert_eq!(r, [1.5, 2.5]);
        let mut v = [0.0f64];
        update_running(&mut v, &[3.0], 1.0, bessel(4));
        assert_eq!(v, [4.0]);
    }
}
