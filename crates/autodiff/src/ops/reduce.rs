//! Reductions.
//!
//! | op | forward | dL/dx |
//! |---|---|---|
//! | sum(axes) | Σ over axes | g (keepdim shape) broadcast to x's shape |
//! | mean(axes) | sum / n | g broadcast / n |
//! | max(axes) | max over axes | g broadcast * [x = max] / (number of ties) |
//! | max_dim(axis) | gather at argmax | scatter_add at argmax (via `gather`'s rule) |
//! | var(axes) | composite: mean((x - mean)²) · n/(n - c) | from its parts |

use agon_tensor::Indices;

use super::{constant, unary};
use crate::tensor::Tensor;

/// `shape` with `axes` removed: a reduction's output shape without keepdim.
fn dropped_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    (0..shape.len())
        .filter(|a| !axes.contains(a))
        .map(|a| shape[a])
        .collect()
}

/// `shape` with `axes` set to 1: where a reduced gradient is reshaped before broadcasting.
fn keepdim_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let mut s = shape.to_vec();
    for &a in axes {
        s[a] = 1;
    }
    s
}

impl Tensor {
    /// Sum over `axes`.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    #[track_caller]
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Tensor {
        let data = self.data().sum(axes, keepdim);
        let axes = axes.to_vec();
        unary(self, data, "sum", move |x, _, g| {
            g.reshape(&keepdim_shape(x.shape(), &axes))
                .broadcast_to(x.shape())
        })
    }

    /// Sum of all elements (0-d).
    pub fn sum_all(&self) -> Tensor {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.sum(&axes, false)
    }

    /// Mean over `axes`.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    #[track_caller]
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Tensor {
        let n: usize = axes.iter().map(|&a| self.shape()[a]).product();
        self.sum(axes, keepdim).div_scalar(n as f32)
    }

    /// Mean of all elements (0-d).
    pub fn mean_all(&self) -> Tensor {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.mean(&axes, false)
    }

    /// Variance over `axes` with `correction` subtracted from the count (0: biased, as
    /// batch norm; 1: unbiased). A composite: its derivatives come from its parts.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    #[track_caller]
    pub fn var(&self, axes: &[usize], keepdim: bool, correction: usize) -> Tensor {
        let n: usize = axes.iter().map(|&a| self.shape()[a]).product();
        let dev = self.sub(&self.mean(axes, true));
        dev.square()
            .sum(axes, keepdim)
            .div_scalar(n.saturating_sub(correction) as f32)
    }

    /// Maximum over `axes`; tied maxima share the gradient equally (as `torch.amax`).
    ///
    /// # Panics
    /// If an axis is out of range or repeated, or empty.
    #[track_caller]
    pub fn max(&self, axes: &[usize], keepdim: bool) -> Tensor {
        self.extreme(axes, keepdim, true)
    }

    /// Minimum over `axes`; ties share the gradient.
    ///
    /// # Panics
    /// If an axis is out of range or repeated, or empty.
    #[track_caller]
    pub fn min(&self, axes: &[usize], keepdim: bool) -> Tensor {
        self.extreme(axes, keepdim, false)
    }

    #[track_caller]
    fn extreme(&self, axes: &[usize], keepdim: bool, is_max: bool) -> Tensor {
        let best = if is_max {
            self.data().max(axes, true)
        } else {
            self.data().min(axes, true)
        };
        // Which elements attain the extreme, and each one's share of the gradient.
        let hit = self.data().eq_mask(&best);
        let share = constant(hit.div(&hit.sum(axes, true)));
        let data = if keepdim {
            best
        } else {
            best.reshape(&dropped_shape(self.shape(), axes))
        };
        let axes = axes.to_vec();
        unary(
            self,
            data,
            if is_max { "max" } else { "min" },
            move |x, _, g| {
                g.reshape(&keepdim_shape(x.shape(), &axes))
                    .broadcast_to(x.shape())
                    .mul(&share)
            },
        )
    }

    /// Maximum along `axis` and its first position (`torch.max(dim)`); the values are a
    /// `gather` at those positions, so they differentiate like one.
    ///
    /// # Panics
    /// If the axis is out of range or empty.
    #[track_caller]
    pub fn max_dim(&self, axis: usize, keepdim: bool) -> (Tensor, Indices) {
        let idx = self.data().argmax(axis, true);
        let values = self.gather(axis, &idx);
        let values = if keepdim {
            values
        } else {
            values.squeeze(axis)
        };
        let idx = if keepdim {
            idx
        } else {
            idx.reshape(&dropped_shape(self.shape(), &[axis]))
        };
        (values, idx)
    }

    /// Sums broadcast axes away to reach `shape` (adjoint of `broadcast_to`).
    ///
    /// # Panics
    /// If `shape` does not broadcast to this tensor's shape.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let data = self.data().sum_to(shape);
        unary(self, data, "sum_to", |x, _, g| g.broadcast_to(x.shape()))
    }
}
