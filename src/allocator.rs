//! What the `agon` binary asks of glibc's allocator before it starts: keep freed memory.
//!
//! glibc's malloc serves a block above its mmap threshold (128 KiB at first, raised by the
//! free of a larger mmapped block, up to 32 MiB) with a fresh `mmap`, and unmaps it on
//! free; and it hands the top of the heap back to the kernel once more than its trim
//! threshold is free there. A tensor op's output or scratch of a few MB was then faulted
//! in page by page on most calls, because the threshold that the previous ops' frees had
//! left decided where it came from. `agon eval` on the default model's checkpoint took
//! 2.6-3.3 million page faults (10-13 GB of fresh pages) and 16.9-18.0 s; with both
//! thresholds raised, 0.2-1.8 million and 13.6-15.1 s, the same scores (2-vCPU Zen 4,
//! 2026-12-07, alternated). Training is not
//! affected (about 90 faults a step). The library crates leave the allocator to the
//! program that links them; this is the binary's choice, and a user's own `MALLOC_*`
//! variables or `GLIBC_TUNABLES` take precedence over it.

/// Blocks below this come from the heap, not from a fresh mapping (256 MiB: every
/// tensor of the shipped models' batches).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 256 << 20;

/// Free memory at the top of the heap is kept up to this much (1 GiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1 << 30;

/// Whether the environment sets the allocator's parameters itself (a `MALLOC_*` variable or
/// `GLIBC_TUNABLES`): then [`keep_freed_memory`] leaves them alone.
///
/// ```
/// let _ = agon::allocator::user_settings_present();
/// ```
pub fn user_settings_present() -> bool {
    std::env::vars_os().any(|(key, _)| {
        let key = key.to_string_lossy();
        key.starts_with("MALLOC_") || key == "GLIBC_TUNABLES"
    })
}

/// Raises glibc's mmap and trim thresholds (see the module docs) unless the environment
/// sets the allocator's parameters itself ([`user_settings_present`]). Returns whether both were set: false where
/// the user's settings stand, on other C libraries, or if glibc refuses a value.
///
/// ```
/// // On glibc this keeps freed blocks for reuse; elsewhere it does nothing.
/// let _set = agon::allocator::keep_freed_memory();
/// ```
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if user_settings_present() {
            return false;
        }
        // SAFETY: mallopt only sets two of the allocator's parameters, under glibc's own
        // lock, so it may be called at any time; the binary calls it first thing.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
