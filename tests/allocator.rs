//! The `agon` binary's allocator settings (`agon::allocator`): glibc accepts them, and a
//! freed block of a batch's size is reused without new page faults.

/// Minor page faults of this process so far.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn minor_faults() -> i64 {
    // SAFETY: getrusage writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    usage.ru_minflt
}

/// Allocates and fills `floats` floats, returning the minor faults that took.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn faults_to_fill(floats: usize) -> i64 {
    let before = minor_faults();
    let v = std::hint::black_box(vec![1.0f32; floats]);
    let faults = minor_faults() - before;
    drop(v);
    faults
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_blocks_are_reused_without_page_faults() {
    if agon::allocator::user_settings_present() {
        assert!(
            !agon::allocator::keep_freed_memory(),
            "the user's settings win"
        );
        return;
    }
    assert!(
        agon::allocator::keep_freed_memory(),
        "glibc refused the thresholds"
    );
    // 24 MiB, a few tensors' worth of a batch: 6,144 pages the first time.
    let floats = 6 << 20;
    let first = faults_to_fill(floats);
    let again: Vec<i64> = (0..3).map(|_| faults_to_fill(floats)).collect();
    assert!(first > 1_000, "the first fill faulted {first} pages in");
    assert!(
        again.iter().all(|&f| f < 200),
        "refills faulted {again:?} pages in after a first fill of {first}"
    );
}
