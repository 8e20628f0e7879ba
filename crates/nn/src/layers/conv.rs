//! Convolution layers (NCHW, groups = 1).

use agon_autodiff::Tensor;
use agon_tensor::Conv2dParams;
use rand::Rng;

use super::{weight_and_others, WeightedLayer};
use crate::init;
use crate::module::Module;
use crate::param::Param;

/// 2-D convolution, weight `[out, in, k, k]`, bias `[out]`.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Conv2d, Module};
/// use agon_tensor::{Conv2dParams, NdArray};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let conv = Conv2d::new(1, 64, 5, Conv2dParams::new().stride(2).padding(2), true, &mut rng);
/// let y = conv.forward(&Tensor::constant(NdArray::zeros(&[2, 1, 28, 28])));
/// assert_eq!(y.shape(), &[2, 64, 14, 14]);
/// ```
pub struct Conv2d {
    /// `[out_channels, in_channels, k, k]`.
    pub weight: Param,
    /// `[out_channels]`, if any.
    pub bias: Option<Param>,
    /// Stride, padding, dilation.
    pub params: Conv2dParams,
}

impl Conv2d {
    /// A square-kernel convolution with PyTorch's default initialisation.
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        params: Conv2dParams,
        bias: bool,
        rng: &mut R,
    ) -> Self {
        let shape = [out_channels, in_channels, kernel, kernel];
        let weight = Param::new(init::pytorch_default_weight(&shape, rng));
        let fan_in = init::fans(&shape).0;
        let bias = bias.then(|| Param::new(init::pytorch_default_bias(out_channels, fan_in, rng)));
        Conv2d {
            weight,
            bias,
            params,
        }
    }
}

impl WeightedLayer for Conv2d {
    fn weight(&self) -> &Param {
        &self.weight
    }

    fn forward_with_weight(&self, x: &Tensor, weight: &Tensor) -> Tensor {
        let bias = self.bias.as_ref().map(Param::tensor);
        x.conv2d(weight, bias.as_ref(), &self.params)
    }

    fn other_params(&self) -> Vec<(String, Param)> {
        self.bias
            .iter()
            .map(|b| ("bias".to_string(), b.clone()))
            .collect()
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_weight(x, &self.weight.tensor())
    }

    fn as_conv2d(&self) -> Option<&Conv2d> {
        Some(self)
    }

    fn params(&self) -> Vec<(String, Param)> {
        weight_and_others(self)
    }
}

/// Transposed 2-D convolution, weight `[in, out, k, k]` (PyTorch's layout), bias `[out]`.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{ConvTranspose2d, Module};
/// use agon_tensor::{Conv2dParams, NdArray};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let up = ConvTranspose2d::new(128, 64, 5, Conv2dParams::new().stride(2).padding(2), [1, 1], false, &mut rng);
/// let y = up.forward(&Tensor::constant(NdArray::zeros(&[2, 128, 7, 7])));
/// assert_eq!(y.shape(), &[2, 64, 14, 14]);
/// ```
pub struct ConvTranspose2d {
    /// `[in_channels, out_channels, k, k]`.
    pub weight: Param,
    /// `[out_channels]`, if any.
    pub bias: Option<Param>,
    /// Stride, padding, dilation.
    pub params: Conv2dParams,
    /// Extra rows/columns on the output's far side.
    pub output_padding: [usize; 2],
}

impl ConvTranspose2d {
    /// A square-kernel transposed convolution with PyTorch's default initialisation.
    pub fn new<R: Rng + ?Sized>(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        params: Conv2dParams,
        output_padding: [usize; 2],
        bias: bool,
        rng: &mut R,
    ) -> Self {
        let shape = [in_channels, out_channels, kernel, kernel];
        let weight = Param::new(init::pytorch_default_weight(&shape, rng));
        let fan_in = init::fans(&shape).0;
        let bias = bias.then(|| Param::new(init::pytorch_default_bias(out_channels, fan_in, rng)));
        ConvTranspose2d {
            weight,
            bias,
            params,
            output_padding,
        }
    }
}

impl WeightedLayer for ConvTranspose2d {
    fn weight(&self) -> &Param {
        &self.weight
    }

    fn forward_with_weight(&self, x: &Tensor, weight: &Tensor) -> Tensor {
        let bias = self.bias.as_ref().map(Param::tensor);
        x.conv_transpose2d(weight, bias.as_ref(), &self.params, self.output_padding)
    }

    fn other_params(&self) -> Vec<(String, Param)> {
        self.bias
            .iter()
            .map(|b| ("bias".to_string(), b.clone()))
            .collect()
    }

    fn output_axis(&self) -> usize {
        1
    }
}

impl Module for ConvTranspose2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_weight(x, &self.weight.tensor())
    }

    fn params(&self) -> Vec<(String, Param)> {
        weight_and_others(self)
    }
}
