//! Embedding table (label embeddings for conditional models).

use agon_autodiff::Tensor;
use agon_tensor::Indices;
use rand::Rng;

use crate::init;
use crate::module::Module;
use crate::param::Param;

/// A table of `num_embeddings` vectors of size `dim` (weight `[num, dim]`, initialised
/// N(0, 1) as PyTorch). [`lookup`](Embedding::lookup) takes indices; `forward` takes a
/// tensor of whole numbers (class labels stored as f32).
///
/// ```
/// use agon_nn::Embedding;
/// use agon_tensor::Indices;
/// use rand::SeedableRng;
/// let e = Embedding::new(10, 4, &mut rand::rngs::StdRng::seed_from_u64(0));
/// let v = e.lookup(&Indices::from_vec(vec![3, 3, 7], &[3]));
/// assert_eq!(v.shape(), &[3, 4]);
/// ```
pub struct Embedding {
    /// `[num_embeddings, dim]`.
    pub weight: Param,
}

impl Embedding {
    /// A table initialised from N(0, 1).
    pub fn new<R: Rng + ?Sized>(num_embeddings: usize, dim: usize, rng: &mut R) -> Self {
        Embedding {
            weight: Param::new(init::normal(&[num_embeddings, dim], 0.0, 1.0, rng)),
        }
    }

    /// Rows of the table at `index` (any shape); the result has shape `index.shape() + [dim]`.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn lookup(&self, index: &Indices) -> Tensor {
        let flat = index.reshape(&[index.len()]);
        let rows = self.weight.tensor().index_select(0, &flat);
        let mut shape = index.shape().to_vec();
        shape.push(rows.shape()[1]);
        rows.reshape(&shape)
    }
}

impl Module for Embedding {
    /// # Panics
    /// If an element of `x` is not a whole number in range.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let ids = x
            .data()
            .to_vec()
            .iter()
            .map(|&v| {
                assert!(
                    v >= 0.0 && v.fract() == 0.0,
                    "Embedding: index {v} is not a non-negative whole number"
                );
                v as usize
            })
            .collect();
        self.lookup(&Indices::from_vec(ids, x.shape()))
    }

    fn params(&self) -> Vec<(String, Param)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}
