//! Strided matrix windows: the operands of every GEMM entry point.
//!
//! Matrices are described as strided windows into slices, so transposes and sub-blocks cost
//! nothing: a transposed matrix is the same window with its two strides swapped. Every
//! window is bounds-checked when it is built, which is what lets the packing routines and
//! micro-kernels read and write through raw pointers afterwards.

/// A read-only `rows x cols` matrix inside a slice: element `(i, j)` is at
/// `offset + i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub(super) data: &'a [f32],
    pub(super) offset: usize,
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) row_stride: usize,
    pub(super) col_stride: usize,
}

/// A writable `rows x cols` matrix inside a slice (same addressing as [`MatRef`]); its
/// elements must not overlap.
#[derive(Debug)]
pub struct MatMut<'a> {
    pub(super) data: &'a mut [f32],
    pub(super) offset: usize,
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) row_stride: usize,
    pub(super) col_stride: usize,
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

    /// Rows `r0 .. r0 + rows` (inside this window, so still in bounds).
    pub(super) fn row_window(self, r0: usize, rows: usize) -> Self {
        assert!(r0 + rows <= self.rows, "row window past the matrix");
        MatRef {
            offset: self.offset + r0 * self.row_stride,
            rows,
            ..self
        }
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
}
