//! Fully connected layer.

use agon_autodiff::Tensor;
use rand::Rng;

use super::{weight_and_others, WeightedLayer};
use crate::init;
use crate::module::Module;
use crate::param::Param;

/// `y = x Wᵀ + b`, weight `[out, in]` and bias `[out]` (PyTorch's layout and default init).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Linear, Module};
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let layer = Linear::new(3, 2, true, &mut rand::rngs::StdRng::seed_from_u64(0));
/// let y = layer.forward(&Tensor::constant(NdArray::ones(&[5, 3])));
/// assert_eq!(y.shape(), &[5, 2]);
/// ```
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Param,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Param>,
}

impl Linear {
    /// A layer with PyTorch's default initialisation (uniform on ±1/sqrt(in_features)).
    pub fn new<R: Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        bias: bool,
        rng: &mut R,
    ) -> Self {
        let weight = Param::new(init::pytorch_default_weight(
            &[out_features, in_features],
            rng,
        ));
        let bias =
            bias.then(|| Param::new(init::pytorch_default_bias(out_features, in_features, rng)));
        Linear { weight, bias }
    }
}

impl WeightedLayer for Linear {
    fn weight(&self) -> &Param {
        &self.weight
    }

    fn forward_with_weight(&self, x: &Tensor, weight: &Tensor) -> Tensor {
        let bias = self.bias.as_ref().map(|b| b.tensor());
        x.linear(weight, bias.as_ref())
    }

    fn other_params(&self) -> Vec<(String, Param)> {
        self.bias
            .iter()
            .map(|b| ("bias".to_string(), b.clone()))
            .collect()
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_weight(x, &self.weight.tensor())
    }

    fn params(&self) -> Vec<(String, Param)> {
        weight_and_others(self)
    }
}
