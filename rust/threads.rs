//! The one rayon thread pool every kernel runs in, sized by `bntune.set_num_threads`.
//!
//! Kernels call [`install`] so their parallel iterators use this pool rather than rayon's global
//! one; resizing swaps in a new pool, and calls already running finish on the old one.

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

/// Runs `op` on the calling thread with a scope whose spawned jobs run on the pool's threads.
pub fn in_place_scope<'scope, R>(op: impl FnOnce(&rayon::Scope<'scope>) -> R) -> Result<R> {
    Ok(pool()?.in_place_scope(op))
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
