//! Discrepancies of a sample in [0, 1]^d, with scipy's definitions
//! (`scipy.stats.qmc.discrepancy`, Fang et al. 2006; Zhou et al. 2013 for the mixture one).
//!
//! For n points x_i:
//! * CD (centred): (13/12)^d - 2/n Σ_i Π_k (1 + |z_ik|/2 - z_ik²/2)
//!   + 1/n² Σ_ij Π_k (1 + |z_ik|/2 + |z_jk|/2 - |x_ik - x_jk|/2), z = x - 1/2.
//! * WD (wrap-around): -(4/3)^d + 1/n² Σ_ij Π_k (3/2 - |x_ik - x_jk| + |x_ik - x_jk|²).
//! * MD (mixture): (19/12)^d - 2/n Σ_i Π_k (5/3 - |z_ik|/4 - z_ik²/4)
//!   + 1/n² Σ_ij Π_k (15/8 - |z_ik|/4 - |z_jk|/4 - 3/4 |x_ik - x_jk| + |x_ik - x_jk|²/2).
//! * L2-star: sqrt(3^-d - 2^(1-d)/n Σ_i Π_k (1 - x_ik²) + 1/n² Σ_ij Π_k (1 - max(x_ik, x_jk))).
//!
//! The O(n² d) pair products run over the thread pool; they are added in scipy's order, so the
//! result matches scipy's (single-worker) value closely and never depends on the thread count.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::threads;

/// Which discrepancy to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Centered,
    WrapAround,
    Mixture,
    L2Star,
}

impl Method {
    /// Parses scipy's names: "CD", "WD", "MD", "L2-star".
    pub fn parse(name: &str) -> Result<Method> {
        match name {
            "CD" => Ok(Method::Centered),
            "WD" => Ok(Method::WrapAround),
            "MD" => Ok(Method::Mixture),
            "L2-star" => Ok(Method::L2Star),
            other => Err(Error::Value(format!(
                "method must be one of 'CD', 'WD', 'MD', 'L2-star', got {other:?}"
            ))),
        }
    }
}

fn pair_term(method: Method, xi: &[f64], xj: &[f64]) -> f64 {
    let mut prod = 1.0;
    match method {
        Method::Centered => {
            for (&a, &b) in xi.iter().zip(xj) {
                prod *= 1.0 + 0.5 * (a - 0.5).abs() + 0.5 * (b - 0.5).abs() - 0.5 * (a - b).abs();
            }
        }
        Method::WrapAround => {
            for (&a, &b) in xi.iter().zip(xj) {
                let t = (a - b).abs();
                prod *= 1.5 - t + t * t;
            }
        }
        Method::Mixture => {
            for (&a, &b) in xi.iter().zip(xj) {
                let t = (a - b).abs();
                prod *= 15.0 / 8.0 - 0.25 * (a - 0.5).abs() - 0.25 * (b - 0.5).abs() - 0.75 * t
                    + 0.5 * t * t;
            }
        }
        Method::L2Star => {
            for (&a, &b) in xi.iter().zip(xj) {
                prod *= 1.0 - a.max(b);
            }
        }
    }
    prod
}

fn single_term(method: Method, x: &[f64]) -> f64 {
    let mut prod = 1.0;
    for &a in x {
        let z = (a - 0.5).abs();
        prod *= match method {
            Method::Centered => 1.0 + 0.5 * z - 0.5 * z * z,
            Method::Mixture => 5.0 / 3.0 - 0.25 * z - 0.25 * z * z,
            Method::L2Star => 1.0 - a * a,
            Method::WrapAround => 1.0,
        };
    }
    prod
}

/// The discrepancy of the row-major (n, d) `sample`, whose values must lie in [0, 1].
pub fn discrepancy(sample: &[f64], d: usize, method: Method) -> Result<f64> {
    discrepancy_of_part(sample, d, method, 0)
}

/// The terms of the discrepancy of `sample` as part of a design with `more` points still to
/// come: the formulas with n replaced by n + `more` (scipy's `iterative=True` is `more = 1`;
/// adding the new point's terms, see `bntune.qmc.update_discrepancy`, completes the sum).
pub fn discrepancy_of_part(sample: &[f64], d: usize, method: Method, more: usize) -> Result<f64> {
    if d == 0 || sample.len() % d != 0 {
        return Err(Error::Shape(format!(
            "sample must have at least one column and whole rows, got {} values for d={d}",
            sample.len()
        )));
    }
    let n = sample.len() / d;
    if n == 0 {
        return Err(Error::Shape(
            "sample must have at least one point, got 0 rows".into(),
        ));
    }
    if let Some(bad) = sample.iter().find(|x| !(0.0..=1.0).contains(*x)) {
        return Err(Error::Value(format!(
            "sample must lie in the unit hypercube [0, 1]^d, found {bad}"
        )));
    }
    let disc2 = pair_sum(sample, n, d, method)?;
    let disc1: f64 = sample.chunks_exact(d).map(|x| single_term(method, x)).sum();
    // scipy's expressions, operation for operation (n**2 is an integer there).
    let n = n.saturating_add(more);
    let nf = n as f64;
    let n2 = (n as u128 * n as u128) as f64;
    let df = d as f64;
    Ok(match method {
        Method::Centered => (13.0f64 / 12.0).powf(df) - 2.0 / nf * disc1 + 1.0 / n2 * disc2,
        Method::WrapAround => -(4.0f64 / 3.0).powf(df) + 1.0 / n2 * disc2,
        Method::Mixture => (19.0f64 / 12.0).powf(df) - 2.0 / nf * disc1 + 1.0 / n2 * disc2,
        Method::L2Star => {
            let one_div_n = 1.0 / nf;
            (3.0f64.powf(-df) - one_div_n * 2.0f64.powf(1.0 - df) * disc1
                + 1.0 / nf.powi(2) * disc2)
                .sqrt()
        }
    })
}

/// Rows of pair products computed together (bounded so the buffer stays near 8 MB).
const BUFFER_ELEMENTS: usize = 1 << 20;

/// The double sum over pairs, accumulated in scipy's order (one running sum over i, then j;
/// per-row partial sums for L2-star) so the result matches it to rounding of the last terms.
/// The products are computed in parallel a block of rows at a time; only the additions are
/// sequential.
fn pair_sum(sample: &[f64], n: usize, d: usize, method: Method) -> Result<f64> {
    let block_rows = (BUFFER_ELEMENTS / n).clamp(1, n);
    let mut buffer = vec![0.0f64; block_rows * n];
    let mut total = 0.0f64;
    for i0 in (0..n).step_by(block_rows) {
        let rows = block_rows.min(n - i0);
        let products = &mut buffer[..rows * n];
        let fill_row = |(r, out): (usize, &mut [f64])| {
            let xi = &sample[(i0 + r) * d..(i0 + r + 1) * d];
            for (p, xj) in out.iter_mut().zip(sample.chunks_exact(d)) {
                *p = pair_term(method, xi, xj);
            }
        };
        if rows * n * d < 1 << 15 {
            products.chunks_mut(n).enumerate().for_each(fill_row);
        } else {
            threads::install(|| products.par_chunks_mut(n).enumerate().for_each(fill_row))?;
        }
        for row in products.chunks(n) {
            if method == Method::L2Star {
                let mut row_sum = 0.0;
                for &p in row {
                    row_sum += p;
                }
                total += row_sum;
            } else {
                for &p in row {
                    total += p;
                }
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_point_closed_forms() {
        // One point at the centre in 1-D: CD = 13/12 - 2 + 1 = 1/12.
        let cd = discrepancy(&[0.5], 1, Method::Centered).unwrap();
        assert!((cd - 1.0 / 12.0).abs() < 1e-15);
        // WD of one point: -(4/3) + 3/2 = 1/6.
        let wd = discrepancy(&[0.3], 1, Method::WrapAround).unwrap();
        assert!((wd - 1.0 / 6.0).abs() < 1e-15);
        // L2-star of x in 1-D: sqrt(1/3 - (1 - x²) + (1 - x)).
        let x: f64 = 0.25;
        let l2 = discrepancy(&[x], 1, Method::L2Star).unwrap();
        assert!((l2 - (1.0 / 3.0 - (1.0 - x * x) + (1.0 - x)).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn a_part_plus_the_last_points_terms_is_the_whole() {
        // CD of {0.25, 0.75} in 1-D with n = 2, from the first point's terms with n = 2 plus
        // the second point's: -2/2 q(0.75) + 1/4 (2 f(0.25, 0.75) + f(0.75, 0.75)).
        let whole = discrepancy(&[0.25, 0.75], 1, Method::Centered).unwrap();
        let part = discrepancy_of_part(&[0.25], 1, Method::Centered, 1).unwrap();
        let q = 1.0 + 0.5 * 0.25 - 0.5 * 0.0625;
        let f_pair = 1.0 + 0.125 + 0.125 - 0.25;
        let f_self = 1.0 + 0.25;
        let rest = -q + 0.25 * (2.0 * f_pair + f_self);
        assert!((part + rest - whole).abs() < 1e-15);
    }

    #[test]
    fn bad_samples() {
        assert!(discrepancy(&[], 2, Method::Centered).is_err());
        assert!(discrepancy(&[0.5, 1.5], 2, Method::Centered).is_err());
        assert!(discrepancy(&[0.5, f64::NAN], 2, Method::Centered).is_err());
        assert!(Method::parse("XD").is_err());
    }
}
