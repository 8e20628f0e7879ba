//! Broadcasting arithmetic and its scalar forms.
//!
//! | op | forward | dL/da | dL/db |
//! |---|---|---|---|
//! | add | a + b | g | g |
//! | sub | a - b | g | -g |
//! | mul | a * b | g * b | g * a |
//! | div | a / b | g / b | -g * a / b^2 |
//! | maximum | max(a, b) | g where a > b, g/2 at ties | g where b > a, g/2 at ties |
//! | where_ | m ? a : b | g * m | g * (1 - m) |
//!
//! Every `dL/da` is then summed back to a's shape (`sum_to`), undoing the broadcast.

use agon_tensor::NdArray;

use super::{binary, constant, record, unary};
use crate::tensor::Tensor;

impl Tensor {
    /// `self + other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn add(&self, other: &Tensor) -> Tensor {
        let data = self.data().add(other.data());
        binary(
            self,
            other,
            data,
            "add",
            |a, _, _, g| g.sum_to(a.shape()),
            |_, b, _, g| g.sum_to(b.shape()),
        )
    }

    /// `self - other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn sub(&self, other: &Tensor) -> Tensor {
        let data = self.data().sub(other.data());
        binary(
            self,
            other,
            data,
            "sub",
            |a, _, _, g| g.sum_to(a.shape()),
            |_, b, _, g| g.neg().sum_to(b.shape()),
        )
    }

    /// `self * other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn mul(&self, other: &Tensor) -> Tensor {
        let data = self.data().mul(other.data());
        binary(
            self,
            other,
            data,
            "mul",
            |a, b, _, g| g.mul(b).sum_to(a.shape()),
            |a, b, _, g| g.mul(a).sum_to(b.shape()),
        )
    }

    /// `self / other`, broadcasting.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn div(&self, other: &Tensor) -> Tensor {
        let data = self.data().div(other.data());
        binary(
            self,
            other,
            data,
            "div",
            |a, b, _, g| g.div(b).sum_to(a.shape()),
            // d(a/b)/db = -a/b^2 = -y/b
            |_, b, y, g| g.mul(y).div(b).neg().sum_to(b.shape()),
        )
    }

    /// Elementwise maximum, broadcasting; at ties each side gets half the gradient (as
    /// PyTorch).
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        self.extreme_with(other, true)
    }

    /// Elementwise minimum, broadcasting; ties split the gradient.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[track_caller]
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        self.extreme_with(other, false)
    }

    /// maximum (`is_max`) or minimum: each side's gradient is `g` times its constant
    /// share (1 where it wins, 1/2 at ties, 0 where it loses).
    #[track_caller]
    fn extreme_with(&self, other: &Tensor, is_max: bool) -> Tensor {
        let (data, name) = if is_max {
            (self.data().maximum(other.data()), "maximum")
        } else {
            (self.data().minimum(other.data()), "minimum")
        };
        let share = tie_split(self.data(), other.data(), is_max);
        let share_b = constant(share.neg().add_scalar(1.0));
        let share_a = constant(share);
        binary(
            self,
            other,
            data,
            name,
            move |a, _, _, g| g.mul(&share_a).sum_to(a.shape()),
            move |_, b, _, g| g.mul(&share_b).sum_to(b.shape()),
        )
    }

    /// `torch.where(mask, self, other)`: `self` where `mask` is nonzero, else `other`. The
    /// mask is data, not differentiated.
    ///
    /// # Panics
    /// If the three shapes do not broadcast together.
    #[track_caller]
    pub fn where_(mask: &NdArray, on_true: &Tensor, on_false: &Tensor) -> Tensor {
        let data = mask.where_(on_true.data(), on_false.data());
        let m = constant(mask.ne_mask(&NdArray::scalar(0.0)));
        record(
            data,
            "where",
            &[on_true, on_false],
            move |i, _, g, needs| {
                vec![
                    needs[0].then(|| g.mul(&m).sum_to(i[0].shape())),
                    needs[1].then(|| g.sub(&g.mul(&m)).sum_to(i[1].shape())),
                ]
            },
        )
    }

    /// `self + s`.
    pub fn add_scalar(&self, s: f32) -> Tensor {
        unary(self, self.data().add_scalar(s), "add_scalar", |_, _, g| {
            g.clone()
        })
    }

    /// `self * s`.
    pub fn mul_scalar(&self, s: f32) -> Tensor {
        unary(
            self,
            self.data().mul_scalar(s),
            "mul_scalar",
            move |_, _, g| g.mul_scalar(s),
        )
    }

    /// `self - s`.
    pub fn sub_scalar(&self, s: f32) -> Tensor {
        self.add_scalar(-s)
    }

    /// `self / s`.
    pub fn div_scalar(&self, s: f32) -> Tensor {
        unary(
            self,
            self.data().div_scalar(s),
            "div_scalar",
            move |_, _, g| g.div_scalar(s),
        )
    }
}

/// a's share of the gradient of max(a, b) (or min): 1 where a wins, 1/2 at ties, 0 where b
/// wins, broadcast to the output shape.
fn tie_split(a: &NdArray, b: &NdArray, is_max: bool) -> NdArray {
    a.zip_with(b, "maximum", move |x, y| {
        if x == y {
            0.5
        } else if (x > y) == is_max {
            1.0
        } else {
            0.0
        }
    })
}
