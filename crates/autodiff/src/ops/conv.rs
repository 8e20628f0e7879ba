//! Convolutions: a closed family, each one's gradients expressed in the others.
//!
//! | op | dL/d(first) | dL/d(second) |
//! |---|---|---|
//! | y = conv2d(x, w) | conv_transpose2d(g, w) | conv2d_weight(x, g) |
//! | y = conv_transpose2d(x, w) | conv2d(g, w) | conv2d_weight(g, x) |
//! | dw = conv2d_weight(x, gy) | conv_transpose2d(gy, G) | conv2d(x, G) |
//!
//! conv_transpose2d is the adjoint of conv2d in its input, and
//! <conv2d_weight(x, gy), G> = <conv2d(x, G), gy>, which gives the third row. Because the
//! family is closed, gradients of convolutions can be differentiated to any order
//! (a WGAN-GP critic made of convolutions needs exactly that).

use agon_tensor::Conv2dParams;

use super::binary;
use crate::tensor::Tensor;

/// The output_padding that makes conv_transpose2d return `size` from a conv2d output of
/// size `out` along one axis (conv2d's floor division can drop up to stride-1 rows).
fn output_padding(size: usize, out: usize, kernel: usize, p: &Conv2dParams, axis: usize) -> usize {
    let (s, pad, d) = (p.stride[axis], p.padding[axis], p.dilation[axis]);
    size + 2 * pad - ((out - 1) * s + d * (kernel - 1) + 1)
}

/// output_padding for both spatial axes so that conv_transpose2d of a `[.., ho, wo]`
/// gradient restores `[.., h, w]`.
fn restore_padding(
    input: &[usize],
    output: &[usize],
    kernel: [usize; 2],
    p: &Conv2dParams,
) -> [usize; 2] {
    [
        output_padding(input[2], output[2], kernel[0], p, 0),
        output_padding(input[3], output[3], kernel[1], p, 1),
    ]
}

impl Tensor {
    /// 2-D convolution (NCHW, weight `[out, in, kh, kw]`), plus an optional bias `[out]`.
    ///
    /// # Panics
    /// On shape misuse (see `agon_tensor::NdArray::conv2d`).
    #[track_caller]
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, p: &Conv2dParams) -> Tensor {
        let data = self.data().conv2d(weight.data(), None, p);
        let p1 = *p;
        let p2 = *p;
        let y = binary(
            self,
            weight,
            data,
            "conv2d",
            move |x, w, _, g| {
                let k = [w.shape()[2], w.shape()[3]];
                let op = restore_padding(x.shape(), g.shape(), k, &p1);
                g.conv_transpose2d(w, None, &p1, op)
            },
            move |x, w, _, g| x.conv2d_weight(g, [w.shape()[2], w.shape()[3]], &p2),
        );
        add_channel_bias(y, bias)
    }

    /// Transposed convolution (weight `[in, out, kh, kw]`), plus an optional bias `[out]`.
    ///
    /// # Panics
    /// On shape misuse (see `agon_tensor::NdArray::conv_transpose2d`).
    #[track_caller]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        p: &Conv2dParams,
        output_padding: [usize; 2],
    ) -> Tensor {
        let data = self
            .data()
            .conv_transpose2d(weight.data(), None, p, output_padding);
        let p1 = *p;
        let p2 = *p;
        let y = binary(
            self,
            weight,
            data,
            "conv_transpose2d",
            // When output_padding >= stride (allowed while it is below the dilation),
            // conv2d of y's gradient has floor(op / stride) more rows or columns than x:
            // they belong to no input element, so the input gradient drops them and the
            // weight gradient sees x zero-extended to match (zeros contribute nothing).
            move |x, w, _, g| {
                let gx = g.conv2d(w, None, &p1);
                gx.narrow(2, 0, x.shape()[2]).narrow(3, 0, x.shape()[3])
            },
            move |x, w, _, g| {
                let k = [w.shape()[2], w.shape()[3]];
                let full = p2.conv2d_output_hw([g.shape()[2], g.shape()[3]], k);
                let extra = |a: usize| (0, full[a - 2] - x.shape()[a]);
                let x = x.pad(&[(0, 0), (0, 0), extra(2), extra(3)], 0.0);
                g.conv2d_weight(&x, k, &p2)
            },
        );
        add_channel_bias(y, bias)
    }

    /// The weight gradient of conv2d as a differentiable op: `self` is conv2d's input
    /// `[N, Cin, H, W]`, `grad_output` its output gradient `[N, Cout, Ho, Wo]`.
    ///
    /// # Panics
    /// On shape misuse (see `agon_tensor::NdArray::conv2d_weight`).
    #[track_caller]
    pub fn conv2d_weight(
        &self,
        grad_output: &Tensor,
        kernel: [usize; 2],
        p: &Conv2dParams,
    ) -> Tensor {
        let data = self.data().conv2d_weight(grad_output.data(), kernel, p);
        let p1 = *p;
        let p2 = *p;
        binary(
            self,
            grad_output,
            data,
            "conv2d_weight",
            move |x, gy, _, g| {
                let op = restore_padding(x.shape(), gy.shape(), kernel, &p1);
                gy.conv_transpose2d(g, None, &p1, op)
            },
            move |x, _, _, g| x.conv2d(g, None, &p2),
        )
    }
}

/// `y + bias` with the bias `[C]` broadcast over N, H and W.
#[track_caller]
fn add_channel_bias(y: Tensor, bias: Option<&Tensor>) -> Tensor {
    match bias {
        Some(b) => {
            assert!(
                b.shape() == [y.shape()[1]],
                "conv bias of shape {:?} does not match {} output channels",
                b.shape(),
                y.shape()[1]
            );
            y.add(&b.reshape(&[1, b.numel(), 1, 1]))
        }
        None => y,
    }
}
