//! The two roles of a GAN, as traits the trainer drives.
//!
//! A generator maps noise (and, for conditional models, class labels) to samples; a
//! discriminator maps samples (and labels) to logits. Both are [`Module`]s, so they have
//! named parameters, train/eval modes and checkpoints. Unconditional models ignore labels.

use agon_autodiff::Tensor;
use agon_nn::Module;
use agon_tensor::{Indices, NdArray};

/// Noise (and labels) to samples.
pub trait Generator: Module {
    /// Length of the noise vector `z`.
    fn latent_dim(&self) -> usize;

    /// Number of classes for a conditional generator, `None` for an unconditional one.
    fn num_classes(&self) -> Option<usize> {
        None
    }

    /// Samples from noise `z` `[N, latent_dim]` and, when conditional, labels `[N]`.
    ///
    /// # Panics
    /// If a conditional generator gets no labels.
    fn generate(&self, z: &Tensor, labels: Option<&Indices>) -> Tensor;

    /// Samples from noise `z` `[N, latent_dim]` and soft class weights `mix`
    /// `[N, classes]` (each row a blend of classes, summing to 1): the class-to-class walks
    /// of `agon interpolate`. One-hot rows give exactly [`generate`](Self::generate)'s
    /// samples. `None` for a generator that takes no labels, or takes them in a way that
    /// does not blend.
    fn generate_blended(&self, z: &Tensor, mix: &NdArray) -> Option<Tensor> {
        let _ = (z, mix);
        None
    }

    /// The activations of the generator's first block for noise `z` (and labels), flattened
    /// to `[N, features]`: where GANSpace looks for the principal directions of variation.
    /// `None` for a generator that does not expose them.
    fn early_activations(&self, z: &Tensor, labels: Option<&Indices>) -> Option<Tensor> {
        let _ = (z, labels);
        None
    }
}

/// What a discriminator says about a batch.
pub struct Judgement {
    /// Real-vs-fake logits (or critic values) `[N, 1]` (`[N/m, 1]` when packing m).
    pub logits: Tensor,
    /// Class logits `[N, classes]` from an auxiliary classifier head (AC-GAN), if any.
    pub class_logits: Option<Tensor>,
}

/// Samples (and labels) to logits.
pub trait Discriminator: Module {
    /// Number of classes for a conditional or auxiliary-classifier discriminator.
    fn num_classes(&self) -> Option<usize> {
        None
    }

    /// How many samples it judges at once (PacGAN packing; 1 otherwise).
    fn pack(&self) -> usize {
        1
    }

    /// Judges samples `x` (and labels, for a conditional discriminator).
    fn judge(&self, x: &Tensor, labels: Option<&Indices>) -> Judgement;

    /// The activations before the last layer for samples `x`, flattened to
    /// `[N, features]`: the discriminator's feature space, where `agon neighbours` can
    /// retrieve images. `None` for a discriminator whose features need labels, that packs
    /// samples, or that does not expose them.
    fn feature_vectors(&self, x: &Tensor) -> Option<Tensor> {
        let _ = x;
        None
    }
}
