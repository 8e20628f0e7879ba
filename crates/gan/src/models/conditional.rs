//! How conditional models take class labels.
//!
//! - **Generator**: a label embedding `Embedding(num_classes, latent_dim)` (named `embed`)
//!   multiplied elementwise with the noise, `h = z ⊙ embed(y)`, before the first layer (as
//!   PyTorch-GAN's cGAN and AC-GAN). Multiplying keeps the first layer's input size equal
//!   to the latent size, so a conditional and an unconditional generator share every
//!   layer shape, and it gives each class its own scaling of the latent space.
//! - **Discriminator**: [`Conditioning::Projection`] (Miyato & Koyama 2018, the default) or
//!   [`Conditioning::Concat`] (the label as an extra input channel, Mirza & Osindero
//!   2014).

use agon_tensor::Indices;

/// How a conditional discriminator takes labels.
///
/// ```
/// use agon_gan::{Conditioning, Dcgan};
/// let cfg = Dcgan { num_classes: Some(10), conditioning: Conditioning::Concat, ..Dcgan::new(28, 1) };
/// assert_eq!(cfg.conditioning, Conditioning::Concat);
/// assert_eq!(Dcgan::new(28, 1).conditioning, Conditioning::Projection);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Conditioning {
    /// Projection discriminator: `D(x, y) = ψ(h) + ⟨embed(y), h⟩` with `h` the features
    /// before the final linear layer ψ, `embed` an `Embedding(num_classes, features)`.
    #[default]
    Projection,
    /// Concatenation: `embed(y)` (an `Embedding(num_classes, H·W)`) viewed as one
    /// `H x W` map and stacked onto the image as an extra channel.
    Concat,
}

/// The labels a conditional model needs, checked against the batch size `n`.
///
/// # Panics
/// If `labels` is `None` or not of shape `[n]`.
#[track_caller]
pub(crate) fn require_labels<'a>(
    model: &str,
    labels: Option<&'a Indices>,
    n: usize,
) -> &'a Indices {
    let labels = labels.unwrap_or_else(|| {
        panic!("{model}: this model is conditional; pass class labels [N] (got none)")
    });
    assert_eq!(
        labels.shape(),
        &[n],
        "{model}: labels have shape {:?}, expected [{n}] (one per sample)",
        labels.shape()
    );
    labels
}
