//! The adversarial losses: one enum, a discriminator side and a generator side.
//!
//! | [`GanLoss`] | discriminator minimises | generator minimises |
//! |---|---|---|
//! | `Minimax` (Goodfellow et al. 2014) | `BCE(D(x), 1) + BCE(D(G(z)), 0)` | `-BCE(D(G(z)), 0)` = `mean log(1 - σ(D(G(z))))` |
//! | `NonSaturating` | as minimax | `BCE(D(G(z)), 1)` = `-mean log σ(D(G(z)))` |
//! | `LeastSquares` (LSGAN, Mao et al. 2017) | `½ mean (D(x) - 1)² + ½ mean D(G(z))²` | `½ mean (D(G(z)) - 1)²` |
//! | `Wasserstein` (WGAN, Arjovsky et al. 2017) | `mean D(G(z)) - mean D(x)` | `-mean D(G(z))` |
//! | `Hinge` (Lim & Ye 2017; SAGAN, BigGAN) | `mean relu(1 - D(x)) + mean relu(1 + D(G(z)))` | `-mean D(G(z))` |
//!
//! `D(·)` is the discriminator's raw output (a logit, or a critic value for Wasserstein and
//! hinge); σ is the sigmoid. Every loss is a 0-d tensor built from differentiable ops
//! (through [`agon_nn::loss`]), finite for any finite input, and can be differentiated
//! twice.
//!
//! ```
//! use agon_autodiff::Tensor;
//! use agon_gan::GanLoss;
//! use agon_tensor::NdArray;
//!
//! let loss: GanLoss = "lsgan".parse().unwrap();
//! let real = Tensor::constant(NdArray::from_vec(vec![1.0, 0.0], &[2, 1]).unwrap());
//! let fake = Tensor::constant(NdArray::from_vec(vec![0.0, 2.0], &[2, 1]).unwrap());
//! // ½ mean([0, 1]) + ½ mean([0, 4]) = 0.25 + 1
//! assert_eq!(loss.d_loss(&real, &fake).item(), 1.25);
//! // ½ mean([1, 1])
//! assert_eq!(loss.g_loss(&fake).item(), 0.5);
//! assert_eq!(loss.name(), "lsgan");
//! ```

use std::fmt;
use std::str::FromStr;

use agon_autodiff::{no_grad, Tensor};
use agon_metrics::Classifier;
use agon_nn::loss;
use agon_tensor::Indices;

/// An adversarial loss: what the discriminator and the generator each minimise.
///
/// Parse one from its name with [`str::parse`] (see [`GanLoss::NAMES`]);
/// [`name`](GanLoss::name) gives the canonical name back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GanLoss {
    /// The original game: G minimises `log(1 - D(G(z)))`. Its gradient vanishes when D
    /// rejects the fakes confidently, which is why `NonSaturating` is the usual choice.
    Minimax,
    /// The original D loss with G maximising `log D(G(z))` instead (same fixed point,
    /// strong gradients early in training).
    NonSaturating,
    /// LSGAN: least squares against the targets 1 (real) and 0 (fake).
    LeastSquares,
    /// WGAN critic loss; pair it with a Lipschitz constraint (a gradient penalty or
    /// spectral norm).
    Wasserstein,
    /// Hinge loss on the critic's output.
    Hinge,
}

impl GanLoss {
    /// D's mean output on `logits` as the training log reports it (the `D(x)` and `D(G(z))`
    /// columns): the mean sigmoid probability for the losses on logits, the raw mean score
    /// for the critics (`Wasserstein`, `Hinge`), whose outputs are not logits. Detached.
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_gan::GanLoss;
    /// use agon_tensor::NdArray;
    /// let zero = Tensor::constant(NdArray::from_vec(vec![0.0, 0.0], &[2, 1]).unwrap());
    /// assert_eq!(GanLoss::NonSaturating.mean_score(&zero), 0.5);
    /// assert_eq!(GanLoss::Hinge.mean_score(&zero), 0.0);
    /// ```
    pub fn mean_score(self, logits: &Tensor) -> f32 {
        let shown = match self {
            GanLoss::Wasserstein | GanLoss::Hinge => logits.detach(),
            _ => logits.detach().sigmoid(),
        };
        shown.data().mean_all().item()
    }

    /// Every accepted name: the canonical `minimax`, `nonsaturating`, `lsgan`,
    /// `wasserstein`, `hinge` and the aliases `ns`, `least-squares`, `wgan` (parsing also
    /// ignores case and accepts `_` for `-`).
    pub const NAMES: [&'static str; 8] = [
        "minimax",
        "nonsaturating",
        "ns",
        "lsgan",
        "least-squares",
        "wasserstein",
        "wgan",
        "hinge",
    ];

    /// Every loss, in declaration order.
    pub const ALL: [GanLoss; 5] = [
        GanLoss::Minimax,
        GanLoss::NonSaturating,
        GanLoss::LeastSquares,
        GanLoss::Wasserstein,
        GanLoss::Hinge,
    ];

    /// The canonical name, which [`str::parse`] accepts back.
    ///
    /// ```
    /// use agon_gan::GanLoss;
    /// for loss in GanLoss::ALL {
    ///     assert_eq!(loss.name().parse::<GanLoss>().unwrap(), loss);
    /// }
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            GanLoss::Minimax => "minimax",
            GanLoss::NonSaturating => "nonsaturating",
            GanLoss::LeastSquares => "lsgan",
            GanLoss::Wasserstein => "wasserstein",
            GanLoss::Hinge => "hinge",
        }
    }

    /// The discriminator's (critic's) loss from its outputs on real and on generated
    /// samples (any shapes, usually `[N, 1]`; the two batches may differ in size).
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_gan::GanLoss;
    /// use agon_tensor::NdArray;
    /// let zeros = Tensor::constant(NdArray::zeros(&[4, 1]));
    /// // A discriminator that cannot tell: ln 2 on each side.
    /// let l = GanLoss::NonSaturating.d_loss(&zeros, &zeros).item();
    /// assert!((l - 2.0 * std::f32::consts::LN_2).abs() < 1e-6);
    /// ```
    pub fn d_loss(&self, real_logits: &Tensor, fake_logits: &Tensor) -> Tensor {
        match self {
            GanLoss::Minimax | GanLoss::NonSaturating => {
                let real = loss::bce_with_logits(real_logits, &real_logits.full_like(1.0));
                let fake = loss::bce_with_logits(fake_logits, &fake_logits.full_like(0.0));
                real.add(&fake)
            }
            GanLoss::LeastSquares => {
                let real = loss::mse(real_logits, &real_logits.full_like(1.0));
                let fake = loss::mse(fake_logits, &fake_logits.full_like(0.0));
                real.add(&fake).mul_scalar(0.5)
            }
            GanLoss::Wasserstein => loss::wasserstein_d(real_logits, fake_logits),
            GanLoss::Hinge => loss::hinge_d(real_logits, fake_logits),
        }
    }

    /// The generator's loss from the discriminator's outputs on generated samples.
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_gan::GanLoss;
    /// use agon_tensor::NdArray;
    /// let fake = Tensor::constant(NdArray::zeros(&[4, 1]));
    /// let ln2 = std::f32::consts::LN_2;
    /// assert!((GanLoss::Minimax.g_loss(&fake).item() + ln2).abs() < 1e-6); // log(1 - ½)
    /// assert!((GanLoss::NonSaturating.g_loss(&fake).item() - ln2).abs() < 1e-6); // -log ½
    /// ```
    pub fn g_loss(&self, fake_logits: &Tensor) -> Tensor {
        match self {
            GanLoss::Minimax => {
                loss::bce_with_logits(fake_logits, &fake_logits.full_like(0.0)).neg()
            }
            GanLoss::NonSaturating => {
                loss::bce_with_logits(fake_logits, &fake_logits.full_like(1.0))
            }
            GanLoss::LeastSquares => {
                loss::mse(fake_logits, &fake_logits.full_like(1.0)).mul_scalar(0.5)
            }
            GanLoss::Wasserstein => loss::wasserstein_g(fake_logits),
            GanLoss::Hinge => loss::hinge_g(fake_logits),
        }
    }
}

impl fmt::Display for GanLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`GanLoss`]; its message lists the valid names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseGanLossError {
    /// The name that was given.
    pub name: String,
}

impl fmt::Display for ParseGanLossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown GAN loss {:?}; valid names: minimax, nonsaturating (or ns), lsgan (or \
             least-squares), wasserstein (or wgan), hinge",
            self.name
        )
    }
}

impl std::error::Error for ParseGanLossError {}

impl FromStr for GanLoss {
    type Err = ParseGanLossError;

    /// Parses a loss name, ignoring ASCII case, surrounding spaces and `_` versus `-`.
    ///
    /// ```
    /// use agon_gan::GanLoss;
    /// assert_eq!("NS".parse::<GanLoss>().unwrap(), GanLoss::NonSaturating);
    /// assert_eq!("least_squares".parse::<GanLoss>().unwrap(), GanLoss::LeastSquares);
    /// let err = "wgan-gp".parse::<GanLoss>().unwrap_err().to_string();
    /// assert!(err.contains("\"wgan-gp\"") && err.contains("hinge"));
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        match key.as_str() {
            "minimax" => Ok(GanLoss::Minimax),
            "nonsaturating" | "non-saturating" | "ns" => Ok(GanLoss::NonSaturating),
            "lsgan" | "least-squares" => Ok(GanLoss::LeastSquares),
            "wasserstein" | "wgan" => Ok(GanLoss::Wasserstein),
            "hinge" => Ok(GanLoss::Hinge),
            _ => Err(ParseGanLossError {
                name: s.to_string(),
            }),
        }
    }
}

/// AC-GAN's auxiliary classification loss: cross-entropy of the discriminator's class
/// logits `[N, C]` against the labels `[N]` (mean over the batch). In AC-GAN both players
/// add it: D on real and fake samples (with their labels), G on its fakes.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::aux_class_loss;
/// use agon_tensor::{Indices, NdArray};
/// let logits = Tensor::constant(NdArray::zeros(&[2, 10]));
/// let l = aux_class_loss(&logits, &Indices::from_vec(vec![3, 7], &[2])).item();
/// assert!((l - 10f32.ln()).abs() < 1e-6); // a uniform guess over 10 classes
/// ```
///
/// # Panics
/// If `class_logits` is not 2-D, `labels` is not `[N]`, or a label is out of range.
#[track_caller]
pub fn aux_class_loss(class_logits: &Tensor, labels: &Indices) -> Tensor {
    loss::cross_entropy(class_logits, labels)
}

/// The feature ("perceptual") loss of the image-to-image tasks
/// (`translate.perceptual_weight`): the mean squared difference between the feature
/// classifier's penultimate activations ([`Classifier::features`], `[N, 128]`, after the
/// ReLU) of the generated images and of the real ones, `mean((phi(fake) - phi(target))^2)`.
/// The target side is computed without a graph: the gradient flows to `fake` only (and to
/// nothing in `phi` that the caller does not ask for). `tests/superres_perceptual_interop.rs`
/// checks it against PyTorch.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::loss::perceptual_loss;
/// use agon_metrics::Classifier;
/// use agon_tensor::NdArray;
/// let phi = Classifier::new(10, 0);
/// let real = Tensor::constant(NdArray::full(&[2, 1, 28, 28], 0.5));
/// assert_eq!(perceptual_loss(&phi, &real, &real).item(), 0.0);
/// let fake = Tensor::param(NdArray::zeros(&[2, 1, 28, 28]));
/// let l = perceptual_loss(&phi, &fake, &real);
/// assert!(l.item() > 0.0 && l.backward().get(&fake).is_some());
/// ```
///
/// # Panics
/// If either batch is not images of the classifier's input shape, or the two batch sizes
/// do not broadcast (equal, or one of them 1).
#[track_caller]
pub fn perceptual_loss(phi: &Classifier, fake: &Tensor, target: &Tensor) -> Tensor {
    let theirs = no_grad(|| phi.features(target));
    loss::mse(&phi.features(fake), &theirs)
}
