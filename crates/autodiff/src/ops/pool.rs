//! Pooling and upsampling, each paired with its adjoint.
//!
//! | op | dL/dx |
//! |---|---|
//! | max_pool2d | the input plane gathered at the argmax: its rule scatter-adds g there |
//! | avg_pool2d(x) | avg_pool2d_adjoint(g) |
//! | avg_pool2d_adjoint(g) | avg_pool2d(g') |
//! | upsample_nearest2d(x) | upsample_nearest2d_adjoint(g) (block sums) |
//! | upsample_nearest2d_adjoint(g) | upsample_nearest2d(g') |
//! | interleave_phases(z) | deinterleave_phases(g) (a gather's adjoint: a scatter) |
//! | deinterleave_phases(g) | interleave_phases(g') |
//!
//! Max pooling is expressed as a `gather` over each flattened `H x W` plane at the indices
//! the kernel found, so its derivatives of every order come from the gather/scatter_add
//! pair.

use agon_tensor::Pool2dParams;

use super::unary;
use crate::tensor::Tensor;

impl Tensor {
    /// Max pooling; returns the values and the argmax indices (flat `h * W + w` per plane).
    ///
    /// # Panics
    /// On shape misuse (see `agon_tensor::NdArray::max_pool2d`).
    #[track_caller]
    pub fn max_pool2d(&self, p: &Pool2dParams) -> (Tensor, agon_tensor::Indices) {
        let (values, idx) = self.data().max_pool2d(p);
        let s = self.shape();
        let (n, c, plane) = (s[0], s[1], s[2] * s[3]);
        let vs = values.shape().to_vec();
        let flat_idx = idx.reshape(&[n, c, vs[2] * vs[3]]);
        let pooled = self
            .reshape(&[n, c, plane])
            .gather(2, &flat_idx)
            .reshape(&vs);
        (pooled, idx)
    }

    /// Average pooling (padding counted in the divisor).
    ///
    /// # Panics
    /// On shape misuse (see `agon_tensor::NdArray::avg_pool2d`).
    #[track_caller]
    pub fn avg_pool2d(&self, p: &Pool2dParams) -> Tensor {
        let p = *p;
        unary(
            self,
            self.data().avg_pool2d(&p),
            "avg_pool2d",
            move |x, _, g| g.avg_pool2d_adjoint(&p, [x.shape()[2], x.shape()[3]]),
        )
    }

    /// The adjoint of average pooling, as a differentiable op.
    ///
    /// # Panics
    /// On shape misuse.
    #[track_caller]
    pub fn avg_pool2d_adjoint(&self, p: &Pool2dParams, input_hw: [usize; 2]) -> Tensor {
        let p = *p;
        let data = self.data().avg_pool2d_adjoint(&p, input_hw);
        unary(self, data, "avg_pool2d_adjoint", move |_, _, g| {
            g.avg_pool2d(&p)
        })
    }

    /// Nearest-neighbour upsampling by integer factors.
    ///
    /// # Panics
    /// On shape misuse.
    #[track_caller]
    pub fn upsample_nearest2d(&self, scale: [usize; 2]) -> Tensor {
        let data = self.data().upsample_nearest2d(scale);
        unary(self, data, "upsample_nearest2d", move |_, _, g| {
            g.upsample_nearest2d_adjoint(scale)
        })
    }

    /// The adjoint of nearest upsampling (sums each block), as a differentiable op.
    ///
    /// # Panics
    /// On shape misuse.
    #[track_caller]
    pub fn upsample_nearest2d_adjoint(&self, scale: [usize; 2]) -> Tensor {
        let data = self.data().upsample_nearest2d_adjoint(scale);
        unary(self, data, "upsample_nearest2d_adjoint", move |_, _, g| {
            g.upsample_nearest2d(scale)
        })
    }

    /// The four phase maps of an upsample-then-3x3-convolution interleaved into its output
    /// (`agon_tensor::NdArray::interleave_phases`), as a differentiable op.
    ///
    /// # Panics
    /// On shape misuse.
    #[track_caller]
    pub fn interleave_phases(&self) -> Tensor {
        let data = self.data().interleave_phases();
        unary(self, data, "interleave_phases", |_, _, g| {
            g.deinterleave_phases()
        })
    }

    /// The adjoint of [`Tensor::interleave_phases`], as a differentiable op.
    ///
    /// # Panics
    /// On shape misuse.
    #[track_caller]
    pub fn deinterleave_phases(&self) -> Tensor {
        let data = self.data().deinterleave_phases();
        unary(self, data, "deinterleave_phases", |_, _, g| {
            g.interleave_phases()
        })
    }
}
