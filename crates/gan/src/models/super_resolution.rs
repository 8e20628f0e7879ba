//! The super-resolution generator: SRGAN's SRResNet (Ledig et al. 2017) at a size two CPU
//! cores train in minutes, with a bicubic skip so the network learns only what bicubic
//! upsampling misses.

use agon_autodiff::Tensor;
use agon_data::upsample_bicubic;
use agon_nn::{Conv2d, Module, PixelShuffle, ReLU, Sequential};
use agon_tensor::Conv2dParams;
use rand::Rng;

use super::{ImageNorm, ResidualBlock};

/// SRResNet: `head` (3x3 convolution, ReLU), `body` ([`ResidualBlock`]s, then a 3x3
/// convolution, added back to the head's features), `upsample` (per factor 2: a 3x3
/// convolution to 4x the features, [`PixelShuffle`]`(2)`, ReLU) and `tail` (a 3x3
/// convolution to the image's channels). The output is `tail(...) + bicubic(x)`: the
/// network predicts the residual over bicubic upsampling, so an untrained network starts
/// at the classical baseline. The bicubic term is computed from the input's values as a
/// constant: no gradient flows to the input through it (the input is data).
///
/// Fully convolutional: any `[N, C, H, W]` in, `[N, C, scale H, scale W]` out.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::models::SrResnetGenerator;
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let g = SrResnetGenerator::new(1, 8, 2, 4, &mut rand::rngs::StdRng::seed_from_u64(0));
/// let y = g.forward(&Tensor::constant(NdArray::zeros(&[2, 1, 7, 7])));
/// assert_eq!(y.shape(), &[2, 1, 28, 28]);
/// assert!(g.named_parameters().iter().any(|(n, _)| n == "upsample.3.weight"));
/// ```
pub struct SrResnetGenerator {
    head: Sequential,
    body: Sequential,
    upsample: Sequential,
    tail: Conv2d,
    scale: usize,
}

fn conv3(c_in: usize, c_out: usize, rng: &mut (impl Rng + ?Sized)) -> Conv2d {
    Conv2d::new(c_in, c_out, 3, Conv2dParams::new().padding(1), true, rng)
}

impl SrResnetGenerator {
    /// `channels` in and out, `features` wide, `blocks` residual blocks (batch norm, as
    /// SRGAN), upsampling by `scale` (a power of two, at least 2). PyTorch's default
    /// initialisation from `rng`.
    ///
    /// # Panics
    /// If `scale` is not a power of two of at least 2, or a size is 0.
    pub fn new(
        channels: usize,
        features: usize,
        blocks: usize,
        scale: usize,
        rng: &mut (impl Rng + ?Sized),
    ) -> Self {
        assert!(
            scale >= 2 && scale.is_power_of_two() && channels > 0 && features > 0,
            "SrResnetGenerator: scale must be a power of two >= 2 and sizes non-zero"
        );
        let head = Sequential::new()
            .push(conv3(channels, features, rng))
            .push(ReLU);
        let mut body = Sequential::new();
        for _ in 0..blocks {
            body = body.push(ResidualBlock::new(features, ImageNorm::Batch, None, rng));
        }
        let body = body.push(conv3(features, features, rng));
        let mut upsample = Sequential::new();
        for _ in 0..scale.trailing_zeros() {
            upsample = upsample
                .push(conv3(features, 4 * features, rng))
                .push(PixelShuffle(2))
                .push(ReLU);
        }
        let tail = conv3(features, channels, rng);
        SrResnetGenerator {
            head,
            body,
            upsample,
            tail,
            scale,
        }
    }

    /// The upsampling factor.
    pub fn scale(&self) -> usize {
        self.scale
    }
}

impl Module for SrResnetGenerator {
    fn forward(&self, x: &Tensor) -> Tensor {
        let f = self.head.forward(x);
        let f = f.add(&self.body.forward(&f));
        let residual = self.tail.forward(&self.upsample.forward(&f));
        let bicubic = Tensor::constant(upsample_bicubic(x.data(), self.scale));
        residual.add(&bicubic)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("head".to_string(), &self.head),
            ("body".to_string(), &self.body),
            ("upsample".to_string(), &self.upsample),
            ("tail".to_string(), &self.tail),
        ]
    }
}
