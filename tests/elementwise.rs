//! Elementwise kernels against the naive references, over broadcasts and strided views.

use agon_reference::ops;
use agon_reference::strategies::{assert_close, broadcast_pair, shape, strided_view};
use agon_tensor::NdArray;
use proptest::prelude::*;

type Binary = (
    &'static str,
    fn(&NdArray, &NdArray) -> NdArray,
    fn(f32, f32) -> f32,
);

/// Each fast binary op beside its definition.
const BINARY: [Binary; 8] = [
    ("add", NdArray::add, |a, b| a + b),
    ("sub", NdArray::sub, |a, b| a - b),
    ("mul", NdArray::mul, |a, b| a * b),
    ("div", NdArray::div, |a, b| a / b),
    (
        "maximum",
        NdArray::maximum,
        |a, b| if a > b { a } else { b },
    ),
    (
        "minimum",
        NdArray::minimum,
        |a, b| if a < b { a } else { b },
    ),
    ("lt_mask", NdArray::lt_mask, |a, b| (a < b) as u8 as f32),
    ("ge_mask", NdArray::ge_mask, |a, b| (a >= b) as u8 as f32),
];

type Unary = (&'static str, fn(&NdArray) -> NdArray, fn(f32) -> f32);

const UNARY: [Unary; 9] = [
    ("neg", NdArray::neg, |x| -x),
    ("exp", NdArray::exp, f32::exp),
    ("abs", NdArray::abs, f32::abs),
    ("relu", NdArray::relu, |x| x.max(0.0)),
    ("tanh", NdArray::tanh, f32::tanh),
    ("sigmoid", NdArray::sigmoid, |x| 1.0 / (1.0 + (-x).exp())),
    ("sign", NdArray::sign, |x| {
        if x == 0.0 {
            0.0
        } else {
            x.signum()
        }
    }),
    ("recip", NdArray::recip, f32::recip),
    ("sqrt_abs", |a| a.abs().sqrt(), |x| x.abs().sqrt()),
];

fn pair_of_views() -> impl Strategy<Value = (NdArray, NdArray)> {
    broadcast_pair(shape(4, 5)).prop_flat_map(|(a, b)| (strided_view(a), strided_view(b)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn binary_ops_match_reference((a, b) in pair_of_views()) {
        for (name, fast, def) in BINARY {
            let expected = ops::binary(&a, &b, def);
            let actual = fast(&a, &b);
            prop_assert_eq!(actual.to_vec(), expected.to_vec(), "{}", name);
            prop_assert_eq!(actual.shape(), expected.shape());
        }
    }

    #[test]
    fn unary_ops_match_reference(a in shape(4, 5).prop_flat_map(strided_view)) {
        for (name, fast, def) in UNARY {
            assert_close(&fast(&a), &ops::unary(&a, def), 1e-6, 1e-7);
            let _ = name;
        }
        assert_close(&a.leaky_relu(0.2), &ops::unary(&a, |x| if x < 0.0 { 0.2 * x } else { x }), 0.0, 0.0);
        assert_close(&a.clamp(-0.5, 0.25), &ops::unary(&a, |x| x.clamp(-0.5, 0.25)), 0.0, 0.0);
        assert_close(&a.abs().powf(1.5), &ops::unary(&a, |x| x.abs().powf(1.5)), 1e-6, 0.0);
    }

    #[test]
    fn where_selects_like_reference((a, b) in pair_of_views()) {
        let mask = a.gt_mask(&b);
        let picked = mask.where_(&a, &b);
        prop_assert_eq!(picked.to_vec(), a.maximum(&b).to_vec());
    }
}

#[test]
fn large_arrays_take_the_parallel_path_and_still_match() {
    // Above the parallel threshold, transposed (strided) and contiguous operands.
    let a = agon_reference::strategies::random_array(&[300, 400], 1);
    let b = agon_reference::strategies::random_array(&[400, 300], 2).transpose(0, 1);
    let expected = ops::binary(&a, &b, |x, y| x * y + x);
    let actual = a.mul(&b).add(&a);
    assert_eq!(actual.to_vec(), expected.to_vec());
}

#[test]
fn sigmoid_is_stable_for_huge_inputs() {
    let a = NdArray::from_vec(vec![-1e4, -88.0, 0.0, 88.0, 1e4], &[5]).unwrap();
    let s = a.sigmoid().to_vec();
    assert!(
        s.iter().all(|x| x.is_finite() && (0.0..=1.0).contains(x)),
        "{s:?}"
    );
    assert_eq!(s[2], 0.5);
}

#[test]
fn nan_propagates_through_relu_and_maximum() {
    let a = NdArray::from_vec(vec![f32::NAN, 1.0], &[2]).unwrap();
    assert!(a.relu().to_vec()[0].is_nan());
    assert!(a.maximum(&NdArray::scalar(5.0)).to_vec()[0].is_nan());
    assert!(NdArray::scalar(5.0).maximum(&a).to_vec()[0].is_nan());
}

#[test]
fn operators_match_methods() {
    let a = NdArray::arange(0.0, 6.0, 1.0).reshape(&[2, 3]);
    let b = NdArray::arange(1.0, 4.0, 1.0);
    assert_eq!((&a + &b).to_vec(), a.add(&b).to_vec());
    assert_eq!((&a * 2.0).to_vec(), a.mul_scalar(2.0).to_vec());
    assert_eq!((-&a).to_vec(), a.neg().to_vec());
}

#[test]
#[should_panic(expected = "add: shapes [2, 3] and [4] do not broadcast")]
fn incompatible_shapes_panic_with_op_and_shapes() {
    let _ = NdArray::zeros(&[2, 3]).add(&NdArray::zeros(&[4]));
}
