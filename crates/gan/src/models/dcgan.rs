//! A configurable DCGAN family (Radford et al. 2016) for 28x28, 32x32 and 64x64 images,
//! grayscale or RGB, optionally conditional, packed, spectrally normalised or with an
//! AC-GAN head.

use agon_autodiff::Tensor;
use agon_nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Embedding, Flatten, LeakyReLU, Linear,
    Module, ReLU, Reshape, Sequential, SpectralNorm, Tanh, Upsample, WeightedLayer,
};
use agon_tensor::{Conv2dParams, Indices, NdArray};
use rand::Rng;

use super::conditional::{require_labels, Conditioning};
use crate::pack::pack;
use crate::roles::{Discriminator, Generator, Judgement};

/// Negative slope of the discriminator's LeakyReLUs.
const SLOPE: f32 = 0.2;

/// The configuration of a DCGAN pair; [`generator`](Dcgan::generator) and
/// [`discriminator`](Dcgan::discriminator) build the two models.
///
/// With `n` the number of resolution doublings (2 for 28, 3 for 32, 4 for 64), `s0` the
/// starting size (7 for 28, 4 for 32 and 64) and `w` the `width`:
///
/// **Generator** (`main.<i>`): `Linear(latent_dim, c0·s0², bias=False)` → `BatchNorm1d`
/// → `ReLU` → reshape to `[c0, s0, s0]` → `n - 1` blocks of
/// `ConvTranspose2d(c, c/2, 4, stride=2, padding=1, bias=False)` → `BatchNorm2d` → `ReLU`
/// → `ConvTranspose2d(w, channels, 4, stride=2, padding=1, bias=False)` → `Tanh`, with
/// `c0 = w·2^(n-1)`: the widths halve as the image doubles, ending at `w` (the standard
/// DCGAN ladder: 64x64 goes `8w@4 → 4w@8 → 2w@16 → w@32 → channels@64`). A conditional
/// generator multiplies `z` elementwise by a label embedding `embed` first (`embed.weight`
/// `[num_classes, latent_dim]`).
///
/// **Discriminator** (`main.<i>`): `n` blocks of `Conv2d(c, 2c, 4, stride=2, padding=1)`
/// → `LeakyReLU(0.2)` with widths `w, 2w, .., w·2^(n-1)` (the first block takes
/// `channels·pack` channels, plus one for [`Conditioning::Concat`]) → `Flatten` →
/// `Linear(w·2^(n-1)·s0², 1)`. No BatchNorm (it would couple the samples of a batch,
/// which breaks gradient penalties); with `spectral_norm` every conv and linear layer,
/// `aux` included, is wrapped in [`SpectralNorm`] (the label embedding is not). Heads:
/// `aux` = `Linear(features, num_classes)` when `aux_classifier` (AC-GAN), `embed` for a
/// conditional discriminator.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::{Dcgan, Discriminator, Generator};
/// use agon_tensor::{Indices, NdArray};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let cfg = Dcgan { width: 8, num_classes: Some(10), ..Dcgan::new(32, 3) };
/// let (g, d) = (cfg.generator(&mut rng), cfg.discriminator(&mut rng));
/// let z = Tensor::constant(NdArray::rand_normal(&[4, cfg.latent_dim], 0.0, 1.0, &mut rng));
/// let y = Indices::from_vec(vec![0, 1, 2, 9], &[4]);
/// let images = g.generate(&z, Some(&y));
/// assert_eq!(images.shape(), &[4, 3, 32, 32]);
/// assert_eq!(d.judge(&images, Some(&y)).logits.shape(), &[4, 1]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dcgan {
    /// Image side: 28, or a power of two from 16 to 256 (see [`Dcgan::supports`]).
    pub image_size: usize,
    /// Image channels: 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Base feature count `w` (64 in the DCGAN paper).
    pub width: usize,
    /// Length of the noise vector.
    pub latent_dim: usize,
    /// Number of classes for a conditional pair (or an AC-GAN), `None` for unconditional.
    pub num_classes: Option<usize>,
    /// PacGAN packing degree of the discriminator (1: no packing).
    pub pack: usize,
    /// Spectral norm on every discriminator conv and linear layer.
    pub spectral_norm: bool,
    /// An AC-GAN classifier head on the discriminator (needs `num_classes`). The
    /// discriminator then takes no labels (it predicts them); the generator is conditional.
    pub aux_classifier: bool,
    /// How a conditional discriminator (`num_classes` set, no `aux_classifier`) takes
    /// labels.
    pub conditioning: Conditioning,
    /// How the generator doubles its resolution.
    pub upsampling: Upsampling,
}

/// How a DCGAN generator doubles its feature maps' resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Upsampling {
    /// `ConvTranspose2d(k4, s2, p1)`, as in the DCGAN paper.
    #[default]
    Transposed,
    /// Nearest-neighbour ×2 then `Conv2d(k3, p1)` (Odena et al. 2016, "Deconvolution and
    /// checkerboard artifacts"): every output pixel sees the same number of kernel taps,
    /// so the grid texture a stride-2 transposed convolution prints early in training
    /// does not appear. About 2x the generator's convolution cost.
    NearestConv,
}

impl Dcgan {
    /// An unconditional DCGAN for `image_size`² images with `channels` channels: width 64,
    /// latent size 100, no packing, no spectral norm.
    ///
    /// ```
    /// let cfg = agon_gan::Dcgan::new(64, 3);
    /// assert_eq!((cfg.width, cfg.latent_dim, cfg.pack), (64, 100, 1));
    /// ```
    pub fn new(image_size: usize, channels: usize) -> Self {
        Dcgan {
            image_size,
            channels,
            width: 64,
            latent_dim: 100,
            num_classes: None,
            pack: 1,
            spectral_norm: false,
            aux_classifier: false,
            conditioning: Conditioning::Projection,
            upsampling: Upsampling::Transposed,
        }
    }

    /// The starting (generator) and final (discriminator) feature-map side: 7 or 4.
    pub fn base_size(&self) -> usize {
        if self.image_size == 28 {
            7
        } else {
            4
        }
    }

    /// Number of stride-2 layers in each model: 2 for 28, and `log2(size / 4)` for the
    /// powers of two (2 for 16, 3 for 32, 4 for 64, ... 6 for 256).
    pub fn doublings(&self) -> usize {
        if self.image_size == 28 {
            2
        } else {
            self.image_size.trailing_zeros() as usize - 2
        }
    }

    /// Whether the family builds `size`² images: 28 (from a 7x7 start), or a power of two
    /// from 16 to 256 (from 4x4, doubling per layer).
    ///
    /// ```
    /// use agon_gan::Dcgan;
    /// assert!(Dcgan::supports(28) && Dcgan::supports(64) && Dcgan::supports(128));
    /// assert!(!Dcgan::supports(48) && !Dcgan::supports(8) && !Dcgan::supports(512));
    /// ```
    pub fn supports(size: usize) -> bool {
        size == 28 || (size.is_power_of_two() && (16..=256).contains(&size))
    }

    /// Widest feature count, `width · 2^(doublings - 1)`: the generator's first and the
    /// discriminator's last.
    pub fn top_width(&self) -> usize {
        self.width << (self.doublings() - 1)
    }

    /// Number of features the discriminator's heads see (`top_width · base_size²`).
    pub fn features(&self) -> usize {
        self.top_width() * self.base_size() * self.base_size()
    }

    /// True when the discriminator takes labels as input (conditional without an AC-GAN
    /// head).
    pub fn d_is_conditional(&self) -> bool {
        self.num_classes.is_some() && !self.aux_classifier
    }

    /// Checks the configuration.
    ///
    /// # Panics
    /// On an image size that [`supports`](Dcgan::supports) refuses; channels other than 1 or 3; zero width,
    /// latent size, packing or classes; an AC-GAN head without classes.
    #[track_caller]
    pub fn validate(&self) {
        assert!(
            Dcgan::supports(self.image_size),
            "Dcgan: image_size {} is not supported; use 28 or a power of two from 16 to 256",
            self.image_size
        );
        assert!(
            matches!(self.channels, 1 | 3),
            "Dcgan: channels {} is not supported; use 1 (grayscale) or 3 (RGB)",
            self.channels
        );
        assert!(
            self.width > 0 && self.latent_dim > 0,
            "Dcgan: width ({}) and latent_dim ({}) must be positive",
            self.width,
            self.latent_dim
        );
        assert!(self.pack > 0, "Dcgan: pack must be at least 1");
        assert!(
            self.num_classes != Some(0),
            "Dcgan: num_classes must be positive (or None)"
        );
        assert!(
            !self.aux_classifier || self.num_classes.is_some(),
            "Dcgan: aux_classifier needs num_classes"
        );
    }

    /// The generator, with PyTorch's default initialisation drawn from `rng`.
    ///
    /// # Panics
    /// If the configuration is invalid ([`validate`](Dcgan::validate)).
    #[track_caller]
    pub fn generator<R: Rng + ?Sized>(&self, rng: &mut R) -> DcganGenerator {
        self.validate();
        let s0 = self.base_size();
        let up = Conv2dParams::new().stride(2).padding(1);
        let mut c = self.top_width();
        let embed = self
            .num_classes
            .map(|k| Embedding::new(k, self.latent_dim, rng));
        let mut main = Sequential::new()
            .push(Linear::new(self.latent_dim, c * s0 * s0, false, rng))
            .push(BatchNorm1d::new(c * s0 * s0))
            .push(ReLU)
            .push(Reshape(vec![c, s0, s0]));
        let same = Conv2dParams::new().padding(1);
        for _ in 1..self.doublings() {
            main = match self.upsampling {
                Upsampling::Transposed => {
                    main.push(ConvTranspose2d::new(c, c / 2, 4, up, [0, 0], false, rng))
                }
                Upsampling::NearestConv => {
                    main.push(Upsample(2))
                        .push(Conv2d::new(c, c / 2, 3, same, false, rng))
                }
            }
            .push(BatchNorm2d::new(c / 2))
            .push(ReLU);
            c /= 2;
        }
        let main = match self.upsampling {
            Upsampling::Transposed => main.push(ConvTranspose2d::new(
                c,
                self.channels,
                4,
                up,
                [0, 0],
                false,
                rng,
            )),
            Upsampling::NearestConv => {
                main.push(Upsample(2))
                    .push(Conv2d::new(c, self.channels, 3, same, true, rng))
            }
        }
        .push(Tanh);
        DcganGenerator {
            config: self.clone(),
            embed,
            main,
        }
    }

    /// The discriminator, with PyTorch's default initialisation drawn from `rng`.
    ///
    /// # Panics
    /// If the configuration is invalid, or packs (`pack > 1`) while conditional or with an
    /// AC-GAN head: a packed sample has `pack` labels, which neither head can use.
    #[track_caller]
    pub fn discriminator<R: Rng + ?Sized>(&self, rng: &mut R) -> DcganDiscriminator {
        self.validate();
        assert!(
            self.pack == 1 || self.num_classes.is_none(),
            "Dcgan: a packing discriminator (pack = {}) cannot be conditional or have an \
             AC-GAN head; set pack = 1 or num_classes = None",
            self.pack
        );
        let sn = self.spectral_norm;
        let down = Conv2dParams::new().stride(2).padding(1);
        let concat = self.d_is_conditional() && self.conditioning == Conditioning::Concat;
        let mut c_in = self.channels * self.pack + usize::from(concat);
        let mut c = self.width;
        let mut main = Sequential::new();
        for _ in 0..self.doublings() {
            main = push_weighted(main, Conv2d::new(c_in, c, 4, down, true, rng), sn, rng)
                .push(LeakyReLU(SLOPE));
            c_in = c;
            c *= 2;
        }
        let features = self.features();
        let main = push_weighted(
            main.push(Flatten),
            Linear::new(features, 1, true, rng),
            sn,
            rng,
        );
        let aux = match (self.aux_classifier, self.num_classes) {
            (true, Some(k)) => Some(boxed_weighted(Linear::new(features, k, true, rng), sn, rng)),
            _ => None,
        };
        let embed = match (self.d_is_conditional(), self.num_classes) {
            (true, Some(k)) => Some(match self.conditioning {
                Conditioning::Projection => Embedding::new(k, features, rng),
                Conditioning::Concat => Embedding::new(k, self.image_size * self.image_size, rng),
            }),
            _ => None,
        };
        DcganDiscriminator {
            config: self.clone(),
            main,
            aux,
            embed,
        }
    }
}

/// `layer`, wrapped in spectral norm when `sn`, appended to `seq`.
pub(crate) fn push_weighted<L, R>(seq: Sequential, layer: L, sn: bool, rng: &mut R) -> Sequential
where
    L: WeightedLayer + 'static,
    R: Rng + ?Sized,
{
    if sn {
        seq.push(SpectralNorm::new(layer, rng))
    } else {
        seq.push(layer)
    }
}

/// `layer` boxed, wrapped in spectral norm when `sn`.
fn boxed_weighted<L, R>(layer: L, sn: bool, rng: &mut R) -> Box<dyn Module>
where
    L: WeightedLayer + 'static,
    R: Rng + ?Sized,
{
    if sn {
        Box::new(SpectralNorm::new(layer, rng))
    } else {
        Box::new(layer)
    }
}

/// A DCGAN generator built by [`Dcgan::generator`]: noise `[N, latent_dim]` (and labels
/// `[N]` when conditional) to images `[N, channels, size, size]` in `[-1, 1]`.
///
/// Parameter names: `main.<i>.*` as laid out in [`Dcgan`], and `embed.weight` for a
/// conditional generator. It starts in training mode (BatchNorm uses batch statistics);
/// call [`eval`](Module::eval) to sample with the running statistics.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::{Dcgan, Generator};
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Dcgan { width: 16, ..Dcgan::new(28, 1) }.generator(&mut rng);
/// let z = Tensor::constant(NdArray::rand_normal(&[2, g.latent_dim()], 0.0, 1.0, &mut rng));
/// assert_eq!(g.forward(&z).shape(), &[2, 1, 28, 28]);
/// assert_eq!(g.named_parameters()[0].0, "main.0.weight");
/// ```
pub struct DcganGenerator {
    config: Dcgan,
    embed: Option<Embedding>,
    main: Sequential,
}

impl DcganGenerator {
    /// The configuration it was built from.
    pub fn config(&self) -> &Dcgan {
        &self.config
    }

    /// The layers (`main` in parameter names).
    pub fn main(&self) -> &Sequential {
        &self.main
    }

    /// The label embedding of a conditional generator.
    pub fn embed(&self) -> Option<&Embedding> {
        self.embed.as_ref()
    }
}

impl Generator for DcganGenerator {
    fn latent_dim(&self) -> usize {
        self.config.latent_dim
    }

    fn num_classes(&self) -> Option<usize> {
        self.config.num_classes
    }

    /// # Panics
    /// If `z` is not `[N, latent_dim]`, or the generator is conditional and `labels` is
    /// missing, not `[N]`, or out of range.
    #[track_caller]
    fn generate(&self, z: &Tensor, labels: Option<&Indices>) -> Tensor {
        assert!(
            z.ndim() == 2 && z.shape()[1] == self.config.latent_dim,
            "DcganGenerator: noise has shape {:?}, expected [N, {}]",
            z.shape(),
            self.config.latent_dim
        );
        let h = match &self.embed {
            Some(embed) => {
                let y = require_labels("DcganGenerator", labels, z.shape()[0]);
                z.mul(&embed.lookup(y))
            }
            None => z.clone(),
        };
        self.main.forward(&h)
    }

    /// `h = z ⊙ (mix · E)` with `E` the label embedding: a row of `mix` that is one-hot at
    /// class `c` picks `E[c]`, as [`generate`](Generator::generate) does.
    ///
    /// # Panics
    /// If `z` is not `[N, latent_dim]` or `mix` not `[N, classes]`.
    fn generate_blended(&self, z: &Tensor, mix: &NdArray) -> Option<Tensor> {
        let embed = self.embed.as_ref()?;
        let k = self.config.num_classes?;
        assert!(
            z.ndim() == 2
                && z.shape()[1] == self.config.latent_dim
                && mix.shape() == [z.shape()[0], k],
            "DcganGenerator: noise {:?} and class weights {:?} do not fit [N, {}] and [N, {k}]",
            z.shape(),
            mix.shape(),
            self.config.latent_dim
        );
        let rows = Tensor::constant(mix.clone()).matmul(&embed.weight.tensor());
        Some(self.main.forward(&z.mul(&rows)))
    }

    /// After the first block: `Linear -> BatchNorm1d -> ReLU`, `[N, top_width · base²]`.
    ///
    /// # Panics
    /// As [`generate`](Generator::generate).
    fn early_activations(&self, z: &Tensor, labels: Option<&Indices>) -> Option<Tensor> {
        let mut h = match &self.embed {
            Some(embed) => {
                let y = require_labels("DcganGenerator", labels, z.shape()[0]);
                z.mul(&embed.lookup(y))
            }
            None => z.clone(),
        };
        for i in 0..3 {
            h = self.main.get(i)?.forward(&h);
        }
        Some(h)
    }
}

impl Module for DcganGenerator {
    /// [`generate`](Generator::generate) without labels.
    ///
    /// # Panics
    /// As `generate`; in particular for a conditional generator (use `generate`).
    #[track_caller]
    fn forward(&self, z: &Tensor) -> Tensor {
        self.generate(z, None)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out: Vec<(String, &dyn Module)> = Vec::new();
        if let Some(e) = &self.embed {
            out.push(("embed".to_string(), e));
        }
        out.push(("main".to_string(), &self.main));
        out
    }
}

/// A DCGAN discriminator built by [`Dcgan::discriminator`]: images
/// `[N, channels, size, size]` (and labels `[N]` when conditional) to logits `[N/pack, 1]`
/// (and class logits `[N, num_classes]` with an AC-GAN head).
///
/// Parameter names: `main.<i>.*` as laid out in [`Dcgan`] (`weight_orig`, `weight_u`,
/// `weight_v` under spectral norm, as PyTorch), `aux.*` for the AC-GAN head, and
/// `embed.weight` for a conditional discriminator.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::{Dcgan, Discriminator};
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let cfg = Dcgan { width: 8, pack: 2, spectral_norm: true, ..Dcgan::new(64, 3) };
/// let d = cfg.discriminator(&mut rng);
/// let x = Tensor::constant(NdArray::zeros(&[6, 3, 64, 64]));
/// assert_eq!(d.judge(&x, None).logits.shape(), &[3, 1]); // 3 packed samples of 2
/// assert_eq!(d.named_parameters()[0].0, "main.0.weight_orig");
/// assert_eq!(d.named_parameters()[0].1.shape(), vec![8, 6, 4, 4]); // 2 x 3 input channels
/// ```
pub struct DcganDiscriminator {
    config: Dcgan,
    main: Sequential,
    aux: Option<Box<dyn Module>>,
    embed: Option<Embedding>,
}

impl DcganDiscriminator {
    /// The configuration it was built from.
    pub fn config(&self) -> &Dcgan {
        &self.config
    }

    /// The layers (`main` in parameter names); the last is the real/fake linear layer.
    pub fn main(&self) -> &Sequential {
        &self.main
    }

    /// The flattened features `[N/pack, features]` the heads see (before the last layer).
    ///
    /// # Panics
    /// As [`judge`](Discriminator::judge).
    #[track_caller]
    pub fn features(&self, x: &Tensor, labels: Option<&Indices>) -> Tensor {
        self.features_and_labels(x, labels).0
    }

    /// Features, and the labels when conditional.
    #[track_caller]
    fn features_and_labels<'a>(
        &self,
        x: &Tensor,
        labels: Option<&'a Indices>,
    ) -> (Tensor, Option<&'a Indices>) {
        let cfg = &self.config;
        let s = cfg.image_size;
        assert!(
            x.ndim() == 4 && x.shape()[1..] == [cfg.channels, s, s],
            "DcganDiscriminator: input has shape {:?}, expected [N, {}, {s}, {s}]",
            x.shape(),
            cfg.channels
        );
        let n = x.shape()[0];
        let mut h = x.clone();
        let mut y = None;
        if let Some(embed) = &self.embed {
            let labels = require_labels("DcganDiscriminator", labels, n);
            if cfg.conditioning == Conditioning::Concat {
                let map = embed.lookup(labels).reshape(&[n, 1, s, s]);
                h = Tensor::concat(&[&h, &map], 1);
            }
            y = Some(labels);
        }
        h = pack(&h, cfg.pack);
        let last = self.main.len() - 1;
        for i in 0..last {
            h = self.main.get(i).expect("index below len").forward(&h);
        }
        (h, y)
    }
}

impl Discriminator for DcganDiscriminator {
    fn num_classes(&self) -> Option<usize> {
        self.config.num_classes
    }

    /// The input of the last layer, flattened; only unconditional, unpacked discriminators
    /// (a conditional one's features depend on the label, a packed one's on the pack).
    fn feature_vectors(&self, x: &Tensor) -> Option<Tensor> {
        if self.embed.is_some() || self.config.pack > 1 {
            return None;
        }
        Some(self.features(x, None))
    }

    fn pack(&self) -> usize {
        self.config.pack
    }

    /// # Panics
    /// If `x` is not `[N, channels, size, size]`, `N` is not a multiple of the packing, or
    /// the discriminator is conditional and `labels` is missing, not `[N]`, or out of range.
    #[track_caller]
    fn judge(&self, x: &Tensor, labels: Option<&Indices>) -> Judgement {
        let (h, y) = self.features_and_labels(x, labels);
        let last = self.main.get(self.main.len() - 1).expect("non-empty");
        let mut logits = last.forward(&h);
        if let (Some(embed), Some(y), Conditioning::Projection) =
            (&self.embed, y, self.config.conditioning)
        {
            let projection = embed.lookup(y).mul(&h).sum(&[1], true);
            logits = logits.add(&projection);
        }
        let class_logits = self.aux.as_ref().map(|aux| aux.forward(&h));
        Judgement {
            logits,
            class_logits,
        }
    }
}

impl Module for DcganDiscriminator {
    /// The real/fake logits of [`judge`](Discriminator::judge) without labels.
    ///
    /// # Panics
    /// As `judge`; in particular for a conditional discriminator (use `judge`).
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.judge(x, None).logits
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut out: Vec<(String, &dyn Module)> = vec![("main".to_string(), &self.main)];
        if let Some(aux) = &self.aux {
            out.push(("aux".to_string(), aux.as_ref()));
        }
        if let Some(e) = &self.embed {
            out.push(("embed".to_string(), e));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_tensor::NdArray;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// Features are the last layer's input, flattened, and the logits are that layer of
    /// them; conditional and packed discriminators expose none.
    #[test]
    fn features_are_the_input_of_the_last_layer() {
        let cfg = Dcgan {
            width: 8,
            ..Dcgan::new(32, 1)
        };
        let d = cfg.discriminator(&mut StdRng::seed_from_u64(0));
        let x = Tensor::constant(NdArray::rand_uniform(
            &[3, 1, 32, 32],
            -1.0,
            1.0,
            &mut StdRng::seed_from_u64(1),
        ));
        let f = d.feature_vectors(&x).unwrap();
        assert_eq!(f.shape(), &[3, 32 * 16]);
        let last = d.main.get(d.main.len() - 1).unwrap();
        let want = d.judge(&x, None).logits.data().to_vec();
        assert_eq!(last.forward(&f).data().to_vec(), want);
        let conditional = Dcgan {
            num_classes: Some(10),
            ..cfg.clone()
        };
        assert!(conditional
            .discriminator(&mut StdRng::seed_from_u64(0))
            .feature_vectors(&x)
            .is_none());
        let packed = Dcgan { pack: 3, ..cfg };
        assert!(packed
            .discriminator(&mut StdRng::seed_from_u64(0))
            .feature_vectors(&x)
            .is_none());
    }

    #[test]
    fn layer_shapes_follow_the_ladder() {
        let cfg = Dcgan {
            width: 8,
            ..Dcgan::new(64, 3)
        };
        let shapes = |m: &dyn Module| -> Vec<(String, Vec<usize>)> {
            m.named_parameters()
                .into_iter()
                .map(|(n, p)| (n, p.shape()))
                .filter(|(_, s)| s.len() != 1)
                .collect()
        };
        let g = cfg.generator(&mut StdRng::seed_from_u64(0));
        let want: Vec<(String, Vec<usize>)> = [
            ("main.0.weight", vec![64 * 16, 100]),
            ("main.4.weight", vec![64, 32, 4, 4]),
            ("main.7.weight", vec![32, 16, 4, 4]),
            ("main.10.weight", vec![16, 8, 4, 4]),
            ("main.13.weight", vec![8, 3, 4, 4]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
        assert_eq!(shapes(&g), want);
        let d = cfg.discriminator(&mut StdRng::seed_from_u64(0));
        let want: Vec<(String, Vec<usize>)> = [
            ("main.0.weight", vec![8, 3, 4, 4]),
            ("main.2.weight", vec![16, 8, 4, 4]),
            ("main.4.weight", vec![32, 16, 4, 4]),
            ("main.6.weight", vec![64, 32, 4, 4]),
            ("main.9.weight", vec![1, 64 * 16]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
        assert_eq!(shapes(&d), want);
        assert_eq!(cfg.features(), 64 * 16);
    }

    #[test]
    fn projection_adds_the_label_inner_product() {
        let mut rng = StdRng::seed_from_u64(1);
        let cfg = Dcgan {
            width: 4,
            num_classes: Some(3),
            ..Dcgan::new(28, 1)
        };
        let d = cfg.discriminator(&mut rng);
        let x = Tensor::constant(NdArray::rand_normal(&[2, 1, 28, 28], 0.0, 1.0, &mut rng));
        let y = Indices::from_vec(vec![2, 0], &[2]);
        let h = d.features(&x, Some(&y));
        let plain = d.main().get(d.main().len() - 1).unwrap().forward(&h);
        let e = d.embed.as_ref().unwrap().weight.data();
        let got = d.judge(&x, Some(&y)).logits.data().to_vec();
        let hv = h.data().to_vec();
        let f = cfg.features();
        for (i, &label) in [2usize, 0].iter().enumerate() {
            let ev = e.to_vec();
            let dot: f32 = (0..f).map(|j| ev[label * f + j] * hv[i * f + j]).sum();
            let want = plain.data().to_vec()[i] + dot;
            assert!((got[i] - want).abs() < 1e-3 * want.abs().max(1.0));
        }
    }

    #[test]
    #[should_panic(expected = "cannot be conditional")]
    fn packed_conditional_discriminator_is_rejected() {
        let cfg = Dcgan {
            num_classes: Some(10),
            pack: 2,
            ..Dcgan::new(28, 1)
        };
        let _ = cfg.discriminator(&mut StdRng::seed_from_u64(0));
    }

    #[test]
    #[should_panic(expected = "image_size 48")]
    fn unsupported_size_is_rejected() {
        let _ = Dcgan::new(48, 1).generator(&mut StdRng::seed_from_u64(0));
    }
}
