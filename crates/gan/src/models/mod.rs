//! The reference models (docs/architecture.md, reference workloads) and the DCGAN family.
//!
//! | model | layers (`main.<i>`) | in -> out |
//! |---|---|---|
//! | [`Dcgan28Generator`] | Linear, BN1d, LReLU, Reshape, 3 x (ConvT, BN2d, LReLU) minus the last BN/LReLU, Tanh | `[N, 100]` -> `[N, 1, 28, 28]` |
//! | [`Dcgan28Discriminator`] | 2 x (Conv, LReLU, Dropout), Flatten, Linear | `[N, 1, 28, 28]` -> `[N, 1]` |
//! | [`Mlp`] | Linear, activation, ..., Linear (optional Tanh) | `[N, in]` -> `[N, out]` |
//! | [`DcganGenerator`] ([`Dcgan`]) | Linear, BN1d, ReLU, Reshape, (ConvT, BN2d, ReLU)*, ConvT, Tanh | `[N, latent]` -> `[N, C, S, S]`, S = 28 or 16-256 (powers of two) |
//! | [`DcganDiscriminator`] ([`Dcgan`]) | (Conv, LReLU)*, Flatten, Linear; heads `aux`, `embed` | `[N, C, S, S]` -> `[N/pack, 1]` |
//!
//! Every model implements [`Generator`](crate::Generator) or
//! [`Discriminator`](crate::Discriminator) (the [`Mlp`] both).
//!
//! Layers are initialised as PyTorch initialises them by default (uniform on
//! `±1/sqrt(fan_in)` for weights and biases; BatchNorm scale 1, shift 0; embeddings
//! N(0, 1)), from the RNG the caller passes, so one seed gives one model.

mod conditional;
mod dcgan;
mod dcgan28;
mod mlp;

pub use conditional::Conditioning;
pub use dcgan::{Dcgan, DcganDiscriminator, DcganGenerator, Upsampling};
pub use dcgan28::{Dcgan28Discriminator, Dcgan28Generator};
pub use mlp::{Activation, Mlp};
