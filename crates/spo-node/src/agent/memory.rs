//! Giving memory back after a burst.
//!
//! A cold start parses and compiles every manifest at once; the transient
//! trees are freed, but glibc's allocator keeps the pages, so the agent
//! would sit at its peak for the rest of its life. After a large
//! reconcile the free heap is returned to the kernel.
#![allow(unsafe_code)]

/// Return free heap pages to the kernel (glibc only; a no-op elsewhere).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it is
    // thread-safe and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
