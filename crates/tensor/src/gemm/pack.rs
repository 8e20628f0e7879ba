//! Packing: copying operands into the micro-kernel's order, and the buffers that hold them.
//!
//! A is packed into *slivers* of `MR` rows: for each step `p` of a K range, the `MR` values
//! of column `p` sit side by side (`dst[p * MR + i] = A[r0 + i, p]`). B is packed into
//! slivers of `NR` columns over the whole of K (`dst[p * NR + j] = B[p, c0 + j]`), so the
//! sliver of a K block starting at `pc` begins at `pc * NR`. Past the matrix edge slivers are
//! padded with zeros, which is what lets every tile run the full kernel.
//!
//! Where B's columns come from is abstracted by [`PackB`]: a strided matrix here, an image
//! seen through its convolution patches in `conv` (implicit GEMM: no im2col matrix is ever
//! built, patches go straight into slivers).

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::thread::LocalKey;

use super::kernel::MicroKernel;
use super::matrix::MatRef;
use super::Isa;

/// A source of B (`k x n`) that can write NR-column slivers.
pub(crate) trait PackB: Sync {
    /// `[k, n]`.
    fn dims(&self) -> [usize; 2];

    /// Writes columns `j0 .. j0 + width` of every row into `dst` as `[k][width]`
    /// (`dst[p * width + j] = B[p, j0 + j]`), with zeros for columns at or past `n`.
    /// `dst.len() == k * width`.
    fn pack_sliver(&self, j0: usize, width: usize, dst: &mut [f32]);

    /// Writes `dst.len() / (k * width)` consecutive slivers, the first at column `j0`,
    /// each `k * width` floats. A source whose rows are contiguous overrides this to read
    /// row by row across the slivers.
    fn pack_slivers(&self, j0: usize, width: usize, dst: &mut [f32]) {
        each_sliver(self, j0, width, dst);
    }

    /// B as a strided matrix, when it is one (the portable path then reads it in place).
    fn as_matrix(&self) -> Option<MatRef<'_>> {
        None
    }
}

impl PackB for MatRef<'_> {
    fn dims(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    fn as_matrix(&self) -> Option<MatRef<'_>> {
        Some(*self)
    }

    fn pack_slivers(&self, j0: usize, width: usize, dst: &mut [f32]) {
        let k = self.rows;
        let count = dst.len() / (k * width).max(1);
        if k > 0
            && self.col_stride == 1
            && j0 + count * width <= self.cols
            && matches!(width, 16 | 32)
        {
            // Row-major B, whole slivers of a kernel's width: each row of B is read once,
            // contiguously, and cut into the slivers. Sliver by sliver, every row's short
            // run sits on a different page (rows are often 4 KiB apart), which defeats the
            // hardware prefetcher: 2.5x slower on a Xeon at 1024 x 1024.
            let base = self.offset + j0;
            match width {
                16 => copy_rows::<16>(&self.data[base..], self.row_stride, k, dst),
                _ => copy_rows::<32>(&self.data[base..], self.row_stride, k, dst),
            }
        } else {
            each_sliver(self, j0, width, dst);
        }
    }

    fn pack_sliver(&self, j0: usize, width: usize, dst: &mut [f32]) {
        let valid = width.min(self.cols.saturating_sub(j0));
        let base = self.offset + j0 * self.col_stride;
        if self.col_stride == 1 {
            // Row-major B: each row's `valid` columns are one contiguous run.
            for (p, row) in dst.chunks_exact_mut(width).enumerate() {
                let src = base + p * self.row_stride;
                row[..valid].copy_from_slice(&self.data[src..src + valid]);
                row[valid..].fill(0.0);
            }
        } else {
            let depth = self.rows;
            assert!(dst.len() == depth * width);
            if valid > 0 && self.row_stride == 1 {
                // Column-major B: its columns are contiguous rows of the storage, so the
                // sliver is their transpose (by register transposes on AVX-512).
                transpose_into(
                    Isa::active(),
                    (&self.data[base..], self.col_stride),
                    [valid, depth],
                    (dst, width),
                );
            } else if valid > 0 {
                // Any other strides: a transpose, done in blocks of TILE rows so
                // that the TILE rows of `dst` being written stay in L1 while every column
                // of the block is read contiguously. Unblocked, each write lands on a new
                // cache line of a sliver far larger than L1.
                const TILE: usize = 16;
                // SAFETY: column j0 < cols, row 0: inside the window MatRef::new checked.
                let src = unsafe { self.data.as_ptr().add(base) };
                let mut p0 = 0;
                while p0 < depth {
                    let p1 = (p0 + TILE).min(depth);
                    for j in 0..valid {
                        for p in p0..p1 {
                            // SAFETY: (p, j0 + j) with p < rows, j < valid is inside the
                            // window; p * width + j < depth * width = dst.len().
                            unsafe {
                                *dst.get_unchecked_mut(p * width + j) =
                                    *src.add(p * self.row_stride + j * self.col_stride);
                            }
                        }
                    }
                    p0 = p1;
                }
            }
            for row in dst.chunks_exact_mut(width) {
                row[valid..].fill(0.0);
            }
        }
    }
}

/// [`PackB::pack_slivers`] one sliver at a time through [`PackB::pack_sliver`].
fn each_sliver(b: &(impl PackB + ?Sized), j0: usize, width: usize, dst: &mut [f32]) {
    let k = b.dims()[0];
    if k == 0 || width == 0 {
        return; // Nothing to write (the driver never asks for an empty product).
    }
    for (s, sliver) in dst.chunks_exact_mut(k * width).enumerate() {
        b.pack_sliver(j0 + s * width, width, sliver);
    }
}

/// Cuts the first `dst.len() / k` columns of `k` rows of `src` (rows `stride` apart) into
/// slivers `W` wide: `dst[s * k * W + p * W + j] = src[p * stride + s * W + j]`.
#[inline(always)]
fn copy_rows<const W: usize>(src: &[f32], stride: usize, k: usize, dst: &mut [f32]) {
    let count = dst.len() / (k * W);
    for p in 0..k {
        let row = &src[p * stride..p * stride + count * W];
        for (s, from) in row.chunks_exact(W).enumerate() {
            let to = &mut dst[(s * k + p) * W..(s * k + p + 1) * W];
            let to: &mut [f32; W] = to.try_into().expect("W floats");
            *to = from.try_into().expect("W floats");
        }
    }
}

/// `dst[p * ld + i] = src[i * rs + p]` for `i < rows` and `p < depth`: the rows of `src`
/// (`rs` apart) as the columns of `dst` (rows `ld` apart), 16 rows at a time by register
/// transposes on AVX-512, else in blocks of 16 columns so that the lines of `dst` being
/// written stay in L1.
///
/// # Panics
/// If a row of `src` or `dst` is short.
pub(crate) fn transpose_into(
    isa: Isa,
    src: (&[f32], usize),
    dims: [usize; 2],
    (dst, ld): (&mut [f32], usize),
) {
    // SAFETY: `MaybeUninit<f32>` has f32's layout, and the transpose only stores
    // initialised floats, so `dst` stays initialised.
    let dst = unsafe { &mut *(dst as *mut [f32] as *mut [MaybeUninit<f32>]) };
    transpose_into_uninit(isa, src, dims, (dst, ld));
}

/// [`transpose_into`] into memory that may be uninitialised: it initialises exactly the
/// elements `dst[p * ld + i]` for `i < rows`, `p < depth`.
///
/// # Panics
/// If a row of `src` or `dst` is short.
pub(crate) fn transpose_into_uninit(
    isa: Isa,
    (src, rs): (&[f32], usize),
    [rows, depth]: [usize; 2],
    (dst, ld): (&mut [MaybeUninit<f32>], usize),
) {
    if rows == 0 || depth == 0 {
        return;
    }
    assert!(
        (rows - 1) * rs + depth <= src.len(),
        "rows of src are short"
    );
    assert!(
        (depth - 1) * ld + rows <= dst.len(),
        "rows of dst are short"
    );
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && isa.is_supported() {
        for i0 in (0..rows).step_by(16) {
            // SAFETY: AVX-512F is supported (checked); rows i0 .. i0 + 16 (at most `rows`)
            // of src have `depth` floats and columns i0 .. of dst's `depth` rows have
            // room for them (both asserted above). The transpose only writes.
            unsafe {
                super::kernel::avx512::transpose_rows::<16>(
                    src.as_ptr().add(i0 * rs),
                    rs,
                    rows - i0,
                    depth,
                    dst.as_mut_ptr().add(i0).cast::<f32>(),
                    ld,
                )
            };
        }
        return;
    }
    const TILE: usize = 16;
    for p0 in (0..depth).step_by(TILE) {
        let p1 = (p0 + TILE).min(depth);
        for i in 0..rows {
            for (p, &value) in (p0..p1).zip(&src[i * rs + p0..i * rs + p1]) {
                dst[p * ld + i].write(value);
            }
        }
    }
}

/// Packs rows `r0 .. r0 + rows` and columns `p0 .. p0 + depth` of `a` into
/// `rows.div_ceil(K::MR)` slivers of `depth * K::MR` floats each, zero-padding rows at or
/// past `a`'s last. Whole slivers of a row-major `a` go through the kernel's
/// [`MicroKernel::pack_rows`].
///
/// Inlined into each kernel's driver, where `mr` is a constant, so the loops over a sliver's
/// rows unroll.
///
/// # Safety
/// `K`'s instruction set is supported by this CPU.
///
/// # Panics
/// If the column range leaves `a` or `dst` is too short.
#[inline(always)]
pub(crate) unsafe fn pack_a<K: MicroKernel>(
    a: &MatRef<'_>,
    r0: usize,
    rows: usize,
    p0: usize,
    depth: usize,
    dst: &mut [f32],
) {
    let mr = K::MR;
    let slivers = rows.div_ceil(mr);
    assert!(p0 + depth <= a.cols && dst.len() >= slivers * depth * mr);
    let (rs, cs) = (a.row_stride, a.col_stride);
    for (s, sliver) in dst.chunks_exact_mut(depth * mr).take(slivers).enumerate() {
        let first = r0 + s * mr;
        let valid = mr.min(a.rows.saturating_sub(first)).min(r0 + rows - first);
        if valid == 0 {
            sliver.fill(0.0);
            continue;
        }
        // SAFETY: row `first` < a.rows and column p0 < a.cols are inside the window that
        // MatRef::new bounds-checked, so this offset is in `a.data`.
        let base = unsafe { a.data.as_ptr().add(a.offset + first * rs + p0 * cs) };
        if valid == mr && cs == 1 {
            // Row-major A (weights [Cout, K]): MR row streams read side by side.
            // SAFETY: elements (first + i, p0 + p) with i < mr = valid, p < depth are
            // inside the checked window; the sliver holds depth * mr floats; the caller
            // vouches for K's instruction set.
            unsafe { K::pack_rows(base, rs, depth, sliver) };
        } else if valid == mr && rs == 1 {
            // Column-major A (a transposed weight): each column's MR values are contiguous.
            for (p, col) in sliver.chunks_exact_mut(mr).enumerate() {
                // SAFETY: as above; the MR values of column p0 + p are consecutive.
                let src = unsafe { std::slice::from_raw_parts(base.add(p * cs), mr) };
                col.copy_from_slice(src);
            }
        } else {
            for (p, col) in sliver.chunks_exact_mut(mr).enumerate() {
                for (i, d) in col.iter_mut().enumerate() {
                    *d = if i < valid {
                        // SAFETY: as above, i < valid.
                        unsafe { *base.add(i * rs + p * cs) }
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// Alignment of packed buffers: one cache line (16 floats), so a micro-kernel's 64-byte
/// vector loads never straddle two lines.
const ALIGN: usize = 64;

/// Largest packing buffer (in floats, 16 MiB) a thread keeps for its next call; bigger ones
/// are freed after use rather than pinned per thread.
const KEEP: usize = 1 << 22;

/// A reusable, growable per-thread buffer.
pub(crate) type Scratch = RefCell<Vec<f32>>;

thread_local! {
    /// Packed A blocks (one task at a time per thread).
    pub(crate) static A_SCRATCH: Scratch = const { RefCell::new(Vec::new()) };
    /// Packed B column blocks (the calling thread of a product).
    pub(crate) static B_SCRATCH: Scratch = const { RefCell::new(Vec::new()) };
    /// All of A, packed up front by the calling thread of a parallel product.
    pub(crate) static P_SCRATCH: Scratch = const { RefCell::new(Vec::new()) };
}

/// The start of a cache-line-aligned `len`-float window in `buf`, growing `buf` as needed.
fn aligned_window(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    let need = len + ALIGN / 4;
    if buf.len() < need {
        buf.resize(need, 0.0);
    }
    let skip = buf.as_ptr().align_offset(ALIGN).min(ALIGN / 4);
    &mut buf[skip..skip + len]
}

/// Runs `f` on an aligned scratch window of `len` floats from this thread's `key` buffer.
/// Its contents are unspecified: packing writes every element before the kernel reads it.
/// A nested use of the same buffer on one thread gets a fresh allocation.
pub(crate) fn with_scratch<R>(
    key: &'static LocalKey<Scratch>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            let out = f(aligned_window(&mut buf, len));
            if buf.len() > KEEP {
                *buf = Vec::new();
            }
            out
        }
        Err(_) => f(aligned_window(&mut Vec::new(), len)),
    })
}

/// A heap buffer whose window starts on a cache line (for long-lived packed operands).
#[derive(Clone, Debug, Default)]
pub(crate) struct AlignedVec {
    buf: Vec<f32>,
    skip: usize,
    len: usize,
}

impl AlignedVec {
    /// `len` floats, zeroed.
    pub fn zeroed(len: usize) -> AlignedVec {
        let buf = vec![0.0f32; len + ALIGN / 4];
        let skip = buf.as_ptr().align_offset(ALIGN).min(ALIGN / 4);
        AlignedVec { buf, skip, len }
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.buf[self.skip..self.skip + self.len]
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.buf[self.skip..self.skip + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel shape for packing tests: 4-row slivers, the scalar `pack_rows`.
    struct Rows4;

    impl MicroKernel for Rows4 {
        const MR: usize = 4;
        const NR: usize = 4;

        unsafe fn tile(
            _: usize,
            _: *const f32,
            _: *const f32,
            _: *mut f32,
            _: usize,
            _: usize,
            _: usize,
            _: usize,
            _: f32,
            _: f32,
            _: bool,
        ) {
            unreachable!("only packing is tested with this shape")
        }

        unsafe fn tile_runs(
            _: &[crate::gemm::kernel::KRun<'_>],
            _: *const f32,
            _: *mut f32,
            _: usize,
            _: usize,
            _: bool,
        ) {
            unreachable!("only packing is tested with this shape")
        }
    }

    #[test]
    fn slivers_hold_columns_and_pad_with_zeros() {
        // A = [[1, 2, 3], [4, 5, 6]] (2 x 3); one 4-row sliver over columns 1..3.
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = MatRef::row_major(&data, 2, 3);
        let mut dst = [9.0; 8];
        // SAFETY: Rows4 needs no instruction set beyond the baseline.
        unsafe { pack_a::<Rows4>(&a, 0, 2, 1, 2, &mut dst) };
        assert_eq!(dst, [2.0, 5.0, 0.0, 0.0, 3.0, 6.0, 0.0, 0.0]);
        // The same through the transpose (column-major reads).
        let at = MatRef::row_major(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 3, 2).t();
        let mut dst_t = [9.0; 8];
        // SAFETY: as above.
        unsafe { pack_a::<Rows4>(&at, 0, 2, 1, 2, &mut dst_t) };
        assert_eq!(dst_t, dst);
        // B slivers: columns 2..5 of the 2 x 3 matrix, width 3.
        let mut b = [9.0; 6];
        a.pack_sliver(2, 3, &mut b);
        assert_eq!(b, [3.0, 0.0, 0.0, 6.0, 0.0, 0.0]);
        let mut bt = [9.0; 6];
        at.pack_sliver(2, 3, &mut bt);
        assert_eq!(bt, b);
    }

    /// Slivers of a column-major B (x @ W^T), whole and at the matrix's edge, hold the
    /// columns of the same matrix stored row-major.
    #[test]
    fn column_major_slivers_match_row_major_ones() {
        let (k, n) = (37, 45);
        let data: Vec<f32> = (0..k * n).map(|i| i as f32).collect();
        let b = MatRef::row_major(&data, k, n);
        let stored_t: Vec<f32> = (0..n * k).map(|i| data[(i % k) * n + i / k]).collect();
        let bt = MatRef::row_major(&stored_t, n, k).t();
        for (j0, width) in [(0, 32), (32, 32), (16, 16), (40, 16)] {
            let (mut want, mut got) = (vec![9.0; k * width], vec![7.0; k * width]);
            b.pack_sliver(j0, width, &mut want);
            bt.pack_sliver(j0, width, &mut got);
            assert_eq!(got, want, "columns {j0}..{}", j0 + width);
        }
    }

    #[test]
    fn whole_row_major_slivers_match_the_scalar_copy() {
        // Full 4-row slivers of a row-major A go through `pack_rows` (here the scalar
        // default); compare with the element formula on a strided window.
        let (rows, cols, stride) = (9, 23, 29);
        let data: Vec<f32> = (0..rows * stride).map(|i| i as f32).collect();
        let a = MatRef::new(&data, 0, [rows, cols], [stride, 1]);
        let (p0, depth) = (3, 17);
        let mut dst = vec![f32::NAN; 3 * depth * 4];
        // SAFETY: Rows4 needs no instruction set beyond the baseline.
        unsafe { pack_a::<Rows4>(&a, 1, 8, p0, depth, &mut dst) };
        for s in 0..2 {
            for p in 0..depth {
                for i in 0..4 {
                    let want = data[(1 + s * 4 + i) * stride + p0 + p];
                    assert_eq!(
                        dst[s * depth * 4 + p * 4 + i],
                        want,
                        "sliver {s} p {p} i {i}"
                    );
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_row_packing_matches_the_scalar_copy() {
        use crate::gemm::kernel::avx512::Avx512;
        if !crate::gemm::Isa::Avx512.is_supported() {
            return;
        }
        let mr = Avx512::MR;
        // Depths around the 16-column blocks, row strides odd and even.
        for depth in [1, 2, 15, 16, 17, 31, 32, 33, 50] {
            for stride in [depth, depth + 3, 64] {
                let data: Vec<f32> = (0..mr * stride).map(|i| (i as f32).sin()).collect();
                let mut fast = vec![f32::NAN; depth * mr + 5];
                // SAFETY: AVX-512F was checked above; 12 rows of `depth` floats, `stride`
                // apart, lie inside `data`; `fast` holds depth * MR floats.
                unsafe { Avx512::pack_rows(data.as_ptr(), stride, depth, &mut fast) };
                for p in 0..depth {
                    for i in 0..mr {
                        assert_eq!(fast[p * mr + i], data[i * stride + p], "depth {depth}");
                    }
                }
                // Nothing past the sliver is written.
                assert!(fast[depth * mr..].iter().all(|v| v.is_nan()));
            }
        }
    }

    #[test]
    fn slivers_cut_from_rows_match_sliver_by_sliver() {
        // Row-major B read row by row across slivers (widths 16 and 32), and a partial
        // last sliver (the per-sliver fallback), against `pack_sliver` one at a time.
        let (k, n, stride) = (7, 100, 103);
        let data: Vec<f32> = (0..k * stride).map(|i| i as f32 * 0.5).collect();
        let b = MatRef::new(&data, 2, [k, n], [stride, 1]);
        for width in [16, 32] {
            for (j0, count) in [(0, 2), (width, 1), (3, n.div_ceil(width) - 1), (n - 5, 1)] {
                let mut together = vec![f32::NAN; count * k * width];
                b.pack_slivers(j0, width, &mut together);
                for s in 0..count {
                    let mut one = vec![f32::NAN; k * width];
                    b.pack_sliver(j0 + s * width, width, &mut one);
                    assert_eq!(&together[s * k * width..(s + 1) * k * width], &one[..]);
                }
            }
        }
    }

    /// Every path of `transpose_into` gives the plain transpose, for row counts around
    /// the 16-row blocks and depths around the 16-column ones, into a wider destination.
    #[test]
    fn transpose_into_matches_the_plain_transpose() {
        for (rows, depth) in [(1, 1), (5, 17), (16, 16), (17, 33), (40, 7)] {
            let (rs, ld) = (depth + 3, rows + 5);
            let src: Vec<f32> = (0..rows * rs).map(|i| i as f32).collect();
            for isa in Isa::supported() {
                let mut dst = vec![-1.0; depth * ld];
                transpose_into(isa, (&src, rs), [rows, depth], (&mut dst, ld));
                for p in 0..depth {
                    for i in 0..ld {
                        let want = if i < rows { src[i * rs + p] } else { -1.0 };
                        assert_eq!(dst[p * ld + i], want, "{isa:?} {rows}x{depth}: ({p}, {i})");
                    }
                }
            }
        }
    }

    #[test]
    fn scratch_windows_are_aligned() {
        for len in [1, 17, 1000] {
            with_scratch(&A_SCRATCH, len, |w| {
                assert_eq!(w.len(), len);
                assert_eq!(w.as_ptr() as usize % ALIGN, 0);
            });
        }
        assert_eq!(
            AlignedVec::zeroed(5).as_slice().as_ptr() as usize % ALIGN,
            0
        );
    }
}
