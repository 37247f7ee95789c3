//! How a call is cut into tasks, and where they run.
//!
//! Results never depend on the number of threads: every reduction is cut into pieces fixed by the
//! shape alone, and pieces are combined in a fixed order. Threads only change which task runs
//! where. Tiny inputs run on the calling thread, so a small call pays no hand-off to the pool.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::error::{Error, Result};
use crate::threads;

/// Inputs with fewer elements than this run on the calling thread.
pub const SEQUENTIAL_BELOW: usize = 1 << 16;

/// The longest stretch of one row whose statistics are taken in one piece (it stays in L1).
pub const PIECE_LEN: usize = 4096;

/// Bytes of one (N, C) input's rows whose statistics are taken in one piece: small enough that
/// the second pass over the piece reads it from L2.
const PIECE_BYTES: usize = 256 << 10;

/// Pieces per group: a group of rows is one task of an (N, C) input (about 1 MiB of input), so
/// there are enough tasks to share between threads and few partial results to combine.
const PIECES_PER_GROUP: usize = 4;

/// The fewest groups an (N, C) input of enough rows is cut into: groups of four pieces left
/// (256, 1024) and (4096, 64) float32 inputs one group, hence one thread, while torch used two.
pub const MIN_GROUPS: usize = 4;

/// The fewest rows of a piece cut smaller to reach [`MIN_GROUPS`]: the column loops read strips
/// of up to eight rows side by side.
const MIN_PIECE_ROWS: usize = 8;

/// Outputs of at least this many bytes are written with non-temporal stores: they cannot stay
/// in cache anyway, and streaming them saves reading each line before it is overwritten.
pub const STREAM_BYTES: usize = 8 << 20;

/// The shortest row (in bytes) whose output is streamed. A row's streaming stores start and end
/// at 32-byte boundaries, and the cache lines it shares with its neighbours get plain stores
/// too; a line written both ways is flushed in pieces. Short rows are mostly such lines: the
/// float64 forward pass on (64, 512, 7, 7) (392-byte rows, 12.8 MB) took 4.6-5.0 ns an
/// element streamed against 0.84-1.07 on (32, 512, 7, 7) (6.4 MB, not streamed), one thread,
/// 2026-12-07; 4 KiB rows have at most one such line in 64.
pub const STREAM_ROW_BYTES: usize = 4 << 10;

/// Whether an output of `bytes` bytes, written in rows of `row_bytes` bytes, is streamed.
pub fn streams(bytes: usize, row_bytes: usize) -> bool {
    bytes >= STREAM_BYTES && row_bytes >= STREAM_ROW_BYTES
}

/// The most row groups an (N, C) input is cut into.
pub const MAX_GROUPS: usize = 64;

/// Runs `count` tasks, on several threads when `parallel` (and the pool has more than one
/// thread), and returns their results in task order.
///
/// The calling thread and up to n − 1 helpers (the pool's workers, or torch's OpenMP team) each
/// take tasks until none is left. The tasks are cut into one contiguous share per thread, and a
/// thread takes its own share first, then what is left of the others': a slow helper (other
/// threads hold the cores) leaves its share to the rest instead of being waited for, and a
/// thread keeps the same share from call to call ([`threads::with_helpers`] numbers them), so
/// the passes of one kernel call (statistics, then normalise) find their rows in that core's
/// cache rather than the other's.
///
/// Each task ends with a store fence, so what it wrote with streaming (non-temporal) stores is
/// visible to every thread once the call returns; the streaming loops themselves do not fence.
pub fn map_tasks<R: Send>(
    parallel: bool,
    count: usize,
    task: impl Fn(usize) -> R + Sync + Send,
) -> Result<Vec<R>> {
    let fenced = |t: usize| {
        let result = task(t);
        store_fence();
        result
    };
    let threads = if parallel { threads::num_threads()? } else { 1 };
    // With one thread (or one task) the calling thread runs the tasks itself: waking a worker
    // would only add a hand-off, which costs most when other threads hold the cores.
    if threads <= 1 || count <= 1 {
        return Ok((0..count).map(fenced).collect());
    }
    let members = threads.min(count);
    let shares = Share::cut(count, members);
    let slots: Vec<Mutex<Option<R>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let work = |member: usize| {
        Share::run(&shares, member, |t| {
            *lock(&slots[t]) = Some(fenced(t));
        });
    };
    threads::with_helpers(members - 1, &work)?;
    slots
        .into_iter()
        .map(|slot| {
            let result = slot.into_inner().unwrap_or_else(PoisonError::into_inner);
            result.ok_or_else(unfinished)
        })
        .collect()
}

/// Runs `count` tasks of `first`, then `between` once on their results (in task order), then
/// `count` tasks of `second` given what `between` made, and returns that: the two passes of an
/// (N, C) call (statistics, then normalise) in one parallel region instead of two.
///
/// Tasks are shared as by [`map_tasks`], and task t of both phases goes to the same thread's
/// share, so a thread normalises the rows it summed while they are in its core's cache. The
/// thread that finishes the last first-phase task runs `between` (the merge of the groups' sums
/// and the per-column coefficients, a few microseconds); the others wait for it, spinning, as
/// they would at the end of a region. Nobody waits for a helper that has not started: its
/// share is taken by the others, as in [`map_tasks`]. Results are those of the sequential
/// order for any number of threads.
pub fn map_phases<R: Send, M: Send + Sync>(
    parallel: bool,
    count: usize,
    first: impl Fn(usize) -> R + Sync + Send,
    between: impl FnOnce(Vec<R>) -> M + Send,
    second: impl Fn(usize, &M) + Sync + Send,
) -> Result<M> {
    let threads = if parallel { threads::num_threads()? } else { 1 };
    if threads <= 1 || count <= 1 {
        let made = between((0..count).map(&first).collect());
        for t in 0..count {
            second(t, &made);
            store_fence();
        }
        return Ok(made);
    }
    let members = threads.min(count);
    let (shares, later) = (Share::cut(count, members), Share::cut(count, members));
    let slots: Vec<Mutex<Option<R>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let finished = AtomicUsize::new(0);
    let between = Mutex::new(Some(between));
    let made: OnceLock<M> = OnceLock::new();
    let failed = AtomicBool::new(false);
    let work = |member: usize| {
        // A run that panics stops the others waiting for a merge that will never come.
        let _flag = FailFlag(&failed);
        Share::run(&shares, member, |t| {
            *lock(&slots[t]) = Some(first(t));
            if finished.fetch_add(1, Ordering::AcqRel) + 1 < count {
                return;
            }
            // The last task of the first phase: every result is in its slot.
            let results: Option<Vec<R>> = slots.iter().map(|s| lock(s).take()).collect();
            let merge = lock(&between).take();
            match (results, merge) {
                (Some(results), Some(merge)) => {
                    let _ = made.set(merge(results));
                }
                // Cannot happen (every slot is filled before the count is reached, and the
                // merge is taken once); if it did, nobody may wait for a merge.
                _ => failed.store(true, Ordering::Release),
            }
        });
        let Some(made) = wait_for(&made, &failed) else {
            return;
        };
        Share::run(&later, member, |t| {
            second(t, made);
            store_fence();
        });
    };
    threads::with_helpers(members - 1, &work)?;
    made.into_inner().ok_or_else(unfinished)
}

/// The value `made` once set, or `None` once `failed` (another run panicked).
fn wait_for<'m, M>(made: &'m OnceLock<M>, failed: &AtomicBool) -> Option<&'m M> {
    let mut spins = 0u32;
    loop {
        if let Some(m) = made.get() {
            return Some(m);
        }
        if failed.load(Ordering::Acquire) {
            return None;
        }
        // Spin while the merge is a few microseconds away; give the core up if it is not
        // (the merging thread may be waiting for it).
        if spins < 1 << 12 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Sets its flag when dropped by a panic's unwinding.
struct FailFlag<'a>(&'a AtomicBool);

impl Drop for FailFlag<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Release);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unfinished() -> Error {
    Error::Value("a kernel task did not finish".to_owned())
}

/// One thread's share of a [`map_tasks`] call: tasks `next..end`, taken one at a time by
/// whichever thread gets there.
struct Share {
    next: AtomicUsize,
    end: usize,
}

impl Share {
    fn new(start: usize, end: usize) -> Share {
        Share {
            next: AtomicUsize::new(start),
            end,
        }
    }

    /// `count` tasks in `members` contiguous shares.
    fn cut(count: usize, members: usize) -> Vec<Share> {
        (0..members)
            .map(|m| Share::new(m * count / members, (m + 1) * count / members))
            .collect()
    }

    /// Runs `task` on the tasks of `member`'s share, then on what is left of the others'.
    fn run(shares: &[Share], member: usize, mut task: impl FnMut(usize)) {
        for i in 0..shares.len() {
            let share = &shares[(member + i) % shares.len()];
            while let Some(t) = share.take() {
                task(t);
            }
        }
    }

    fn take(&self) -> Option<usize> {
        let t = self.next.fetch_add(1, Ordering::Relaxed);
        (t < self.end).then_some(t)
    }
}

/// Orders this thread's earlier streaming stores before its later stores (a no-op where there
/// are no streaming stores). One per task: fencing after every row stalls each row's loads
/// until the previous row's stores have drained.
fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SFENCE is part of SSE, which every x86-64 CPU has.
    unsafe {
        crate::simd::avx2::sfence()
    }
}

/// Whether an input of `len` elements is worth the pool.
pub fn is_parallel(len: usize) -> bool {
    len >= SEQUENTIAL_BELOW
}

/// How the rows of an (N, C) input are cut: pieces of `piece` rows, tasks of `group` rows
/// (a multiple of `piece`). Fixed by the shape alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowGroups {
    pub piece: usize,
    pub group: usize,
}

impl RowGroups {
    /// The cut of `n` rows of `c` elements of `elem_bytes` bytes, `arrays` arrays read
    /// together. At most [`MAX_GROUPS`] groups, so their partial results (C values each) stay
    /// small next to the input even when rows are long, and at least [`MIN_GROUPS`] when the
    /// rows allow (fewer pieces per group, then smaller pieces), so two threads share the work.
    pub fn new(n: usize, c: usize, elem_bytes: usize, arrays: usize) -> RowGroups {
        let fits = (PIECE_BYTES / (c * elem_bytes * arrays).max(1)).max(1);
        let piece = fits.min(n.div_ceil(MIN_GROUPS).max(MIN_PIECE_ROWS));
        let count = n.div_ceil(piece);
        let pieces = (count / MIN_GROUPS)
            .clamp(1, PIECES_PER_GROUP)
            .max(count.div_ceil(MAX_GROUPS));
        RowGroups {
            piece,
            group: piece * pieces,
        }
    }

    /// The rows of group `g` of an input of `n` rows.
    pub fn rows(&self, g: usize, n: usize) -> std::ops::Range<usize> {
        let start = (g * self.group).min(n);
        start..(start + self.group).min(n)
    }

    /// The number of groups of an input of `n` rows.
    pub fn count(&self, n: usize) -> usize {
        n.div_ceil(self.group)
    }
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
    fn row_groups_cover_every_row_once() {
        let g = RowGroups::new(1000, 1024, 4, 1);
        assert_eq!((g.piece, g.group), (64, 256));
        assert_eq!(g.count(1000), 4);
        assert_eq!(g.rows(3, 1000), 768..1000);
        let wide = RowGroups::new(1000, 1 << 20, 8, 2);
        assert_eq!(wide.piece, 1);
        assert!(wide.count(1000) <= MAX_GROUPS);
        let long = RowGroups::new(1 << 20, 16, 4, 1);
        assert!(long.count(1 << 20) <= MAX_GROUPS);
        assert_eq!(long.group % long.piece, 0);
        // Inputs of a few pieces still make MIN_GROUPS tasks.
        for (n, c) in [(256, 1024), (4096, 64), (128, 1024), (33, 1024)] {
            let g = RowGroups::new(n, c, 4, 1);
            assert_eq!(g.count(n), MIN_GROUPS, "{n} {c}");
        }
        assert_eq!(RowGroups::new(20, 1024, 4, 1).piece, 8);
    }

    #[test]
    fn only_large_outputs_of_long_rows_stream() {
        assert!(streams(STREAM_BYTES, STREAM_ROW_BYTES));
        assert!(!streams(STREAM_BYTES - 1, 1 << 20));
        assert!(!streams(64 << 20, 49 * 8));
    }

    #[test]
    fn map_tasks_keeps_task_order() {
        let seq = map_tasks(false, 100, |i| i * i).unwrap();
        let par = map_tasks(true, 100, |i| i * i).unwrap();
        assert_eq!(seq, par);
        assert_eq!(seq[7], 49);
        for count in [0, 1, 2, 3] {
            let got = map_tasks(true, count, |i| i + 1).unwrap();
            assert_eq!(got, (1..=count).collect::<Vec<_>>());
        }
    }

    #[test]
    fn map_phases_merges_in_task_order_and_runs_every_second_task_once() {
        for (parallel, count) in [(false, 5), (true, 0), (true, 1), (true, 2), (true, 37)] {
            let seconds: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
            let made = map_phases(
                parallel,
                count,
                |t| {
                    // Uneven tasks, so the threads finish the first phase in varying order.
                    std::thread::sleep(std::time::Duration::from_micros((t % 3) as u64 * 100));
                    t * 10
                },
                |firsts| firsts,
                |t, firsts: &Vec<usize>| {
                    assert_eq!(firsts[t], t * 10, "task {t} ran before the merge");
                    seconds[t].fetch_add(1, Ordering::Relaxed);
                },
            )
            .unwrap();
            assert_eq!(made, (0..count).map(|t| t * 10).collect::<Vec<_>>());
            assert!(seconds.iter().all(|s| s.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn map_phases_reports_a_panic_in_any_phase_without_hanging() {
        let first = map_phases(
            true,
            8,
            |t| assert!(t != 5, "a task's bug"),
            |_| (),
            |_, _| (),
        );
        assert!(matches!(first, Err(Error::Value(_))));
        let between = map_phases(true, 8, |t| t, |_| panic!("a merge's bug"), |_, _: &()| ());
        assert!(matches!(between, Err(Error::Value(_))));
        let second = map_phases(
            true,
            8,
            |t| t,
            |_| (),
            |t, _| assert!(t != 2, "a task's bug"),
        );
        assert!(matches!(second, Err(Error::Value(_))));
    }

    #[test]
    fn map_tasks_runs_every_task_once_on_several_threads() {
        // Slow tasks: a worker that woke takes some of them while the calling thread runs others.
        let seen = Mutex::new(vec![]);
        let got = map_tasks(true, 16, |i| {
            std::thread::sleep(std::time::Duration::from_millis(1));
            seen.lock().unwrap().push(i);
            i
        });
        assert_eq!(got.unwrap(), (0..16).collect::<Vec<_>>());
        let mut tasks = seen.into_inner().unwrap();
        tasks.sort_unstable();
        assert_eq!(tasks, (0..16).collect::<Vec<_>>());
    }
}
