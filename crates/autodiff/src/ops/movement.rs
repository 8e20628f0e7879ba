//! Movement ops and their inverses: each one's gradient is another movement op.
//!
//! | op | dL/dx |
//! |---|---|
//! | reshape / flatten / squeeze / unsqueeze | g reshaped to x's shape |
//! | permute(p) | g permuted by the inverse of p |
//! | broadcast_to | g.sum_to(x's shape) |
//! | narrow(axis, start, len) | g zero-padded back (`pad`) |
//! | slice(axis, start, end, step) | zeros.index_add(axis, positions, g) |
//! | pad | g narrowed back |
//! | concat | each part's slice of g |

use agon_tensor::Indices;

use super::{record, unary};
use crate::tensor::Tensor;

impl Tensor {
    /// The same elements in shape `shape`.
    ///
    /// # Panics
    /// If the number of elements differs.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        unary(self, self.data().reshape(shape), "reshape", |x, _, g| {
            g.reshape(x.shape())
        })
    }

    /// Axes `start..=end` merged.
    ///
    /// # Panics
    /// If the axes are out of range.
    #[track_caller]
    pub fn flatten(&self, start: usize, end: usize) -> Tensor {
        let shape = self.data().flatten(start, end).shape().to_vec();
        self.reshape(&shape)
    }

    /// A size-1 axis inserted at `axis`.
    ///
    /// # Panics
    /// If `axis > ndim`.
    #[track_caller]
    pub fn unsqueeze(&self, axis: usize) -> Tensor {
        let shape = self.data().unsqueeze(axis).shape().to_vec();
        self.reshape(&shape)
    }

    /// The size-1 axis `axis` removed.
    ///
    /// # Panics
    /// If the axis is out of range or not of size 1.
    #[track_caller]
    pub fn squeeze(&self, axis: usize) -> Tensor {
        let shape = self.data().squeeze(axis).shape().to_vec();
        self.reshape(&shape)
    }

    /// Axes reordered: output axis `k` is input axis `perm[k]`.
    ///
    /// # Panics
    /// If `perm` is not a permutation of the axes.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        let data = self.data().permute(perm);
        let mut inverse = vec![0; perm.len()];
        for (k, &p) in perm.iter().enumerate() {
            inverse[p] = k;
        }
        unary(self, data, "permute", move |_, _, g| g.permute(&inverse))
    }

    /// Axes `a` and `b` swapped.
    ///
    /// # Panics
    /// If either axis is out of range.
    #[track_caller]
    pub fn transpose(&self, a: usize, b: usize) -> Tensor {
        let mut perm: Vec<usize> = (0..self.ndim()).collect();
        assert!(
            a < perm.len() && b < perm.len(),
            "transpose: axes {a}, {b} out of range for shape {:?}",
            self.shape()
        );
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Broadcast (NumPy rules) to `shape`.
    ///
    /// # Panics
    /// If the shape does not broadcast to `shape`.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let data = self.data().broadcast_to(shape);
        unary(self, data, "broadcast_to", |x, _, g| g.sum_to(x.shape()))
    }

    /// `len` elements of `axis` from `start`.
    ///
    /// # Panics
    /// If the range is out of bounds.
    #[track_caller]
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Tensor {
        if start == 0 && axis < self.ndim() && len == self.shape()[axis] {
            return self.clone();
        }
        let data = self.data().narrow(axis, start, len);
        unary(self, data, "narrow", move |x, _, g| {
            let mut pads = vec![(0, 0); x.ndim()];
            pads[axis] = (start, x.shape()[axis] - start - len);
            g.pad(&pads, 0.0)
        })
    }

    /// Elements `start, start + step, ..` below `end` along `axis`.
    ///
    /// # Panics
    /// If the range is invalid for the axis.
    #[track_caller]
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Tensor {
        if step == 1 {
            return self.narrow(axis, start, end.saturating_sub(start));
        }
        let data = self.data().slice(axis, start, end, step);
        let positions =
            Indices::from_vec((start..end).step_by(step).collect(), &[data.shape()[axis]]);
        unary(self, data, "slice", move |x, _, g| {
            Tensor::constant(agon_tensor::NdArray::zeros(x.shape())).index_add(axis, &positions, g)
        })
    }

    /// Surrounded by `value`: `pads[a] = (before, after)` per axis, in axis order.
    ///
    /// # Panics
    /// If `pads` does not have one pair per axis.
    #[track_caller]
    pub fn pad(&self, pads: &[(usize, usize)], value: f32) -> Tensor {
        if pads.len() == self.ndim() && pads.iter().all(|&p| p == (0, 0)) {
            return self.clone();
        }
        let data = self.data().pad(pads, value);
        let pads = pads.to_vec();
        unary(self, data, "pad", move |x, _, g| {
            let mut back = g.clone();
            for (a, &(before, _)) in pads.iter().enumerate() {
                back = back.narrow(a, before, x.shape()[a]);
            }
            back
        })
    }

    /// Tensors joined along `axis`.
    ///
    /// # Panics
    /// If `parts` is empty or the shapes differ off `axis`.
    #[track_caller]
    pub fn concat(parts: &[&Tensor], axis: usize) -> Tensor {
        let arrays: Vec<&agon_tensor::NdArray> = parts.iter().map(|t| t.data()).collect();
        let data = agon_tensor::NdArray::concat(&arrays, axis);
        record(data, "concat", parts, move |inputs, _, g, needs| {
            let mut at = 0;
            inputs
                .iter()
                .zip(needs)
                .map(|(t, &need)| {
                    let len = t.shape()[axis];
                    let part = need.then(|| g.narrow(axis, at, len));
                    at += len;
                    part
                })
                .collect()
        })
    }

    /// Tensors of equal shape joined along a new axis.
    ///
    /// # Panics
    /// If `parts` is empty, shapes differ, or `axis > ndim`.
    #[track_caller]
    pub fn stack(parts: &[&Tensor], axis: usize) -> Tensor {
        let lifted: Vec<Tensor> = parts.iter().map(|t| t.unsqueeze(axis)).collect();
        let refs: Vec<&Tensor> = lifted.iter().collect();
        Tensor::concat(&refs, axis)
    }
}
