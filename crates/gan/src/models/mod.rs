//! The reference models (docs/architecture.md, reference workloads) and the DCGAN family.
//!
//! | model | layers (`main.<i>`) | in -> out |
//! |---|---|---|
//! | [`Dcgan28Generator`] | Linear, BN1d, LReLU, Reshape, 3 x (ConvT, BN2d, LReLU) minus the last BN/LReLU, Tanh | `[N, 100]` -> `[N, 1, 28, 28]` |
//! | [`Dcgan28Discriminator`] | 2 x (Conv, LReLU, Dropout), Flatten, Linear | `[N, 1, 28, 28]` -> `[N, 1]` |
//! | [`Mlp`] | Linear, activation, ..., Linear (optional Tanh) | `[N, in]` -> `[N, out]` |
//! | [`DcganGenerator`] ([`Dcgan`]) | Linear, BN1d, ReLU, Reshape, (ConvT, BN2d, ReLU)*, ConvT, Tanh | `[N, latent]` -> `[N, C, S, S]`, S = 28 or 16-256 (powers of two) |
//! | [`DcganDiscriminator`] ([`Dcgan`]) | (Conv, LReLU)*, Flatten, Linear; heads `aux`, `embed` | `[N, C, S, S]` -> `[N/pack, 1]` |
//! | [`UnetGenerator`] (pix2pix) | nested levels `model.model.*`: (LReLU, Conv, Norm, level, ReLU, ConvT, Norm) with skips | `[N, C, S, S]` -> `[N, C', S, S]`, S a multiple of 2^depth |
//! | [`ResnetGenerator`] (CycleGAN) | ReflPad, Conv7, Norm, ReLU, 2 x (Conv s2, Norm, ReLU), [`ResidualBlock`]*, 2 x (ConvT s2, Norm, ReLU), ReflPad, Conv7, Tanh | `[N, C, H, W]` -> `[N, C', H, W]`, H, W multiples of 4 |
//! | [`PatchDiscriminator`] (pix2pix) | Conv, LReLU, (Conv, Norm, LReLU)*, Conv s1, Norm, LReLU, Conv s1 | `[N, C, H, W]` -> `[N, 1, h, w]` patch logits |
//! | [`SrResnetGenerator`] (SRGAN) | `head` Conv3, ReLU; `body` [`ResidualBlock`]*, Conv3 (added back); `upsample` (Conv3, PixelShuffle(2), ReLU)*; `tail` Conv3; + bicubic skip | `[N, C, H, W]` -> `[N, C, sH, sW]` |
//!
//! Every noise-to-image model implements [`Generator`](crate::Generator) or
//! [`Discriminator`](crate::Discriminator) (the [`Mlp`] both); the image-to-image networks
//! are plain modules, driven by the image-to-image tasks (`crate::tasks`).
//!
//! Layers are initialised as PyTorch initialises them by default (uniform on
//! `±1/sqrt(fan_in)` for weights and biases; BatchNorm scale 1, shift 0; embeddings
//! N(0, 1)), from the RNG the caller passes, so one seed gives one model.

mod conditional;
mod dcgan;
mod dcgan28;
mod image_to_image;
mod mlp;
mod super_resolution;

pub use conditional::Conditioning;
pub use dcgan::{Dcgan, DcganDiscriminator, DcganGenerator, Upsampling};
pub use dcgan28::{Dcgan28Discriminator, Dcgan28Generator};
pub use image_to_image::{
    ImageNorm, PatchDiscriminator, ResidualBlock, ResnetGenerator, UnetGenerator,
};
pub use mlp::{Activation, Mlp};
pub use super_resolution::SrResnetGenerator;
