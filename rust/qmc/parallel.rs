//! Splitting a row-major (n, d) output over the thread pool by ranges of point indices.
//!
//! Every engine computes point `i` from `i` alone (or from a block keyed by `i`), so the result is
//! the same for any thread count; small draws stay on the calling thread, where the pool's
//! start-up cost would dominate.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::threads;

/// Outputs up to this many elements are filled on the calling thread.
const SERIAL_LIMIT: usize = 1 << 15;
/// Elements per parallel task: large enough to amortise a task, small enough to balance.
const TASK_ELEMENTS: usize = 1 << 16;

/// Calls `fill(first_row, rows)` on consecutive chunks of `out`, each a whole number of rows of
/// `d` values; chunks run in parallel for large outputs.
pub fn for_row_chunks<T: Send>(
    out: &mut [T],
    d: usize,
    fill: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Result<()> {
    whole_points(out.len(), d)?;
    if out.len() <= SERIAL_LIMIT {
        fill(0, out);
        return Ok(());
    }
    let rows = (TASK_ELEMENTS / d).max(1);
    threads::install(|| {
        out.par_chunks_mut(rows * d)
            .enumerate()
            .for_each(|(c, chunk)| fill(c * rows, chunk));
    })
}

/// How many points of `d` values `len` values hold; an error unless a whole number (and for
/// `d = 0`, where no number of points is meant).
pub fn whole_points(len: usize, d: usize) -> Result<usize> {
    if d == 0 || len % d != 0 {
        return Err(Error::Shape(format!(
            "out must hold whole points of d={d} values, got {len} values"
        )));
    }
    Ok(len / d)
}

/// Checks that points `start .. start + n` exist in a sequence of `limit` points and says which
/// argument is at fault otherwise.
pub fn check_range(start: u64, n: usize, limit: u128, what: &str) -> Result<()> {
    let end = u128::from(start) + n as u128;
    if end > limit {
        return Err(Error::Value(format!(
            "{what} has {limit} points; drawing n={n} from index {start} would need {end}"
        )));
    }
    Ok(())
}
