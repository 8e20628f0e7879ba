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
use std::thread::LocalKey;

use super::matrix::MatRef;

/// A source of B (`k x n`) that can write NR-column slivers.
pub(crate) trait PackB: Sync {
    /// `[k, n]`.
    fn dims(&self) -> [usize; 2];

    /// Writes columns `j0 .. j0 + width` of every row into `dst` as `[k][width]`
    /// (`dst[p * width + j] = B[p, j0 + j]`), with zeros for columns at or past `n`.
    /// `dst.len() == k * width`.
    fn pack_sliver(&self, j0: usize, width: usize, dst: &mut [f32]);

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
            if valid > 0 {
                // Column-major B (a transposed weight, x @ W^T, or the transposed patch
                // matrix of a weight gradient): a transpose, done in blocks of TILE rows so
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

/// Packs rows `r0 .. r0 + rows` and columns `p0 .. p0 + depth` of `a` into `rows.div_ceil(mr)`
/// slivers of `depth * mr` floats each, zero-padding rows at or past `a`'s last.
///
/// Inlined into each kernel's driver, where `mr` is a constant, so the loops over a sliver's
/// rows unroll.
///
/// # Panics
/// If the column range leaves `a` or `dst` is too short.
#[inline(always)]
pub(crate) fn pack_a(
    a: &MatRef<'_>,
    r0: usize,
    rows: usize,
    p0: usize,
    depth: usize,
    mr: usize,
    dst: &mut [f32],
) {
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
            for (p, col) in sliver.chunks_exact_mut(mr).enumerate() {
                for (i, d) in col.iter_mut().enumerate() {
                    // SAFETY: element (first + i, p0 + p) with i < valid, p < depth is
                    // inside the checked window.
                    *d = unsafe { *base.add(i * rs + p) };
                }
            }
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

    #[test]
    fn slivers_hold_columns_and_pad_with_zeros() {
        // A = [[1, 2, 3], [4, 5, 6]] (2 x 3); one 4-row sliver over columns 1..3.
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = MatRef::row_major(&data, 2, 3);
        let mut dst = [9.0; 8];
        pack_a(&a, 0, 2, 1, 2, 4, &mut dst);
        assert_eq!(dst, [2.0, 5.0, 0.0, 0.0, 3.0, 6.0, 0.0, 0.0]);
        // The same through the transpose (column-major reads).
        let at = MatRef::row_major(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], 3, 2).t();
        let mut dst_t = [9.0; 8];
        pack_a(&at, 0, 2, 1, 2, 4, &mut dst_t);
        assert_eq!(dst_t, dst);
        // B slivers: columns 2..5 of the 2 x 3 matrix, width 3.
        let mut b = [9.0; 6];
        a.pack_sliver(2, 3, &mut b);
        assert_eq!(b, [3.0, 0.0, 0.0, 6.0, 0.0, 0.0]);
        let mut bt = [9.0; 6];
        at.pack_sliver(2, 3, &mut bt);
        assert_eq!(bt, b);
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
