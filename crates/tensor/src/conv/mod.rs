//! Convolution (placeholder signatures; being implemented).

use crate::NdArray;

/// Stride, padding and dilation of a 2-D convolution, per spatial axis `[h, w]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Step between output positions.
    pub stride: [usize; 2],
    /// Zero padding added on both sides.
    pub padding: [usize; 2],
    /// Spacing between kernel taps.
    pub dilation: [usize; 2],
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams { stride: [1, 1], padding: [0, 0], dilation: [1, 1] }
    }
}

impl NdArray {
    /// 2-D convolution (cross-correlation), NCHW, weight `[out, in, kh, kw]`.
    pub fn conv2d(&self, _weight: &NdArray, _bias: Option<&NdArray>, _p: &Conv2dParams) -> NdArray {
        todo!("conv2d")
    }
    /// Transposed convolution, weight `[in, out, kh, kw]`.
    pub fn conv_transpose2d(&self, _weight: &NdArray, _bias: Option<&NdArray>, _p: &Conv2dParams, _output_padding: [usize; 2]) -> NdArray {
        todo!("conv_transpose2d")
    }
    /// Weight gradient of conv2d: `self` = input `[N, Cin, H, W]`, `grad_output` `[N, Cout, Ho, Wo]`.
    pub fn conv2d_weight(&self, _grad_output: &NdArray, _kernel: [usize; 2], _p: &Conv2dParams) -> NdArray {
        todo!("conv2d_weight")
    }
}
