//! The one safe wrapper around `matrixmultiply::sgemm`: `C = alpha * A @ B + beta * C`.
//!
//! Matrices are described as strided windows into slices, so transposes and sub-blocks cost
//! nothing: a transposed matrix is the same window with its two strides swapped. Every
//! window is bounds-checked before the unsafe call, which is the only `unsafe` in the gemm
//! path. matrixmultiply's own `threading` feature stays off: callers parallelise with rayon,
//! and a second thread pool inside each rayon task would oversubscribe the cores.

/// A read-only `rows x cols` matrix inside a slice: element `(i, j)` is at
/// `offset + i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// A writable `rows x cols` matrix inside a slice (same addressing as [`MatRef`]); its
/// elements must not overlap.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// Largest storage index a strided window touches, or `None` when it is empty.
fn last_index(offset: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    // Saturating: an absurd window saturates to usize::MAX and fails the bounds check.
    (rows > 0 && cols > 0).then(|| {
        offset
            .saturating_add((rows - 1).saturating_mul(rs))
            .saturating_add((cols - 1).saturating_mul(cs))
    })
}

impl<'a> MatRef<'a> {
    /// A strided window into `data`.
    ///
    /// # Panics
    /// If the window reaches past the end of `data`.
    #[track_caller]
    pub fn new(
        data: &'a [f32],
        offset: usize,
        [rows, cols]: [usize; 2],
        [row_stride, col_stride]: [usize; 2],
    ) -> Self {
        if let Some(last) = last_index(offset, rows, cols, row_stride, col_stride) {
            assert!(
                last < data.len(),
                "MatRef: {rows}x{cols} window at offset {offset} with strides \
                 [{row_stride}, {col_stride}] reaches index {last} of a {}-element slice",
                data.len()
            );
        }
        MatRef {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// A dense row-major `rows x cols` matrix starting at `data[0]`.
    #[track_caller]
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, 0, [rows, cols], [cols, 1])
    }

    /// The transpose, as a view (strides swapped).
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// `[rows, cols]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
}

impl<'a> MatMut<'a> {
    /// A strided, non-overlapping window into `data`.
    ///
    /// # Panics
    /// If the window reaches past the end of `data`, or two of its elements would share a
    /// storage index.
    #[track_caller]
    pub fn new(
        data: &'a mut [f32],
        offset: usize,
        [rows, cols]: [usize; 2],
        [row_stride, col_stride]: [usize; 2],
    ) -> Self {
        if let Some(last) = last_index(offset, rows, cols, row_stride, col_stride) {
            assert!(
                last < data.len(),
                "MatMut: {rows}x{cols} window at offset {offset} with strides \
                 [{row_stride}, {col_stride}] reaches index {last} of a {}-element slice",
                data.len()
            );
            // Distinct elements need distinct addresses: one stride must step over the
            // whole extent of the other axis.
            let disjoint = (rows == 1 || row_stride >= 1)
                && (cols == 1 || col_stride >= 1)
                && (rows == 1
                    || cols == 1
                    || row_stride >= cols * col_stride
                    || col_stride >= rows * row_stride);
            assert!(
                disjoint,
                "MatMut: strides [{row_stride}, {col_stride}] make elements of a {rows}x{cols} \
                 output overlap"
            );
        }
        MatMut {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// A dense row-major `rows x cols` matrix starting at `data[0]`.
    #[track_caller]
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, 0, [rows, cols], [cols, 1])
    }

    /// `[rows, cols]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
}

/// `C = alpha * A @ B + beta * C` on one thread, with matrixmultiply's SIMD kernels
/// (AVX2/FMA when the CPU has them, chosen at run time). When `beta == 0`, `C` is not read,
/// so it may hold garbage or NaN.
///
/// ```
/// use agon_tensor::gemm::{sgemm, MatMut, MatRef};
/// let a = [1.0, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [1.0, 0.0, 0.0, 1.0];
/// let mut c = [0.0; 4];
/// // A^T @ I, the transpose taken by swapping strides.
/// sgemm(1.0, MatRef::row_major(&a, 2, 2).t(), MatRef::row_major(&b, 2, 2), 0.0,
///       MatMut::row_major(&mut c, 2, 2));
/// assert_eq!(c, [1.0, 3.0, 2.0, 4.0]);
/// ```
///
/// # Panics
/// If the inner dimensions or the output shape do not match.
#[track_caller]
pub fn sgemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) {
    let [m, k] = a.dims();
    let [kb, n] = b.dims();
    assert!(
        k == kb && c.dims() == [m, n],
        "sgemm: A is {m}x{k}, B is {kb}x{n}, C is {}x{} (need A: m x k, B: k x n, C: m x n)",
        c.rows,
        c.cols
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // A @ B is the zero matrix: only the beta term remains.
        for i in 0..m {
            for j in 0..n {
                let x = &mut c.data[c.offset + i * c.row_stride + j * c.col_stride];
                *x = if beta == 0.0 { 0.0 } else { beta * *x };
            }
        }
        return;
    }
    // SAFETY: the constructors checked that every element of the three windows lies inside
    // its slice (last index < len) and that C's elements are pairwise distinct; `c.data` is
    // a unique borrow, so C aliases neither A nor B. Strides fit in isize because they are
    // bounded by slice lengths, which are at most isize::MAX.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr().add(a.offset),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr().add(b.offset),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.data.as_mut_ptr().add(c.offset),
            c.row_stride as isize,
            c.col_stride as isize,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "reaches index")]
    fn window_past_the_end_panics() {
        let data = [0.0; 5];
        let _ = MatRef::row_major(&data, 2, 3);
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn overlapping_output_panics() {
        let mut data = [0.0; 8];
        let _ = MatMut::new(&mut data, 0, [2, 3], [1, 1]);
    }

    #[test]
    fn k_zero_scales_c_by_beta() {
        let mut c = [1.0, 2.0];
        sgemm(
            1.0,
            MatRef::row_major(&[], 1, 0),
            MatRef::row_major(&[], 0, 2),
            0.5,
            MatMut::row_major(&mut c, 1, 2),
        );
        assert_eq!(c, [0.5, 1.0]);
    }
}
