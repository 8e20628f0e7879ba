//! GAN losses on logits and critic outputs, each a 0-d [`Tensor`] (mean reduction).
//!
//! All are compositions of differentiable ops, so they can be differentiated twice (for
//! gradient penalties), and all are finite for any finite input: the logit losses go
//! through `softplus` / `log_softmax`, never through `log(sigmoid(x))`.
//!
//! ```
//! use agon_autodiff::Tensor;
//! use agon_nn::loss;
//! use agon_tensor::NdArray;
//! let d_real = Tensor::constant(NdArray::from_vec(vec![2.0, 0.5], &[2, 1]).unwrap());
//! let d_fake = Tensor::constant(NdArray::from_vec(vec![-1.0, 0.0], &[2, 1]).unwrap());
//! // Hinge: mean(relu(1 - real)) + mean(relu(1 + fake)) = 0.25 + 0.5
//! assert_eq!(loss::hinge_d(&d_real, &d_fake).item(), 0.75);
//! // Non-saturating generator loss: BCE of the fakes' logits against "real".
//! let g = loss::bce_with_logits(&d_fake, &d_fake.full_like(1.0));
//! assert!(g.item() > 0.0);
//! ```
//!
//! For other reductions use the methods these wrap: [`Tensor::bce_with_logits`],
//! [`Tensor::mse`], [`Tensor::cross_entropy`] with a [`Reduction`].

use agon_autodiff::{Reduction, Tensor};
use agon_tensor::Indices;

/// Binary cross-entropy on logits `x` against target probabilities `t`:
/// `mean(softplus(x) - x t)` (= `mean(-t log σ(x) - (1 - t) log(1 - σ(x)))`), gradient
/// `(σ(x) - t) / n`. The standard GAN loss: discriminator on real (`t = 1`) and fake
/// (`t = 0`) logits, non-saturating generator on fake logits with `t = 1`.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// let x = Tensor::constant(NdArray::from_vec(vec![0.0, 1e4], &[2]).unwrap());
/// let t = Tensor::constant(NdArray::from_vec(vec![1.0, 1.0], &[2]).unwrap());
/// let l = agon_nn::loss::bce_with_logits(&x, &t).item();
/// assert!((l - std::f32::consts::LN_2 / 2.0).abs() < 1e-6); // ln 2 and 0, averaged
/// ```
///
/// # Panics
/// If the shapes do not broadcast.
#[track_caller]
pub fn bce_with_logits(logits: &Tensor, target: &Tensor) -> Tensor {
    logits.bce_with_logits(target, Reduction::Mean)
}

/// Mean squared error `mean((x - t)²)` (LSGAN's loss; gradient `2 (x - t) / n`).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// let x = Tensor::constant(NdArray::from_vec(vec![1.0, 3.0], &[2]).unwrap());
/// let t = x.full_like(1.0);
/// assert_eq!(agon_nn::loss::mse(&x, &t).item(), 2.0);
/// ```
///
/// # Panics
/// If the shapes do not broadcast.
#[track_caller]
pub fn mse(x: &Tensor, target: &Tensor) -> Tensor {
    x.mse(target, Reduction::Mean)
}

/// Mean absolute error `mean(|x - t|)` (pix2pix's reconstruction term; gradient
/// `sign(x - t) / n`, 0 where `x = t`, as PyTorch).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// let x = Tensor::constant(NdArray::from_vec(vec![1.0, -3.0], &[2]).unwrap());
/// assert_eq!(agon_nn::loss::l1(&x, &x.full_like(0.0)).item(), 2.0);
/// ```
///
/// # Panics
/// If the shapes do not broadcast.
#[track_caller]
pub fn l1(x: &Tensor, target: &Tensor) -> Tensor {
    x.sub(target).abs().mean_all()
}

/// Hinge loss for the discriminator (SAGAN, BigGAN):
/// `mean(relu(1 - real)) + mean(relu(1 + fake))`, on raw critic outputs.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// let real = Tensor::constant(NdArray::from_vec(vec![2.0, 0.0], &[2]).unwrap());
/// let fake = Tensor::constant(NdArray::from_vec(vec![-2.0, 1.0], &[2]).unwrap());
/// assert_eq!(agon_nn::loss::hinge_d(&real, &fake).item(), 0.5 + 1.0);
/// ```
pub fn hinge_d(real: &Tensor, fake: &Tensor) -> Tensor {
    let real_term = real.neg().add_scalar(1.0).relu().mean_all();
    let fake_term = fake.add_scalar(1.0).relu().mean_all();
    real_term.add(&fake_term)
}

/// Hinge loss for the generator: `-mean(fake)`.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// let fake = Tensor::constant(NdArray::from_vec(vec![1.0, 2.0], &[2]).unwrap());
/// assert_eq!(agon_nn::loss::hinge_g(&fake).item(), -1.5);
/// ```
pub fn hinge_g(fake: &Tensor) -> Tensor {
    fake.mean_all().neg()
}

/// Wasserstein critic loss (WGAN, WGAN-GP without its penalty):
/// `mean(fake) - mean(real)`, minimised by the critic.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// let real = Tensor::constant(NdArray::from_vec(vec![3.0, 1.0], &[2]).unwrap());
/// let fake = Tensor::constant(NdArray::from_vec(vec![-1.0, 0.0], &[2]).unwrap());
/// assert_eq!(agon_nn::loss::wasserstein_d(&real, &fake).item(), -0.5 - 2.0);
/// ```
pub fn wasserstein_d(real: &Tensor, fake: &Tensor) -> Tensor {
    fake.mean_all().sub(&real.mean_all())
}

/// Wasserstein generator loss: `-mean(fake)`.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// let fake = Tensor::constant(NdArray::from_vec(vec![1.0, 2.0], &[2]).unwrap());
/// assert_eq!(agon_nn::loss::wasserstein_g(&fake).item(), -1.5);
/// ```
pub fn wasserstein_g(fake: &Tensor) -> Tensor {
    fake.mean_all().neg()
}

/// Cross-entropy of logits `[N, C]` against class indices `[N]`:
/// `mean_n(logsumexp(x_n) - x_n[t_n])` (conditional GANs' auxiliary classifier).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::{Indices, NdArray};
/// let x = Tensor::constant(NdArray::zeros(&[2, 4]));
/// let t = Indices::from_vec(vec![0, 3], &[2]);
/// let l = agon_nn::loss::cross_entropy(&x, &t).item();
/// assert!((l - 4f32.ln()).abs() < 1e-6);
/// ```
///
/// # Panics
/// If `logits` is not 2-D, `target` is not `[N]`, or a class is out of range.
#[track_caller]
pub fn cross_entropy(logits: &Tensor, target: &Indices) -> Tensor {
    logits.cross_entropy(target, Reduction::Mean)
}
