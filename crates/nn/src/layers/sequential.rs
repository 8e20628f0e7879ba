//! A chain of modules.

use agon_autodiff::Tensor;

use crate::module::Module;

/// Modules applied in order; children are named `"0"`, `"1"`, .. as in PyTorch.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Module, ReLU, Sequential, Tanh};
/// use agon_tensor::NdArray;
/// let net = Sequential::new().push(ReLU).push(Tanh);
/// let y = net.forward(&Tensor::constant(NdArray::from_vec(vec![-1.0, 1.0], &[2]).unwrap()));
/// assert_eq!(y.data().to_vec()[0], 0.0);
/// assert_eq!(net.len(), 2);
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// The chain with `layer` appended.
    pub fn push(mut self, layer: impl Module + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The `i`th layer.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|l| l.as_ref())
    }
}

impl Module for Sequential {
    /// Each layer in turn; a layer and the next run as one where
    /// [`Module::forward_fused`] offers a fused form.
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.clone();
        let mut i = 0;
        while i < self.layers.len() {
            if let Some(next) = self.layers.get(i + 1)
                && let Some(y) = self.layers[i].forward_fused(next.as_ref(), &h)
            {
                h = y;
                i += 2;
                continue;
            }
            h = self.layers[i].forward(&h);
            i += 1;
        }
        h
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.as_ref()))
            .collect()
    }
}
