//! When and how kernels split work across rayon threads.
//!
//! Determinism rule: work is split into chunks of a *fixed* size that never depends on the
//! number of threads, and partial results are combined in chunk order. A kernel therefore
//! performs the same floating-point operations in the same order whether rayon runs it on
//! one thread or sixteen, and its output is bit-identical.

use std::mem::MaybeUninit;

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
/// or a sampling pass in `on_worker` pays the hand-over once for hundreds of ops.
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
        f()
    } else {
        rayon::scope(|_| f())
    }
}
