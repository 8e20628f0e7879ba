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

/// Where an output's element `(i, j)` lies, counted from its element `(0, 0)`:
/// `i * rs + j * cs`, or with column groups
/// `(j / width) * stride + i * rs + (j % width) * cs`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    pub rs: usize,
    pub cs: usize,
    pub groups: Option<Groups>,
}

/// C's columns in blocks of `width`, block `g` starting `g * stride` elements on.
#[derive(Clone, Copy, Debug)]
pub(super) struct Groups {
    pub width: usize,
    pub stride: usize,
}

impl Layout {
    /// A plain strided window.
    pub fn strided(rs: usize, cs: usize) -> Layout {
        Layout {
            rs,
            cs,
            groups: None,
        }
    }

    /// The offset of element `(i, j)`.
    #[inline(always)]
    pub fn offset(&self, i: usize, j: usize) -> usize {
        match self.groups {
            None => i * self.rs + j * self.cs,
            Some(g) => (j / g.width) * g.stride + i * self.rs + (j % g.width) * self.cs,
        }
    }

    /// Whether columns `j .. j + cols` lie in one group, so that the block from column `j`
    /// is a plain strided window at `offset(i, j)` with strides `rs`, `cs`.
    #[inline(always)]
    pub fn one_group(&self, j: usize, cols: usize) -> bool {
        self.groups.is_none_or(|g| j % g.width + cols <= g.width)
    }

    /// Calls `f(j0, cols)` for the runs of columns `0 .. n` that lie in one group each (one
    /// run for a plain window).
    pub fn for_each_group(&self, n: usize, mut f: impl FnMut(usize, usize)) {
        let width = self.groups.map_or(n, |g| g.width.max(1));
        let mut j0 = 0;
        while j0 < n {
            let cols = width.min(n - j0);
            f(j0, cols);
            j0 += cols;
        }
    }
}

/// A `rows x (images * width)` output stored image after image, as `[images][rows][width]`:
/// the product of a layer's weights with the column matrix of several images side by side,
/// written straight into the batch's `[N, C, H*W]` layout instead of through a staging
/// matrix. It may be uninitialised, so only a product that overwrites C (`beta == 0`)
/// takes it.
#[derive(Debug)]
pub(crate) struct ImageColumns<'a> {
    pub(super) data: &'a mut [std::mem::MaybeUninit<f32>],
    pub(super) rows: usize,
    pub(super) width: usize,
}

impl<'a> ImageColumns<'a> {
    /// The output over `data`, whose length must be a multiple of `rows * width`.
    ///
    /// # Panics
    /// If `rows` or `width` is zero or `data` is not a whole number of images.
    #[track_caller]
    pub fn new(data: &'a mut [std::mem::MaybeUninit<f32>], rows: usize, width: usize) -> Self {
        assert!(
            rows > 0 && width > 0 && data.len().is_multiple_of(rows * width),
            "ImageColumns: {} floats are not images of {rows} x {width}",
            data.len()
        );
        ImageColumns { data, rows, width }
    }

    /// `[rows, images * width]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.rows, self.data.len() / self.rows]
    }

    /// Element `(i, j)`'s place: image `j / width`, row `i`, column `j % width`.
    pub(super) fn layout(&self) -> Layout {
        Layout {
            rs: self.width,
            cs: 1,
            groups: Some(Groups {
                width: self.width,
                stride: self.rows * self.width,
            }),
        }
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
