//! Register-blocked micro-kernels: `C[0..m, 0..n] = alpha * A_sliver @ B_sliver + beta * C`
//! for one `MR x NR` tile.
//!
//! Both operands arrive packed (see `pack.rs`): the A sliver holds `kc` columns of `MR`
//! values (`a[p * MR + i] = A[i, p]`), the B sliver `kc` rows of `NR` values
//! (`b[p * NR + j] = B[p, j]`), both zero-padded past the matrix edge. The kernel therefore
//! always computes a whole tile with the same instruction sequence, and only its store
//! respects `m <= MR`, `n <= NR`: edge tiles take no slower path through the arithmetic.
//!
//! Each output element is `sum_p a[p] * b[p]` accumulated in `p` order with fused
//! multiply-adds, from zero, then stored as `alpha * acc + beta * C`; or, for a K block
//! that **chains** onto the one before (`chain`), from C itself, stored as it stands. The
//! driver chains every K block after the first when `alpha == 1` (every product inside
//! Agon), so each element of a `beta == 0` product is one uncut sequence of FMAs over all
//! of K: its bits depend neither on KC (sized from the caches, so different from CPU to
//! CPU) nor on the kernel's tile shape. The AVX-512 and AVX2+FMA kernels give the same bits
//! on any machine and any thread count. (A product that adds into C, `beta != 0`, rounds
//! `acc + beta * C` after its first K block, as BLAS and matrixmultiply do; with K beyond
//! one block the cut still shows.)

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(super) mod avx512;

/// A micro-kernel of one ISA.
pub(super) trait MicroKernel {
    /// Rows of the register tile.
    const MR: usize;
    /// Columns of the register tile.
    const NR: usize;

    /// Computes one tile.
    ///
    /// # Safety
    /// The CPU supports the kernel's instruction set; `a` points to `kc * MR` readable
    /// floats and `b` to `kc * NR`; `1 <= m <= MR`, `1 <= n <= NR`; for every `i < m`,
    /// `j < n`, `c + i * rs_c + j * cs_c` is a valid, writable float that no other thread
    /// touches during the call, and distinct `(i, j)` give distinct addresses. When
    /// `beta == 0` and not `chain`, C is only written, never read. With `chain` the
    /// accumulators start from C and are stored unscaled (`alpha`, `beta` unused).
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        rs_c: usize,
        cs_c: usize,
        m: usize,
        n: usize,
        alpha: f32,
        beta: f32,
        chain: bool,
    );

    /// `C = A @ B` for one tile whose B sliver is given as runs of rows read where they lie
    /// (see [`KRun`]); rows of K that no run covers count as zero. `a` is the A sliver's
    /// column 0: run `r` multiplies A columns `r.k ..` (at `a + r.k * MR`). The tile is
    /// `m x NR` with contiguous rows `rs_c` apart; with `chain` the sums go on from C (as
    /// [`MicroKernel::tile`]), otherwise C is only written. Each element is one chain of
    /// FMAs over the runs in order, as `tile` over the same rows would compute it.
    ///
    /// # Safety
    /// The CPU supports the kernel's instruction set; `a + k * MR` has MR readable floats
    /// for every row `k` of every run; `1 <= m <= MR`; for every `i < m`, the NR floats at
    /// `c + i * rs_c` are valid, writable, and touched by no other thread during the call.
    unsafe fn tile_runs(
        runs: &[KRun<'_>],
        a: *const f32,
        c: *mut f32,
        rs_c: usize,
        m: usize,
        chain: bool,
    );

    /// Packs one whole sliver of a row-major A: `dst[p * MR + i] = *base.add(i * rs + p)`
    /// for `i < MR`, `p < depth`. This scalar loop is the reference; a kernel may replace it
    /// with its ISA's transposes (the same copy, so the same bits).
    ///
    /// # Safety
    /// The CPU supports the kernel's instruction set; for every `i < MR` and `p < depth`,
    /// `base + i * rs + p` is a readable float; `dst.len() >= depth * MR`.
    #[inline(always)]
    unsafe fn pack_rows(base: *const f32, rs: usize, depth: usize, dst: &mut [f32]) {
        for (p, col) in dst.chunks_exact_mut(Self::MR).take(depth).enumerate() {
            for (i, d) in col.iter_mut().enumerate() {
                // SAFETY: i < MR, p < depth: readable by the caller's contract.
                *d = unsafe { *base.add(i * rs + p) };
            }
        }
    }
}

/// Rows `k .. k + len` of a B sliver, read where they lie: row `k + i` is the `NR` floats at
/// `data[i * stride..]` (a packed sliver's rows are `NR` apart; a convolution's may be
/// further apart). [`KRun::new`] checks that they fit in `data`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KRun<'a> {
    /// The first row of K the run covers.
    pub(in crate::gemm) k: usize,
    /// How many rows.
    pub(in crate::gemm) len: usize,
    /// Floats from one row to the next.
    pub(in crate::gemm) stride: usize,
    /// Holds the rows.
    pub(in crate::gemm) data: &'a [f32],
}

impl<'a> KRun<'a> {
    /// A run of `len >= 1` rows of `nr` floats, `stride` apart, from the start of `data`.
    /// The rows may overlap (a sliver wider than a layer's channels reads into the next
    /// row; those columns of C are not used).
    ///
    /// # Panics
    /// If the rows do not fit in `data`.
    #[track_caller]
    pub fn new(k: usize, len: usize, stride: usize, nr: usize, data: &'a [f32]) -> Self {
        assert!(
            len >= 1 && (len - 1) * stride + nr <= data.len(),
            "a run of {len} rows of {nr} floats, {stride} apart, in {} floats",
            data.len()
        );
        KRun {
            k,
            len,
            stride,
            data,
        }
    }
}

/// Reads C's `m x n` tile into `tile` (row-major, `nr` per row; the rest of `tile` is left
/// as it is): a chained tile's start where vector loads do not apply.
///
/// # Safety
/// As [`MicroKernel::tile`] for `c`, `rs_c`, `cs_c`, `m`, `n`; `tile` holds `m` rows of `nr`.
#[inline(always)]
unsafe fn load_scalar(
    tile: &mut [f32],
    nr: usize,
    c: *const f32,
    rs_c: usize,
    cs_c: usize,
    m: usize,
    n: usize,
) {
    for i in 0..m {
        for j in 0..n {
            // SAFETY: (i, j) is inside the m x n window the caller vouches for.
            tile[i * nr + j] = unsafe { *c.add(i * rs_c + j * cs_c) };
        }
    }
}

/// Writes a computed tile `acc` (row-major `MR x NR` in memory) into C with alpha and beta:
/// the store used where vector stores do not apply (strided C columns, narrow edge tiles).
///
/// # Safety
/// As [`MicroKernel::tile`] for `c`, `rs_c`, `cs_c`, `m`, `n`; `acc` holds `m` rows of `nr`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn store_scalar(
    acc: &[f32],
    nr: usize,
    c: *mut f32,
    rs_c: usize,
    cs_c: usize,
    m: usize,
    n: usize,
    alpha: f32,
    beta: f32,
) {
    for i in 0..m {
        for j in 0..n {
            // SAFETY: (i, j) is inside the m x n window the caller vouches for.
            let dst = unsafe { c.add(i * rs_c + j * cs_c) };
            let v = alpha * acc[i * nr + j];
            // SAFETY: as above; beta == 0 must not read C (it may hold NaN).
            unsafe { *dst = if beta == 0.0 { v } else { v + beta * *dst } };
        }
    }
}
