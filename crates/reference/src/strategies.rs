//! proptest strategies shared by Agon's tests, and [`assert_close`].
//!
//! Shapes come from [`shape`] / [`shape_in`], pairs of broadcast-compatible shapes from
//! [`broadcast_pair`], and arrays from [`array`] (contiguous) or [`strided_view`] (usually
//! *not* contiguous: sliced with steps, permuted, transposed or broadcast views, which is
//! where stride bugs hide). Array values are drawn from a seeded [`StdRng`], so a failing
//! case is reproduced from the shape, the [`ViewKind`] and one `u64` seed, and proptest
//! shrinks shapes rather than thousands of floats.
//!
//! ```
//! use agon_reference::strategies::{shape, strided_view};
//! use proptest::prelude::*;
//! use proptest::test_runner::TestRunner;
//!
//! let views = shape(3, 4).prop_flat_map(strided_view);
//! TestRunner::default()
//!     .run(&views, |x| {
//!         // Copying a view keeps its logical elements, whatever its strides.
//!         prop_assert_eq!(x.contiguous().to_vec(), x.to_vec());
//!         Ok(())
//!     })
//!     .unwrap();
//! ```

use std::ops::RangeInclusive;

use agon_tensor::NdArray;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Shapes of rank `0..=max_rank` with every axis in `1..=max_dim` (no empty axes; see
/// [`shape_in`] for those).
pub fn shape(max_rank: usize, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    shape_in(0..=max_rank, 1..=max_dim)
}

/// Shapes with a rank in `rank` and every axis in `dim` (include 0 in `dim` to test empty
/// arrays).
pub fn shape_in(
    rank: RangeInclusive<usize>,
    dim: RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(dim, rank)
}

/// Two shapes that broadcast together (NumPy rules), derived from one `full` shape: each
/// side independently drops some leading axes and sets some others to 1. Their broadcast is
/// `full` or a shape with some of its axes at 1.
///
/// ```
/// use agon_reference::strategies::{broadcast_pair, shape};
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let (a, b) = broadcast_pair(shape(3, 4))
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// assert!(agon_tensor::broadcast_shapes(&a, &b).is_some());
/// ```
pub fn broadcast_pair(
    full: impl Strategy<Value = Vec<usize>>,
) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    full.prop_flat_map(|full| {
        let r = full.len();
        let side = (0..=r, proptest::collection::vec(any::<bool>(), r));
        (Just(full), side.clone(), side)
    })
    .prop_map(|(full, (drop_a, ones_a), (drop_b, ones_b))| {
        (
            reduce_shape(&full, drop_a, &ones_a),
            reduce_shape(&full, drop_b, &ones_b),
        )
    })
}

/// `full` without its first `drop` axes and with the axes marked in `ones` set to 1.
fn reduce_shape(full: &[usize], drop: usize, ones: &[bool]) -> Vec<usize> {
    full.iter()
        .zip(ones)
        .skip(drop)
        .map(|(&d, &one)| if one { 1 } else { d })
        .collect()
}

/// A contiguous array of `shape` with values uniform in `[-1, 1)`, drawn from
/// `StdRng::seed_from_u64(seed)`: the same seed always gives the same array.
pub fn random_array(shape: &[usize], seed: u64) -> NdArray {
    let mut rng = StdRng::seed_from_u64(seed);
    random_with(shape, &mut rng)
}

fn random_with(shape: &[usize], rng: &mut StdRng) -> NdArray {
    let n: usize = shape.iter().product();
    let data = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    NdArray::from_vec(data, shape).expect("random_with: length matches shape")
}

/// Contiguous arrays of `shape` with seeded values uniform in `[-1, 1)`.
pub fn array(shape: Vec<usize>) -> impl Strategy<Value = NdArray> {
    any::<u64>().prop_map(move |seed| random_array(&shape, seed))
}

/// How [`view_of_kind`] builds an array of a requested shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewKind {
    /// A plain contiguous array.
    Contiguous,
    /// Every axis sliced out of a larger array with a start offset and a step of 1 to 3.
    Sliced,
    /// A contiguous array of permuted shape, permuted back: no axis has its row-major stride.
    Permuted,
    /// Storage with the last two axes swapped, viewed through `transpose` (the column-major
    /// matrices that `a.matmul(&b.transpose(..))` sees). Contiguous below rank 2.
    TransposedLast2,
    /// Some axes broadcast from size 1 (stride 0, repeated values). Contiguous at rank 0.
    Broadcast,
}

impl ViewKind {
    /// Every kind, in declaration order.
    pub const ALL: [ViewKind; 5] = [
        ViewKind::Contiguous,
        ViewKind::Sliced,
        ViewKind::Permuted,
        ViewKind::TransposedLast2,
        ViewKind::Broadcast,
    ];
}

/// Any [`ViewKind`], uniformly (so 4 in 5 are non-contiguous layouts).
pub fn view_kind() -> impl Strategy<Value = ViewKind> {
    proptest::sample::select(ViewKind::ALL.to_vec())
}

/// An array of logical shape `shape` built as `kind` describes, with values (and any random
/// choice of steps, permutation or broadcast axes) drawn from `seed`.
///
/// ```
/// use agon_reference::strategies::{view_of_kind, ViewKind};
/// let x = view_of_kind(&[3, 4], ViewKind::TransposedLast2, 7);
/// assert_eq!((x.shape(), x.strides()), (&[3, 4][..], &[1, 3][..]));
/// ```
pub fn view_of_kind(shape: &[usize], kind: ViewKind, seed: u64) -> NdArray {
    let mut rng = StdRng::seed_from_u64(seed);
    let view = match kind {
        ViewKind::Contiguous => random_with(shape, &mut rng),
        ViewKind::Sliced => sliced(shape, &mut rng),
        ViewKind::Permuted => permuted(shape, &mut rng),
        ViewKind::TransposedLast2 => transposed_last2(shape, &mut rng),
        ViewKind::Broadcast => broadcast(shape, &mut rng),
    };
    debug_assert_eq!(view.shape(), shape);
    view
}

/// Arrays of logical shape `shape`, usually non-contiguous: one of the [`ViewKind`]s with a
/// random seed. Use [`view_kind`] and [`view_of_kind`] directly when a failure report
/// should name the kind.
pub fn strided_view(shape: Vec<usize>) -> impl Strategy<Value = NdArray> {
    (view_kind(), any::<u64>()).prop_map(move |(kind, seed)| view_of_kind(&shape, kind, seed))
}

/// Each axis taken as `start, start + step, ..` out of a longer axis.
fn sliced(shape: &[usize], rng: &mut StdRng) -> NdArray {
    // Per axis: (start, step, extent of the slice in the base array).
    let cuts: Vec<(usize, usize, usize)> = shape
        .iter()
        .map(|&d| {
            let (start, step) = (rng.random_range(0..=2), rng.random_range(1..=3));
            let extent = if d == 0 { 0 } else { (d - 1) * step + 1 };
            (start, step, extent)
        })
        .collect();
    // An empty axis still gets a non-empty base axis: slicing another axis of an array
    // with no elements at all could move its offset past the end of its (empty) storage.
    let base_shape: Vec<usize> = cuts
        .iter()
        .map(|&(start, _, extent)| start + extent.max(1) + rng.random_range(0..=1))
        .collect();
    let mut view = random_with(&base_shape, rng);
    for (axis, &(start, step, extent)) in cuts.iter().enumerate() {
        view = view.slice(axis, start, start + extent, step);
    }
    view
}

/// `base.permute(perm)` for a random `perm`, with `base` laid out so the result has `shape`.
fn permuted(shape: &[usize], rng: &mut StdRng) -> NdArray {
    let mut perm: Vec<usize> = (0..shape.len()).collect();
    perm.shuffle(rng);
    // Output axis k is base axis perm[k], so the base holds shape[k] at position perm[k].
    let mut base_shape = vec![0; shape.len()];
    for (k, &p) in perm.iter().enumerate() {
        base_shape[p] = shape[k];
    }
    random_with(&base_shape, rng).permute(&perm)
}

/// Storage in `[.., cols, rows]` order viewed as `[.., rows, cols]`.
fn transposed_last2(shape: &[usize], rng: &mut StdRng) -> NdArray {
    let r = shape.len();
    if r < 2 {
        return random_with(shape, rng);
    }
    let mut base_shape = shape.to_vec();
    base_shape.swap(r - 2, r - 1);
    random_with(&base_shape, rng).transpose(r - 2, r - 1)
}

/// Random axes (about half) stored with size 1 and broadcast to their full size.
fn broadcast(shape: &[usize], rng: &mut StdRng) -> NdArray {
    let base_shape: Vec<usize> = shape
        .iter()
        .map(|&d| if rng.random_bool(0.5) { 1 } else { d })
        .collect();
    random_with(&base_shape, rng).broadcast_to(shape)
}

/// Asserts `actual` and `expected` have the same shape and every element satisfies
/// `|actual - expected| <= atol + rtol * |expected|` (NaN matches only NaN, infinities only
/// themselves).
///
/// ```
/// use agon_reference::strategies::assert_close;
/// use agon_tensor::NdArray;
/// let a = NdArray::from_vec(vec![1.0, 2.0], &[2]).unwrap();
/// assert_close(&a, &a.map(|x| x + 1e-6), 1e-5, 0.0);
/// ```
///
/// # Panics
/// On a shape mismatch (naming both shapes), or when any element is out of tolerance: the
/// message gives the number of such elements, the worst one's index and both values.
#[track_caller]
pub fn assert_close(actual: &NdArray, expected: &NdArray, rtol: f32, atol: f32) {
    assert_eq!(
        actual.shape(),
        expected.shape(),
        "assert_close: actual has shape {:?}, expected {:?}",
        actual.shape(),
        expected.shape()
    );
    let (av, ev) = (actual.to_vec(), expected.to_vec());
    let mut bad = 0;
    let mut worst: Option<(usize, f32)> = None;
    for (i, (&a, &e)) in av.iter().zip(&ev).enumerate() {
        let excess = excess_error(a, e, rtol, atol);
        if excess > 0.0 {
            bad += 1;
            if worst.is_none_or(|(_, w)| excess > w) {
                worst = Some((i, excess));
            }
        }
    }
    if let Some((i, _)) = worst {
        panic!(
            "assert_close: {bad} of {} elements of shape {:?} differ by more than \
             atol {atol} + rtol {rtol} * |expected|; worst at index {:?}: actual {}, \
             expected {} (|diff| {})",
            av.len(),
            actual.shape(),
            unravel(i, actual.shape()),
            av[i],
            ev[i],
            (av[i] - ev[i]).abs()
        );
    }
}

/// How far `a` is outside the tolerance band around `e` (positive means out); infinite for a
/// NaN or infinity that `e` does not match.
fn excess_error(a: f32, e: f32, rtol: f32, atol: f32) -> f32 {
    if a == e || (a.is_nan() && e.is_nan()) {
        return 0.0;
    }
    let diff = (a - e).abs();
    if diff.is_nan() || diff.is_infinite() {
        return f32::INFINITY;
    }
    diff - (atol + rtol * e.abs())
}

/// The multi-index of row-major position `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &d) in index.iter_mut().zip(shape).rev() {
        *slot = flat % d;
        flat /= d;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn every_kind_has_the_requested_shape_and_the_non_trivial_ones_are_strided() {
        for kind in ViewKind::ALL {
            for shape in [vec![], vec![0, 3], vec![2, 3, 4], vec![5]] {
                let x = view_of_kind(&shape, kind, 3);
                assert_eq!(x.shape(), &shape[..], "{kind:?}");
                assert_eq!(x.contiguous().to_vec(), x.to_vec());
            }
        }
        assert!(!view_of_kind(&[4, 5], ViewKind::TransposedLast2, 0).is_contiguous());
    }

    #[test]
    fn strided_view_is_usually_non_contiguous() {
        let mut runner = TestRunner::deterministic();
        let strategy = strided_view(vec![3, 4, 5]);
        let strided = (0..100)
            .filter(|_| {
                !strategy
                    .new_tree(&mut runner)
                    .unwrap()
                    .current()
                    .is_contiguous()
            })
            .count();
        assert!(strided > 50, "only {strided} of 100 views were strided");
    }

    #[test]
    #[should_panic(expected = "worst at index [1, 0]: actual 5, expected 3")]
    fn assert_close_names_the_worst_element() {
        let a = NdArray::from_vec(vec![1.0, 2.0, 5.0, 4.0], &[2, 2]).unwrap();
        let e = NdArray::from_vec(vec![1.0, 2.5, 3.0, 4.0], &[2, 2]).unwrap();
        assert_close(&a, &e, 0.0, 0.1);
    }

    #[test]
    #[should_panic(expected = "actual has shape [2], expected [3]")]
    fn assert_close_checks_shapes() {
        assert_close(&NdArray::zeros(&[2]), &NdArray::zeros(&[3]), 0.0, 0.0);
    }
}
