//! # agon-gan
//!
//! Generative adversarial networks on Agon. For now this crate holds the reference models
//! of the design guide (section 6); the losses, gradient penalties and the trainer will
//! join them here.
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

pub mod models;

pub use models::{Activation, Dcgan28Discriminator, Dcgan28Generator, Mlp};

/// The crate README's example, compiled and run as a doc test so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
