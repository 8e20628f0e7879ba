//! Indexing along an axis: `gather` / `scatter_add` and `index_select` / `index_add`.
//!
//! Each pair is adjoint: <gather(x, i), y> = <x, scatter_add(0, i, y)>, and likewise for
//! index_select / index_add. That is what makes max-pooling, embeddings and cross-entropy
//! differentiable to any order with these four kernels alone.
//! The adding kernels run sequentially in index order, so duplicate indices accumulate
//! in a fixed order (deterministic).

use crate::array::NdArray;
use crate::indices::Indices;
use crate::strided::for_each_offsets;

impl NdArray {
    /// Checks the axis and that `index` fits `self` on every other axis (torch's rule for
    /// gather and scatter), returning `self`'s shape with `index`'s extents.
    #[track_caller]
    fn check_gather_shapes(&self, op: &str, axis: usize, index: &Indices) {
        self.check_axis(op, axis);
        let fits = index.shape().len() == self.ndim()
            && index
                .shape()
                .iter()
                .zip(self.shape())
                .enumerate()
                .all(|(a, (&i, &s))| a == axis || i <= s);
        assert!(
            fits,
            "{op}: index of shape {:?} does not fit array of shape {:?} along axis {axis} \
             (same rank, and no larger on the other axes)",
            index.shape(),
            self.shape()
        );
    }

    /// `out[.., j, ..] = self[.., index[.., j, ..], ..]` along `axis` (`torch.gather`); the
    /// output has `index`'s shape.
    ///
    /// ```
    /// use agon_tensor::{Indices, NdArray};
    /// let x = NdArray::from_vec(vec![10.0, 11.0, 12.0, 20.0, 21.0, 22.0], &[2, 3]).unwrap();
    /// let idx = Indices::from_vec(vec![2, 0, 1, 1], &[2, 2]);
    /// assert_eq!(x.gather(1, &idx).to_vec(), vec![12.0, 10.0, 21.0, 21.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, the index does not fit (see above), or an index value is
    /// out of range for the axis.
    #[track_caller]
    pub fn gather(&self, axis: usize, index: &Indices) -> NdArray {
        self.check_gather_shapes("gather", axis, index);
        let dim = self.shape()[axis];
        let stride = self.strides()[axis];
        // Walk `self` over index's shape with the gathered axis frozen at 0; the index
        // value then adds `value * stride`.
        let mut frozen = self.strides().to_vec();
        frozen[axis] = 0;
        let idx = index.as_slice();
        let data = self.storage();
        let mut out = Vec::with_capacity(idx.len());
        let mut k = 0;
        for_each_offsets(
            index.shape(),
            [&frozen],
            [self.offset()],
            0,
            idx.len(),
            |[o]| {
                let i = idx[k];
                assert!(
                    i < dim,
                    "gather: index {i} out of range for axis {axis} of size {dim}"
                );
                out.push(data[o + i * stride]);
                k += 1;
            },
        );
        NdArray::from_dense(out, index.shape())
    }

    /// `self` plus `src` added at the positions `index` names along `axis`
    /// (`Tensor.scatter_add`, out of place): `out[.., index[.., j, ..], ..] += src[.., j, ..]`.
    /// `src` must have `index`'s shape.
    ///
    /// ```
    /// use agon_tensor::{Indices, NdArray};
    /// let idx = Indices::from_vec(vec![0, 0, 2], &[1, 3]);
    /// let src = NdArray::ones(&[1, 3]);
    /// let out = NdArray::zeros(&[1, 3]).scatter_add(1, &idx, &src);
    /// assert_eq!(out.to_vec(), vec![2.0, 0.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, the shapes do not fit, or an index is out of range.
    #[track_caller]
    pub fn scatter_add(&self, axis: usize, index: &Indices, src: &NdArray) -> NdArray {
        self.check_gather_shapes("scatter_add", axis, index);
        assert_eq!(
            src.shape(),
            index.shape(),
            "scatter_add: src shape {:?} must equal index shape {:?}",
            src.shape(),
            index.shape()
        );
        let mut out = self.to_vec();
        let dim = self.shape()[axis];
        let out_strides = crate::layout::contiguous_strides(self.shape());
        let stride = out_strides[axis];
        let mut frozen = out_strides.clone();
        frozen[axis] = 0;
        let idx = index.as_slice();
        let s = src.storage();
        let mut k = 0;
        for_each_offsets(
            index.shape(),
            [&frozen, src.strides()],
            [0, src.offset()],
            0,
            idx.len(),
            |[o, so]| {
                let i = idx[k];
                assert!(
                    i < dim,
                    "scatter_add: index {i} out of range for axis {axis} of size {dim}"
                );
                out[o + i * stride] += s[so];
                k += 1;
            },
        );
        NdArray::from_dense(out, self.shape())
    }

    /// The slices `index[0], index[1], ..` of `axis`, stacked (`torch.index_select`).
    ///
    /// ```
    /// use agon_tensor::{Indices, NdArray};
    /// let table = NdArray::arange(0.0, 6.0, 1.0).reshape(&[3, 2]); // an embedding table
    /// let rows = table.index_select(0, &Indices::from_vec(vec![2, 2, 0], &[3]));
    /// assert_eq!(rows.to_vec(), vec![4.0, 5.0, 4.0, 5.0, 0.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range, `index` is not 1-D, or an index is out of range.
    #[track_caller]
    pub fn index_select(&self, axis: usize, index: &Indices) -> NdArray {
        self.check_axis("index_select", axis);
        self.check_index_vector("index_select", axis, index);
        let outer: usize = self.shape()[..axis].iter().product();
        let inner: usize = self.shape()[axis + 1..].iter().product();
        let dim = self.shape()[axis];
        let src = self.contiguous();
        let s = src.as_slice().expect("contiguous");
        let mut out = Vec::with_capacity(outer * index.len() * inner);
        for o in 0..outer {
            for &i in index.as_slice() {
                out.extend_from_slice(&s[(o * dim + i) * inner..][..inner]);
            }
        }
        let mut shape = self.shape().to_vec();
        shape[axis] = index.len();
        NdArray::from_dense(out, &shape)
    }

    /// `self` with the slices of `src` along `axis` added at positions `index`
    /// (`Tensor.index_add`, out of place): the adjoint of [`index_select`](Self::index_select).
    ///
    /// # Panics
    /// If the axis is out of range, `index` is not 1-D, an index is out of range, or `src`
    /// differs from `self` in shape except along `axis`, where it must have `index.len()`.
    #[track_caller]
    pub fn index_add(&self, axis: usize, index: &Indices, src: &NdArray) -> NdArray {
        self.check_axis("index_add", axis);
        self.check_index_vector("index_add", axis, index);
        let mut expected = self.shape().to_vec();
        expected[axis] = index.len();
        assert_eq!(
            src.shape(),
            &expected[..],
            "index_add: src shape {:?} must be {expected:?} (self {:?} with axis {axis} = \
             index length)",
            src.shape(),
            self.shape()
        );
        let outer: usize = self.shape()[..axis].iter().product();
        let inner: usize = self.shape()[axis + 1..].iter().product();
        let dim = self.shape()[axis];
        let mut out = self.to_vec();
        let src = src.contiguous();
        let s = src.as_slice().expect("contiguous");
        for o in 0..outer {
            for (j, &i) in index.as_slice().iter().enumerate() {
                let dst = &mut out[(o * dim + i) * inner..][..inner];
                let from = &s[(o * index.len() + j) * inner..][..inner];
                for (d, &x) in dst.iter_mut().zip(from) {
                    *d += x;
                }
            }
        }
        NdArray::from_dense(out, self.shape())
    }

    #[track_caller]
    fn check_index_vector(&self, op: &str, axis: usize, index: &Indices) {
        let dim = self.shape()[axis];
        assert!(
            index.shape().len() == 1,
            "{op}: index must be 1-D, got shape {:?}",
            index.shape()
        );
        if let Some(&bad) = index.as_slice().iter().find(|&&i| i >= dim) {
            panic!(
                "{op}: index {bad} out of range for axis {axis} of size {dim} (shape {:?})",
                self.shape()
            );
        }
    }
}
