//! When and how kernels split work across rayon threads.
//!
//! Determinism rule: work is split into chunks of a *fixed* size that never depends on the
//! number of threads, and partial results are combined in chunk order. A kernel therefore
//! performs the same floating-point operations in the same order whether rayon runs it on
//! one thread or sixteen, and its output is bit-identical.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

/// Elementwise kernels go parallel above this many output elements. Below it, the cost of
/// waking rayon's workers (a few microseconds) exceeds the work: 64 Ki f32 is ~256 KiB,
/// about 20-40 us of streaming work on one core.
pub(crate) const PAR_ELEMENTWISE_MIN: usize = 1 << 16;

/// Output elements per parallel task in elementwise kernels. Large enough to amortise task
/// overhead, small enough that 2-16 threads get several tasks each for load balance.
pub(crate) const ELEMENTWISE_CHUNK: usize = 1 << 14;

/// Fills `out` by calling `fill(start, chunk)` on fixed-size chunks, in parallel when the
/// output is large. `start` is the logical index of `chunk[0]`.
pub(crate) fn fill_chunks(out: &mut [f32], fill: impl Fn(usize, &mut [f32]) + Sync + Send) {
    if out.len() >= PAR_ELEMENTWISE_MIN {
        out.par_chunks_mut(ELEMENTWISE_CHUNK)
            .enumerate()
            .for_each(|(i, chunk)| widened(&fill, i * ELEMENTWISE_CHUNK, chunk));
    } else {
        widened(&fill, 0, out);
    }
}

/// `fill(start, chunk)`, compiled for the kernels' path
/// ([`Isa::active`](crate::gemm::Isa::active): AVX-512, AVX2): the crate is built for
/// baseline x86-64, so the elementwise closures' loops would otherwise vectorise four
/// floats wide (SSE2). The closure is inlined into the wider
/// function, where its loops vectorise 16 or 8 wide. Most of these passes stream memory,
/// so the gain is small: on dcgan28's training step (one thread, Xeon, `perf record`) the
/// chunked elementwise loops went from 4.5% of the time to 3.9%.
/// The bits do not change: each lane does the IEEE operation the scalar code does (Rust
/// never contracts a multiply and an add into an FMA, nor reassociates sums), and calls
/// (`exp`, `tanh`) stay calls.
#[inline(always)]
fn widened<T>(fill: &impl Fn(usize, &mut [T]), start: usize, chunk: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<T>(fill: &impl Fn(usize, &mut [T]), start: usize, chunk: &mut [T]) {
            fill(start, chunk)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<T>(fill: &impl Fn(usize, &mut [T]), start: usize, chunk: &mut [T]) {
            fill(start, chunk)
        }
        // The kernels' path (`AGON_GEMM_ISA` can force a lower one), decided once.
        match crate::gemm::Isa::active() {
            // SAFETY: `Isa::active` is only Avx512 on a CPU with AVX-512F.
            crate::gemm::Isa::Avx512 => return unsafe { avx512(fill, start, chunk) },
            // SAFETY: only Avx2 on a CPU with AVX2.
            crate::gemm::Isa::Avx2 => return unsafe { avx2(fill, start, chunk) },
            _ => {}
        }
    }
    fill(start, chunk)
}

/// A new vector of `n` elements filled by `fill(start, chunk)` on the same fixed-size chunks
/// as [`fill_chunks`], without first zero-filling memory that is about to be overwritten
/// (`memset` was 5% of dcgan28's training step). `fill` must write every element of the
/// chunk it is given.
pub(crate) fn collect_chunks(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    if n >= PAR_ELEMENTWISE_MIN {
        spare
            .par_chunks_mut(ELEMENTWISE_CHUNK)
            .enumerate()
            .for_each(|(i, chunk)| widened(&fill, i * ELEMENTWISE_CHUNK, chunk));
    } else {
        widened(&fill, 0, spare);
    }
    // SAFETY: the capacity is at least n, and `fill` wrote every element of every chunk
    // (its contract, kept by each caller in this crate), so the first n are initialised.
    unsafe { out.set_len(n) };
    out
}

/// Runs `f` on a thread of rayon's global pool and returns its result; inline when the
/// caller already is one.
///
/// Why: every parallel kernel called from outside the pool is *injected* into it. The
/// caller then sleeps on a latch until a worker, woken by a futex, has run the job, so each
/// op pays two thread wake-ups (a `perf record` of the default training step on 2 vCPUs
/// put 12% of its time in `futex_wake`). Called from a worker, the same kernels split with
/// `join` on that worker's own deque: the worker runs one half itself and an idle worker
/// steals the other, with no wake-up of the calling thread. Wrapping a whole training step
/// or a sampling pass in `on_worker` pays the hand-over once for hundreds of ops. For the
/// closure's duration the pool's other workers are kept awake, running its jobs as they
/// appear (`keep_awake`), so that the ops do not each wait for a sleeping worker.
///
/// The results are the same bits either way: kernels split work by size, never by thread
/// (module docs). Thread-local state is the worker's, not the caller's, and a waiting
/// worker may run other callers' jobs: code that depends on such state (autodiff's
/// gradient-recording switch) uses `agon_autodiff::on_worker`, which carries it over.
///
/// ```
/// let sum = agon_tensor::on_worker(|| {
///     assert!(rayon::current_thread_index().is_some());
///     agon_tensor::NdArray::ones(&[1000]).sum_all().to_vec()
/// });
/// assert_eq!(sum, vec![1000.0]);
/// ```
pub fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    /// Tells the helpers to stop when dropped, also when `f` panics.
    struct Done<'a>(&'a AtomicBool);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let done = AtomicBool::new(false);
    rayon::scope(|s| {
        let owner = rayon::current_thread_index();
        let done = &done;
        for _ in 1..rayon::current_num_threads() {
            s.spawn(move |_| keep_awake(done, owner));
        }
        let _done = Done(done);
        f()
    })
}

/// Longest a [`keep_awake`] helper spins without finding a job before it leaves its worker
/// to rayon's own idle loop (which spins briefly, then sleeps). Gaps between the parallel
/// ops of a step are far shorter; the bound is what keeps two callers' helpers from
/// holding each other's workers for good (see [`keep_awake`]).
const SPIN_IDLE: Duration = Duration::from_millis(2);

/// Runs pending jobs of the pool on this worker until `done`, so that the worker is awake
/// when the next parallel op of `on_worker`'s closure forks, as OpenMP's threads spin
/// between parallel regions (PyTorch's runtime) before they sleep.
///
/// Why: left to rayon, the other worker went to sleep in the short serial stretches
/// between a step's ops, and each op then paid a futex wake-up (and, on a VM, the vCPU's
/// wake-up) before the second thread joined in: mlp2d's step ran as fast on one thread as
/// on two, 20-25% of its samples in `sched_yield` and futex calls. Alternated three times
/// with and without helpers (two threads, Zen 4, 2026-12-07): mlp2d 2.1-3.0 ms against
/// 2.4-3.6, the default model's step 27.9-31.8 ms against 32.2-37.6, dcgan28 170-204 ms
/// against 174-229, faster in every pair.
///
/// The helpers change which thread runs a job, never what a job computes, so results keep
/// their bits. A helper started on the closure's own thread returns at once (it would spin
/// under the closure it waits for). A helper may end up running a job of another caller's
/// closure, and so hold a worker under that closure's frame; if two callers' helpers each
/// did so, each closure would wait for the other's. A helper that finds no job for
/// [`SPIN_IDLE`] therefore returns, which unwinds such a wait.
fn keep_awake(done: &AtomicBool, owner: Option<usize>) {
    if rayon::current_thread_index() == owner {
        return;
    }
    let mut idle_since = Instant::now();
    while !done.load(Ordering::Acquire) {
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => idle_since = Instant::now(),
            _ if idle_since.elapsed() > SPIN_IDLE => return,
            _ => std::hint::spin_loop(),
        }
    }
}

/// The elementwise sum of `leaf(i)` over `leaves`, as `left half + right half` recursively,
/// the halves in parallel. The tree's shape depends only on the number of leaves, so the
/// sums are the same on any number of threads: the fixed reduction of weight gradients
/// whose batch is cut into leaves of a shape-determined size (`conv::few_outputs`,
/// `conv::weight_dots`).
pub(crate) fn tree_sum(
    leaves: std::ops::Range<usize>,
    leaf: &(dyn Fn(usize) -> Vec<f32> + Sync),
) -> Vec<f32> {
    if leaves.len() == 1 {
        return leaf(leaves.start);
    }
    let mid = leaves.start + leaves.len() / 2;
    let (mut left, right) = rayon::join(
        || tree_sum(leaves.start..mid, leaf),
        || tree_sum(mid..leaves.end, leaf),
    );
    for (a, b) in left.iter_mut().zip(right) {
        *a += b;
    }
    left
}

/// Runs `f` on a fresh rayon pool of `threads` threads: the unit tests' same-bits checks.
#[cfg(test)]
pub(crate) fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool")
        .install(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Several threads outside the pool call `on_worker` at once, each closure forking
    /// parallel work and calling `on_worker` again inside: every call returns its own
    /// result, and all of them finish (a watchdog fails the test instead of hanging if
    /// helpers of different callers ever held each other's workers for good).
    #[test]
    fn concurrent_callers_all_finish_with_their_own_results() {
        let (tx, rx) = mpsc::channel();
        for caller in 0..4u64 {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for round in 0..25u64 {
                    let got = on_worker(|| {
                        let sum: u64 = (0..20_000u64).into_par_iter().map(|i| i ^ caller).sum();
                        sum + on_worker(|| round)
                    });
                    let want = (0..20_000u64).map(|i| i ^ caller).sum::<u64>() + round;
                    tx.send(got == want).unwrap();
                }
            });
        }
        drop(tx);
        for _ in 0..100 {
            let ok = rx
                .recv_timeout(Duration::from_secs(120))
                .expect("an on_worker call did not finish within two minutes");
            assert!(ok, "a caller got another caller's result");
        }
    }

    /// A closure that panics propagates its panic out of `on_worker`, and its helpers stop:
    /// the next call runs as usual.
    #[test]
    fn a_panic_in_the_closure_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| on_worker(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(on_worker(|| rayon::current_thread_index().is_some()));
    }
}
