//! A counting global allocator for memory-bound tests: peak bytes live during a call, in
//! the whole process or on the calling thread.
//!
//! A test binary installs it with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: agon_reference::counting::Counting = agon_reference::counting::Counting;
//! ```
//!
//! [`peak_during`] counts every thread (rayon's workers too), so a binary measuring with it
//! must run its measurements from ONE test function, with nothing else allocating beside
//! it; [`thread_peak_during`] counts only the calling thread, so tests may run in parallel
//! (but work handed to other threads is not counted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

/// The allocator: [`System`], with every size change recorded.
pub struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
    static THREAD_PEAK: Cell<isize> = const { Cell::new(0) };
}

fn record(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PEAK.fetch_max(now, Ordering::Relaxed);
    // `try_with`: during thread teardown the thread-locals may already be gone.
    let _ = THREAD_LIVE.try_with(|live| {
        let v = live.get() + delta;
        live.set(v);
        let _ = THREAD_PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every method forwards its arguments unchanged to `System`, so `System`'s
// guarantees hold for the caller; the bookkeeping touches two atomics and two
// const-initialised thread-locals holding `Cell<isize>` (no allocation, no destructor, no
// re-entry).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        record(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            record(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Runs `f` and returns its result with the peak bytes allocated in the whole process
/// above what was live when it started (0 unless [`Counting`] is the global allocator).
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed);
    (out, (peak - start).max(0) as usize)
}

/// As [`peak_during`], counting only allocations made on the calling thread.
pub fn thread_peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = THREAD_LIVE.with(Cell::get);
    THREAD_PEAK.with(|p| p.set(start));
    let out = f();
    let peak = THREAD_PEAK.with(Cell::get);
    (out, (peak - start).max(0) as usize)
}
