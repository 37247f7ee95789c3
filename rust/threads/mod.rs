//! The one rayon thread pool every kernel runs in, sized by `bntune.set_num_threads`.
//!
//! The samplers call [`install`] so their parallel iterators use this pool rather than rayon's
//! global one; the batch-norm kernels share their tasks between the calling thread and the
//! pool's workers with [`with_helpers`], or the threads of an OpenMP team when one is joined
//! ([`openmp`], which `bntune.torch` does with torch's). Resizing swaps in a new pool, and calls
//! already running finish on the old one.

pub mod openmp;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};

/// The largest pool `set_num_threads` accepts; beyond it, a typo is likelier than a machine.
pub const MAX_THREADS: usize = 4096;

static POOL: RwLock<Option<Arc<rayon::ThreadPool>>> = RwLock::new(None);

/// The number of threads the pool has before anyone sets it: the cores this process may use.
pub fn default_num_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn build(n: usize) -> Result<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("bntune-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| Error::Value(format!("could not start {n} threads: {e}")))
}

/// The current pool, created with [`default_num_threads`] threads on first use.
pub fn pool() -> Result<Arc<rayon::ThreadPool>> {
    if let Some(pool) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(Arc::clone(pool));
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        *slot = Some(build(default_num_threads())?);
    }
    Ok(Arc::clone(slot.as_ref().expect("the pool was just stored")))
}

/// Resizes the pool. `n` must be in `1..=MAX_THREADS`.
pub fn set_num_threads(n: usize) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(Error::Value(format!(
            "n must be between 1 and {MAX_THREADS} threads, got {n}"
        )));
    }
    let new_pool = build(n)?;
    *POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(new_pool);
    Ok(())
}

/// The number of threads kernels run on.
pub fn num_threads() -> Result<usize> {
    Ok(pool()?.current_num_threads())
}

/// Runs `work(0)` on the calling thread and `work(1)`, …, `work(helpers)` on up to `helpers` of
/// the pool's workers, as each becomes free, and returns once the calling thread's run has
/// returned and no worker is still inside `work`.
///
/// `work` must share its job out itself (each run takes what no other run took, see
/// `batchnorm::plan::map_tasks`), so that it does not matter how many runs join. Its argument
/// numbers the runs: the calling thread is 0, and with an OpenMP team joined a number is a team
/// thread's, the same thread from call to call; bntune's pool keeps a number on one thread when
/// it has one helper. Unlike a rayon scope, the call does not wait for a worker that has not
/// started yet: on a machine whose cores are busy (torch's OpenMP workers spin after each op),
/// a woken worker can take a scheduler time slice to run, far longer than the calling thread
/// needs to do the job alone. A worker that starts after the call returned finds the call
/// closed and does nothing.
///
/// With an OpenMP team joined ([`openmp::join`]), the helpers are the team's threads instead,
/// and the call returns once each has run `work` (the team's own rule).
///
/// Returns an error (never a panic) when a run panicked, on a worker or on the calling thread.
pub fn with_helpers(helpers: usize, work: &(dyn Fn(usize) + Sync)) -> Result<()> {
    if helpers == 0 {
        work(0);
        return Ok(());
    }
    if let Some(done) = openmp::run_on_team(helpers + 1, work) {
        return done;
    }
    let pool = pool()?;
    let gate = Arc::new(Gate::default());
    // SAFETY: the reference is used only by helpers that entered the gate before it closed,
    // and this function returns only after every such helper has left it (`close_and_wait`),
    // so no use outlives the borrow; helpers entering later never touch it.
    let shared: &'static (dyn Fn(usize) + Sync) = unsafe {
        std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(work)
    };
    for member in 1..=helpers {
        let gate = Arc::clone(&gate);
        pool.spawn(move || {
            if gate.enter() {
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared(member)));
                gate.leave(ran.is_err());
            }
        });
    }
    // The calling thread's run may not unwind past the gate: a helper inside still uses `work`.
    let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(0)));
    let theirs = gate.close_and_wait();
    if mine.is_err() || theirs {
        return Err(Error::Value(
            "a kernel task failed (a bug in bntune)".to_owned(),
        ));
    }
    Ok(())
}

/// The door between a [`with_helpers`] call and its helpers: how many helpers are inside, and
/// whether the call has closed (after which no helper enters).
#[derive(Default)]
struct Gate {
    /// Helpers inside, plus [`CLOSED`] once the call closed.
    state: AtomicUsize,
    panicked: AtomicBool,
}

const CLOSED: usize = 1 << (usize::BITS - 1);

impl Gate {
    /// Whether a helper may run: the call has not closed. Entering and closing are read-modify-
    /// writes of one atomic, so they happen in one order: a helper that entered first is waited
    /// for, one that comes after sees the gate closed.
    fn enter(&self) -> bool {
        if self.state.fetch_add(1, Ordering::SeqCst) & CLOSED != 0 {
            self.state.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn leave(&self, panicked: bool) {
        if panicked {
            self.panicked.store(true, Ordering::SeqCst);
        }
        self.state.fetch_sub(1, Ordering::SeqCst);
    }

    /// Closes the gate, waits for the helpers inside to leave (each is finishing the one task
    /// it holds), and says whether any helper's run panicked.
    fn close_and_wait(&self) -> bool {
        let mut inside = self.state.fetch_or(CLOSED, Ordering::SeqCst) & !CLOSED;
        while inside != 0 {
            std::thread::yield_now();
            inside = self.state.load(Ordering::SeqCst) & !CLOSED;
        }
        self.panicked.load(Ordering::SeqCst)
    }
}

/// Runs `op` inside the pool, so rayon's parallel iterators in it use the pool's threads.
pub fn install<R: Send>(op: impl FnOnce() -> R + Send) -> Result<R> {
    Ok(pool()?.install(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test owns the global pool so parallel test threads do not race on its size.
    #[test]
    fn helpers_share_the_work_and_report_a_panic() {
        let next = AtomicUsize::new(0);
        let done: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
        let work = |_: usize| {
            loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= done.len() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
                done[t].fetch_add(1, Ordering::Relaxed);
            }
        };
        for helpers in [0, 1, 3] {
            next.store(0, Ordering::Relaxed);
            done.iter().for_each(|d| d.store(0, Ordering::Relaxed));
            with_helpers(helpers, &work).unwrap();
            assert!(done.iter().all(|d| d.load(Ordering::Relaxed) == 1));
        }
        // Only the worker's run panics; the calling thread's run waits until it has started.
        let caller = std::thread::current().id();
        let started = AtomicBool::new(false);
        let panicky = |_: usize| {
            if std::thread::current().id() != caller {
                started.store(true, Ordering::SeqCst);
                panic!("a task's bug");
            }
            while !started.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        };
        assert!(matches!(with_helpers(1, &panicky), Err(Error::Value(_))));
        // The calling thread's run panics while a worker is inside its own: the call waits
        // for the worker, then reports the panic as an error.
        let (entered, left) = (AtomicBool::new(false), AtomicBool::new(false));
        let caller_panics = |_: usize| {
            if std::thread::current().id() != caller {
                entered.store(true, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                left.store(true, Ordering::SeqCst);
                return;
            }
            while !entered.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            panic!("a task's bug on the calling thread");
        };
        assert!(matches!(
            with_helpers(1, &caller_panics),
            Err(Error::Value(_))
        ));
        assert!(
            left.load(Ordering::SeqCst),
            "returned before the worker left"
        );
    }

    #[test]
    fn pool_size_follows_set_num_threads() {
        assert!(num_threads().unwrap() >= 1);
        set_num_threads(3).unwrap();
        assert_eq!(num_threads().unwrap(), 3);
        assert_eq!(install(rayon::current_num_threads).unwrap(), 3);
        set_num_threads(1).unwrap();
        assert_eq!(install(rayon::current_num_threads).unwrap(), 1);
        assert!(matches!(set_num_threads(0), Err(Error::Value(_))));
        assert!(matches!(
            set_num_threads(MAX_THREADS + 1),
            Err(Error::Value(_))
        ));
        assert_eq!(
            num_threads().unwrap(),
            1,
            "a refused size leaves the pool alone"
        );
        set_num_threads(default_num_threads()).unwrap();
    }
}
