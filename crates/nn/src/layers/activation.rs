//! Activation layers (no parameters).

use agon_autodiff::Tensor;
use agon_tensor::Rectifier;

use crate::module::Module;

/// `max(x, 0)`.
pub struct ReLU;

/// `x` above 0, `slope * x` below (DCGAN uses 0.2).
pub struct LeakyReLU(pub f32);

/// Hyperbolic tangent (a generator's last layer: images in [-1, 1]).
pub struct Tanh;

/// Logistic sigmoid.
pub struct Sigmoid;

impl Module for ReLU {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.relu()
    }

    fn as_rectifier(&self) -> Option<Rectifier> {
        Some(Rectifier::ReLU)
    }
}

impl Module for LeakyReLU {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.leaky_relu(self.0)
    }

    fn as_rectifier(&self) -> Option<Rectifier> {
        Some(Rectifier::LeakyReLU(self.0))
    }
}

impl Module for Tanh {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.tanh()
    }
}

impl Module for Sigmoid {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.sigmoid()
    }
}
