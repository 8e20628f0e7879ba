//! The reference models of the design guide, section 6.
//!
//! | model | layers (`main.<i>`) | in -> out |
//! |---|---|---|
//! | [`Dcgan28Generator`] | Linear, BN1d, LReLU, Reshape, 3 x (ConvT, BN2d, LReLU) minus the last BN/LReLU, Tanh | `[N, 100]` -> `[N, 1, 28, 28]` |
//! | [`Dcgan28Discriminator`] | 2 x (Conv, LReLU, Dropout), Flatten, Linear | `[N, 1, 28, 28]` -> `[N, 1]` |
//! | [`Mlp`] | Linear, activation, ..., Linear | `[N, in]` -> `[N, out]` |
//!
//! Layers are initialised as PyTorch initialises them by default (uniform on
//! `±1/sqrt(fan_in)` for weights and biases; BatchNorm scale 1, shift 0), from the RNG the
//! caller passes, so one seed gives one model.

mod dcgan28;
mod mlp;

pub use dcgan28::{Dcgan28Discriminator, Dcgan28Generator};
pub use mlp::{Activation, Mlp};
