//! `NdArray::matmul` against the naive reference, on random shapes (broadcast batch axes,
//! 1-D operands, empty axes) and non-contiguous views; thread-count determinism of the
//! parallel paths; and shape-misuse panics.

mod common;
use common::on_threads;

use agon::tensor::NdArray;
use agon_reference::matmul::matmul as reference_matmul;
use agon_reference::strategies::{
    assert_close, broadcast_pair, random_array, shape, strided_view, view_of_kind, ViewKind,
};
use proptest::prelude::*;

/// A matrix extent: sometimes 0, otherwise up to 17 so products cross the 8- and 16-wide
/// edges of matrixmultiply's microkernel tiles.
fn extent(max: usize) -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0), 12 => 1..=max]
}

/// Operand shapes for `a.matmul(&b)`: broadcast-compatible batch axes (up to 3 of up to
/// 3 each), `m x k` and `k x n` matrices, and each side 1-D a quarter of the time.
fn operand_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    let vector = prop_oneof![3 => Just(false), 1 => Just(true)];
    (
        broadcast_pair(shape(3, 3)),
        extent(17),
        extent(20),
        extent(17),
        vector.clone(),
        vector,
    )
        .prop_map(|((batch_a, batch_b), m, k, n, a_vec, b_vec)| {
            let with = |mut batch: Vec<usize>, rows, cols| {
                batch.extend([rows, cols]);
                batch
            };
            let sa = if a_vec { vec![k] } else { with(batch_a, m, k) };
            let sb = if b_vec { vec![k] } else { with(batch_b, k, n) };
            (sa, sb)
        })
}

/// Tolerance for an f32 sum of `k` products of values in [-1, 1) against an f64 reference.
fn check(a: &NdArray, b: &NdArray) {
    let k = a.shape()[a.ndim() - 1] as f32;
    assert_close(
        &a.matmul(b),
        &reference_matmul(a, b),
        1e-5,
        1e-6 * (k + 1.0),
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn matches_reference_on_strided_views(
        (a, b) in operand_shapes()
            .prop_flat_map(|(sa, sb)| (strided_view(sa), strided_view(sb)))
    ) {
        check(&a, &b);
    }
}

#[test]
fn matches_reference_on_each_view_kind() {
    for (i, kind) in ViewKind::ALL.into_iter().enumerate() {
        let a = view_of_kind(&[2, 1, 9, 11], kind, i as u64);
        let b = view_of_kind(&[3, 11, 10], ViewKind::TransposedLast2, 100 + i as u64);
        check(&a, &b);
    }
}

fn bits(x: &NdArray) -> Vec<u32> {
    x.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// Large products (well above the parallel threshold of 2^20 multiply-adds): same bits on 1
/// and 2 threads, and agreement with the reference.
#[test]
fn large_products_are_bit_identical_across_thread_counts() {
    let cases = [
        // One product split into row blocks; A read through a transpose.
        (
            random_array(&[200, 300], 1).transpose(0, 1),
            random_array(&[200, 300], 2),
        ),
        // B over 512 KiB: 256-row blocks.
        (random_array(&[260, 660], 9), random_array(&[660, 200], 10)),
        // A batch split over items and row blocks; B broadcast over the batch.
        (
            random_array(&[3, 150, 120], 3),
            random_array(&[120, 140], 4),
        ),
        // Many small items: split over the batch only.
        (
            random_array(&[40, 30, 40], 5),
            random_array(&[40, 40, 30], 6),
        ),
        // Short and wide (a Linear layer on a batch of 64): split along the columns.
        (
            random_array(&[64, 100], 7),
            random_array(&[1000, 100], 8).transpose(0, 1),
        ),
    ];
    for (a, b) in &cases {
        let one = on_threads(1, || a.matmul(b));
        let two = on_threads(2, || a.matmul(b));
        assert!(
            bits(&one) == bits(&two),
            "{:?} @ {:?} differs between 1 and 2 threads",
            a.shape(),
            b.shape()
        );
        check(a, b);
    }
}

#[test]
#[should_panic(expected = "matmul: shapes [2, 3] and [4, 5] cannot be multiplied")]
fn mismatched_inner_dims_panic() {
    let _ = NdArray::ones(&[2, 3]).matmul(&NdArray::ones(&[4, 5]));
}

#[test]
#[should_panic(expected = "matmul: shapes [3] and [4]")]
fn mismatched_vectors_panic() {
    let _ = NdArray::ones(&[3]).matmul(&NdArray::ones(&[4]));
}

#[test]
#[should_panic(expected = "matmul")]
fn mismatched_batch_axes_panic() {
    let _ = NdArray::ones(&[2, 3, 4]).matmul(&NdArray::ones(&[5, 4, 1]));
}
