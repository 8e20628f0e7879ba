//! The layers image-to-image generators are made of (pix2pix's U-Net and ResNet generators,
//! CycleGAN, SRGAN): instance normalisation, reflection padding and sub-pixel upsampling,
//! with PyTorch's names, defaults and parameter names.

use agon_autodiff::{instance_norm, pixel_shuffle, reflection_pad2d, Tensor};
use agon_tensor::NdArray;

use crate::module::Module;
use crate::param::Param;

/// `nn.InstanceNorm2d`: each (sample, channel) plane of `[N, C, H, W]` normalised by its own
/// mean and biased variance, eps 1e-5, the same in training and evaluation (no running
/// statistics, PyTorch's default `track_running_stats=False`). Without learnable
/// parameters by default, as PyTorch (`affine=False`); [`affine`](Self::affine) adds
/// `weight` (ones) and `bias` (zeros) of shape `[C]`, as pix2pix/CycleGAN build it.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{InstanceNorm2d, Module};
/// use agon_tensor::NdArray;
/// let norm = InstanceNorm2d::new(3).affine();
/// let x = Tensor::constant(NdArray::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 2, 2]));
/// assert!(norm.forward(&x).data().mean_all().item().abs() < 1e-6);
/// assert_eq!(norm.named_parameters().len(), 2); // weight, bias
/// ```
pub struct InstanceNorm2d {
    /// Channels.
    pub num_features: usize,
    /// Scale `[C]`, when affine.
    pub weight: Option<Param>,
    /// Shift `[C]`, when affine.
    pub bias: Option<Param>,
    /// Added to the variance before the square root.
    pub eps: f32,
}

impl InstanceNorm2d {
    /// Instance norm over `num_features` channels, PyTorch's defaults (not affine).
    pub fn new(num_features: usize) -> Self {
        InstanceNorm2d {
            num_features,
            weight: None,
            bias: None,
            eps: 1e-5,
        }
    }

    /// With learnable `weight` (ones) and `bias` (zeros), as `affine=True`.
    pub fn affine(mut self) -> Self {
        self.weight = Some(Param::new(NdArray::ones(&[self.num_features])));
        self.bias = Some(Param::new(NdArray::zeros(&[self.num_features])));
        self
    }
}

impl Module for InstanceNorm2d {
    /// # Panics
    /// If `x` is not `[N, num_features, H, W]`.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        assert!(
            x.ndim() == 4 && x.shape()[1] == self.num_features,
            "InstanceNorm2d({}): input must be [N, {}, H, W], got {:?}",
            self.num_features,
            self.num_features,
            x.shape()
        );
        let (w, b) = (
            self.weight.as_ref().map(Param::tensor),
            self.bias.as_ref().map(Param::tensor),
        );
        instance_norm(x, w.as_ref(), b.as_ref(), self.eps)
    }

    fn params(&self) -> Vec<(String, Param)> {
        super::norm::affine_params(self.weight.as_ref(), self.bias.as_ref())
    }
}

/// `nn.ReflectionPad2d`: pads the last two axes by mirroring the border (the edge pixel not
/// repeated), by `[left, right, top, bottom]`. ResNet generators use it before their 7x7
/// and 3x3 convolutions so the image border carries no zero seam.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Module, ReflectionPad2d};
/// use agon_tensor::NdArray;
/// let y = ReflectionPad2d::uniform(1).forward(&Tensor::constant(NdArray::zeros(&[1, 3, 4, 4])));
/// assert_eq!(y.shape(), &[1, 3, 6, 6]);
/// ```
pub struct ReflectionPad2d(pub [usize; 4]);

impl ReflectionPad2d {
    /// The same padding on all four sides (`nn.ReflectionPad2d(p)`).
    pub fn uniform(p: usize) -> Self {
        ReflectionPad2d([p; 4])
    }
}

impl Module for ReflectionPad2d {
    /// # Panics
    /// If a padding is not smaller than the axis it pads (as PyTorch).
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        reflection_pad2d(x, self.0)
    }
}

/// `nn.PixelShuffle(r)`: `[N, C r^2, H, W] -> [N, C, H r, W r]`, the sub-pixel
/// upsampling of SRGAN and ESPCN (a convolution to `C r^2` channels, then this).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Module, PixelShuffle};
/// use agon_tensor::NdArray;
/// let y = PixelShuffle(2).forward(&Tensor::constant(NdArray::zeros(&[1, 12, 7, 7])));
/// assert_eq!(y.shape(), &[1, 3, 14, 14]);
/// ```
pub struct PixelShuffle(pub usize);

impl Module for PixelShuffle {
    /// # Panics
    /// If the channels are not a multiple of `r^2`.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        pixel_shuffle(x, self.0)
    }
}
