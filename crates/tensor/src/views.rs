//! Movement operations: views that rewrite the layout and copy nothing (reshape copies only
//! when no view exists).

use crate::array::NdArray;

impl NdArray {
    /// The same elements with shape `shape`: a view when the layout allows, a copy otherwise.
    ///
    /// ```
    /// let a = agon_tensor::NdArray::arange(0.0, 6.0, 1.0);
    /// let m = a.reshape(&[2, 3]);
    /// assert_eq!(m.get(&[1, 0]), 3.0);
    /// ```
    ///
    /// # Panics
    /// If `shape` holds a different number of elements.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> NdArray {
        let n: usize = shape.iter().product();
        assert_eq!(
            n,
            self.numel(),
            "reshape: cannot view shape {:?} ({} elements) as {shape:?} ({n} elements)",
            self.shape(),
            self.numel()
        );
        match self.layout().reshape_view(shape) {
            Some(layout) => NdArray::from_parts(self.storage_arc(), layout),
            None => self.contiguous().reshape(shape),
        }
    }

    /// Axes reordered: output axis `k` is input axis `perm[k]` (`torch.permute`).
    ///
    /// ```
    /// let a = agon_tensor::NdArray::zeros(&[2, 3, 4]);
    /// assert_eq!(a.permute(&[2, 0, 1]).shape(), &[4, 2, 3]);
    /// ```
    ///
    /// # Panics
    /// If `perm` is not a permutation of `0..ndim`.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> NdArray {
        let mut seen = vec![false; self.ndim()];
        let valid = perm.len() == self.ndim()
            && perm
                .iter()
                .all(|&p| p < seen.len() && !std::mem::replace(&mut seen[p], true));
        assert!(
            valid,
            "permute: {perm:?} is not a permutation of the {} axes of shape {:?}",
            self.ndim(),
            self.shape()
        );
        NdArray::from_parts(self.storage_arc(), self.layout().permute(perm))
    }

    /// Axes `a` and `b` swapped.
    ///
    /// # Panics
    /// If either axis is out of range.
    #[track_caller]
    pub fn transpose(&self, a: usize, b: usize) -> NdArray {
        self.check_axis("transpose", a);
        self.check_axis("transpose", b);
        let mut perm: Vec<usize> = (0..self.ndim()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// A view repeated along new leading axes and size-1 axes to `shape` (NumPy rules).
    ///
    /// ```
    /// let b = agon_tensor::NdArray::arange(0.0, 3.0, 1.0).broadcast_to(&[2, 3]);
    /// assert_eq!(b.to_vec(), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    /// assert_eq!(b.strides(), &[0, 1]);
    /// ```
    ///
    /// # Panics
    /// If the shape cannot be broadcast to `shape`.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> NdArray {
        match self.layout().broadcast_to(shape) {
            Some(layout) => NdArray::from_parts(self.storage_arc(), layout),
            None => panic!(
                "broadcast_to: shape {:?} cannot broadcast to {shape:?} \
                 (each axis must match or be 1, aligned from the right)",
                self.shape()
            ),
        }
    }

    /// `len` elements of axis `axis` starting at `start` (`torch.narrow`).
    ///
    /// # Panics
    /// If the axis is out of range or `start + len` exceeds its size.
    #[track_caller]
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> NdArray {
        self.slice(axis, start, start + len, 1)
    }

    /// Elements `start, start + step, ..` below `end` along `axis` (Python's `a[start:end:step]`).
    ///
    /// ```
    /// let a = agon_tensor::NdArray::arange(0.0, 10.0, 1.0);
    /// assert_eq!(a.slice(0, 1, 8, 3).to_vec(), vec![1.0, 4.0, 7.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, `start > end`, `end` exceeds the axis, or `step` is 0.
    #[track_caller]
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> NdArray {
        self.check_axis("slice", axis);
        let d = self.shape()[axis];
        assert!(
            start <= end && end <= d && step > 0,
            "slice: range {start}..{end} step {step} is invalid for axis {axis} of size {d} \
             (shape {:?})",
            self.shape()
        );
        let len = (end - start).div_ceil(step);
        NdArray::from_parts(
            self.storage_arc(),
            self.layout().slice(axis, start, len, step),
        )
    }

    /// A size-1 axis inserted at position `axis` (`0..=ndim`).
    ///
    /// # Panics
    /// If `axis > ndim`.
    #[track_caller]
    pub fn unsqueeze(&self, axis: usize) -> NdArray {
        assert!(
            axis <= self.ndim(),
            "unsqueeze: axis {axis} out of range for shape {:?} (at most {})",
            self.shape(),
            self.ndim()
        );
        NdArray::from_parts(self.storage_arc(), self.layout().unsqueeze(axis))
    }

    /// The size-1 axis `axis` removed.
    ///
    /// # Panics
    /// If the axis is out of range or its size is not 1.
    #[track_caller]
    pub fn squeeze(&self, axis: usize) -> NdArray {
        self.check_axis("squeeze", axis);
        assert_eq!(
            self.shape()[axis],
            1,
            "squeeze: axis {axis} of shape {:?} has size {}, not 1",
            self.shape(),
            self.shape()[axis]
        );
        NdArray::from_parts(self.storage_arc(), self.layout().squeeze(axis))
    }

    /// Axes `start..=end` merged into one (`torch.flatten`).
    ///
    /// # Panics
    /// If `start > end` or `end` is out of range.
    #[track_caller]
    pub fn flatten(&self, start: usize, end: usize) -> NdArray {
        self.check_axis("flatten", end);
        assert!(start <= end, "flatten: start axis {start} > end axis {end}");
        let s = self.shape();
        let mut shape = s[..start].to_vec();
        shape.push(s[start..=end].iter().product());
        shape.extend_from_slice(&s[end + 1..]);
        self.reshape(&shape)
    }

    pub(crate) fn storage_arc(&self) -> std::sync::Arc<Vec<f32>> {
        std::sync::Arc::clone(self.storage_ref())
    }

    /// Panics with the op's name when `axis` is out of range.
    #[track_caller]
    pub(crate) fn check_axis(&self, op: &str, axis: usize) {
        assert!(
            axis < self.ndim(),
            "{op}: axis {axis} out of range for shape {:?} ({} axes)",
            self.shape(),
            self.ndim()
        );
    }
}
