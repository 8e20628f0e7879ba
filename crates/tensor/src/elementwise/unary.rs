//! Unary elementwise maps and their scalar forms.

use crate::array::NdArray;

impl NdArray {
    /// `-x`.
    pub fn neg(&self) -> NdArray {
        self.map(|x| -x)
    }

    /// `e^x`.
    pub fn exp(&self) -> NdArray {
        self.map(f32::exp)
    }

    /// Natural logarithm (`-inf` at 0, NaN below).
    pub fn log(&self) -> NdArray {
        self.map(f32::ln)
    }

    /// Square root (NaN below 0).
    pub fn sqrt(&self) -> NdArray {
        self.map(f32::sqrt)
    }

    /// `|x|`.
    pub fn abs(&self) -> NdArray {
        self.map(f32::abs)
    }

    /// `max(x, 0)`.
    ///
    /// ```
    /// let a = agon_tensor::NdArray::from_vec(vec![-1.0, 2.0], &[2]).unwrap();
    /// assert_eq!(a.relu().to_vec(), vec![0.0, 2.0]);
    /// ```
    pub fn relu(&self) -> NdArray {
        self.map(super::relu_value)
    }

    /// `x` for `x >= 0`, `slope * x` below.
    pub fn leaky_relu(&self, slope: f32) -> NdArray {
        self.map(move |x| super::leaky_relu_value(x, slope))
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> NdArray {
        self.map(f32::tanh)
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`, computed without overflow for large `|x|`.
    ///
    /// ```
    /// // e^-1000 underflows to 0, so the extremes are exact (e^-100 would be a denormal).
    /// let a = agon_tensor::NdArray::from_vec(vec![-1000.0, 0.0, 1000.0], &[3]).unwrap();
    /// assert_eq!(a.sigmoid().to_vec(), vec![0.0, 0.5, 1.0]);
    /// ```
    pub fn sigmoid(&self) -> NdArray {
        self.map(|x| {
            // Only ever exponentiate a non-positive number, so e^t is in (0, 1].
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        })
    }

    /// `x^p`.
    pub fn powf(&self, p: f32) -> NdArray {
        self.map(move |x| x.powf(p))
    }

    /// `1 / x`.
    pub fn recip(&self) -> NdArray {
        self.map(f32::recip)
    }

    /// `x` limited to `[min, max]` (NaN stays NaN).
    ///
    /// # Panics
    /// If `min > max`.
    #[track_caller]
    pub fn clamp(&self, min: f32, max: f32) -> NdArray {
        assert!(min <= max, "clamp: min {min} > max {max}");
        self.map(move |x| {
            if x < min {
                min
            } else if x > max {
                max
            } else {
                x
            }
        })
    }

    /// -1, 0 or 1 by the sign of `x` (0 for ±0, NaN for NaN), as `torch.sign`.
    pub fn sign(&self) -> NdArray {
        self.map(|x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        })
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f32) -> NdArray {
        self.map(move |x| x + s)
    }

    /// `x - s`.
    pub fn sub_scalar(&self, s: f32) -> NdArray {
        self.map(move |x| x - s)
    }

    /// `x * s`.
    ///
    /// ```
    /// let a = agon_tensor::NdArray::ones(&[2]).mul_scalar(3.0);
    /// assert_eq!(a.to_vec(), vec![3.0, 3.0]);
    /// ```
    pub fn mul_scalar(&self, s: f32) -> NdArray {
        self.map(move |x| x * s)
    }

    /// `x / s`.
    pub fn div_scalar(&self, s: f32) -> NdArray {
        self.map(move |x| x / s)
    }
}
