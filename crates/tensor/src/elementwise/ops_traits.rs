//! `+ - * /` and unary `-` on array references, for readable math: `&a * &b + &c`.

use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::array::NdArray;

macro_rules! binary_operator {
    ($trait:ident, $method:ident) => {
        impl $trait<&NdArray> for &NdArray {
            type Output = NdArray;
            #[track_caller]
            fn $method(self, rhs: &NdArray) -> NdArray {
                NdArray::$method(self, rhs)
            }
        }
        impl $trait<f32> for &NdArray {
            type Output = NdArray;
            #[track_caller]
            fn $method(self, rhs: f32) -> NdArray {
                NdArray::$method(self, &NdArray::scalar(rhs))
            }
        }
    };
}

binary_operator!(Add, add);
binary_operator!(Sub, sub);
binary_operator!(Mul, mul);
binary_operator!(Div, div);

impl Neg for &NdArray {
    type Output = NdArray;
    fn neg(self) -> NdArray {
        NdArray::neg(self)
    }
}
