//! Matrix multiply, batched with broadcast batch dimensions.
//!
//! For C = A @ B (last two axes are matrices): dL/dA = G @ Bᵀ and dL/dB = Aᵀ @ G, each
//! summed over broadcast batch axes (`sum_to`). 1-D operands are lifted to matrices with
//! `reshape` first, so the rule only ever sees matrices and the lift differentiates itself.

use super::{binary, record};
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

    /// A linear layer, `self @ weight^T + bias` (`torch.nn.functional.linear`): `self`
    /// `[.., in]`, `weight` `[out, in]`, `bias` `[out]`. One op where `matmul` then `add`
    /// were two: the bias goes in with the GEMM's epilogue. The values are the two ops'
    /// bits, and so are the gradients of a 2-D input; with more leading axes `dW` is one
    /// product over all rows, where `matmul`'s rule summed one per batch item.
    ///
    /// Backward, with `G = dL/dy` and the leading axes of `x` and `G` flattened into rows:
    /// `dx = G @ W`, `dW = G^T @ x`, `db = sum over rows of G`; each is made of ops that
    /// record themselves, so the gradients are differentiable again.
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_tensor::NdArray;
    /// let x = Tensor::constant(NdArray::ones(&[4, 3]));
    /// let w = Tensor::param(NdArray::ones(&[2, 3]));
    /// let b = Tensor::param(NdArray::zeros(&[2]));
    /// let grads = x.linear(&w, Some(&b)).sum_all().backward();
    /// assert_eq!(grads.get(&w).unwrap().data().to_vec(), vec![4.0; 6]);
    /// assert_eq!(grads.get(&b).unwrap().data().to_vec(), vec![4.0; 2]);
    /// ```
    ///
    /// # Panics
    /// As [`NdArray::linear`](agon_tensor::NdArray::linear).
    #[track_caller]
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
        let data = self.data().linear(weight.data(), bias.map(|b| b.data()));
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        record(data, "linear", &inputs, |i, _, g, needs| {
            let (x, w) = (&i[0], &i[1]);
            let [out, width] = [w.shape()[0], w.shape()[1]];
            let rows = x.shape()[..x.ndim() - 1].iter().product::<usize>();
            let dx = needs[0].then(|| g.matmul(w));
            let dw = needs[1].then(|| {
                let (g2, x2) = (g.reshape(&[rows, out]), x.reshape(&[rows, width]));
                mt(&g2).matmul(&x2)
            });
            let mut grads = vec![dx, dw];
            if i.len() > 2 {
                grads.push(needs[2].then(|| g.sum_to(&[out])));
            }
            grads
        })
    }
}
