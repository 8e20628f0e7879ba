//! Pooling (placeholder signatures; being implemented).

use crate::{Indices, NdArray};

/// Window size, stride and zero/neg-inf padding of a 2-D pooling op, per axis `[h, w]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    /// Window size.
    pub kernel: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit padding on both sides.
    pub padding: [usize; 2],
}

impl NdArray {
    /// Max pooling; indices are flat positions within each input `H x W` plane.
    pub fn max_pool2d(&self, _p: &Pool2dParams) -> (NdArray, Indices) {
        todo!()
    }
    /// Adjoint of max pooling: adds each gradient at its argmax position.
    pub fn max_unpool2d(&self, _indices: &Indices, _input_hw: [usize; 2]) -> NdArray {
        todo!()
    }
    /// Average pooling (padding counted in the divisor, as PyTorch's default).
    pub fn avg_pool2d(&self, _p: &Pool2dParams) -> NdArray {
        todo!()
    }
    /// Adjoint of average pooling.
    pub fn avg_pool2d_adjoint(&self, _p: &Pool2dParams, _input_hw: [usize; 2]) -> NdArray {
        todo!()
    }
}
