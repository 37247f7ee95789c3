//! Running the kernels' tasks on an OpenMP runtime's threads instead of bntune's pool.
//!
//! In a PyTorch program the cores belong to torch's OpenMP team. After each parallel op its
//! workers keep spinning for milliseconds (libgomp's default spin count) before they sleep, so a
//! bntune worker woken in that time finds no free core: on 2 cores, a BN layer's
//! forward+backward right after a conv took 13.3 ms against 5.2 ms alone (2026-12-07, Zen 3).
//! Handing the tasks to that same team puts them on threads that are already running.
//!
//! The team is reached through `GOMP_parallel`, the entry point GCC's libgomp exports and LLVM's
//! libomp and Intel's libiomp5 export for compatibility. [`join`] finds it in a runtime already
//! loaded into the process (it never loads one); from then on [`super::with_helpers`] runs on
//! the team, until [`leave`]. A child process forked after [`join`] uses bntune's own pool: an
//! OpenMP team's threads do not survive a fork.

use std::ffi::{c_int, c_uint, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use crate::error::{Error, Result};

/// `GOMP_parallel(fn, data, num_threads, flags)`: runs `fn(data)` on the calling thread and
/// `num_threads − 1` team threads, and returns once every run has returned.
type Parallel =
    unsafe extern "C" fn(unsafe extern "C" fn(*mut c_void), *mut c_void, c_uint, c_uint);

/// `omp_get_thread_num()`: the calling thread's number in its team (0 for the thread that
/// started the region).
type ThreadNum = unsafe extern "C" fn() -> c_int;

/// `GOMP_parallel`'s address once [`join`]ed, else null.
static ENTRY: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// `omp_get_thread_num`'s address in the same runtime, set before [`ENTRY`].
static THREAD_NUM: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// The process that joined: a forked child has another id and keeps to bntune's pool.
static OWNER: AtomicU32 = AtomicU32::new(0);

/// Runs the kernels' parallel work on the team of the OpenMP runtime `library` (a path or file
/// name as the dynamic loader knows it, e.g. torch's `.../torch/lib/libgomp.so.1`), which must
/// already be loaded into this process.
pub fn join(library: &str) -> Result<()> {
    let [entry, thread_num] = find_entries(library)?;
    OWNER.store(std::process::id(), Ordering::SeqCst);
    THREAD_NUM.store(thread_num, Ordering::SeqCst);
    ENTRY.store(entry, Ordering::SeqCst);
    Ok(())
}

/// Goes back to bntune's own pool.
pub fn leave() {
    ENTRY.store(std::ptr::null_mut(), Ordering::SeqCst);
}

/// Whether parallel work runs on an OpenMP team (joined, and in the process that joined).
pub fn joined() -> bool {
    entry().is_some()
}

fn entry() -> Option<(Parallel, ThreadNum)> {
    let ptr = ENTRY.load(Ordering::SeqCst);
    if ptr.is_null() || OWNER.load(Ordering::SeqCst) != std::process::id() {
        return None;
    }
    let num = THREAD_NUM.load(Ordering::SeqCst);
    // SAFETY: a non-null ENTRY is the address `find_entries` got for `GOMP_parallel`, stored
    // after THREAD_NUM's `omp_get_thread_num` from the same runtime, with these signatures;
    // the library stays loaded (its handle is never closed).
    unsafe {
        Some((
            std::mem::transmute::<*mut c_void, Parallel>(ptr),
            std::mem::transmute::<*mut c_void, ThreadNum>(num),
        ))
    }
}

/// The addresses of `GOMP_parallel` and `omp_get_thread_num` in `library`.
#[cfg(unix)]
fn find_entries(library: &str) -> Result<[*mut c_void; 2]> {
    let name = std::ffi::CString::new(library)
        .map_err(|_| Error::Value(format!("library {library:?} contains a NUL byte")))?;
    // RTLD_NOLOAD: only a library already loaded (by torch) is found, never a second copy.
    // SAFETY: `name` is a valid C string; with RTLD_NOLOAD nothing is loaded or initialised.
    let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
    if handle.is_null() {
        return Err(Error::Value(format!(
            "library {library:?} is not loaded in this process"
        )));
    }
    let mut found = [std::ptr::null_mut(); 2];
    for (slot, symbol) in found
        .iter_mut()
        .zip([c"GOMP_parallel", c"omp_get_thread_num"])
    {
        // SAFETY: `handle` is a live handle and the symbol name a valid C string. The handle
        // is kept open, so the address stays valid for the life of the process.
        *slot = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
        if slot.is_null() {
            return Err(Error::Value(format!(
                "library {library:?} has no {symbol:?}: not an OpenMP runtime"
            )));
        }
    }
    Ok(found)
}

#[cfg(not(unix))]
fn find_entries(library: &str) -> Result<[*mut c_void; 2]> {
    Err(Error::Value(format!(
        "joining the OpenMP runtime {library:?} is supported on Unix only"
    )))
}

/// One call's work, shared with the team's threads.
struct Call<'a> {
    work: &'a (dyn Fn(usize) + Sync),
    thread_num: ThreadNum,
    panicked: AtomicBool,
}

/// What each team thread runs: the call's work, told the thread's number in the team, with a
/// panic caught (it must not unwind into the OpenMP runtime) and recorded.
unsafe extern "C" fn member(data: *mut c_void) {
    // SAFETY: `data` is the `Call` that `run_on_team` passed, alive until GOMP_parallel returns,
    // which is after every member has returned.
    let call = unsafe { &*(data as *const Call<'_>) };
    // SAFETY: `omp_get_thread_num` takes nothing and may be called from any thread.
    let number = usize::try_from(unsafe { (call.thread_num)() }).unwrap_or(0);
    if catch_unwind(AssertUnwindSafe(|| (call.work)(number))).is_err() {
        call.panicked.store(true, Ordering::SeqCst);
    }
}

/// Runs `work` on the calling thread and `threads − 1` team threads, each told its number in
/// the team (the calling thread's is 0), if a team is joined; `None` if not. `Some(Err)` when
/// a run panicked.
pub(super) fn run_on_team(threads: usize, work: &(dyn Fn(usize) + Sync)) -> Option<Result<()>> {
    let (parallel, thread_num) = entry()?;
    let call = Call {
        work,
        thread_num,
        panicked: AtomicBool::new(false),
    };
    let threads = c_uint::try_from(threads).unwrap_or(c_uint::MAX);
    // SAFETY: `member` matches the callback type, and `call` outlives the call, which returns
    // only after every team thread has finished `member`.
    unsafe { parallel(member, &call as *const Call<'_> as *mut c_void, threads, 0) };
    Some(if call.panicked.load(Ordering::SeqCst) {
        Err(Error::Value(
            "a kernel task failed (a bug in bntune)".to_owned(),
        ))
    } else {
        Ok(())
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Loads the system's libgomp (it comes with GCC, which Rust's linker needs) for the test.
    fn load_libgomp() -> &'static str {
        let name = "libgomp.so.1";
        let c = std::ffi::CString::new(name).unwrap();
        // SAFETY: a valid C string; loading libgomp runs only its own initialisers.
        let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW) };
        assert!(
            !handle.is_null(),
            "libgomp.so.1 not found (install libgomp1)"
        );
        name
    }

    #[test]
    fn tasks_run_on_the_team_and_a_panic_is_an_error() {
        assert!(matches!(
            join("libbntune-no-such-runtime.so"),
            Err(Error::Value(_))
        ));
        assert!(matches!(join("libc.so.6"), Err(Error::Value(_))));
        join(load_libgomp()).unwrap();
        assert!(joined());
        // Two runs that each wait to meet the other: only two threads at once get past this.
        let caller = std::thread::current().id();
        let seen = Mutex::new(Vec::new());
        let met = AtomicU32::new(0);
        let work = |number: usize| {
            seen.lock()
                .unwrap()
                .push((number, std::thread::current().id()));
            met.fetch_add(1, Ordering::SeqCst);
            while met.load(Ordering::SeqCst) < 2 {
                std::thread::yield_now();
            }
        };
        run_on_team(2, &work).unwrap().unwrap();
        let mut ran = std::mem::take(&mut *seen.lock().unwrap());
        ran.sort_unstable_by_key(|&(number, _)| number);
        // The calling thread is number 0, the team's other thread number 1.
        assert_eq!(ran.iter().map(|&(n, _)| n).collect::<Vec<_>>(), [0, 1]);
        assert!(ran[0].1 == caller && ran[1].1 != caller);
        let panicky = |_: usize| {
            if std::thread::current().id() != caller {
                panic!("a task's bug");
            }
        };
        assert!(matches!(
            run_on_team(2, &panicky),
            Some(Err(Error::Value(_)))
        ));
        leave();
        assert!(!joined());
        assert!(run_on_team(2, &work).is_none());
    }
}
