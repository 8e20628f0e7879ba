//! When and how kernels split work across rayon threads.
//!
//! Determinism rule: work is split into chunks of a *fixed* size that never depends on the
//! number of threads, and partial results are combined in chunk order. A kernel therefore
//! performs the same floating-point operations in the same order whether rayon runs it on
//! one thread or sixteen, and its output is bit-identical.

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
            .for_each(|(i, chunk)| fill(i * ELEMENTWISE_CHUNK, chunk));
    } else {
        fill(0, out);
    }
}
