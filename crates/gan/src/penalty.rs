//! Gradient penalties on the discriminator: WGAN-GP (Gulrajani et al. 2017) and R1
//! (Mescheder et al. 2018), built on [`agon_autodiff::grad`] with `create_graph = true`.
//!
//! Both take the gradient of the discriminator's output with respect to its *input*, keep
//! the graph of that gradient, and return a 0-d tensor whose backward pass reaches the
//! discriminator's parameters through second derivatives: add it to the discriminator's
//! loss and call `backward` once.
//!
//! ```
//! use agon_autodiff::Tensor;
//! use agon_gan::{gradient_penalty, r1_penalty, Discriminator, GanLoss, Mlp};
//! use agon_nn::Module;
//! use agon_tensor::NdArray;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let d = Mlp::mlp2d_discriminator(&mut rng);
//! let real = Tensor::constant(NdArray::rand_normal(&[8, 2], 0.0, 1.0, &mut rng));
//! let fake = Tensor::constant(NdArray::rand_normal(&[8, 2], 0.0, 1.0, &mut rng));
//!
//! // WGAN-GP critic loss, lambda = 10.
//! let loss = GanLoss::Wasserstein.d_loss(&d.judge(&real, None).logits, &d.judge(&fake, None).logits);
//! let gp = gradient_penalty(&d, &real, &fake, None, &mut rng);
//! let total = loss.add(&gp.mul_scalar(10.0));
//! let grads = total.backward();
//! assert!(d.parameters().iter().all(|p| grads.get(&p.tensor()).is_some()));
//!
//! // R1 is a non-negative scalar too.
//! assert!(r1_penalty(&d, &real, None).item() >= 0.0);
//! ```
//!
//! # The discriminator must judge samples independently
//! Both penalties differentiate `sum(D(x))` once and read per-sample gradients off the
//! result. That is right only when each output depends on its own (packed) sample: no
//! BatchNorm in training mode in the discriminator (the WGAN-GP paper drops it for this
//! reason; use layer norm or none). Spectral norm is fine; in training mode its power
//! iteration takes one more step during the penalty's forward pass, as in PyTorch.
//!
//! # Packing (PacGAN)
//! A discriminator with [`pack`](Discriminator::pack) `m > 1` judges groups of `m`
//! consecutive samples as one packed sample. Its Lipschitz constraint concerns the packed
//! input, so the penalties measure the gradient per *packed* sample: the norm over the
//! `m` members' gradients together, and WGAN-GP draws one ε per packed sample (the
//! interpolate lies on the segment between a packed real and a packed fake sample). With
//! `m = 1` this is the usual per-sample penalty.

use agon_autodiff::{grad, Tensor};
use agon_tensor::{Indices, NdArray};
use rand::Rng;

use crate::roles::Discriminator;

/// Added to each squared gradient norm before the square root in [`gradient_penalty`]:
/// `sqrt` has an infinite derivative at 0, so a sample whose gradient vanishes exactly
/// (a dead ReLU region, a zero-initialised critic) would turn the penalty's gradient into
/// NaN. `1e-12` moves the norm by at most `1e-6` and keeps the derivative finite.
pub const NORM_EPS: f32 = 1e-12;

/// The WGAN-GP penalty `mean_i (‖∇ D(x̂_i)‖₂ - 1)²` on random interpolates
/// `x̂_i = ε_i x_i + (1 - ε_i) x̃_i` between real samples `x` and generated samples `x̃`,
/// with `ε_i ~ U[0, 1)` drawn from `rng` (one per packed sample, see the module docs).
///
/// The interpolates form a fresh leaf built from the values of `real` and `fake`: no
/// gradient flows into the generator through them, while the discriminator's parameters
/// stay in the graph, so `penalty.backward()` gives their second-order gradients. The
/// norm is `sqrt(‖g‖² + 1e-12)` ([`NORM_EPS`]) to keep the derivative finite where the
/// gradient vanishes. Multiply by λ (10 in the paper) and add it to the critic's loss.
///
/// `labels` go to the discriminator unchanged: for a conditional model pass the labels
/// the real and generated batches share (generate the fakes from the real labels).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::{gradient_penalty, Mlp};
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// let d = Mlp::mlp2d_discriminator(&mut rng);
/// let x = Tensor::constant(NdArray::rand_normal(&[16, 2], 0.0, 1.0, &mut rng));
/// let gp = gradient_penalty(&d, &x, &x.mul_scalar(2.0), None, &mut rng);
/// assert_eq!(gp.shape(), &[] as &[usize]);
/// assert!(gp.requires_grad());
/// ```
///
/// # Panics
/// If `real` and `fake` differ in shape, are empty or 0-d, if the batch is not a multiple
/// of the discriminator's packing, or if the discriminator's output does not depend on its
/// input.
#[track_caller]
pub fn gradient_penalty<R: Rng + ?Sized>(
    d: &dyn Discriminator,
    real: &Tensor,
    fake: &Tensor,
    labels: Option<&Indices>,
    rng: &mut R,
) -> Tensor {
    assert_eq!(
        real.shape(),
        fake.shape(),
        "gradient_penalty: real batch has shape {:?} but fake batch has {:?}; they must \
         match to be interpolated",
        real.shape(),
        fake.shape()
    );
    let groups = packed_groups("gradient_penalty", real, d.pack());
    let n = real.shape()[0];
    let m = n / groups;
    // One ε per packed sample, repeated over its m members, shaped [N, 1, 1, ...].
    let eps_groups = NdArray::rand_uniform(&[groups], 0.0, 1.0, rng).to_vec();
    let eps: Vec<f32> = (0..n).map(|i| eps_groups[i / m]).collect();
    let mut eps_shape = vec![1; real.ndim()];
    eps_shape[0] = n;
    let eps = NdArray::from_vec(eps, &eps_shape).expect("shape matches length");
    let one_minus = eps.neg().add_scalar(1.0);
    let x_hat = Tensor::param(real.data().mul(&eps).add(&fake.data().mul(&one_minus)));

    let g = input_gradient("gradient_penalty", d, &x_hat, labels);
    let per_group = g.numel() / groups;
    g.reshape(&[groups, per_group])
        .square()
        .sum(&[1], false)
        .add_scalar(NORM_EPS)
        .sqrt()
        .sub_scalar(1.0)
        .square()
        .mean_all()
}

/// The R1 penalty `mean_i ‖∇ₓ D(x_i)‖₂²` on real samples (per packed sample, see the
/// module docs), with the graph kept so it trains the discriminator.
///
/// The caller weighs it: the R1 regulariser is `γ/2 · r1`. Applied *lazily*, as
/// StyleGAN2 does, it is computed only every `k` discriminator steps and weighted by
/// `k · γ/2` there, so on average it acts with weight `γ/2` at a `k`-th of the cost
/// ([`lazy_r1_weight`] gives that weight).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::{r1_penalty, Mlp};
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(2);
/// let d = Mlp::mlp2d_discriminator(&mut rng);
/// let real = Tensor::constant(NdArray::rand_normal(&[16, 2], 0.0, 1.0, &mut rng));
/// let r1 = r1_penalty(&d, &real, None);
/// assert!(r1.item() > 0.0 && r1.requires_grad());
/// ```
///
/// # Panics
/// If `real` is empty or 0-d, its batch is not a multiple of the discriminator's packing,
/// or the discriminator's output does not depend on its input.
#[track_caller]
pub fn r1_penalty(d: &dyn Discriminator, real: &Tensor, labels: Option<&Indices>) -> Tensor {
    let groups = packed_groups("r1_penalty", real, d.pack());
    let x = Tensor::param(real.data().clone());
    let g = input_gradient("r1_penalty", d, &x, labels);
    g.square().sum_all().div_scalar(groups as f32)
}

/// The weight of a lazily applied R1 term at discriminator step `step` (counting from
/// 0): `Some(every · γ/2)` on every `every`-th step, `None` (skip the penalty) otherwise.
///
/// ```
/// use agon_gan::lazy_r1_weight;
/// assert_eq!(lazy_r1_weight(10.0, 16, 0), Some(80.0));
/// assert_eq!(lazy_r1_weight(10.0, 16, 5), None);
/// assert_eq!(lazy_r1_weight(10.0, 1, 5), Some(5.0)); // every step: plain γ/2
/// ```
///
/// # Panics
/// If `every` is 0.
#[track_caller]
pub fn lazy_r1_weight(gamma: f32, every: usize, step: usize) -> Option<f32> {
    assert!(every > 0, "lazy_r1_weight: `every` must be at least 1");
    step.is_multiple_of(every)
        .then_some(gamma * 0.5 * every as f32)
}

/// Number of packed samples in `x`'s batch, after checking the batch divides into them.
#[track_caller]
fn packed_groups(op: &str, x: &Tensor, m: usize) -> usize {
    assert!(
        x.ndim() >= 1 && x.numel() > 0,
        "{op}: need a non-empty batch [N, ...], got shape {:?}",
        x.shape()
    );
    let n = x.shape()[0];
    assert!(
        m > 0 && n.is_multiple_of(m),
        "{op}: batch of {n} samples is not a multiple of the discriminator's packing {m}"
    );
    n / m
}

/// `∇ₓ sum(D(x))`, with its graph.
#[track_caller]
fn input_gradient(op: &str, d: &dyn Discriminator, x: &Tensor, labels: Option<&Indices>) -> Tensor {
    let logits = d.judge(x, labels).logits;
    grad(&[&logits.sum_all()], &[x], None, true)
        .pop()
        .flatten()
        .unwrap_or_else(|| panic!("{op}: the discriminator's output does not depend on its input"))
}
