//! logsumexp, softmax, log_softmax.

use crate::tensor::Tensor;

impl Tensor {
    /// `log Σ exp(x)` over `axis`, computed stably: with m = max(x) (a constant shift,
    /// detached), `m + log Σ exp(x - m)`. The identity holds for any m, so detaching it
    /// changes no derivative, and exp never overflows.
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_tensor::NdArray;
    /// let x = Tensor::constant(NdArray::from_vec(vec![1000.0, 1000.0], &[2]).unwrap());
    /// let l = x.logsumexp(0, false).item();
    /// assert!((l - (1000.0 + 2f32.ln())).abs() < 1e-3);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range.
    #[track_caller]
    pub fn logsumexp(&self, axis: usize, keepdim: bool) -> Tensor {
        let m = Tensor::constant(self.data().max(&[axis], true));
        let m = Tensor::constant(m.data().map(|v| if v.is_finite() { v } else { 0.0 }));
        let s = self.sub(&m).exp().sum(&[axis], true).log().add(&m);
        if keepdim {
            s
        } else {
            s.squeeze(axis)
        }
    }

    /// `x - logsumexp(x)` along `axis`.
    ///
    /// # Panics
    /// If the axis is out of range.
    #[track_caller]
    pub fn log_softmax(&self, axis: usize) -> Tensor {
        self.sub(&self.logsumexp(axis, true))
    }

    /// `exp(x) / Σ exp(x)` along `axis`.
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_tensor::NdArray;
    /// let p = Tensor::constant(NdArray::zeros(&[1, 4])).softmax(1);
    /// assert_eq!(p.data().to_vec(), vec![0.25; 4]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range.
    #[track_caller]
    pub fn softmax(&self, axis: usize) -> Tensor {
        self.log_softmax(axis).exp()
    }
}
