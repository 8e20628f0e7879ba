//! Views copy nothing and keep logical elements; reshape falls back to a copy only when it
//! must.

use agon_reference::ops::all_indices;
use agon_reference::strategies::{random_array, shape, strided_view};
use agon_tensor::{NdArray, TensorError};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn permute_reorders_indices(a in shape(4, 4).prop_flat_map(strided_view), seed in any::<u64>()) {
        let mut perm: Vec<usize> = (0..a.ndim()).collect();
        let n = perm.len();
        for i in 0..n { perm.swap(i, (seed as usize >> (i * 3)) % n); }
        let p = a.permute(&perm);
        for idx in all_indices(p.shape()) {
            let mut src = vec![0; n];
            for (k, &ax) in perm.iter().enumerate() { src[ax] = idx[k]; }
            prop_assert_eq!(p.get(&idx), a.get(&src));
        }
        prop_assert!(std::ptr::eq(p.storage(), a.storage()), "permute copied");
    }

    #[test]
    fn reshape_keeps_row_major_order(a in shape(4, 4).prop_flat_map(strided_view)) {
        let flat = a.reshape(&[a.numel()]);
        prop_assert_eq!(flat.to_vec(), a.to_vec());
        if a.is_contiguous() {
            prop_assert!(std::ptr::eq(flat.storage(), a.storage()), "contiguous reshape copied");
        }
    }

    #[test]
    fn slice_with_step_picks_every_kth(n in 1usize..20, start in 0usize..20, step in 1usize..5) {
        let start = start.min(n);
        let a = NdArray::arange(0.0, n as f32, 1.0);
        let s = a.slice(0, start, n, step);
        let expected: Vec<f32> = (start..n).step_by(step).map(|i| i as f32).collect();
        prop_assert_eq!(s.to_vec(), expected);
    }
}

#[test]
fn unsqueeze_squeeze_roundtrip_and_broadcast_strides() {
    let a = random_array(&[2, 3], 0);
    let u = a.unsqueeze(1);
    assert_eq!(u.shape(), &[2, 1, 3]);
    assert_eq!(u.squeeze(1).to_vec(), a.to_vec());
    let b = u.broadcast_to(&[4, 2, 5, 3]);
    assert_eq!(b.strides()[0], 0);
    assert_eq!(b.strides()[2], 0);
    assert_eq!(b.get(&[3, 1, 4, 2]), a.get(&[1, 2]));
}

#[test]
fn reshape_of_narrowed_view_is_still_a_view_when_possible() {
    let a = random_array(&[4, 2, 3], 1).narrow(0, 1, 2);
    let r = a.reshape(&[2, 6]);
    assert!(std::ptr::eq(r.storage(), a.storage()));
    assert_eq!(r.to_vec(), a.to_vec());
}

#[test]
fn from_vec_length_mismatch_is_an_error_not_a_panic() {
    let err = NdArray::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
    assert_eq!(
        err,
        TensorError::LengthMismatch {
            expected: 6,
            actual: 5,
            shape: vec![2, 3]
        }
    );
    assert!(err
        .to_string()
        .contains("needs 6 elements but the buffer holds 5"));
}

#[test]
fn constructors() {
    assert_eq!(NdArray::eye(3).sum_all().item(), 3.0);
    assert_eq!(NdArray::arange(1.0, 2.0, 0.25).numel(), 4);
    assert_eq!(NdArray::full(&[2], 1.5).to_vec(), vec![1.5, 1.5]);
}

#[test]
fn seeded_random_arrays_repeat() {
    use rand::SeedableRng;
    let mut r1 = rand::rngs::StdRng::seed_from_u64(9);
    let mut r2 = rand::rngs::StdRng::seed_from_u64(9);
    let a = NdArray::rand_normal(&[1000], 0.0, 1.0, &mut r1);
    assert_eq!(
        a.to_vec(),
        NdArray::rand_normal(&[1000], 0.0, 1.0, &mut r2).to_vec()
    );
    let m = a.mean_all().item();
    let s = a.var(&[0], false, 1).item().sqrt();
    assert!(m.abs() < 0.1 && (s - 1.0).abs() < 0.1, "mean {m} std {s}");
}

#[test]
#[should_panic(expected = "permute: [0, 0] is not a permutation")]
fn bad_permutation_panics() {
    let _ = NdArray::zeros(&[2, 3]).permute(&[0, 0]);
}

#[test]
#[should_panic(expected = "broadcast_to: shape [2, 3] cannot broadcast to [3, 3]")]
fn bad_broadcast_panics() {
    let _ = NdArray::zeros(&[2, 3]).broadcast_to(&[3, 3]);
}

#[test]
fn absurd_shapes_are_errors_not_overflow_panics() {
    // An empty array may claim huge other axes: it holds nothing.
    let empty = NdArray::from_vec(vec![], &[0, 1 << 40, 1 << 40]).unwrap();
    assert_eq!(empty.numel(), 0);
    let err = NdArray::from_vec(vec![], &[1 << 40, 1 << 40]).unwrap_err();
    assert_eq!(
        err,
        TensorError::ShapeOverflow {
            shape: vec![1 << 40, 1 << 40]
        }
    );
}
