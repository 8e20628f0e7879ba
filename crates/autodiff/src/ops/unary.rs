//! Unary elementwise ops.
//!
//! | op | forward y | dL/dx |
//! |---|---|---|
//! | neg | -x | -g |
//! | exp | e^x | g * y |
//! | log | ln x | g / x |
//! | sqrt | √x | g / (2y) |
//! | abs | \|x\| | g * sign(x) |
//! | relu | max(x, 0) | g * [x > 0] |
//! | leaky_relu(s) | x or s·x | g * (x > 0 ? 1 : s) |
//! | tanh | tanh x | g * (1 - y²) |
//! | sigmoid | 1/(1+e^-x) | g * y * (1 - y) |
//! | powf(p) | x^p | g * p * x^(p-1) |
//! | recip | 1/x | -g * y² |
//! | softplus | ln(1 + e^x) | g * sigmoid(x) |
//! | clamp(lo, hi) | min(max(x, lo), hi) | g * [lo ≤ x ≤ hi] |
//!
//! Masks and `sign` are piecewise constant: they enter as constants, so their own
//! derivative (zero almost everywhere) is right at every order.

use super::{constant, unary};
use crate::tensor::{is_grad_enabled, Tensor};

/// `g * (x > 0 ? 1 : slope)`, the relu-family rule. When nothing is being recorded (a
/// first-order backward pass), one fused pass over `g` and `x` gives the same values as
/// building the mask and multiplying, with one array instead of two.
fn masked(g: &Tensor, x: &Tensor, slope: f32) -> Tensor {
    if is_grad_enabled() {
        let mask = x.data().map(move |v| if v > 0.0 { 1.0 } else { slope });
        g.mul(&constant(mask))
    } else {
        constant(g.data().zip_with(x.data(), "relu backward", move |g, v| {
            if v > 0.0 {
                g
            } else {
                slope * g
            }
        }))
    }
}

impl Tensor {
    /// `-x`.
    pub fn neg(&self) -> Tensor {
        unary(self, self.data().neg(), "neg", |_, _, g| g.neg())
    }

    /// `e^x`.
    pub fn exp(&self) -> Tensor {
        unary(self, self.data().exp(), "exp", |_, y, g| g.mul(y))
    }

    /// Natural logarithm.
    pub fn log(&self) -> Tensor {
        unary(self, self.data().log(), "log", |x, _, g| g.div(x))
    }

    /// Square root.
    pub fn sqrt(&self) -> Tensor {
        unary(self, self.data().sqrt(), "sqrt", |_, y, g| {
            g.div(&y.mul_scalar(2.0))
        })
    }

    /// `|x|` (gradient 0 at 0, as PyTorch).
    pub fn abs(&self) -> Tensor {
        unary(self, self.data().abs(), "abs", |x, _, g| {
            g.mul(&constant(x.data().sign()))
        })
    }

    /// `max(x, 0)`.
    pub fn relu(&self) -> Tensor {
        unary(self, self.data().relu(), "relu", |x, _, g| {
            masked(g, x, 0.0)
        })
    }

    /// `x` for `x > 0`, `slope * x` otherwise.
    pub fn leaky_relu(&self, slope: f32) -> Tensor {
        unary(
            self,
            self.data().leaky_relu(slope),
            "leaky_relu",
            move |x, _, g| masked(g, x, slope),
        )
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Tensor {
        unary(self, self.data().tanh(), "tanh", |_, y, g| {
            g.mul(&y.mul(y).neg().add_scalar(1.0))
        })
    }

    /// Logistic sigmoid.
    pub fn sigmoid(&self) -> Tensor {
        unary(self, self.data().sigmoid(), "sigmoid", |_, y, g| {
            g.mul(&y.mul(&y.neg().add_scalar(1.0)))
        })
    }

    /// `x^p`.
    pub fn powf(&self, p: f32) -> Tensor {
        unary(self, self.data().powf(p), "powf", move |x, _, g| {
            g.mul(&x.powf(p - 1.0).mul_scalar(p))
        })
    }

    /// `1 / x`.
    pub fn recip(&self) -> Tensor {
        unary(self, self.data().recip(), "recip", |_, y, g| {
            g.mul(&y.mul(y)).neg()
        })
    }

    /// `x` limited to `[min, max]`; the gradient passes where `min <= x <= max`.
    ///
    /// # Panics
    /// If `min > max`.
    #[track_caller]
    pub fn clamp(&self, min: f32, max: f32) -> Tensor {
        unary(
            self,
            self.data().clamp(min, max),
            "clamp",
            move |x, _, g| {
                let inside = x
                    .data()
                    .map(|v| if (min..=max).contains(&v) { 1.0 } else { 0.0 });
                g.mul(&constant(inside))
            },
        )
    }

    /// `ln(1 + e^x)`, computed as `max(x, 0) + ln(1 + e^-|x|)` so it never overflows.
    /// Its rule uses `sigmoid`, smooth everywhere (no kink at 0, unlike writing it with
    /// `relu` and `abs`), so losses built on it have exact gradients at every logit.
    pub fn softplus(&self) -> Tensor {
        let data = self.data().map(|v| v.max(0.0) + (-v.abs()).exp().ln_1p());
        unary(self, data, "softplus", |x, _, g| g.mul(&x.sigmoid()))
    }

    /// `x * x`.
    pub fn square(&self) -> Tensor {
        self.mul(self)
    }
}
