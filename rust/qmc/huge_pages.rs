//! Advice to back large buffers with transparent huge pages.
//!
//! A fresh buffer costs one page fault per page on first touch, and the kernel zeroes each page
//! then. With 4 KiB pages, faulting a 64 MiB scratch buffer costs several times what filling it
//! does; with 2 MiB pages the faults are 512 times fewer (numpy gives its large arrays the same
//! advice). Linux only; elsewhere, and when the kernel declines, nothing changes but speed.

/// Buffers from this size on are advised (smaller ones rarely span a whole huge page).
const MIN_BYTES: usize = 4 << 20;

/// Asks the kernel to back the not-yet-touched pages of `buf` with huge pages.
pub fn advise<T>(buf: &mut [T]) {
    let bytes = std::mem::size_of_val(buf);
    if bytes < MIN_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = buf.as_mut_ptr() as usize;
        let first = start.next_multiple_of(PAGE);
        let end = (start + bytes) / PAGE * PAGE;
        if end > first {
            // SAFETY: [first, end) lies inside `buf`, which we borrow mutably; MADV_HUGEPAGE
            // changes how pages are backed, never their contents. The result is only advice, so
            // an error (an old kernel, THP disabled) is ignored.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
}
