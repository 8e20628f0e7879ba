//! Comparisons giving 0/1 masks, and `where_` selecting by a mask.

use crate::array::NdArray;
use crate::layout::broadcast_shapes;
use crate::parallel::fill_chunks;
use crate::strided::fill_from_offsets;

/// 1.0 for true, 0.0 for false: masks are ordinary f32 arrays so they multiply directly.
fn mask(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

impl NdArray {
    /// Mask of `self == other` (broadcasting).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn eq_mask(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "eq_mask", |a, b| mask(a == b))
    }

    /// Mask of `self != other` (broadcasting).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn ne_mask(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "ne_mask", |a, b| mask(a != b))
    }

    /// Mask of `self < other` (broadcasting).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let a = NdArray::arange(0.0, 4.0, 1.0);
    /// assert_eq!(a.lt_mask(&NdArray::scalar(2.0)).to_vec(), vec![1.0, 1.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn lt_mask(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "lt_mask", |a, b| mask(a < b))
    }

    /// Mask of `self <= other` (broadcasting).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn le_mask(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "le_mask", |a, b| mask(a <= b))
    }

    /// Mask of `self > other` (broadcasting).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn gt_mask(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "gt_mask", |a, b| mask(a > b))
    }

    /// Mask of `self >= other` (broadcasting).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn ge_mask(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "ge_mask", |a, b| mask(a >= b))
    }

    /// `torch.where(self, on_true, on_false)`: picks `on_true` where `self` is nonzero,
    /// `on_false` elsewhere; all three broadcast together.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let m = NdArray::from_vec(vec![1.0, 0.0], &[2]).unwrap();
    /// let r = m.where_(&NdArray::scalar(7.0), &NdArray::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    /// assert_eq!(r.to_vec(), vec![7.0, 2.0]);
    /// ```
    ///
    /// # Panics
    /// If the three shapes do not broadcast.
    #[track_caller]
    pub fn where_(&self, on_true: &NdArray, on_false: &NdArray) -> NdArray {
        let shape = broadcast_shapes(self.shape(), on_true.shape())
            .and_then(|s| broadcast_shapes(&s, on_false.shape()))
            .unwrap_or_else(|| {
                panic!(
                    "where_: mask {:?}, on_true {:?} and on_false {:?} do not broadcast together",
                    self.shape(),
                    on_true.shape(),
                    on_false.shape()
                )
            });
        let (c, t, f) = (
            self.broadcast_to(&shape),
            on_true.broadcast_to(&shape),
            on_false.broadcast_to(&shape),
        );
        let (sc, st, sf) = (c.storage(), t.storage(), f.storage());
        let mut out = vec![0.0f32; shape.iter().product()];
        fill_chunks(&mut out, |start, chunk| {
            fill_from_offsets(
                &shape,
                [c.strides(), t.strides(), f.strides()],
                [c.offset(), t.offset(), f.offset()],
                start,
                chunk,
                |[i, j, k]| if sc[i] != 0.0 { st[j] } else { sf[k] },
            );
        });
        NdArray::from_dense(out, &shape)
    }
}
