//! Layers that only move or resize data.

use agon_autodiff::Tensor;

use crate::module::Module;

/// Merges every axis from 1 on: `[N, ...] -> [N, prod(...)]` (PyTorch's `nn.Flatten()`).
pub struct Flatten;

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Tensor {
        if x.ndim() <= 2 {
            return x.clone();
        }
        x.flatten(1, x.ndim() - 1)
    }
}

/// Views each sample with a new shape, keeping the batch axis: `[N, ...] -> [N, shape..]`
/// (dcgan28's `view(-1, 256, 7, 7)`).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Module, Reshape};
/// use agon_tensor::NdArray;
/// let y = Reshape(vec![256, 7, 7]).forward(&Tensor::constant(NdArray::zeros(&[4, 12544])));
/// assert_eq!(y.shape(), &[4, 256, 7, 7]);
/// ```
pub struct Reshape(pub Vec<usize>);

impl Module for Reshape {
    /// # Panics
    /// If a sample does not have the target number of elements.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut shape = vec![x.shape()[0]];
        shape.extend_from_slice(&self.0);
        x.reshape(&shape)
    }
}

/// Nearest-neighbour upsampling by an integer factor on both spatial axes.
pub struct Upsample(pub usize);

impl Module for Upsample {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.upsample_nearest2d([self.0, self.0])
    }
}
