//! # agon-nn
//!
//! Layers, initialisers, optimisers, losses and checkpoints for Agon, with PyTorch's names
//! and layouts so weights move between the two through safetensors files.
//!
//! ```
//! use agon_autodiff::Tensor;
//! use agon_nn::{Conv2d, Flatten, LeakyReLU, Linear, Module, Sequential};
//! use agon_tensor::{Conv2dParams, NdArray};
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let d = Sequential::new()
//!     .push(Conv2d::new(1, 8, 5, Conv2dParams::new().stride(2).padding(2), true, &mut rng))
//!     .push(LeakyReLU(0.2))
//!     .push(Flatten)
//!     .push(Linear::new(8 * 14 * 14, 1, true, &mut rng));
//! let logits = d.forward(&Tensor::constant(NdArray::zeros(&[4, 1, 28, 28])));
//! assert_eq!(logits.shape(), &[4, 1]);
//! assert_eq!(d.named_parameters()[0].0, "0.weight");
//! ```
//!
//! Parameters are [`Param`] handles shared by the module and the optimiser: a forward pass
//! reads the current leaf tensor, gradients are keyed by it, and an optimiser step installs
//! a new leaf. Modules hold no gradients.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod init;
mod layers;
pub mod loss;
mod module;
pub mod optim;
mod param;

pub use layers::{
    BatchNorm, BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Embedding, Flatten,
    InstanceNorm2d, LayerNorm, LeakyReLU, Linear, PixelShuffle, ReLU, ReflectionPad2d, Reshape,
    Sequential, Sigmoid, SpectralNorm, Tanh, Upsample, WeightedLayer,
};
pub use module::Module;
pub use param::{Buffer, BufferKind, Param};

/// The crate README's example, compiled and run as a doc test so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
