//! Elementwise kernels: unary maps, broadcasting binary ops, comparisons and `where_`.
//!
//! All of them produce a fresh contiguous array. Contiguous inputs of equal shape take a
//! slice fast path; anything else (broadcasts, transposes, slices) goes through the strided
//! odometer. Outputs above a size threshold are filled in parallel, in fixed-size chunks.

mod binary;
mod compare;
mod ops_traits;
mod unary;

/// ReLU of one value: `x` for `x >= 0`, 0 below. `x.max(0.0)` would turn NaN into 0;
/// PyTorch propagates it. Shared by [`NdArray::relu`](crate::NdArray::relu) and the fused
/// batch-norm pass, which must give the same bits.
#[inline(always)]
pub(crate) fn relu_value(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// Leaky ReLU of one value: `x` for `x >= 0`, `slope * x` below (see [`relu_value`]).
#[inline(always)]
pub(crate) fn leaky_relu_value(x: f32, slope: f32) -> f32 {
    if x < 0.0 {
        slope * x
    } else {
        x
    }
}
