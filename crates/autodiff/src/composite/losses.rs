//! Losses as compositions: numerically stable for large logits, differentiable twice.

use agon_tensor::{Indices, NdArray};

use crate::tensor::Tensor;

/// How a per-element loss is reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// The mean over all elements (PyTorch's default).
    Mean,
    /// The sum over all elements.
    Sum,
    /// No reduction: the per-element losses.
    None,
}

fn reduce(loss: Tensor, reduction: Reduction) -> Tensor {
    match reduction {
        Reduction::Mean => loss.mean_all(),
        Reduction::Sum => loss.sum_all(),
        Reduction::None => loss,
    }
}

impl Tensor {
    /// Binary cross-entropy on logits `self` against `target` probabilities:
    /// `softplus(x) - x·t`, stable for any logit, with gradient `sigmoid(x) - t` exactly
    /// (also at x = 0, where a relu/abs formulation would get it wrong).
    ///
    /// ```
    /// use agon_autodiff::{Reduction, Tensor};
    /// use agon_tensor::NdArray;
    /// let logits = Tensor::constant(NdArray::from_vec(vec![100.0, -100.0], &[2]).unwrap());
    /// let t = Tensor::constant(NdArray::from_vec(vec![1.0, 0.0], &[2]).unwrap());
    /// assert!(logits.bce_with_logits(&t, Reduction::Mean).item() < 1e-6);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn bce_with_logits(&self, target: &Tensor, reduction: Reduction) -> Tensor {
        let loss = self.softplus().sub(&self.mul(target));
        reduce(loss, reduction)
    }

    /// Cross-entropy of logits `self` `[N, C]` against class indices `target` `[N]`:
    /// `-log_softmax(x)[n, target[n]]`.
    ///
    /// # Panics
    /// If `self` is not 2-D, `target` is not `[N]`, or a class is out of range.
    #[track_caller]
    pub fn cross_entropy(&self, target: &Indices, reduction: Reduction) -> Tensor {
        assert!(
            self.ndim() == 2 && target.shape() == [self.shape()[0]],
            "cross_entropy: logits {:?} need [N, C] and targets [N], got targets {:?}",
            self.shape(),
            target.shape()
        );
        let n = self.shape()[0];
        let picked = self
            .log_softmax(1)
            .gather(1, &target.reshape(&[n, 1]))
            .reshape(&[n]);
        reduce(picked.neg(), reduction)
    }

    /// Mean squared error `(self - target)²`.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn mse(&self, target: &Tensor, reduction: Reduction) -> Tensor {
        reduce(self.sub(target).square(), reduction)
    }

    /// A constant of this tensor's shape filled with `value` (targets such as "all real").
    pub fn full_like(&self, value: f32) -> Tensor {
        Tensor::constant(NdArray::full(self.shape(), value))
    }
}
