//! Helpers shared by the composites' tests.

use agon_tensor::NdArray;

/// Asserts `got` equals `want` elementwise within `tol * (1 + |want|)`.
#[track_caller]
pub(crate) fn assert_close(got: &NdArray, want: &NdArray, tol: f32, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (i, (x, y)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}: element {i} is {x}, the reference gives {y}"
        );
    }
}
