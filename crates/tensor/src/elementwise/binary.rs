//! Binary elementwise ops with NumPy broadcasting.

use crate::array::NdArray;
use crate::layout::broadcast_shapes;
use crate::parallel::fill_chunks;
use crate::strided::fill_from_offsets;

impl NdArray {
    /// `f(a, b)` elementwise over the broadcast of `self` and `other`: the engine behind
    /// every binary op. `op` names the operation in panic messages.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn zip_with(
        &self,
        other: &NdArray,
        op: &str,
        f: impl Fn(f32, f32) -> f32 + Sync + Send,
    ) -> NdArray {
        let shape = broadcast_shapes(self.shape(), other.shape()).unwrap_or_else(|| {
            panic!(
                "{op}: shapes {:?} and {:?} do not broadcast (each axis must match or be 1, \
                 aligned from the right)",
                self.shape(),
                other.shape()
            )
        });
        let mut out = vec![0.0f32; shape.iter().product()];
        if let (Some(a), Some(b), true) = (
            self.as_slice(),
            other.as_slice(),
            self.shape() == other.shape(),
        ) {
            fill_chunks(&mut out, |start, chunk| {
                let n = chunk.len();
                let (a, b) = (&a[start..start + n], &b[start..start + n]);
                for ((o, &x), &y) in chunk.iter_mut().zip(a).zip(b) {
                    *o = f(x, y);
                }
            });
        } else {
            let a = self.broadcast_to(&shape);
            let b = other.broadcast_to(&shape);
            let (sa, sb) = (a.storage(), b.storage());
            fill_chunks(&mut out, |start, chunk| {
                fill_from_offsets(
                    &shape,
                    [a.strides(), b.strides()],
                    [a.offset(), b.offset()],
                    start,
                    chunk,
                    |[i, j]| f(sa[i], sb[j]),
                );
            });
        }
        NdArray::from_dense(out, &shape)
    }

    /// `self + other`, broadcasting.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let a = NdArray::ones(&[2, 3]);
    /// let b = NdArray::arange(0.0, 3.0, 1.0); // broadcast over rows
    /// assert_eq!(a.add(&b).to_vec(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn add(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "add", |a, b| a + b)
    }

    /// `self - other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn sub(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "sub", |a, b| a - b)
    }

    /// `self * other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn mul(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "mul", |a, b| a * b)
    }

    /// `self / other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn div(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "div", |a, b| a / b)
    }

    /// Elementwise maximum, broadcasting; NaN wins, as `torch.maximum`.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn maximum(&self, other: &NdArray) -> NdArray {
        self.zip_with(
            other,
            "maximum",
            |a, b| {
                if a.is_nan() || a > b {
                    a
                } else {
                    b
                }
            },
        )
    }

    /// Elementwise minimum, broadcasting; NaN wins, as `torch.minimum`.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn minimum(&self, other: &NdArray) -> NdArray {
        self.zip_with(
            other,
            "minimum",
            |a, b| {
                if a.is_nan() || a < b {
                    a
                } else {
                    b
                }
            },
        )
    }

    /// `self ^ other` elementwise, broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn pow(&self, other: &NdArray) -> NdArray {
        self.zip_with(other, "pow", f32::powf)
    }
}
