//! The `dcgan28` workload: a DCGAN for 1x28x28 images (MNIST-sized).

use agon_autodiff::Tensor;
use agon_nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Flatten, LeakyReLU, Linear, Module,
    Reshape, Sequential, Tanh,
};
use agon_tensor::{Conv2dParams, Indices};
use rand::Rng;

use super::dcgan::push_weighted;
use crate::roles::{Discriminator, Generator, Judgement};

/// Negative slope of every LeakyReLU in dcgan28.
const SLOPE: f32 = 0.2;
/// Dropout probability of the discriminator.
const DROPOUT: f32 = 0.3;

/// The dcgan28 generator: 100-d noise to a 1x28x28 image in `[-1, 1]`.
///
/// Layers, named as in PyTorch's `nn.Sequential` called `main`:
///
/// | name | layer | output (per sample) |
/// |---|---|---|
/// | `main.0` | `Linear(100, 12544, bias=False)` | `[12544]` |
/// | `main.1` | `BatchNorm1d(12544)` | |
/// | `main.2` | `LeakyReLU(0.2)` | |
/// | `main.3` | reshape (PyTorch: `nn.Unflatten(1, (256, 7, 7))`, no state) | `[256, 7, 7]` |
/// | `main.4` | `ConvTranspose2d(256, 128, 5, stride=1, padding=2, bias=False)` | `[128, 7, 7]` |
/// | `main.5` | `BatchNorm2d(128)` | |
/// | `main.6` | `LeakyReLU(0.2)` | |
/// | `main.7` | `ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1, bias=False)` | `[64, 14, 14]` |
/// | `main.8` | `BatchNorm2d(64)` | |
/// | `main.9` | `LeakyReLU(0.2)` | |
/// | `main.10` | `ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1, bias=False)` | `[1, 28, 28]` |
/// | `main.11` | `Tanh()` | |
///
/// It starts in training mode (BatchNorm uses batch statistics and updates its running
/// ones); call [`eval`](Module::eval) to sample with the running statistics.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::Dcgan28Generator;
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Dcgan28Generator::new(&mut rng);
/// let z = Tensor::constant(NdArray::rand_normal(&[2, Dcgan28Generator::LATENT_DIM], 0.0, 1.0, &mut rng));
/// let images = g.forward(&z);
/// assert_eq!(images.shape(), &[2, 1, 28, 28]);
/// assert!(images.data().to_vec().iter().all(|v| v.abs() <= 1.0));
///
/// let names: Vec<String> = g.state_dict().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[0], "main.0.weight");
/// assert!(names.contains(&"main.1.running_mean".to_string()));
/// assert!(names.contains(&"main.8.num_batches_tracked".to_string()));
/// ```
pub struct Dcgan28Generator {
    main: Sequential,
}

impl Dcgan28Generator {
    /// Length of the noise vector.
    pub const LATENT_DIM: usize = 100;
    /// Channels, height and width of a generated image.
    pub const IMAGE_SHAPE: [usize; 3] = [1, 28, 28];

    /// A generator with PyTorch's default initialisation, drawn from `rng`.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let same = Conv2dParams::new().stride(1).padding(2);
        let up = Conv2dParams::new().stride(2).padding(2);
        let main = Sequential::new()
            .push(Linear::new(Self::LATENT_DIM, 7 * 7 * 256, false, rng))
            .push(BatchNorm1d::new(7 * 7 * 256))
            .push(LeakyReLU(SLOPE))
            .push(Reshape(vec![256, 7, 7]))
            .push(ConvTranspose2d::new(256, 128, 5, same, [0, 0], false, rng))
            .push(BatchNorm2d::new(128))
            .push(LeakyReLU(SLOPE))
            .push(ConvTranspose2d::new(128, 64, 5, up, [1, 1], false, rng))
            .push(BatchNorm2d::new(64))
            .push(LeakyReLU(SLOPE))
            .push(ConvTranspose2d::new(64, 1, 5, up, [1, 1], false, rng))
            .push(Tanh);
        Dcgan28Generator { main }
    }

    /// The layers (`main` in parameter names), for inspecting one layer's output.
    pub fn main(&self) -> &Sequential {
        &self.main
    }
}

impl Module for Dcgan28Generator {
    /// `[N, 100]` noise to `[N, 1, 28, 28]` images.
    ///
    /// # Panics
    /// If `z` is not `[N, 100]` (the first layer's matmul names the shapes).
    fn forward(&self, z: &Tensor) -> Tensor {
        self.main.forward(z)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("main".to_string(), &self.main)]
    }
}

/// The dcgan28 discriminator: a 1x28x28 image to one logit (no sigmoid: pair it with a
/// BCE-with-logits loss).
///
/// Layers, named as in PyTorch's `nn.Sequential` called `main`:
///
/// | name | layer | output (per sample) |
/// |---|---|---|
/// | `main.0` | `Conv2d(1, 64, 5, stride=2, padding=2)` | `[64, 14, 14]` |
/// | `main.1` | `LeakyReLU(0.2)` | |
/// | `main.2` | `Dropout(0.3)` | |
/// | `main.3` | `Conv2d(64, 128, 5, stride=2, padding=2)` | `[128, 7, 7]` |
/// | `main.4` | `LeakyReLU(0.2)` | |
/// | `main.5` | `Dropout(0.3)` | |
/// | `main.6` | `Flatten()` | `[6272]` |
/// | `main.7` | `Linear(6272, 1)` | `[1]` |
///
/// The two dropout layers draw their masks from seeds derived from `dropout_seed`, so a run
/// is reproducible; their masks cannot match PyTorch's (different generators), so in
/// training mode the two frameworks agree only in distribution, while in evaluation mode
/// (dropout off) they agree elementwise.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::Dcgan28Discriminator;
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
///
/// let d = Dcgan28Discriminator::new(&mut rand::rngs::StdRng::seed_from_u64(0), 7);
/// let x = Tensor::constant(NdArray::ones(&[3, 1, 28, 28]));
/// assert_eq!(d.forward(&x).shape(), &[3, 1]);
/// d.eval(); // dropout off: the same input gives the same logits
/// assert_eq!(d.forward(&x).data().to_vec(), d.forward(&x).data().to_vec());
/// assert_eq!(d.named_parameters().last().unwrap().0, "main.7.bias");
/// ```
pub struct Dcgan28Discriminator {
    main: Sequential,
}

impl Dcgan28Discriminator {
    /// A discriminator with PyTorch's default initialisation drawn from `rng`; its dropout
    /// masks come from `dropout_seed` (each dropout layer gets its own seed derived from it).
    pub fn new<R: Rng + ?Sized>(rng: &mut R, dropout_seed: u64) -> Self {
        Self::with_spectral_norm(rng, dropout_seed, false)
    }

    /// [`new`](Self::new), with spectral normalisation on the two convolutions and the
    /// linear layer when `spectral_norm` (their weights become `weight_orig`, `weight_u`,
    /// `weight_v`, as PyTorch's `spectral_norm`). The reference model of docs/architecture.md has none;
    /// this is the stabiliser GAN users most often add to it.
    ///
    /// ```
    /// use agon_gan::Dcgan28Discriminator;
    /// use agon_nn::Module;
    /// use rand::SeedableRng;
    ///
    /// let d = Dcgan28Discriminator::with_spectral_norm(
    ///     &mut rand::rngs::StdRng::seed_from_u64(0), 7, true);
    /// assert_eq!(d.named_parameters()[0].0, "main.0.weight_orig");
    /// ```
    pub fn with_spectral_norm<R: Rng + ?Sized>(
        rng: &mut R,
        dropout_seed: u64,
        spectral_norm: bool,
    ) -> Self {
        let down = Conv2dParams::new().stride(2).padding(2);
        let sn = spectral_norm;
        let main = push_weighted(
            Sequential::new(),
            Conv2d::new(1, 64, 5, down, true, rng),
            sn,
            rng,
        )
        .push(LeakyReLU(SLOPE))
        .push(Dropout::new(DROPOUT, splitmix64(dropout_seed)));
        let main = push_weighted(main, Conv2d::new(64, 128, 5, down, true, rng), sn, rng)
            .push(LeakyReLU(SLOPE))
            .push(Dropout::new(
                DROPOUT,
                splitmix64(dropout_seed.wrapping_add(1)),
            ))
            .push(Flatten);
        let main = push_weighted(main, Linear::new(128 * 7 * 7, 1, true, rng), sn, rng);
        Dcgan28Discriminator { main }
    }

    /// The layers (`main` in parameter names), for inspecting one layer's output.
    pub fn main(&self) -> &Sequential {
        &self.main
    }
}

impl Module for Dcgan28Discriminator {
    /// `[N, 1, 28, 28]` images to `[N, 1]` logits.
    ///
    /// # Panics
    /// If `x` is not `[N, 1, 28, 28]` (the first convolution or the final matmul names the
    /// shapes).
    fn forward(&self, x: &Tensor) -> Tensor {
        self.main.forward(x)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("main".to_string(), &self.main)]
    }
}

impl Generator for Dcgan28Generator {
    fn latent_dim(&self) -> usize {
        Self::LATENT_DIM
    }

    /// `forward(z)`; labels are ignored (dcgan28 is unconditional).
    #[track_caller]
    fn generate(&self, z: &Tensor, _labels: Option<&Indices>) -> Tensor {
        self.forward(z)
    }
}

impl Discriminator for Dcgan28Discriminator {
    /// `forward(x)` as the logits; labels are ignored, no class head.
    #[track_caller]
    fn judge(&self, x: &Tensor, _labels: Option<&Indices>) -> Judgement {
        Judgement {
            logits: self.forward(x),
            class_logits: None,
        }
    }
}

/// SplitMix64's output function: turns consecutive seeds into unrelated ones, so the two
/// dropout layers' mask streams do not overlap.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_tensor::NdArray;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn names(m: &dyn Module) -> Vec<(String, Vec<usize>)> {
        let mut out: Vec<_> = m
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.shape()))
            .collect();
        out.extend(m.named_buffers().into_iter().map(|(n, b)| (n, b.shape())));
        out
    }

    #[test]
    fn generator_names_and_shapes_match_pytorch() {
        let g = Dcgan28Generator::new(&mut StdRng::seed_from_u64(0));
        let want: Vec<(&str, Vec<usize>)> = vec![
            ("main.0.weight", vec![12544, 100]),
            ("main.1.weight", vec![12544]),
            ("main.1.bias", vec![12544]),
            ("main.4.weight", vec![256, 128, 5, 5]),
            ("main.5.weight", vec![128]),
            ("main.5.bias", vec![128]),
            ("main.7.weight", vec![128, 64, 5, 5]),
            ("main.8.weight", vec![64]),
            ("main.8.bias", vec![64]),
            ("main.10.weight", vec![64, 1, 5, 5]),
            ("main.1.running_mean", vec![12544]),
            ("main.1.running_var", vec![12544]),
            ("main.1.num_batches_tracked", vec![]),
            ("main.5.running_mean", vec![128]),
            ("main.5.running_var", vec![128]),
            ("main.5.num_batches_tracked", vec![]),
            ("main.8.running_mean", vec![64]),
            ("main.8.running_var", vec![64]),
            ("main.8.num_batches_tracked", vec![]),
        ];
        let want: Vec<(String, Vec<usize>)> =
            want.into_iter().map(|(n, s)| (n.to_string(), s)).collect();
        assert_eq!(names(&g), want);
        assert_eq!(g.num_parameters(), 2_305_472);
    }

    #[test]
    fn discriminator_names_and_shapes_match_pytorch() {
        let d = Dcgan28Discriminator::new(&mut StdRng::seed_from_u64(0), 0);
        let want: Vec<(String, Vec<usize>)> = [
            ("main.0.weight", vec![64, 1, 5, 5]),
            ("main.0.bias", vec![64]),
            ("main.3.weight", vec![128, 64, 5, 5]),
            ("main.3.bias", vec![128]),
            ("main.7.weight", vec![1, 6272]),
            ("main.7.bias", vec![1]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
        assert_eq!(names(&d), want);
        assert_eq!(d.num_parameters(), 212_865);
    }

    #[test]
    fn same_seed_same_weights() {
        let a = Dcgan28Discriminator::new(&mut StdRng::seed_from_u64(3), 0);
        let b = Dcgan28Discriminator::new(&mut StdRng::seed_from_u64(3), 0);
        for ((_, x), (_, y)) in a.state_dict().iter().zip(b.state_dict().iter()) {
            assert_eq!(x.to_vec(), y.to_vec());
        }
    }

    #[test]
    fn discriminator_dropout_is_seeded_and_off_in_eval() {
        let x = Tensor::constant(NdArray::ones(&[2, 1, 28, 28]));
        let run = |seed| {
            let d = Dcgan28Discriminator::new(&mut StdRng::seed_from_u64(1), seed);
            d.forward(&x).data().to_vec()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
        let d = Dcgan28Discriminator::new(&mut StdRng::seed_from_u64(1), 5);
        d.eval();
        assert_eq!(d.forward(&x).data().to_vec(), d.forward(&x).data().to_vec());
    }

    #[test]
    fn generator_train_forward_updates_running_stats_and_eval_does_not() {
        let mut rng = StdRng::seed_from_u64(2);
        let g = Dcgan28Generator::new(&mut rng);
        let z = Tensor::constant(NdArray::rand_normal(&[4, 100], 0.0, 1.0, &mut rng));
        g.eval();
        let _ = g.forward(&z);
        let count = |g: &Dcgan28Generator| g.named_buffers()[2].1.data().item();
        assert_eq!(count(&g), 0.0);
        g.train();
        let y = g.forward(&z);
        assert_eq!(count(&g), 1.0);
        assert_eq!(y.shape(), &[4, 1, 28, 28]);
    }
}
