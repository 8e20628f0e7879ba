//! The loops around the micro-kernel (BLIS's five loops, with the parallel split on the
//! tile grid).
//!
//! ```text
//! for jc in column blocks of C (NC wide):        pack B[.., jc..] into NR slivers (all of K)
//!   for each task (rows ic.., slivers jr0..jr1):  tasks run in parallel; they own disjoint
//!     for pc in K blocks (KC deep):                                        tiles of C
//!       A slivers of rows ic.. over pc..   (packed here, or read from a packed A)
//!       for jr in jr0..jr1:                B sliver reused across the ir loop (L1/L2)
//!         for ir in A slivers:             micro-kernel: C tile (+)= A sliver @ B sliver
//! ```
//!
//! C is a strided window, or a matrix whose columns come in groups stored apart (images side
//! by side, written straight into a batch's `[N, C, H*W]` layout): a tile that crosses from
//! one group into the next is computed in a local buffer and stored in parts.
//!
//! Determinism: a tile of C is always computed by one task, which adds the K blocks in
//! order `pc = 0, KC, 2 KC, ..`, each continuing the sum the one before stored in C (with
//! `alpha == 1`; see the kernel module), so the blocks' depth, which depends on the cache
//! sizes, does not show in the bits of a product that overwrites C. How tiles are grouped
//! into tasks, and which thread runs a task, changes nothing in the arithmetic, so results
//! are bit-identical for any thread count (and between the serial and parallel entry
//! points).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::blocking::{Blocking, CacheSizes};
use super::kernel::MicroKernel;
use super::matrix::{Layout, MatRef};
use super::pack::{pack_a, with_scratch, PackB, A_SCRATCH, B_SCRATCH, P_SCRATCH};
use super::Epilogue;

/// A's slivers packed over the whole of K: sliver `s` at `s * k * mr`, its K block starting
/// at `pc` at `s * k * mr + pc * mr`.
#[derive(Clone, Copy)]
pub(super) struct Slivers<'a> {
    pub data: &'a [f32],
    pub k: usize,
    pub mr: usize,
}

impl Slivers<'_> {
    /// Packs every row of `a` (`m x k`) into `dst` (at least `m.div_ceil(MR) * k * MR`
    /// floats) for kernel `K`.
    ///
    /// # Safety
    /// `K`'s instruction set is supported by this CPU.
    pub unsafe fn pack<'d, K: MicroKernel>(
        a: &MatRef<'_>,
        dst: &'d mut [f32],
        parallel: bool,
    ) -> Slivers<'d> {
        let ([m, k], mr) = ([a.rows, a.cols], K::MR);
        let len = m.div_ceil(mr) * k * mr;
        let dst = &mut dst[..len];
        // SAFETY: the caller vouches for K's instruction set.
        let one = |(s, d): (usize, &mut [f32])| unsafe { pack_a::<K>(a, s * mr, mr, 0, k, d) };
        if parallel {
            dst.par_chunks_mut(k * mr).enumerate().for_each(one);
        } else {
            dst.chunks_mut(k * mr).enumerate().for_each(one);
        }
        Slivers { data: dst, k, mr }
    }
}

impl<'a> Slivers<'a> {
    /// The slivers from row `r0` (a multiple of `mr`) on.
    fn rows_from(self, r0: usize) -> Slivers<'a> {
        Slivers {
            data: &self.data[r0 / self.mr * self.k * self.mr..],
            ..self
        }
    }
}

/// Where the driver gets A from.
#[derive(Clone, Copy)]
pub(super) enum ASource<'a> {
    /// A strided matrix, packed block by block as the loops reach it.
    Strided(MatRef<'a>),
    /// Already packed (a layer's weights, packed once and reused).
    Packed(Slivers<'a>),
}

/// The output as a raw pointer that tasks share: each task writes only its own tiles.
#[derive(Clone, Copy)]
struct Out {
    ptr: *mut f32,
    layout: Layout,
}

// SAFETY: `Out` is only dereferenced inside `run_task`, and the task grid gives every tile of
// C to exactly one task, so no element is accessed by two threads; the pointer stays valid
// for the whole call because `run` holds the unique borrow of C until all tasks finish.
unsafe impl Send for Out {}
// SAFETY: as for Send: shared references to `Out` only hand out disjoint tiles.
unsafe impl Sync for Out {}

impl Out {
    /// The value itself: a method, so that closures capture the `Send` wrapper rather than
    /// its raw-pointer field.
    fn whole(self) -> Out {
        self
    }
}

/// Most of A (in floats, 16 MiB) the parallel path packs up front so that tasks splitting
/// the same rows by columns share one packed copy instead of each packing its own. Beyond
/// it A has so many rows that tasks split by rows anyway.
const PREPACK_MAX: usize = 1 << 22;

/// Products below this many multiply-adds (about 320^3) run in parallel by rows with
/// private packing (see `run`); larger ones share packed operands across their tasks.
const PRIVATE_MAX: usize = 1 << 25;

/// Most of B (in floats, 8 MiB) packed at once: NC is chosen so that `k * NC` fits.
const B_BLOCK_MAX: usize = 1 << 21;

/// Tasks per thread the parallel split aims for, so that uneven tiles still balance. The
/// grid never changes results (see the module docs), so it may use the thread count.
const TASKS_PER_THREAD: usize = 3;

/// Rows `ic .. ic + rows` of C against B slivers `jr0 .. jr1` of the current column block.
#[derive(Clone, Copy, Debug)]
struct Task {
    ic: usize,
    rows: usize,
    jr0: usize,
    jr1: usize,
}

/// `C = alpha * A @ B + beta * C`, then the epilogue, on kernel `K`, for A with `m` rows.
/// Shapes were checked by the caller; `m, n, k >= 1`; `c` is the output's element `(0, 0)`
/// and every `(i, j) < (m, n)` addresses a distinct element (`c + layout.offset(i, j)`) of
/// a unique borrow, initialised unless `beta == 0`.
#[allow(clippy::too_many_arguments)]
pub(super) fn run<K: MicroKernel>(
    alpha: f32,
    a: ASource<'_>,
    m: usize,
    b: &(impl PackB + ?Sized),
    beta: f32,
    c: *mut f32,
    layout: Layout,
    epilogue: &Epilogue<'_>,
    parallel: bool,
) {
    let out = Out { ptr: c, layout };
    let [k, n] = b.dims();
    if parallel && rayon::current_thread_index().is_none() {
        // Called from outside the pool (the main thread): enter it once for the whole
        // product. Each parallel phase below (pack A, pack B, the tile grid) started from
        // outside would be a separate hand-off to a worker and back, ~6 us each on a 2-core
        // VM, more than a 128^3 product's whole parallel gain.
        rayon::scope(|_| {
            let c = out.whole();
            run::<K>(alpha, a, m, b, beta, c.ptr, c.layout, epilogue, parallel)
        });
        return;
    }
    let mut blocking = Blocking::new(CacheSizes::detected(), K::MR, K::NR);
    let threads = rayon::current_num_threads();
    if parallel
        && threads > 1
        && m >= 2 * K::MR
        && m.saturating_mul(k).saturating_mul(n) < PRIVATE_MAX
    {
        private_rows::<K>(alpha, a, m, b, beta, out, epilogue, blocking, threads);
        return;
    }
    // Enough rows for a few row blocks per thread: tasks split by rows and each packs its
    // own A block (BLIS's parallel ic loop), B shared. Fewer: tasks split by columns too,
    // sharing one A packed up front.
    let row_split = parallel && m >= 4 * threads * K::MR;
    if row_split {
        let mc = m.div_ceil(2 * threads).div_ceil(K::MR) * K::MR;
        blocking.mc = blocking.mc.min(mc);
    }
    match a {
        ASource::Strided(ar) if parallel && !row_split && m * k <= PREPACK_MAX => {
            with_scratch(&P_SCRATCH, m.div_ceil(K::MR) * k * K::MR, |buf| {
                // SAFETY: K's instruction set was checked by `Isa` before dispatching to
                // this monomorphisation.
                let slivers = unsafe { Slivers::pack::<K>(&ar, buf, true) };
                let a = ASource::Packed(slivers);
                columns::<K>(alpha, a, m, b, beta, out, epilogue, blocking, parallel);
            });
        }
        _ => columns::<K>(alpha, a, m, b, beta, out, epilogue, blocking, parallel),
    }
}

/// A product too small to amortise shared packing's extra phases: its rows split into one
/// part per thread, each packing its own A rows and its own copy of B, all in a single
/// parallel phase.
#[allow(clippy::too_many_arguments)]
fn private_rows<K: MicroKernel>(
    alpha: f32,
    a: ASource<'_>,
    m: usize,
    b: &(impl PackB + ?Sized),
    beta: f32,
    out: Out,
    epilogue: &Epilogue<'_>,
    blocking: Blocking,
    threads: usize,
) {
    let rows = m.div_ceil(threads.min(m / K::MR)).div_ceil(K::MR) * K::MR;
    let part = |p: usize| {
        let (r0, c) = (p * rows, out.whole());
        let a = match a {
            ASource::Strided(ar) => ASource::Strided(ar.row_window(r0, rows.min(m - r0))),
            ASource::Packed(s) => ASource::Packed(s.rows_from(r0)),
        };
        let e = epilogue.rows_from(r0);
        // SAFETY: row r0 < m of C: inside the caller's window (a row offset is the same
        // in every column group).
        let ptr = unsafe { c.ptr.add(c.layout.offset(r0, 0)) };
        let c = Out { ptr, ..c };
        columns::<K>(alpha, a, rows.min(m - r0), b, beta, c, &e, blocking, false);
    };
    (0..m.div_ceil(rows)).into_par_iter().for_each(part);
}

/// The jc loop: B packed one column block at a time, then the block's tasks.
#[allow(clippy::too_many_arguments)]
fn columns<K: MicroKernel>(
    alpha: f32,
    a: ASource<'_>,
    m: usize,
    b: &(impl PackB + ?Sized),
    beta: f32,
    out: Out,
    epilogue: &Epilogue<'_>,
    blocking: Blocking,
    parallel: bool,
) {
    let [k, n] = b.dims();
    let nc = ((B_BLOCK_MAX / k) / K::NR * K::NR).max(K::NR);
    let kc = blocking.kc_for(k);
    let mut jc = 0;
    while jc < n {
        let width = nc.min(n - jc);
        let slivers = width.div_ceil(K::NR);
        with_scratch(&B_SCRATCH, slivers * K::NR * k, |bbuf| {
            // Groups of slivers, two per thread, so that a row-major B is read in long
            // contiguous runs (`PackB::pack_slivers`).
            let group = if parallel {
                slivers.div_ceil(2 * rayon::current_num_threads())
            } else {
                slivers
            };
            let pack =
                |(g, dst): (usize, &mut [f32])| b.pack_slivers(jc + g * group * K::NR, K::NR, dst);
            if parallel && slivers > 1 {
                bbuf.par_chunks_mut(group * K::NR * k)
                    .enumerate()
                    .for_each(pack);
            } else {
                pack((0, bbuf));
            }
            let bbuf: &[f32] = bbuf;
            let tasks = grid(
                m,
                slivers,
                blocking.mc,
                matches!(a, ASource::Packed(_)),
                parallel,
            );
            let run =
                |t: &Task| run_task::<K>(alpha, a, bbuf, k, kc, width, jc, beta, out, epilogue, *t);
            if parallel && tasks.len() > 1 {
                tasks.par_iter().for_each(run);
            } else {
                tasks.iter().for_each(run);
            }
        });
        jc += width;
    }
}

/// Splits `m` rows x `slivers` B slivers into tasks: row blocks of `mc`, and, when running
/// in parallel with a shared packed A, each row block cut by columns until there are a few
/// tasks per thread.
fn grid(m: usize, slivers: usize, mc: usize, shared_a: bool, parallel: bool) -> Vec<Task> {
    let row_blocks = m.div_ceil(mc);
    let want = if parallel {
        TASKS_PER_THREAD * rayon::current_num_threads()
    } else {
        1
    };
    let chunks = if shared_a {
        want.div_ceil(row_blocks).clamp(1, slivers)
    } else {
        1
    };
    let per = slivers.div_ceil(chunks);
    let mut tasks = Vec::with_capacity(row_blocks * chunks);
    for rb in 0..row_blocks {
        let ic = rb * mc;
        for ch in 0..chunks {
            let jr0 = ch * per;
            if jr0 < slivers {
                tasks.push(Task {
                    ic,
                    rows: mc.min(m - ic),
                    jr0,
                    jr1: (jr0 + per).min(slivers),
                });
            }
        }
    }
    tasks
}

/// One task: its rows against its B slivers, over every K block in order.
#[allow(clippy::too_many_arguments)]
fn run_task<K: MicroKernel>(
    alpha: f32,
    a: ASource<'_>,
    bbuf: &[f32],
    k: usize,
    kc: usize,
    width: usize,
    jc: usize,
    beta: f32,
    out: Out,
    epilogue: &Epilogue<'_>,
    t: Task,
) {
    let a_slivers = t.rows.div_ceil(K::MR);
    let mut pc = 0;
    while pc < k {
        let depth = kc.min(k - pc);
        let beta_block = if pc == 0 { beta } else { 1.0 };
        // Later K blocks go on with C's sums as one chain of FMAs (kernel module docs), so
        // KC, which the caches set, does not show in the bits.
        let chain = pc > 0 && alpha == 1.0;
        let last = pc + depth == k;
        let body = |a_sliver: &dyn Fn(usize) -> *const f32| {
            for jr in t.jr0..t.jr1 {
                let b_ptr = bbuf[jr * K::NR * k + pc * K::NR..].as_ptr();
                let cols = K::NR.min(width - jr * K::NR);
                let j = jc + jr * K::NR;
                for s in 0..a_slivers {
                    let i = t.ic + s * K::MR;
                    let rows = K::MR.min(t.ic + t.rows - i);
                    // SAFETY: tile (i.., j..) of `rows x cols` lies inside C (i < m,
                    // j < n) and belongs to this task alone (see `Out`); the A sliver holds
                    // depth * MR floats and the B sliver depth * NR (they were packed over
                    // this K block, zero-padded); the kernel's ISA was checked by `Isa`
                    // before dispatching to this monomorphisation.
                    unsafe {
                        let (a, b) = (a_sliver(s), b_ptr);
                        if out.layout.one_group(j, cols) {
                            let c = out.ptr.add(out.layout.offset(i, j));
                            let (rs, cs) = (out.layout.rs, out.layout.cs);
                            K::tile(depth, a, b, c, rs, cs, rows, cols, alpha, beta_block, chain);
                            if last && epilogue.is_active() {
                                epilogue.apply(c, rs, cs, i, j, rows, cols);
                            }
                        } else {
                            // Crosses from one column group (image) into the next.
                            let tile = Tile { i, j, rows, cols };
                            let finish = last.then_some(epilogue);
                            straddling::<K>(
                                depth, a, b, out, tile, alpha, beta_block, chain, finish,
                            );
                        }
                    }
                }
            }
        };
        match a {
            ASource::Packed(p) => {
                let first = t.ic / K::MR;
                body(&|s| p.data[(first + s) * p.k * p.mr + pc * p.mr..].as_ptr());
            }
            ASource::Strided(ar) => {
                with_scratch(&A_SCRATCH, a_slivers * depth * K::MR, |abuf| {
                    // SAFETY: as for the kernel below, K's ISA was checked by `Isa`.
                    unsafe { pack_a::<K>(&ar, t.ic, t.rows, pc, depth, abuf) };
                    let abuf: &[f32] = abuf;
                    body(&|s| abuf[s * depth * K::MR..].as_ptr());
                });
            }
        }
        pc += depth;
    }
}

/// One tile of C: rows `i .. i + rows`, columns `j .. j + cols`.
#[derive(Clone, Copy)]
struct Tile {
    i: usize,
    j: usize,
    rows: usize,
    cols: usize,
}

/// Most floats in a kernel's register tile (AVX-512: 12 x 32).
const TILE_MAX: usize = 12 * 32;

/// A tile whose columns cross from one column group of C into the next (images side by
/// side, see `ImageColumns`): the kernel runs on a local buffer (loaded from C first where
/// it reads C), which is then stored part by part, one part per group. The kernel does the
/// same FMAs in the same order on the buffer, so the bits are those of a tile stored in
/// place.
///
/// # Safety
/// As for `K::tile` on the tile's elements at `out.ptr + out.layout.offset(..)`: valid,
/// this task's alone, initialised where the kernel reads them (`chain` or `beta != 0`);
/// `a` and `b` hold `depth` steps of the slivers; `K`'s ISA is present.
#[allow(clippy::too_many_arguments)]
unsafe fn straddling<K: MicroKernel>(
    depth: usize,
    a: *const f32,
    b: *const f32,
    out: Out,
    t: Tile,
    alpha: f32,
    beta: f32,
    chain: bool,
    epilogue: Option<&Epilogue<'_>>,
) {
    const { assert!(K::MR * K::NR <= TILE_MAX) };
    // Not zeroed: the kernel writes the `rows x cols` elements that are read back.
    let mut buf = [MaybeUninit::<f32>::uninit(); TILE_MAX];
    let (rs, cs) = (out.layout.rs, out.layout.cs);
    // Calls `f(q0, cols, c)` for each part of the tile's columns that lies in one group:
    // columns q0 .. q0 + cols of the tile, whose row 0 starts at `c`.
    let parts = |f: &mut dyn FnMut(usize, usize, *mut f32)| {
        let mut q0 = 0;
        while q0 < t.cols {
            let width = out.layout.groups.map_or(usize::MAX, |g| g.width);
            let cols = (t.cols - q0).min(width - (t.j + q0) % width);
            // SAFETY: element (i, j + q0) of the tile, inside C (caller).
            f(q0, cols, unsafe {
                out.ptr.add(out.layout.offset(t.i, t.j + q0))
            });
            q0 += cols;
        }
    };
    if chain || beta != 0.0 {
        parts(&mut |q0, cols, c| {
            for r in 0..t.rows {
                for q in 0..cols {
                    // SAFETY: element (i + r, j + q0 + q) of the tile, in one group, so at
                    // `c + r * rs + q * cs`; initialised (caller).
                    buf[r * K::NR + q0 + q] = MaybeUninit::new(unsafe { *c.add(r * rs + q * cs) });
                }
            }
        });
    }
    let tile = buf.as_mut_ptr().cast::<f32>();
    // SAFETY: `buf` holds the tile as `rows x NR` row-major floats (rows <= MR); the rest
    // is forwarded from the caller.
    unsafe {
        K::tile(
            depth,
            a,
            b,
            tile,
            K::NR,
            1,
            t.rows,
            t.cols,
            alpha,
            beta,
            chain,
        );
        if let Some(e) = epilogue.filter(|e| e.is_active()) {
            e.apply(tile, K::NR, 1, t.i, t.j, t.rows, t.cols);
        }
    }
    parts(&mut |q0, cols, c| {
        for r in 0..t.rows {
            for q in 0..cols {
                // SAFETY: element (i + r, j + q0 + q) of the tile, in one group, so at
                // `c + r * rs + q * cs`: valid and this task's (caller); the kernel wrote
                // the tile's element (r, q0 + q) of `buf`.
                unsafe { *c.add(r * rs + q * cs) = buf[r * K::NR + q0 + q].assume_init() };
            }
        }
    });
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::super::kernel::{avx2::Avx2, avx512::Avx512};
    use super::super::Isa;
    use super::*;

    /// `C (+)= A @ B` by kernel `K` with K blocks `kc` deep, C row-major (`cs == 1`) or
    /// column-major; the bits of C.
    fn product<K: MicroKernel>(
        [m, k, n]: [usize; 3],
        kc: usize,
        beta: f32,
        row_major_c: bool,
    ) -> Vec<u32> {
        let value = |i: usize, salt: usize| ((i * 7919 + salt) % 1013) as f32 / 1013.0 - 0.5;
        let a: Vec<f32> = (0..m * k).map(|i| value(i, 1)).collect();
        let b: Vec<f32> = (0..k * n).map(|i| value(i, 2)).collect();
        let mut c: Vec<f32> = (0..m * n).map(|i| value(i, 3)).collect();
        let [rs, cs] = if row_major_c { [n, 1] } else { [1, m] };
        let out = Out {
            ptr: c.as_mut_ptr(),
            layout: Layout::strided(rs, cs),
        };
        columns::<K>(
            1.0,
            ASource::Strided(MatRef::row_major(&a, m, k)),
            m,
            &MatRef::row_major(&b, k, n),
            beta,
            out,
            &Epilogue::default(),
            Blocking { kc, mc: 4 * K::MR },
            false,
        );
        c.iter().map(|v| v.to_bits()).collect()
    }

    /// With `alpha == 1` and `beta == 0` each element is one chain of FMAs over all of K,
    /// whatever the K blocks' depth (set from the caches, so from the CPU) and whichever
    /// kernel ran it: contiguous and strided C (vector and scalar loads), edge tiles. With
    /// `beta != 0` the bits are the kernels' and KC's alike while K fits one block.
    #[test]
    fn bits_depend_neither_on_the_k_blocks_nor_on_the_kernel() {
        let isas = Isa::supported();
        for shape in [[37usize, 300, 45], [12, 777, 32], [5, 129, 70]] {
            for beta in [0.0, 1.0, 0.5] {
                for row_major_c in [true, false] {
                    let mut runs = Vec::new();
                    let one_block = shape[1].next_multiple_of(8);
                    let depths = if beta == 0.0 {
                        vec![8, 64, 128, 296, 512, 1024]
                    } else {
                        vec![one_block, 1024]
                    };
                    for kc in depths {
                        if isas.contains(&Isa::Avx512) {
                            runs.push(product::<Avx512>(shape, kc, beta, row_major_c));
                        }
                        if isas.contains(&Isa::Avx2) {
                            runs.push(product::<Avx2>(shape, kc, beta, row_major_c));
                        }
                    }
                    assert!(
                        runs.windows(2).all(|p| p[0] == p[1]),
                        "{shape:?}, beta {beta}, row-major C {row_major_c}"
                    );
                }
            }
        }
    }
}
