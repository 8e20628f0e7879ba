//! Reductions against the naive references, and sum_to as the adjoint of broadcast_to.

use agon_reference::ops;
use agon_reference::strategies::{assert_close, random_array, shape, strided_view};
use agon_tensor::NdArray;
use proptest::prelude::*;

/// An array (often a strided view) and a subset of its axes.
fn array_and_axes() -> impl Strategy<Value = (NdArray, Vec<usize>, bool)> {
    shape(4, 5).prop_flat_map(|s| {
        let r = s.len();
        (
            strided_view(s),
            proptest::sample::subsequence((0..r).collect::<Vec<_>>(), 0..=r),
            any::<bool>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sum_mean_var_match_reference((a, axes, keep) in array_and_axes()) {
        assert_close(&a.sum(&axes, keep), &ops::reduce(&a, &axes, keep, ops::sum), 1e-5, 1e-6);
        if axes.iter().all(|&ax| a.shape()[ax] > 0) {
            let n: usize = axes.iter().map(|&ax| a.shape()[ax]).product();
            let mean = ops::reduce(&a, &axes, keep, |g| ops::sum(g) / n as f32);
            assert_close(&a.mean(&axes, keep), &mean, 1e-5, 1e-6);
            let var = ops::reduce(&a, &axes, keep, ops::var_population);
            assert_close(&a.var(&axes, keep, 0), &var, 1e-4, 1e-6);
        }
    }

    #[test]
    fn max_min_match_reference((a, axes, keep) in array_and_axes()) {
        let max = ops::reduce(&a, &axes, keep, |g| ops::argmax(g).0);
        prop_assert_eq!(a.max(&axes, keep).to_vec(), max.to_vec());
        let min = ops::reduce(&a, &axes, keep, |g| -ops::argmax(&g.iter().map(|x| -x).collect::<Vec<_>>()).0);
        prop_assert_eq!(a.min(&axes, keep).to_vec(), min.to_vec());
    }

    #[test]
    fn max_dim_gives_first_argmax(a in shape(3, 5).prop_filter("rank>=1", |s| !s.is_empty()).prop_flat_map(strided_view), axis_seed in any::<usize>()) {
        let axis = axis_seed % a.ndim();
        // Quantise so ties happen: first occurrence must win.
        let a = a.map(|x| (x * 2.0).round());
        let (v, i) = a.max_dim(axis, false);
        let expected = ops::reduce(&a, &[axis], false, |g| ops::argmax(g).1 as f32);
        let got: Vec<f32> = i.as_slice().iter().map(|&k| k as f32).collect();
        prop_assert_eq!(got, expected.to_vec());
        prop_assert_eq!(v.to_vec(), ops::reduce(&a, &[axis], false, |g| ops::argmax(g).0).to_vec());
    }

    #[test]
    fn sum_to_is_the_adjoint_of_broadcast_to((small, big) in agon_reference::strategies::broadcast_pair(shape(4, 4)).prop_filter("a broadcasts to b", |(a, b)| agon_tensor::broadcast_shapes(a, b).as_deref() == Some(&b[..])), seed in any::<u64>()) {
        let x = random_array(&small, seed);
        let y = random_array(&big, seed ^ 1);
        let lhs = ops::inner(&x.broadcast_to(&big), &y);
        let rhs = ops::inner(&x, &y.sum_to(&small));
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()), "{} vs {}", lhs, rhs);
    }
}

#[test]
fn long_reductions_split_into_chunks_match_f64_reference() {
    // 3 x 20000: reduces over more than one chunk, in parallel.
    let a = random_array(&[3, 20000], 7);
    assert_close(
        &a.sum(&[1], false),
        &ops::reduce(&a, &[1], false, ops::sum),
        1e-5,
        1e-5,
    );
    let t = a.transpose(0, 1); // reduce a strided axis
    assert_close(
        &t.sum(&[0], true),
        &ops::reduce(&t, &[0], true, ops::sum),
        1e-5,
        1e-5,
    );
}

#[test]
fn empty_sum_is_zero_and_mean_is_nan() {
    let e = NdArray::zeros(&[0, 3]);
    assert_eq!(e.sum(&[0], false).to_vec(), vec![0.0; 3]);
    assert!(e.mean(&[0], false).to_vec().iter().all(|x| x.is_nan()));
}

#[test]
fn nan_wins_in_max() {
    let a = NdArray::from_vec(vec![1.0, f32::NAN, 3.0], &[3]).unwrap();
    assert!(a.max(&[0], false).item().is_nan());
    assert_eq!(a.max_dim(0, false).1.as_slice(), &[1]);
}

#[test]
#[should_panic(expected = "sum: axes [1, 1] are out of range or repeated")]
fn repeated_axes_panic() {
    let _ = NdArray::zeros(&[2, 3]).sum(&[1, 1], false);
}

#[test]
#[should_panic(expected = "sum_to: shape [3] does not broadcast to [2, 4]")]
fn bad_sum_to_target_panics() {
    let _ = NdArray::zeros(&[2, 4]).sum_to(&[3]);
}

#[test]
fn leading_axes_fast_path_matches_the_general_path_bit_for_bit() {
    // Contiguous input, leading axes reduced: the row-accumulating path. The same values
    // behind a transposed (non-contiguous) layout take the general path.
    let a = random_array(&[9000, 3], 11);
    let strided = a.transpose(0, 1).contiguous().transpose(0, 1);
    assert!(!strided.is_contiguous());
    let fast = a.sum(&[0], false).to_vec();
    let general = strided.sum(&[0], false).to_vec();
    assert_eq!(
        fast.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        general.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let a3 = random_array(&[40, 5, 6], 12);
    let s3 = a3.permute(&[2, 1, 0]).contiguous().permute(&[2, 1, 0]);
    assert_eq!(
        a3.mean(&[0, 1], true).to_vec(),
        s3.mean(&[0, 1], true).to_vec()
    );
}
