//! How a call is cut into tasks, and where they run.
//!
//! Results never depend on the number of threads: every reduction is cut into pieces fixed by the
//! shape alone, and pieces are combined in a fixed order. Threads only change which task runs
//! where. Tiny inputs run on the calling thread, so a small call pays no hand-off to the pool.

use rayon::prelude::*;

use crate::error::Result;
use crate::threads;

/// Inputs with fewer elements than this run on the calling thread.
pub const SEQUENTIAL_BELOW: usize = 1 << 16;

/// The longest stretch of one row whose statistics are taken in one piece (it stays in L1).
pub const PIECE_LEN: usize = 4096;

/// Bytes of one cache line: column blocks of (N, C) inputs are a whole number of lines wide.
const LINE_BYTES: usize = 64;

/// Bytes of input one column block of an (N, C) input should span, so it stays in cache between
/// the statistics pass and the normalise pass.
const BLOCK_BYTES: usize = 1 << 20;

/// Runs `count` tasks, in the pool when `parallel`, and returns their results in task order.
pub fn map_tasks<R: Send>(
    parallel: bool,
    count: usize,
    task: impl Fn(usize) -> R + Sync + Send,
) -> Result<Vec<R>> {
    if parallel {
        threads::install(|| (0..count).into_par_iter().map(task).collect())
    } else {
        Ok((0..count).map(task).collect())
    }
}

/// Whether an input of `len` elements is worth the pool.
pub fn is_parallel(len: usize) -> bool {
    len >= SEQUENTIAL_BELOW
}

/// The width, in columns, of the column blocks an (N, C) input of `n` rows is cut into, when each
/// row of a block occupies `row_bytes_per_col` bytes per column (the element size times the
/// number of arrays read together).
pub fn column_block(n: usize, c: usize, elem_bytes: usize, arrays: usize) -> usize {
    let line = (LINE_BYTES / elem_bytes).max(1);
    let fit = BLOCK_BYTES / (n * elem_bytes * arrays).max(1);
    let width = (fit / line * line).max(line);
    // Wide inputs also get at least 8 blocks, so two threads share the work evenly.
    let balanced = c.div_ceil(8).div_ceil(line) * line;
    width.min(balanced.max(line)).min(c)
}

/// The number of rows of a column block whose statistics are taken in one piece (it stays in L1).
pub fn rows_per_piece(width: usize, elem_bytes: usize) -> usize {
    ((PIECE_LEN * 8) / (width * elem_bytes).max(1)).max(1)
}

/// A mutable buffer that disjoint tasks write into at the same time.
///
/// Used where tasks own interleaved parts of the output (a channel of an (N, C, S) array is N
/// strided rows), which `chunks_mut` cannot express.
pub struct Shared<'a, T> {
    ptr: *mut T,
    len: usize,
    _buf: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: `Shared` only hands out disjoint sub-slices (the callers' contract on `part`), so tasks
// on different threads never alias; T: Send makes moving the writes across threads sound.
unsafe impl<T: Send> Send for Shared<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Shared<'_, T> {}

impl<'a, T> Shared<'a, T> {
    pub fn new(buf: &'a mut [T]) -> Self {
        Shared {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            _buf: std::marker::PhantomData,
        }
    }

    /// The sub-slice `start..start + len`.
    ///
    /// # Safety
    /// No other live slice obtained from this `Shared` overlaps the range.
    #[allow(clippy::mut_from_ref)] // disjointness is the caller's contract
    pub unsafe fn part(&self, start: usize, len: usize) -> &mut [T] {
        assert!(
            start <= self.len && len <= self.len - start,
            "task range outside the buffer"
        );
        // SAFETY: in bounds (just checked); exclusivity is the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_blocks_are_whole_lines_and_cover_small_inputs() {
        assert_eq!(column_block(4096, 1024, 4, 1), 64);
        assert_eq!(column_block(32768, 1024, 4, 1), 16);
        assert_eq!(column_block(32768, 1024, 8, 1), 8);
        assert_eq!(column_block(10, 7, 4, 1), 7);
        assert_eq!(column_block(10, 100, 8, 2), 16);
    }

    #[test]
    fn map_tasks_keeps_task_order() {
        let seq = map_tasks(false, 100, |i| i * i).unwrap();
        let par = map_tasks(true, 100, |i| i * i).unwrap();
        assert_eq!(seq, par);
        assert_eq!(seq[7], 49);
    }
}
