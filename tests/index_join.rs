//! gather / scatter_add, index_select / index_add, concat / stack / pad: against the
//! definitions, and each pair as adjoints.

use agon_reference::ops;
use agon_reference::strategies::{random_array, shape, strided_view};
use agon_tensor::{Indices, NdArray};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// An array (maybe strided), an axis, and a gather index of random extents that fit.
fn gather_case() -> impl Strategy<Value = (NdArray, usize, Indices)> {
    shape(3, 4)
        .prop_filter("rank >= 1", |s| !s.is_empty())
        .prop_flat_map(|s| (strided_view(s.clone()), 0..s.len(), any::<u64>()))
        .prop_map(|(x, axis, seed)| {
            let mut rng = StdRng::seed_from_u64(seed);
            let ishape: Vec<usize> = x
                .shape()
                .iter()
                .enumerate()
                .map(|(a, &d)| {
                    if a == axis {
                        rng.random_range(1..6)
                    } else {
                        rng.random_range(1..=d)
                    }
                })
                .collect();
            let n = ishape.iter().product();
            let dim = x.shape()[axis];
            let idx = (0..n).map(|_| rng.random_range(0..dim)).collect();
            (x, axis, Indices::from_vec(idx, &ishape))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gather_and_scatter_add_match_definitions_and_are_adjoint((x, axis, idx) in gather_case(), seed in any::<u64>()) {
        let g = x.gather(axis, &idx);
        prop_assert_eq!(g.to_vec(), ops::gather(&x, axis, &idx).to_vec());
        let y = random_array(idx.shape(), seed);
        let base = random_array(x.shape(), seed ^ 5);
        prop_assert_eq!(
            base.scatter_add(axis, &idx, &y).to_vec(),
            ops::scatter_add(&base, axis, &idx, &y).to_vec()
        );
        let zeros = NdArray::zeros(x.shape());
        let lhs = ops::inner(&g, &y);
        let rhs = ops::inner(&x, &zeros.scatter_add(axis, &idx, &y));
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()));
    }

    #[test]
    fn index_select_and_index_add_are_adjoint((x, axis, idx) in gather_case(), seed in any::<u64>()) {
        let flat = idx.reshape(&[idx.len()]);
        let sel = x.index_select(axis, &flat);
        for (j, &i) in flat.as_slice().iter().enumerate() {
            prop_assert_eq!(sel.narrow(axis, j, 1).to_vec(), x.narrow(axis, i, 1).to_vec());
        }
        let y = random_array(sel.shape(), seed);
        let lhs = ops::inner(&sel, &y);
        let rhs = ops::inner(&x, &NdArray::zeros(x.shape()).index_add(axis, &flat, &y));
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()));
    }

    #[test]
    fn concat_then_narrow_gives_the_parts_back(s in shape(3, 4).prop_filter("rank >= 1", |s| !s.is_empty()), extra in 1usize..4, seed in any::<u64>(), axis_seed in any::<usize>()) {
        let axis = axis_seed % s.len();
        let a = strided_view_of(&s, seed);
        let mut s2 = s.clone();
        s2[axis] = extra;
        let b = random_array(&s2, seed ^ 3).transpose(0, s2.len() - 1).contiguous().transpose(0, s2.len() - 1);
        let c = NdArray::concat(&[&a, &b], axis);
        prop_assert_eq!(c.narrow(axis, 0, s[axis]).to_vec(), a.to_vec());
        prop_assert_eq!(c.narrow(axis, s[axis], extra).to_vec(), b.to_vec());
        let st = NdArray::stack(&[&a, &a], axis);
        prop_assert_eq!(st.narrow(axis, 1, 1).squeeze(axis).to_vec(), a.to_vec());
    }

    #[test]
    fn pad_then_narrow_is_identity(s in shape(3, 4), seed in any::<u64>()) {
        let a = strided_view_of(&s, seed);
        let pads: Vec<(usize, usize)> = (0..s.len()).map(|k| (k % 3, (k + 1) % 2)).collect();
        let p = a.pad(&pads, -7.0);
        let mut back = p.clone();
        for (k, &(before, _)) in pads.iter().enumerate() {
            back = back.narrow(k, before, s[k]);
        }
        prop_assert_eq!(back.to_vec(), a.to_vec());
        let border = p.numel() - a.numel();
        prop_assert_eq!(p.to_vec().iter().filter(|&&v| v == -7.0).count(), border);
    }
}

/// A permuted-back (non-contiguous) array of shape `s`.
fn strided_view_of(s: &[usize], seed: u64) -> NdArray {
    let a = random_array(s, seed);
    if s.len() >= 2 {
        a.transpose(0, 1).contiguous().transpose(0, 1)
    } else {
        a
    }
}

#[test]
#[should_panic(expected = "gather: index 3 out of range for axis 1 of size 3")]
fn gather_out_of_range_index_panics() {
    let _ = NdArray::zeros(&[2, 3]).gather(1, &Indices::from_vec(vec![0, 3], &[2, 1]));
}

#[test]
#[should_panic(expected = "concat: shape [2, 2] does not match [3, 2] off axis 1")]
fn concat_mismatch_panics() {
    let _ = NdArray::concat(&[&NdArray::zeros(&[3, 2]), &NdArray::zeros(&[2, 2])], 1);
}
