//! Layers, one family per file, with PyTorch's parameter names and weight layouts.

mod activation;
mod conv;
mod dropout;
mod embedding;
mod image_to_image;
mod linear;
mod norm;
mod sequential;
mod shape;
mod spectral_norm;

pub use activation::{LeakyReLU, ReLU, Sigmoid, Tanh};
pub use conv::{Conv2d, ConvTranspose2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use image_to_image::{InstanceNorm2d, PixelShuffle, ReflectionPad2d};
pub use linear::Linear;
pub use norm::{BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm};
pub use sequential::Sequential;
pub use shape::{Flatten, Reshape, Upsample};
pub use spectral_norm::SpectralNorm;

use agon_autodiff::Tensor;

use crate::module::Module;
use crate::param::Param;

/// A layer whose computation is driven by one weight, which [`SpectralNorm`] can replace
/// by a normalised version at forward time.
pub trait WeightedLayer: Module {
    /// The weight parameter.
    fn weight(&self) -> &Param;
    /// The forward pass with `weight` in place of the stored weight.
    fn forward_with_weight(&self, x: &Tensor, weight: &Tensor) -> Tensor;
    /// The parameters other than the weight (the bias), with local names.
    fn other_params(&self) -> Vec<(String, Param)>;
    /// The weight axis that indexes output features, which spectral norm keeps as matrix
    /// rows: 0 for Linear and Conv2d, 1 for ConvTranspose2d (as PyTorch).
    fn output_axis(&self) -> usize {
        0
    }
}

/// `weight` followed by the layer's other parameters: `params()` of a weighted layer.
pub(crate) fn weight_and_others(layer: &impl WeightedLayer) -> Vec<(String, Param)> {
    let mut p = vec![("weight".to_string(), layer.weight().clone())];
    p.extend(layer.other_params());
    p
}
