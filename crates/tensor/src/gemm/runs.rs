//! Products whose B operand is never packed: each `NR`-column sliver of B is a list of runs
//! of rows that already lie in memory as the micro-kernel reads them ([`KRun`]), and rows
//! that no run covers are zero.
//!
//! A convolution with its images in the vector lanes (`conv/image_lanes.rs`) is such a
//! product: a sliver is one output pixel of `NR` images, and every tap of the kernel that
//! lands inside the input is a run of `channels` rows of that input, stored
//! `[pixel][channel][NR images]`. Taps on the padding are simply absent, so their products
//! are skipped rather than multiplied by zero.
//!
//! ```text
//! for task in groups of slivers (in parallel):
//!   for pc in K blocks (KC deep):                  A block (rows x KC) stays in L2
//!     for s in the task's slivers:                 the sliver's runs in pc.. stay in L1
//!       for each A sliver:                         micro-kernel over the runs
//! ```
//!
//! KC counts the rows the runs hold, not B's nominal depth: [`kc_for_runs`] scales the
//! blocking's KC by the share of rows that some run covers, since a block's fixed costs (a
//! load and a store of every tile of C, a call of the kernel per tile) buy only the rows it
//! holds. A stride-2 transposed convolution's slivers hold about a quarter of their rows
//! (one tap in four lands on an input pixel), so nominal blocks of 512 held about 128 rows
//! each. Alternated in one process (Zen 4, AVX-512, 2 threads, 60 calls each, same bits):
//! dcgan28's G2 forward 5.38 -> 5.20 ms (median), the default discriminator's second input
//! gradient 1.31 -> 1.20 ms; conv2d (five taps in six inside), weight gradients and 3x3
//! layers unchanged.
//!
//! Every tile of C is computed by one task, over the K blocks in order, each block going on
//! with the sums the one before stored: the bits depend on neither the thread count nor KC,
//! nor on how the slivers are grouped into tasks.
//!
//! The tasks are handed out in order from a shared counter, and the last slivers go in
//! tasks of [`TAIL_SLIVERS`] ([`task_ranges`]), so the threads finish within one small task
//! of each other. Fixed tasks of 8 split by rayon's halving left a thread idle for up to a
//! whole task at the end: a residual block's 3x3 weight gradient (R3: 36 slivers, five
//! tasks) ran two and a half tasks on one thread and two on the other. With the tail, R3's
//! weight gradient went from 5.6-7.4 ms (median 5.9) to 5.3-5.8 (median 5.5): two Zen 4
//! threads, five runs of each binary alternated. D2's forward and weight gradient (13 and
//! 7 tasks before) moved within that VM's noise.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::blocking::{Blocking, CacheSizes};
use super::kernel::{KRun, MicroKernel};
use super::{Isa, PackedView};

/// Slivers per task: enough that the A block read from L2 serves several slivers, few
/// enough that a layer with a hundred slivers still gives each thread several tasks.
const TASK_SLIVERS: usize = 8;

/// Slivers per task at the end of the product, where a thread that runs out waits for the
/// others' last tasks.
const TAIL_SLIVERS: usize = 2;

/// The K blocks' depth for `b`: the blocking's KC, scaled by `b`'s depth over the rows its
/// runs cover on average (see the module docs), then evened out over `b`'s depth like
/// [`Blocking::kc_for`]. It depends on the shapes and the cache sizes, never on the threads.
fn kc_for_runs(blocking: Blocking, b: &impl SliverRuns) -> usize {
    let (k, slivers) = (b.depth().max(1), b.slivers());
    let mut runs = Vec::new();
    let covered: usize = (0..slivers)
        .map(|s| {
            runs.clear();
            b.runs(s, 0, k, &mut runs);
            runs.iter().map(|r| r.len).sum::<usize>()
        })
        .sum();
    let kc = (blocking.kc * slivers * k).div_ceil(covered.max(1)).min(k);
    Blocking { kc, ..blocking }.kc_for(k)
}

/// The tasks' sliver ranges, in order: tasks of [`TASK_SLIVERS`], then the last `threads *
/// TASK_SLIVERS` slivers (or all of them, if fewer) in tasks of [`TAIL_SLIVERS`].
fn task_ranges(slivers: usize, threads: usize) -> Vec<std::ops::Range<usize>> {
    let head = slivers.saturating_sub(threads.max(1) * TASK_SLIVERS);
    let mut ranges = Vec::new();
    let mut s = 0;
    while s < slivers {
        let size = if s < head { TASK_SLIVERS } else { TAIL_SLIVERS };
        let end = (s + size).min(if s < head { head } else { slivers });
        ranges.push(s..end);
        s = end;
    }
    ranges
}

/// B as runs, sliver by sliver (see the module docs).
pub(crate) trait SliverRuns: Sync {
    /// Rows of B (the product's K).
    fn depth(&self) -> usize;

    /// Its `NR`-column slivers.
    fn slivers(&self) -> usize;

    /// Floats per row of a run: the `NR` of the kernel the source was laid out for.
    fn lanes(&self) -> usize;

    /// Appends sliver `s`'s runs, clipped to rows `k0 .. k1`, to `runs`: in increasing `k`,
    /// not overlapping, each inside `k0 .. k1`.
    fn runs<'s>(&'s self, s: usize, k0: usize, k1: usize, runs: &mut Vec<KRun<'s>>);
}

/// C's slivers as raw pointers that tasks share: each task writes only its own slivers.
#[derive(Clone, Copy)]
struct Out(*mut f32);

// SAFETY: tasks own disjoint slivers of C (see `product`), and `product` holds the unique
// borrow of C until every task has finished.
unsafe impl Send for Out {}
// SAFETY: as for Send.
unsafe impl Sync for Out {}

impl Out {
    /// The pointer: a method, so that closures capture the `Send` wrapper.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `C_s = A @ B_s` for every sliver `s` of `b`, where C is `[groups][m][per_group][NR]` and
/// sliver `s` is `per_group` slivers into it: group `s / per_group`, column block
/// `s % per_group`. Tasks of [`TASK_SLIVERS`] slivers run in parallel.
///
/// # Panics
/// If `b`'s lanes are not the kernel's `NR`, if
/// the depths differ, if `per_group` does not divide the slivers, if C's length is not
/// `m * slivers * NR`, or if a run is misplaced (outside the block asked for, overlapping)
/// or its rows do not fit in its data.
#[track_caller]
pub(crate) fn product(a: &PackedView<'_>, b: &impl SliverRuns, per_group: usize, c: &mut [f32]) {
    let [m, k] = a.dims();
    assert_eq!(
        k,
        b.depth(),
        "runs product: A has {k} columns, B {} rows",
        b.depth()
    );
    let slivers = b.slivers();
    assert!(
        per_group > 0 && slivers.is_multiple_of(per_group),
        "runs product: {slivers} slivers in groups of {per_group}"
    );
    match a.isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => on_kernel::<super::kernel::avx512::Avx512>(a, b, per_group, c),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => on_kernel::<super::kernel::avx2::Avx2>(a, b, per_group, c),
        isa => panic!(
            "runs product: {} has no in-house micro-kernel (m {m})",
            isa.name()
        ),
    }
}

/// [`product`] on kernel `K`, whose instruction set `pack_rows_with` checked.
fn on_kernel<K: MicroKernel>(
    a: &PackedView<'_>,
    b: &impl SliverRuns,
    per_group: usize,
    c: &mut [f32],
) {
    let [m, k] = a.dims();
    let slivers = b.slivers();
    assert_eq!(
        b.lanes(),
        K::NR,
        "runs product: B laid out for another kernel"
    );
    assert_eq!(
        c.len(),
        m * slivers * K::NR,
        "runs product: C holds {} floats, not {m} x {slivers} slivers of {}",
        c.len(),
        K::NR
    );
    if m == 0 || slivers == 0 {
        return;
    }
    let a_slivers = a.slivers();
    let kc = kc_for_runs(Blocking::new(CacheSizes::detected(), K::MR, K::NR), b);
    let rs = per_group * K::NR;
    let out = Out(c.as_mut_ptr());
    let task = |slivers: std::ops::Range<usize>| {
        let mut runs = Vec::new();
        let mut pc = 0;
        // One pass even when K is 0, so that C is written.
        loop {
            let k1 = (pc + kc).min(k);
            for s in slivers.clone() {
                runs.clear();
                b.runs(s, pc, k1, &mut runs);
                check_runs(&runs, pc, k1, K::NR);
                let (g, p) = (s / per_group, s % per_group);
                let c0 = g * m * rs + p * K::NR;
                for (i, r0) in (0..m).step_by(K::MR).enumerate() {
                    let rows = K::MR.min(m - r0);
                    // SAFETY: the A sliver i holds MR floats for each of K's k columns, and
                    // the runs lie inside 0..k (checked); C's rows r0 .. r0 + rows of sliver
                    // s are NR floats each at c0 + (r0 + i') * rs, inside C (its length was
                    // checked) and owned by this task alone (each sliver belongs to one
                    // task); K's instruction set was checked by `pack_rows_with`.
                    unsafe {
                        K::tile_runs(
                            &runs,
                            a_slivers.data[i * k * K::MR..].as_ptr(),
                            out.get().add(c0 + r0 * rs),
                            rs,
                            rows,
                            pc > 0,
                        );
                    }
                }
            }
            pc = k1;
            if pc >= k {
                break;
            }
        }
    };
    // One worker per thread, each taking the next task until none is left.
    let ranges = task_ranges(slivers, rayon::current_num_threads());
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().min(ranges.len());
    (0..workers).into_par_iter().for_each(|_| {
        while let Some(range) = ranges.get(next.fetch_add(1, Ordering::Relaxed)) {
            task(range.clone());
        }
    });
}

/// Checks what the kernel relies on: the runs lie inside `k0 .. k1`, in order, without
/// overlap, and each one's rows of `nr` floats fit in its data.
#[track_caller]
fn check_runs(runs: &[KRun<'_>], k0: usize, k1: usize, nr: usize) {
    let mut next = k0;
    for r in runs {
        assert!(
            r.len >= 1
                && (r.len - 1) * r.stride + nr <= r.data.len()
                && r.k >= next
                && r.k + r.len <= k1,
            "runs product: a run of {} rows at row {} in block {k0}..{k1} (after row {next})",
            r.len,
            r.k
        );
        next = r.k + r.len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slivers whose runs cover the first `covered` of every `period` rows.
    struct Striped {
        data: Vec<f32>,
        depth: usize,
        covered: usize,
        period: usize,
    }

    impl SliverRuns for Striped {
        fn depth(&self) -> usize {
            self.depth
        }
        fn slivers(&self) -> usize {
            3
        }
        fn lanes(&self) -> usize {
            1
        }
        fn runs<'s>(&'s self, _: usize, k0: usize, k1: usize, runs: &mut Vec<KRun<'s>>) {
            for start in (0..self.depth).step_by(self.period) {
                let (lo, hi) = (start.max(k0), (start + self.covered).min(k1));
                if lo < hi {
                    runs.push(KRun::new(lo, hi - lo, 1, 1, &self.data));
                }
            }
        }
    }

    /// KC counts covered rows: a quarter covered gives blocks four times as deep, never
    /// deeper than B; fully covered gives the blocking's own blocks.
    #[test]
    fn kc_for_runs_counts_the_covered_rows() {
        let blocking = Blocking { kc: 512, mc: 48 };
        let striped = |depth, covered, period| Striped {
            data: vec![0.0; 64],
            depth,
            covered,
            period,
        };
        assert_eq!(kc_for_runs(blocking, &striped(3200, 32, 128)), 1600);
        assert_eq!(kc_for_runs(blocking, &striped(1024, 16, 64)), 1024);
        assert_eq!(kc_for_runs(blocking, &striped(1600, 64, 64)), 400);
        assert_eq!(
            kc_for_runs(blocking, &striped(3136, 64, 64)),
            blocking.kc_for(3136)
        );
    }

    /// The ranges cover every sliver once, in order; the last `threads * TASK_SLIVERS` go in
    /// tasks of TAIL_SLIVERS, the ones before in tasks of TASK_SLIVERS.
    #[test]
    fn task_ranges_tile_the_slivers_with_a_fine_tail() {
        for (slivers, threads) in [(0, 2), (1, 2), (15, 2), (16, 2), (36, 2), (98, 2), (98, 16)] {
            let ranges = task_ranges(slivers, threads);
            let mut next = 0;
            for r in &ranges {
                assert!(
                    r.start == next && r.end > r.start,
                    "{slivers}/{threads}: {r:?}"
                );
                let tail = r.start >= slivers.saturating_sub(threads * TASK_SLIVERS);
                let size = if tail { TAIL_SLIVERS } else { TASK_SLIVERS };
                assert!(r.len() <= size, "{slivers}/{threads}: {r:?}");
                next = r.end;
            }
            assert_eq!(next, slivers);
        }
        assert_eq!(task_ranges(36, 2), {
            let mut want = vec![0..8, 8..16, 16..20];
            want.extend((20..36).step_by(2).map(|s| s..s + 2));
            want
        });
    }
}
