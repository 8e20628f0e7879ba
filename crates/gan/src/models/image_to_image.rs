//! The networks of image-to-image translation (pix2pix, Isola et al. 2017; CycleGAN, Zhu et
//! al. 2017): a U-Net generator, a residual (ResNet) generator and a PatchGAN
//! discriminator, with the parameter names of the pix2pix/CycleGAN reference code's
//! `UnetGenerator`, `ResnetGenerator` and `NLayerDiscriminator`, so a state_dict moves
//! either way (`tests/pix2pix_interop.rs` checks outputs and gradients against PyTorch).

use agon_autodiff::Tensor;
use agon_nn::{
    BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, InstanceNorm2d, LeakyReLU, Module, ReLU,
    ReflectionPad2d, Sequential, Tanh,
};
use agon_tensor::Conv2dParams;
use rand::Rng;

/// The normalisation the networks use: pix2pix's batch norm or CycleGAN's instance norm
/// (affine off, as the reference builds it; convolutions then carry biases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageNorm {
    /// `BatchNorm2d` (convolutions without bias: the norm's shift replaces it).
    Batch,
    /// `InstanceNorm2d` without affine parameters (convolutions with bias).
    Instance,
}

impl ImageNorm {
    fn layer(self, channels: usize) -> Box<dyn Module> {
        match self {
            ImageNorm::Batch => Box::new(BatchNorm2d::new(channels)),
            ImageNorm::Instance => Box::new(InstanceNorm2d::new(channels)),
        }
    }

    /// Whether the convolutions before this norm carry a bias.
    fn conv_bias(self) -> bool {
        self == ImageNorm::Instance
    }
}

/// A boxed module, so a `Sequential` can hold the norm `ImageNorm` picks (a norm layer: no
/// children, no random state, so forwarding these methods is all it needs).
struct Boxed(Box<dyn Module>);

impl Module for Boxed {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.0.forward(x)
    }
    fn params(&self) -> Vec<(String, agon_nn::Param)> {
        self.0.params()
    }
    fn buffers(&self) -> Vec<(String, agon_nn::Buffer)> {
        self.0.buffers()
    }
    fn set_own_training(&self, training: bool) {
        self.0.set_own_training(training)
    }
    fn set_own_cumulative_stats(&self, cumulative: bool) {
        self.0.set_own_cumulative_stats(cumulative)
    }
}

/// 4x4, stride 2, padding 1: halves the side (U-Net and PatchGAN downsampling).
fn down(c_in: usize, c_out: usize, bias: bool, rng: &mut (impl Rng + ?Sized)) -> Conv2d {
    Conv2d::new(
        c_in,
        c_out,
        4,
        Conv2dParams::new().stride(2).padding(1),
        bias,
        rng,
    )
}

/// 4x4 transposed, stride 2, padding 1: doubles the side.
fn up(c_in: usize, c_out: usize, bias: bool, rng: &mut (impl Rng + ?Sized)) -> ConvTranspose2d {
    ConvTranspose2d::new(
        c_in,
        c_out,
        4,
        Conv2dParams::new().stride(2).padding(1),
        [0, 0],
        bias,
        rng,
    )
}

/// One level of the U-Net: `model` holds `[LeakyReLU, down conv, norm, inner level, ReLU,
/// up conv, norm, (dropout)]` (the outermost level: `[down conv, inner level, ReLU, up conv,
/// Tanh]`; the innermost: no inner level and no norm after its down conv). A level other
/// than the outermost returns its input concatenated with its output on the channel axis:
/// the skip connection.
struct UnetLevel {
    model: Sequential,
    outermost: bool,
}

impl Module for UnetLevel {
    fn forward(&self, x: &Tensor) -> Tensor {
        if self.outermost {
            return self.model.forward(x);
        }
        // The reference applies its first LeakyReLU in place, so the skip carries
        // LeakyReLU(x), not x; doing the same keeps its trained weights meaningful here.
        let first = self
            .model
            .get(0)
            .expect("a level starts with its LeakyReLU");
        let h = first.forward(x);
        let mut y = h.clone();
        for i in 1..self.model.len() {
            y = self.model.get(i).expect("in range").forward(&y);
        }
        Tensor::concat(&[&h, &y], 1)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("model".to_string(), &self.model)]
    }
}

/// The U-Net generator of pix2pix: `depth` levels, each halving the side on the way down
/// and doubling it on the way up, with skip connections joining the two paths at every
/// level. Features `ngf`, `2 ngf`, `4 ngf`, then `8 ngf` for every deeper level; levels
/// five and deeper (all `8 ngf`, not the innermost) add dropout after their up path, the
/// noise pix2pix's generator takes instead of a latent vector. `depth = 8` with `ngf =
/// 64` is pix2pix's `unet_256`, `depth = 7` its `unet_128`. Images must have sides
/// divisible by `2^depth`.
///
/// Parameter names follow the reference's nesting (`model.model.0.weight`,
/// `model.model.1.model.1.weight`, ...).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::models::{ImageNorm, UnetGenerator};
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = UnetGenerator::new(1, 3, 8, 5, ImageNorm::Batch, None, &mut rng);
/// let y = g.forward(&Tensor::constant(NdArray::zeros(&[2, 1, 32, 32])));
/// assert_eq!(y.shape(), &[2, 3, 32, 32]);
/// assert!(g.named_parameters().iter().any(|(n, _)| n == "model.model.1.model.1.weight"));
/// ```
pub struct UnetGenerator {
    model: UnetLevel,
    depth: usize,
}

impl UnetGenerator {
    /// A U-Net from `in_channels` to `out_channels` with base width `ngf`, `depth` levels
    /// (at least 2) and `norm`; `dropout_seed` turns on the deep levels' dropout (p = 0.5),
    /// `None` leaves it out (pix2pix's `--no_dropout`). Weights use PyTorch's default
    /// initialisation from `rng`.
    ///
    /// # Panics
    /// If `depth < 2` or a size is 0.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        ngf: usize,
        depth: usize,
        norm: ImageNorm,
        dropout_seed: Option<u64>,
        rng: &mut (impl Rng + ?Sized),
    ) -> Self {
        assert!(
            depth >= 2 && in_channels > 0 && out_channels > 0 && ngf > 0,
            "UnetGenerator: need depth >= 2 and non-zero sizes"
        );
        let bias = norm.conv_bias();
        let inner = |level: usize| ngf << level.min(3);
        // Built from the innermost level outwards, as each level holds the next.
        let mut sub: Option<UnetLevel> = None;
        for level in (0..depth).rev() {
            let c_in = inner(level);
            let level_model = if level == 0 {
                Sequential::new()
                    .push(down(in_channels, c_in, bias, rng))
                    .push(sub.take().expect("depth >= 2"))
                    .push(ReLU)
                    .push(up(2 * c_in, out_channels, true, rng))
                    .push(Tanh)
            } else if level == depth - 1 {
                let outer = inner(level - 1);
                Sequential::new()
                    .push(LeakyReLU(0.2))
                    .push(down(outer, c_in, bias, rng))
                    .push(ReLU)
                    .push(up(c_in, outer, bias, rng))
                    .push(Boxed(norm.layer(outer)))
            } else {
                let outer = inner(level - 1);
                let mut s = Sequential::new()
                    .push(LeakyReLU(0.2))
                    .push(down(outer, c_in, bias, rng))
                    .push(Boxed(norm.layer(c_in)))
                    .push(sub.take().expect("built before"))
                    .push(ReLU)
                    .push(up(2 * c_in, outer, bias, rng))
                    .push(Boxed(norm.layer(outer)));
                if let (Some(seed), true) = (dropout_seed, level >= 4) {
                    s = s.push(Dropout::new(0.5, seed.wrapping_add(level as u64)));
                }
                s
            };
            sub = Some(UnetLevel {
                model: level_model,
                outermost: level == 0,
            });
        }
        UnetGenerator {
            model: sub.expect("depth >= 2"),
            depth,
        }
    }

    /// The number of levels: image sides must be multiples of `2^depth`.
    pub fn depth(&self) -> usize {
        self.depth
    }
}

impl Module for UnetGenerator {
    /// # Panics
    /// If the image sides are not multiples of `2^depth`.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let m = 1usize << self.depth;
        let s = x.shape();
        assert!(
            s.len() == 4 && s[2].is_multiple_of(m) && s[3].is_multiple_of(m),
            "UnetGenerator with {} levels needs [N, C, H, W] with H and W multiples of {m}, \
             got {s:?}",
            self.depth
        );
        self.model.forward(x)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("model".to_string(), &self.model)]
    }
}

/// PatchGAN (pix2pix's `NLayerDiscriminator`): `n_layers` stride-2 4x4 convolutions
/// (features `ndf`, `2 ndf`, ... up to `8 ndf`; each followed by a norm, except the first,
/// and LeakyReLU(0.2)), a stride-1 4x4 convolution with norm and LeakyReLU, and a stride-1 4x4
/// convolution to one channel: a map of real/fake logits, each judging one patch (70x70
/// pixels for `n_layers = 3` at full resolution). For conditional judging (pix2pix), feed
/// the condition and the image concatenated on the channel axis.
///
/// Parameter names follow the reference (`model.0.weight`, `model.2.weight`,
/// `model.3.running_mean`, ...).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::models::{ImageNorm, PatchDiscriminator};
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let d = PatchDiscriminator::new(2, 8, 3, ImageNorm::Batch, &mut rand::rngs::StdRng::seed_from_u64(0));
/// // A 32x32 pair is judged as a 2x2 map of overlapping patches.
/// let y = d.forward(&Tensor::constant(NdArray::zeros(&[4, 2, 32, 32])));
/// assert_eq!(y.shape(), &[4, 1, 2, 2]);
/// ```
pub struct PatchDiscriminator {
    model: Sequential,
}

impl PatchDiscriminator {
    /// A PatchGAN over `in_channels` with base width `ndf` and `n_layers` stride-2 layers
    /// (at least 1), PyTorch's default initialisation from `rng`.
    ///
    /// # Panics
    /// If `n_layers` or a size is 0.
    pub fn new(
        in_channels: usize,
        ndf: usize,
        n_layers: usize,
        norm: ImageNorm,
        rng: &mut (impl Rng + ?Sized),
    ) -> Self {
        assert!(
            n_layers >= 1 && in_channels > 0 && ndf > 0,
            "PatchDiscriminator: need n_layers >= 1 and non-zero sizes"
        );
        let bias = norm.conv_bias();
        let width = |n: usize| ndf << n.min(3);
        let mut model = Sequential::new()
            .push(down(in_channels, ndf, true, rng))
            .push(LeakyReLU(0.2));
        for n in 1..n_layers {
            model = model
                .push(down(width(n - 1), width(n), bias, rng))
                .push(Boxed(norm.layer(width(n))))
                .push(LeakyReLU(0.2));
        }
        let stride1 = Conv2dParams::new().padding(1);
        let (prev, last) = (width(n_layers - 1), width(n_layers));
        model = model
            .push(Conv2d::new(prev, last, 4, stride1, bias, rng))
            .push(Boxed(norm.layer(last)))
            .push(LeakyReLU(0.2))
            .push(Conv2d::new(last, 1, 4, stride1, true, rng));
        PatchDiscriminator { model }
    }
}

impl Module for PatchDiscriminator {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.model.forward(x)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("model".to_string(), &self.model)]
    }
}

/// A residual block (`ResnetBlock`): `x + conv_block(x)`, `conv_block` = `[ReflectionPad(1),
/// Conv 3x3, Norm, ReLU, (Dropout 0.5), ReflectionPad(1), Conv 3x3, Norm]` at constant
/// width. The building block of CycleGAN's and SRGAN's generators.
pub struct ResidualBlock {
    conv_block: Sequential,
}

impl ResidualBlock {
    /// A block of `channels` features with `norm`; `dropout_seed` adds the dropout.
    pub fn new(
        channels: usize,
        norm: ImageNorm,
        dropout_seed: Option<u64>,
        rng: &mut (impl Rng + ?Sized),
    ) -> Self {
        let bias = norm.conv_bias();
        let conv = |rng: &mut _| Conv2d::new(channels, channels, 3, Conv2dParams::new(), bias, rng);
        let mut b = Sequential::new()
            .push(ReflectionPad2d::uniform(1))
            .push(conv(&mut *rng))
            .push(Boxed(norm.layer(channels)))
            .push(ReLU);
        if let Some(seed) = dropout_seed {
            b = b.push(Dropout::new(0.5, seed));
        }
        let conv_block = b
            .push(ReflectionPad2d::uniform(1))
            .push(conv(&mut *rng))
            .push(Boxed(norm.layer(channels)));
        ResidualBlock { conv_block }
    }
}

impl Module for ResidualBlock {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.add(&self.conv_block.forward(x))
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("conv_block".to_string(), &self.conv_block)]
    }
}

/// CycleGAN's generator (`ResnetGenerator`, after Johnson et al. 2016): a 7x7 convolution
/// on a reflection-padded input, two stride-2 3x3 convolutions down (features `ngf`, `2
/// ngf`, `4 ngf`), `n_blocks` [`ResidualBlock`]s, two stride-2 transposed convolutions
/// back up, and a 7x7 convolution to `out_channels` with Tanh. Fully convolutional: any
/// image whose sides are multiples of 4. `n_blocks = 9` is the reference's `resnet_9blocks`
/// (256x256), 6 its `resnet_6blocks` (128x128).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::models::{ImageNorm, ResnetGenerator};
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = ResnetGenerator::new(1, 1, 4, 2, ImageNorm::Instance, None, &mut rng);
/// assert_eq!(g.forward(&Tensor::constant(NdArray::zeros(&[1, 1, 28, 28]))).shape(), &[1, 1, 28, 28]);
/// assert!(g.named_parameters().iter().any(|(n, _)| n == "model.10.conv_block.1.weight"));
/// ```
pub struct ResnetGenerator {
    model: Sequential,
}

impl ResnetGenerator {
    /// `in_channels` to `out_channels`, base width `ngf`, `n_blocks` residual blocks,
    /// `norm`; `dropout_seed` turns on the blocks' dropout. PyTorch's default
    /// initialisation from `rng`.
    ///
    /// # Panics
    /// If a size is 0.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        ngf: usize,
        n_blocks: usize,
        norm: ImageNorm,
        dropout_seed: Option<u64>,
        rng: &mut (impl Rng + ?Sized),
    ) -> Self {
        assert!(
            in_channels > 0 && out_channels > 0 && ngf > 0,
            "ResnetGenerator: sizes must be non-zero"
        );
        let bias = norm.conv_bias();
        let mut m = Sequential::new()
            .push(ReflectionPad2d::uniform(3))
            .push(Conv2d::new(
                in_channels,
                ngf,
                7,
                Conv2dParams::new(),
                bias,
                rng,
            ))
            .push(Boxed(norm.layer(ngf)))
            .push(ReLU);
        let strided = Conv2dParams::new().stride(2).padding(1);
        for i in 0..2 {
            let c = ngf << i;
            m = m
                .push(Conv2d::new(c, 2 * c, 3, strided, bias, rng))
                .push(Boxed(norm.layer(2 * c)))
                .push(ReLU);
        }
        for b in 0..n_blocks {
            let seed = dropout_seed.map(|s| s.wrapping_add(b as u64));
            m = m.push(ResidualBlock::new(4 * ngf, norm, seed, rng));
        }
        for i in 0..2 {
            let c = ngf << (2 - i);
            m = m
                .push(ConvTranspose2d::new(
                    c,
                    c / 2,
                    3,
                    strided,
                    [1, 1],
                    bias,
                    rng,
                ))
                .push(Boxed(norm.layer(c / 2)))
                .push(ReLU);
        }
        let model = m
            .push(ReflectionPad2d::uniform(3))
            .push(Conv2d::new(
                ngf,
                out_channels,
                7,
                Conv2dParams::new(),
                true,
                rng,
            ))
            .push(Tanh);
        ResnetGenerator { model }
    }
}

impl Module for ResnetGenerator {
    /// # Panics
    /// If the image sides are not multiples of 4 (the two stride-2 steps must invert).
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let s = x.shape();
        assert!(
            s.len() == 4 && s[2].is_multiple_of(4) && s[3].is_multiple_of(4),
            "ResnetGenerator needs [N, C, H, W] with H and W multiples of 4, got {s:?}"
        );
        self.model.forward(x)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("model".to_string(), &self.model)]
    }
}
