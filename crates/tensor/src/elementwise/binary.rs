//! Binary elementwise ops with NumPy broadcasting.

use crate::array::NdArray;
use crate::layout::broadcast_shapes;
use crate::parallel::{collect_chunks, fill_chunks};
use crate::strided::{fill_from_offsets, fill_rows};

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
        let n: usize = shape.iter().product();
        if let (Some(a), Some(b), true) = (
            self.as_slice(),
            other.as_slice(),
            self.shape() == other.shape(),
        ) {
            return NdArray::from_dense(zip_contiguous(a, b, &f), &shape);
        }
        let a = self.broadcast_to(&shape);
        let b = other.broadcast_to(&shape);
        let (sa, sb) = (a.storage(), b.storage());
        let mut out = vec![0.0f32; n];
        let nd = shape.len();
        let inner = |t: &NdArray| if nd == 0 { 1 } else { t.strides()[nd - 1] };
        if nd > 0 && inner(&a) <= 1 && inner(&b) <= 1 {
            // Rows whose operands are each contiguous or a repeated scalar (a bias added
            // along the last axis, a per-row scale): tight loops the compiler vectorises.
            let (ia, ib) = (inner(&a), inner(&b));
            fill_rows(
                &shape,
                [a.strides(), b.strides()],
                [a.offset(), b.offset()],
                &mut out,
                |[i, j], dst| {
                    let len = dst.len();
                    match (ia, ib) {
                        (1, 1) => {
                            for ((o, &x), &y) in
                                dst.iter_mut().zip(&sa[i..i + len]).zip(&sb[j..j + len])
                            {
                                *o = f(x, y);
                            }
                        }
                        (1, _) => {
                            let y = sb[j];
                            for (o, &x) in dst.iter_mut().zip(&sa[i..i + len]) {
                                *o = f(x, y);
                            }
                        }
                        (_, 1) => {
                            let x = sa[i];
                            for (o, &y) in dst.iter_mut().zip(&sb[j..j + len]) {
                                *o = f(x, y);
                            }
                        }
                        _ => dst.fill(f(sa[i], sb[j])),
                    }
                },
            );
        } else {
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

/// `f(a[i], b[i])` over two equal-length slices. Small outputs are collected directly (no
/// zero-fill first); large ones are filled in parallel chunks.
fn zip_contiguous(a: &[f32], b: &[f32], f: &(impl Fn(f32, f32) -> f32 + Sync + Send)) -> Vec<f32> {
    if a.len() < crate::parallel::PAR_ELEMENTWISE_MIN {
        return a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
    }
    collect_chunks(a.len(), |start, chunk| {
        let n = chunk.len();
        let (a, b) = (&a[start..start + n], &b[start..start + n]);
        // Writes every element: the three slices have length n.
        for ((o, &x), &y) in chunk.iter_mut().zip(a).zip(b) {
            o.write(f(x, y));
        }
    })
}
