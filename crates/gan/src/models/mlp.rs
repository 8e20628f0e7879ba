//! Multi-layer perceptrons, and the `mlp2d` workload's generator and discriminator.

use agon_autodiff::Tensor;
use agon_nn::{LeakyReLU, Linear, Module, ReLU, Sequential, SpectralNorm, Tanh};
use agon_tensor::Indices;
use rand::Rng;

use crate::pack::pack;
use crate::roles::{Discriminator, Generator, Judgement};

/// The nonlinearity between an [`Mlp`]'s linear layers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(x, 0)` (PyTorch `nn.ReLU()`).
    ReLU,
    /// `x` above 0, `slope * x` below (PyTorch `nn.LeakyReLU(slope)`).
    LeakyReLU(f32),
}

/// Linear layers (with biases) joined by an activation, none after the last layer:
/// `Linear, act, Linear, act, ..., Linear`, named as in PyTorch's `nn.Sequential` called
/// `main` (`main.0.weight`, `main.0.bias`, `main.2.weight`, ...; the activations at odd
/// indices hold no parameters).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::{Activation, Mlp};
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Mlp::mlp2d_generator(&mut rng);
/// let d = Mlp::mlp2d_discriminator(&mut rng);
/// let z = Tensor::constant(NdArray::rand_normal(&[256, 2], 0.0, 1.0, &mut rng));
/// assert_eq!(d.forward(&g.forward(&z)).shape(), &[256, 1]);
/// assert_eq!(g.named_parameters()[6].0, "main.6.weight");
///
/// let tiny = Mlp::new(&[3, 4, 1], Activation::LeakyReLU(0.1), &mut rng);
/// assert_eq!(tiny.num_parameters(), 3 * 4 + 4 + 4 + 1);
/// ```
///
/// # As a GAN player
/// As a [`Generator`] its noise has `sizes[0]` entries; [`with_tanh`](Mlp::with_tanh) and
/// [`with_output_shape`](Mlp::with_output_shape) turn its output into images. As a
/// [`Discriminator`] it flattens each sample and, when [`packed`](Mlp::packed) by `m`,
/// judges `m` samples at once (then `sizes[0]` is `m` times a sample's size). Both ignore
/// labels. [`image_generator`](Mlp::image_generator) and
/// [`image_discriminator`](Mlp::image_discriminator) build the classic MLP GAN for 28x28
/// images.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::{Discriminator, Generator, Mlp};
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Mlp::image_generator(64, &[128], [1, 28, 28], &mut rng);
/// let d = Mlp::image_discriminator([1, 28, 28], &[128], 2, false, &mut rng);
/// let z = Tensor::constant(NdArray::rand_normal(&[4, g.latent_dim()], 0.0, 1.0, &mut rng));
/// let x = g.generate(&z, None);
/// assert_eq!(x.shape(), &[4, 1, 28, 28]);
/// assert_eq!(d.judge(&x, None).logits.shape(), &[2, 1]); // packs of 2
/// ```
pub struct Mlp {
    main: Sequential,
    sizes: Vec<usize>,
    activation: Activation,
    tanh: bool,
    output_shape: Option<Vec<usize>>,
    pack: usize,
}

impl Mlp {
    /// An MLP through the layer widths `sizes` (input first, output last), with PyTorch's
    /// default initialisation drawn from `rng`.
    ///
    /// # Panics
    /// If `sizes` has fewer than two entries.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(sizes: &[usize], activation: Activation, rng: &mut R) -> Self {
        Self::build(sizes, activation, false, rng)
    }

    /// [`new`](Mlp::new) with every linear layer under [`SpectralNorm`] (Miyato et al.
    /// 2018): a discriminator's stabiliser. Each layer's weight is saved as
    /// `main.<i>.weight_orig` with its `weight_u` and `weight_v`, as PyTorch names them.
    ///
    /// ```
    /// use agon_gan::{Activation, Mlp};
    /// use agon_nn::Module;
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let d = Mlp::with_spectral_norm(&[2, 8, 1], Activation::LeakyReLU(0.2), &mut rng);
    /// let params: Vec<String> = d.named_parameters().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(params, ["main.0.weight_orig", "main.0.bias", "main.2.weight_orig", "main.2.bias"]);
    /// let buffers: Vec<String> = d.named_buffers().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(buffers[..2], ["main.0.weight_u", "main.0.weight_v"]);
    /// ```
    ///
    /// # Panics
    /// If `sizes` has fewer than two entries.
    #[track_caller]
    pub fn with_spectral_norm<R: Rng + ?Sized>(
        sizes: &[usize],
        activation: Activation,
        rng: &mut R,
    ) -> Self {
        Self::build(sizes, activation, true, rng)
    }

    #[track_caller]
    fn build<R: Rng + ?Sized>(
        sizes: &[usize],
        activation: Activation,
        spectral_norm: bool,
        rng: &mut R,
    ) -> Self {
        assert!(
            sizes.len() >= 2,
            "Mlp::new: need at least an input and an output width, got sizes {sizes:?}"
        );
        let mut main = Sequential::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            if i > 0 {
                main = match activation {
                    Activation::ReLU => main.push(ReLU),
                    Activation::LeakyReLU(slope) => main.push(LeakyReLU(slope)),
                };
            }
            let linear = Linear::new(pair[0], pair[1], true, rng);
            main = if spectral_norm {
                main.push(SpectralNorm::new(linear, rng))
            } else {
                main.push(linear)
            };
        }
        Mlp {
            main,
            sizes: sizes.to_vec(),
            activation,
            tanh: false,
            output_shape: None,
            pack: 1,
        }
    }

    /// The same network with `Tanh` after the last linear layer (a generator of samples
    /// in `[-1, 1]`; the activation holds no parameters, so names do not change).
    pub fn with_tanh(mut self) -> Self {
        if !self.tanh {
            self.main = self.main.push(Tanh);
            self.tanh = true;
        }
        self
    }

    /// The same network with each output sample viewed as `shape` (e.g. `[1, 28, 28]`).
    ///
    /// # Panics
    /// If `shape` does not hold `sizes.last()` elements.
    #[track_caller]
    pub fn with_output_shape(mut self, shape: &[usize]) -> Self {
        let out = *self.sizes.last().expect("at least two sizes");
        assert_eq!(
            shape.iter().product::<usize>(),
            out,
            "Mlp::with_output_shape: shape {shape:?} does not hold the {out} outputs"
        );
        self.output_shape = Some(shape.to_vec());
        self
    }

    /// The same network as a PacGAN discriminator judging `m` samples at once: each
    /// sample has `sizes[0] / m` entries (after flattening).
    ///
    /// # Panics
    /// If `m` is 0 or does not divide `sizes[0]`.
    #[track_caller]
    pub fn packed(mut self, m: usize) -> Self {
        assert!(
            m > 0 && self.sizes[0].is_multiple_of(m),
            "Mlp::packed: packing degree {m} does not divide the input width {}",
            self.sizes[0]
        );
        self.pack = m;
        self
    }

    /// An MLP generator of images: `latent_dim -> hidden.. -> C·H·W` with LeakyReLU(0.2),
    /// then `Tanh`, viewed as `[C, H, W]`.
    pub fn image_generator<R: Rng + ?Sized>(
        latent_dim: usize,
        hidden: &[usize],
        image_shape: [usize; 3],
        rng: &mut R,
    ) -> Self {
        let mut sizes = vec![latent_dim];
        sizes.extend_from_slice(hidden);
        sizes.push(image_shape.iter().product());
        Self::new(&sizes, Activation::LeakyReLU(0.2), rng)
            .with_tanh()
            .with_output_shape(&image_shape)
    }

    /// An MLP discriminator of images packed `m` at a time:
    /// `m·C·H·W -> hidden.. -> 1` with LeakyReLU(0.2), its layers under spectral
    /// normalisation when `spectral_norm`.
    ///
    /// # Panics
    /// If `m` is 0.
    #[track_caller]
    pub fn image_discriminator<R: Rng + ?Sized>(
        image_shape: [usize; 3],
        hidden: &[usize],
        m: usize,
        spectral_norm: bool,
        rng: &mut R,
    ) -> Self {
        assert!(
            m > 0,
            "Mlp::image_discriminator: packing degree must be at least 1"
        );
        let mut sizes = vec![m * image_shape.iter().product::<usize>()];
        sizes.extend_from_slice(hidden);
        sizes.push(1);
        Self::build(&sizes, Activation::LeakyReLU(0.2), spectral_norm, rng).packed(m)
    }

    /// A discriminator for 2-D points packed `m` at a time: the `mlp2d` discriminator's
    /// layers with input width `2m`.
    pub fn mlp2d_packed_discriminator<R: Rng + ?Sized>(m: usize, rng: &mut R) -> Self {
        Self::new(&[2 * m, 128, 128, 128, 1], Activation::LeakyReLU(0.2), rng).packed(m)
    }

    /// The `mlp2d` generator: 2 -> 128 -> 128 -> 128 -> 2 with ReLU.
    pub fn mlp2d_generator<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::new(&[2, 128, 128, 128, 2], Activation::ReLU, rng)
    }

    /// The `mlp2d` discriminator: 2 -> 128 -> 128 -> 128 -> 1 with LeakyReLU(0.2), giving
    /// one logit per sample.
    pub fn mlp2d_discriminator<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::new(&[2, 128, 128, 128, 1], Activation::LeakyReLU(0.2), rng)
    }

    /// The layer widths, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The activation between linear layers.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The layers (`main` in parameter names).
    pub fn main(&self) -> &Sequential {
        &self.main
    }

    /// True when a `Tanh` follows the last layer.
    pub fn has_tanh(&self) -> bool {
        self.tanh
    }

    /// The shape each output sample is viewed as, if set.
    pub fn output_shape(&self) -> Option<&[usize]> {
        self.output_shape.as_deref()
    }
}

impl Module for Mlp {
    /// `[N, sizes[0]]` (or `[N, ...]` holding `sizes[0]` per sample, flattened first) to
    /// `[N, sizes.last()]`, or `[N, output_shape..]`. No packing: see
    /// [`judge`](Discriminator::judge).
    ///
    /// # Panics
    /// If a sample does not hold `sizes[0]` entries.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let x = if x.ndim() > 2 {
            x.flatten(1, x.ndim() - 1)
        } else {
            x.clone()
        };
        assert!(
            x.ndim() == 2 && x.shape()[1] == self.sizes[0],
            "Mlp: input has {:?} entries per sample (shape {:?}), expected {}",
            x.shape().get(1),
            x.shape(),
            self.sizes[0]
        );
        let y = self.main.forward(&x);
        match &self.output_shape {
            Some(shape) => {
                let mut full = vec![y.shape()[0]];
                full.extend_from_slice(shape);
                y.reshape(&full)
            }
            None => y,
        }
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("main".to_string(), &self.main)]
    }
}

impl Generator for Mlp {
    fn latent_dim(&self) -> usize {
        self.sizes[0]
    }

    /// `forward(z)`; labels are ignored.
    #[track_caller]
    fn generate(&self, z: &Tensor, _labels: Option<&Indices>) -> Tensor {
        self.forward(z)
    }
}

impl Discriminator for Mlp {
    fn pack(&self) -> usize {
        self.pack
    }

    /// Flattens each sample, packs `pack` samples at a time, and applies the network:
    /// `[N, ...]` to logits `[N/pack, sizes.last()]`. Labels are ignored.
    ///
    /// # Panics
    /// If `N` is not a multiple of the packing, or a packed sample does not hold
    /// `sizes[0]` entries.
    #[track_caller]
    fn judge(&self, x: &Tensor, _labels: Option<&Indices>) -> Judgement {
        let flat = if x.ndim() > 2 {
            x.flatten(1, x.ndim() - 1)
        } else {
            x.clone()
        };
        Judgement {
            logits: self.forward(&pack(&flat, self.pack)),
            class_logits: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_tensor::NdArray;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn mlp2d_names_match_pytorch() {
        let g = Mlp::mlp2d_generator(&mut StdRng::seed_from_u64(0));
        let got: Vec<(String, Vec<usize>)> = g
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.shape()))
            .collect();
        let want: Vec<(String, Vec<usize>)> = [
            ("main.0.weight", vec![128, 2]),
            ("main.0.bias", vec![128]),
            ("main.2.weight", vec![128, 128]),
            ("main.2.bias", vec![128]),
            ("main.4.weight", vec![128, 128]),
            ("main.4.bias", vec![128]),
            ("main.6.weight", vec![2, 128]),
            ("main.6.bias", vec![2]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
        assert_eq!(got, want);
        assert!(g.named_buffers().is_empty());
        let d = Mlp::mlp2d_discriminator(&mut StdRng::seed_from_u64(0));
        assert_eq!(d.named_parameters()[7].1.shape(), vec![1]);
        assert_eq!(d.activation(), Activation::LeakyReLU(0.2));
        assert_eq!(d.sizes(), &[2, 128, 128, 128, 1]);
    }

    #[test]
    fn forward_is_linear_act_linear() {
        // Two layers by hand: y = W2 act(W1 x + b1) + b2.
        let m = Mlp::new(
            &[1, 2, 1],
            Activation::LeakyReLU(0.5),
            &mut StdRng::seed_from_u64(0),
        );
        let ps = m.parameters();
        ps[0].set(NdArray::from_vec(vec![1.0, -1.0], &[2, 1]).unwrap());
        ps[1].set(NdArray::from_vec(vec![0.0, 0.0], &[2]).unwrap());
        ps[2].set(NdArray::from_vec(vec![1.0, 1.0], &[1, 2]).unwrap());
        ps[3].set(NdArray::from_vec(vec![0.5], &[1]).unwrap());
        let x = Tensor::constant(NdArray::from_vec(vec![2.0], &[1, 1]).unwrap());
        // hidden = [2, -2] -> [2, -1]; out = 2 - 1 + 0.5.
        assert_eq!(m.forward(&x).data().to_vec(), vec![1.5]);
    }

    #[test]
    #[should_panic(expected = "Mlp::new")]
    fn one_width_is_rejected() {
        let _ = Mlp::new(&[3], Activation::ReLU, &mut StdRng::seed_from_u64(0));
    }
}
