//! # agon-gan
//!
//! Generative adversarial networks on Agon: the two roles ([`Generator`],
//! [`Discriminator`]), models (the reference workloads' dcgan28 and mlp2d, see
//! docs/architecture.md; a configurable [`Dcgan`] family for 28-pixel and 16-256-pixel
//! images with conditional, packed, spectrally normalised and AC-GAN variants), the
//! adversarial losses ([`GanLoss`]), gradient penalties ([`gradient_penalty`],
//! [`r1_penalty`]), PacGAN packing ([`pack()`]), weight averaging ([`ema_update`]) and the
//! [`trainer`] with its run loop.
//!
//! | module | what |
//! |---|---|
//! | [`roles`] | the `Generator` / `Discriminator` traits the trainer drives |
//! | [`models`] | dcgan28, MLPs, the DCGAN family |
//! | [`loss`] | minimax, non-saturating, least squares, Wasserstein, hinge; AC-GAN's class loss |
//! | [`penalty`] | WGAN-GP and R1 through second derivatives |
//! | [`pack`](mod@pack) | PacGAN packing |
//! | [`ema`] | exponential moving average of generator weights |
//!
//! Every model is a [`Module`](agon_nn::Module) whose layers sit in an
//! [`agon_nn::Sequential`] named `main`, so its parameter and buffer names are those of the
//! PyTorch module
//!
//! ```python
//! class Model(nn.Module):
//!     def __init__(self):
//!         super().__init__()
//!         self.main = nn.Sequential(...)
//! ```
//!
//! (`main.0.weight`, `main.1.running_mean`, ...), and a PyTorch `state_dict` saved as
//! safetensors loads into them by name (and back).
//!
//! ```
//! use agon_autodiff::Tensor;
//! use agon_gan::{Dcgan28Discriminator, Dcgan28Generator};
//! use agon_nn::Module;
//! use agon_tensor::NdArray;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let g = Dcgan28Generator::new(&mut rng);
//! let d = Dcgan28Discriminator::new(&mut rng, 7);
//! let z = Tensor::constant(NdArray::rand_normal(&[4, 100], 0.0, 1.0, &mut rng));
//! let logits = d.forward(&g.forward(&z));
//! assert_eq!(logits.shape(), &[4, 1]);
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod applications;
pub mod ema;
pub mod latent;
pub mod loss;
pub mod models;
pub mod pack;
pub mod penalty;
pub mod replay;
pub mod roles;
pub mod tasks;
pub mod trainer;

pub use ema::{copy_weights, ema_update, recompute_batch_norm_stats};
pub use loss::{aux_class_loss, GanLoss, ParseGanLossError};
pub use models::{
    Activation, Conditioning, Dcgan, Dcgan28Discriminator, Dcgan28Generator, DcganDiscriminator,
    DcganGenerator, Mlp, Upsampling,
};
pub use pack::pack;
pub use penalty::{gradient_penalty, lazy_r1_weight, r1_penalty};
pub use replay::ReplayBuffer;
pub use roles::{Discriminator, Generator, Judgement};

/// The crate README's example, compiled and run as a doc test so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
