//! Matrix multiply, batched with broadcast batch dimensions.
//!
//! For C = A @ B (last two axes are matrices): dL/dA = G @ Bᵀ and dL/dB = Aᵀ @ G, each
//! summed over broadcast batch axes (`sum_to`). 1-D operands are lifted to matrices with
//! `reshape` first, so the rule only ever sees matrices and the lift differentiates itself.

use super::binary;
use crate::tensor::Tensor;

/// The last two axes swapped.
fn mt(t: &Tensor) -> Tensor {
    let n = t.ndim();
    t.transpose(n - 2, n - 1)
}

impl Tensor {
    /// `torch.matmul` semantics (1-D, 2-D and batched with broadcasting).
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_tensor::NdArray;
    /// let a = Tensor::param(NdArray::ones(&[2, 3]));
    /// let b = Tensor::constant(NdArray::ones(&[3, 4]));
    /// let g = a.matmul(&b).sum_all().backward();
    /// assert_eq!(g.get(&a).unwrap().data().to_vec(), vec![4.0; 6]);
    /// ```
    ///
    /// # Panics
    /// If the inner dimensions or batch shapes do not match.
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        match (self.ndim(), other.ndim()) {
            (1, 1) => self.unsqueeze(0).matmul(&other.unsqueeze(1)).reshape(&[]),
            (1, _) => {
                let r = self.unsqueeze(0).matmul(other);
                r.squeeze(r.ndim() - 2)
            }
            (_, 1) => {
                let r = self.matmul(&other.unsqueeze(1));
                r.squeeze(r.ndim() - 1)
            }
            _ => {
                let data = self.data().matmul(other.data());
                binary(
                    self,
                    other,
                    data,
                    "matmul",
                    |a, b, _, g| g.matmul(&mt(b)).sum_to(a.shape()),
                    |a, b, _, g| mt(a).matmul(g).sum_to(b.shape()),
                )
            }
        }
    }
}
