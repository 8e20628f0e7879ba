//! Pooling and nearest upsampling against the naive references, their adjoint identities,
//! PyTorch's tie and NaN rules, and shape-misuse panics.

use agon_reference::pool as reference;
use agon_reference::strategies::{assert_close, random_array, view_kind, view_of_kind, ViewKind};
use agon_tensor::{Indices, NdArray, Pool2dParams};
use proptest::prelude::*;

/// A random pooling problem: `[N, C, H, W]` input, params valid for it, and its layout.
#[derive(Clone, Debug)]
struct Case {
    shape: [usize; 4],
    p: Pool2dParams,
    kind: ViewKind,
    seed: u64,
}

impl Case {
    fn x(&self) -> NdArray {
        view_of_kind(&self.shape, self.kind, self.seed)
    }
    fn hw(&self) -> [usize; 2] {
        [self.shape[2], self.shape[3]]
    }
}

/// Kernels 1-4, strides 1-3, padding up to half the kernel (PyTorch's limit), per axis.
fn case() -> impl Strategy<Value = Case> {
    let axis = || {
        (1..=4usize, 1..=3usize, 0..=2usize, 0..=5usize)
            .prop_map(|(k, s, p, extra)| (k, s, p.min(k / 2), extra))
    };
    (
        (1..=2usize, 1..=3usize),
        axis(),
        axis(),
        view_kind(),
        any::<u64>(),
    )
        .prop_map(|((n, c), ah, aw, kind, seed)| {
            let mut shape = [n, c, 0, 0];
            let (mut kernel, mut stride, mut padding) = ([0; 2], [0; 2], [0; 2]);
            for (a, (k, s, p, extra)) in [ah, aw].into_iter().enumerate() {
                shape[2 + a] = k.saturating_sub(2 * p).max(1) + extra;
                (kernel[a], stride[a], padding[a]) = (k, s, p);
            }
            let p = Pool2dParams::new_hw(kernel)
                .stride_hw(stride)
                .padding_hw(padding);
            Case {
                shape,
                p,
                kind,
                seed,
            }
        })
}

/// `<a, b>` in f64 and `sum |a_i b_i|`, the scale of its rounding error.
fn dot(a: &NdArray, b: &NdArray) -> (f64, f64) {
    assert_eq!(a.shape(), b.shape());
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .fold((0.0, 0.0), |(s, m), (&x, y)| {
            let p = x as f64 * y as f64;
            (s + p, m + p.abs())
        })
}

fn assert_adjoint(lhs: (f64, f64), rhs: (f64, f64)) {
    let scale = lhs.1.max(rhs.1).max(1e-30);
    assert!(
        (lhs.0 - rhs.0).abs() <= 1e-4 * scale,
        "adjoint identity: {} vs {} (scale {scale})",
        lhs.0,
        rhs.0
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn max_pool2d_matches_reference(c in case()) {
        let x = c.x();
        let (y, idx) = x.max_pool2d(&c.p);
        let (want, want_idx) = reference::max_pool2d(&x, &c.p);
        prop_assert_eq!(y.to_vec(), want.to_vec());
        prop_assert_eq!(y.shape(), want.shape());
        prop_assert_eq!(idx, want_idx);
    }

    #[test]
    fn max_unpool2d_matches_reference(c in case(), gseed in any::<u64>()) {
        let (y, idx) = c.x().max_pool2d(&c.p);
        let g = view_of_kind(y.shape(), c.kind, gseed);
        let got = g.max_unpool2d(&idx, c.hw());
        assert_close(&got, &reference::max_unpool2d(&g, &idx, c.hw()), 1e-5, 1e-6);
    }

    #[test]
    fn avg_pool2d_and_adjoint_match_reference(c in case(), gseed in any::<u64>()) {
        let x = c.x();
        let y = x.avg_pool2d(&c.p);
        assert_close(&y, &reference::avg_pool2d(&x, &c.p), 1e-5, 1e-6);
        let g = view_of_kind(y.shape(), c.kind, gseed);
        let got = g.avg_pool2d_adjoint(&c.p, c.hw());
        assert_close(&got, &reference::avg_pool2d_adjoint(&g, &c.p, c.hw()), 1e-5, 1e-6);
    }

    #[test]
    fn upsample_matches_reference(
        shape in (1..=2usize, 1..=3usize, 1..=5usize, 1..=5usize),
        scale in (1..=3usize, 1..=3usize),
        kind in view_kind(),
        seed in any::<u64>(),
    ) {
        let (n, c, h, w) = shape;
        let scale = [scale.0, scale.1];
        let x = view_of_kind(&[n, c, h, w], kind, seed);
        let y = x.upsample_nearest2d(scale);
        prop_assert_eq!(y.to_vec(), reference::upsample_nearest2d(&x, scale).to_vec());
        let g = view_of_kind(y.shape(), kind, seed ^ 1);
        let dx = g.upsample_nearest2d_adjoint(scale);
        assert_close(&dx, &reference::upsample_nearest2d_adjoint(&g, scale), 1e-5, 1e-6);
        // <up(x), g> = <x, up^T(g)>
        assert_adjoint(dot(&y, &g), dot(&x, &dx));
    }

    #[test]
    fn max_pool_pair_is_adjoint(c in case(), gseed in any::<u64>()) {
        // For fixed indices, x -> max_pool2d(x) is the linear map "pick x at idx":
        // <pick(x), y> = <x, max_unpool2d(y, idx)>.
        let x = c.x();
        let (y, idx) = x.max_pool2d(&c.p);
        let g = random_array(y.shape(), gseed);
        assert_adjoint(dot(&y, &g), dot(&x, &g.max_unpool2d(&idx, c.hw())));
    }

    #[test]
    fn avg_pool_pair_is_adjoint(c in case(), gseed in any::<u64>()) {
        let x = c.x();
        let y = x.avg_pool2d(&c.p);
        let g = random_array(y.shape(), gseed);
        assert_adjoint(dot(&y, &g), dot(&x, &g.avg_pool2d_adjoint(&c.p, c.hw())));
    }
}

#[test]
fn max_pool2d_follows_pytorch_on_ties_nan_and_padding() {
    let nan = f32::NAN;
    #[rustfmt::skip]
    let x = NdArray::from_vec(vec![
        2.0, 2.0, 1.0, nan,
        0.0, 2.0, nan, 5.0,
    ], &[1, 1, 2, 4]).unwrap();
    let (y, idx) = x.max_pool2d(&Pool2dParams::new(2));
    // Ties: the first maximum in row-major order. NaN: the last NaN in the window wins.
    assert_eq!(y.to_vec()[0], 2.0);
    assert!(y.to_vec()[1].is_nan());
    assert_eq!(idx.as_slice(), &[0, 6]);
    assert_eq!(reference::max_pool2d(&x, &Pool2dParams::new(2)).1, idx);
    // -inf padding: an all-negative window at the border still picks an input element.
    let x = NdArray::full(&[1, 1, 2, 2], -3.0);
    let (y, idx) = x.max_pool2d(&Pool2dParams::new(2).stride(1).padding(1));
    assert_eq!(y.to_vec(), vec![-3.0; 9]);
    assert_eq!(idx.as_slice(), &[0, 0, 1, 0, 0, 1, 2, 2, 3]);
}

#[test]
fn max_unpool2d_accumulates_overlapping_windows() {
    // 3x3 windows with stride 1 on a plane whose maximum is in the middle: every window
    // picks it, so it receives the sum of all gradients.
    let mut v = vec![0.0; 16];
    v[5] = 9.0;
    let x = NdArray::from_vec(v, &[1, 1, 4, 4]).unwrap();
    let (_, idx) = x.max_pool2d(&Pool2dParams::new(3).stride(1));
    assert_eq!(idx.as_slice(), &[5, 5, 5, 5]);
    let g = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap();
    assert_eq!(g.max_unpool2d(&idx, [4, 4]).get(&[0, 0, 1, 1]), 10.0);
}

#[test]
fn large_inputs_take_the_parallel_path() {
    let p = Pool2dParams::new(3).stride(2).padding(1);
    let x = random_array(&[8, 16, 32, 32], 5);
    let (y, idx) = x.max_pool2d(&p);
    let (want, want_idx) = reference::max_pool2d(&x, &p);
    assert_eq!(y, want);
    assert_eq!(idx, want_idx);
    assert_close(
        &x.avg_pool2d(&p),
        &reference::avg_pool2d(&x, &p),
        1e-5,
        1e-6,
    );
    assert_close(
        &y.max_unpool2d(&idx, [32, 32]),
        &reference::max_unpool2d(&y, &idx, [32, 32]),
        1e-5,
        1e-6,
    );
    assert_close(
        &y.avg_pool2d_adjoint(&p, [32, 32]),
        &reference::avg_pool2d_adjoint(&y, &p, [32, 32]),
        1e-5,
        1e-6,
    );
    let u = x.upsample_nearest2d([2, 2]);
    assert_eq!(u, reference::upsample_nearest2d(&x, [2, 2]));
    assert_close(
        &u.upsample_nearest2d_adjoint([2, 2]),
        &reference::upsample_nearest2d_adjoint(&u, [2, 2]),
        1e-5,
        1e-6,
    );
}

#[test]
fn builders_and_output_sizes() {
    let p = Pool2dParams::new(2);
    assert_eq!((p.kernel, p.stride, p.padding), ([2, 2], [2, 2], [0, 0]));
    let q = Pool2dParams::new_hw([3, 1])
        .stride_hw([2, 1])
        .padding_hw([1, 0]);
    assert_eq!(q.output_hw([5, 4]), [3, 4]);
    assert_eq!(
        NdArray::zeros(&[2, 3, 5, 4]).avg_pool2d(&q).shape(),
        &[2, 3, 3, 4]
    );
}

// ---- misuse ----

#[test]
#[should_panic(expected = "max_pool2d: input must be 4-D [N, C, H, W], got shape [4, 4]")]
fn max_pool2d_rejects_rank_2() {
    NdArray::zeros(&[4, 4]).max_pool2d(&Pool2dParams::new(2));
}

#[test]
#[should_panic(expected = "avg_pool2d: kernel [3, 3] is larger than the padded input")]
fn avg_pool2d_rejects_large_kernel() {
    NdArray::zeros(&[1, 1, 2, 2]).avg_pool2d(&Pool2dParams::new(3));
}

#[test]
#[should_panic(expected = "max_pool2d: padding [2, 2] must be at most half the kernel [3, 3]")]
fn max_pool2d_rejects_large_padding() {
    NdArray::zeros(&[1, 1, 4, 4]).max_pool2d(&Pool2dParams::new(3).padding(2));
}

#[test]
#[should_panic(expected = "avg_pool2d: kernel [2, 2] and stride [0, 0] must be positive")]
fn avg_pool2d_rejects_zero_stride() {
    NdArray::zeros(&[1, 1, 4, 4]).avg_pool2d(&Pool2dParams::new(2).stride(0));
}

#[test]
#[should_panic(
    expected = "max_unpool2d: indices [1, 1, 1, 2] must have the shape of the values [1, 1, 2, 1]"
)]
fn max_unpool2d_rejects_mismatched_indices() {
    let idx = Indices::from_vec(vec![0, 1], &[1, 1, 1, 2]);
    NdArray::zeros(&[1, 1, 2, 1]).max_unpool2d(&idx, [2, 2]);
}

#[test]
#[should_panic(expected = "max_unpool2d: index 4 is out of range for input planes [2, 2]")]
fn max_unpool2d_rejects_out_of_range_index() {
    let idx = Indices::from_vec(vec![0, 4], &[1, 1, 1, 2]);
    NdArray::zeros(&[1, 1, 1, 2]).max_unpool2d(&idx, [2, 2]);
}

#[test]
#[should_panic(expected = "avg_pool2d_adjoint: gradient [1, 1, 2, 2] has spatial size [2, 2]")]
fn avg_pool2d_adjoint_rejects_wrong_size() {
    NdArray::zeros(&[1, 1, 2, 2]).avg_pool2d_adjoint(&Pool2dParams::new(2), [6, 6]);
}

#[test]
#[should_panic(expected = "upsample_nearest2d: scale factors must be positive")]
fn upsample_rejects_zero_scale() {
    NdArray::zeros(&[1, 1, 2, 2]).upsample_nearest2d([0, 1]);
}

#[test]
#[should_panic(
    expected = "upsample_nearest2d_adjoint: gradient [1, 1, 3, 4] has spatial size [3, 4], not a multiple"
)]
fn upsample_adjoint_rejects_indivisible_size() {
    NdArray::zeros(&[1, 1, 3, 4]).upsample_nearest2d_adjoint([2, 2]);
}
