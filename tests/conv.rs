//! Convolution kernels against the naive references, the adjoint identities that tie the
//! three ops together, determinism across thread counts, and shape-misuse panics.

mod common;
use common::on_threads;

use agon_reference::conv as reference;
use agon_reference::strategies::{assert_close, random_array, view_kind, view_of_kind, ViewKind};
use agon_tensor::{Conv2dParams, NdArray};
use proptest::prelude::*;

/// f32 kernels against f64 references: sums of at most a few hundred O(1) products.
const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-5;

/// A random conv2d problem: shapes, params, and how each operand is laid out.
#[derive(Clone, Debug)]
struct Case {
    n: usize,
    cin: usize,
    cout: usize,
    hw: [usize; 2],
    kernel: [usize; 2],
    p: Conv2dParams,
    bias: bool,
    kinds: [ViewKind; 3],
    seed: u64,
}

impl Case {
    fn x(&self) -> NdArray {
        let [h, w] = self.hw;
        view_of_kind(&[self.n, self.cin, h, w], self.kinds[0], self.seed)
    }
    fn bias(&self, channels: usize) -> Option<NdArray> {
        self.bias
            .then(|| random_array(&[channels], self.seed.wrapping_add(3)))
    }
    /// conv2d's output size.
    fn out_hw(&self) -> [usize; 2] {
        self.p.conv2d_output_hw(self.hw, self.kernel)
    }
}

/// Small shapes, strides 1-3, padding 0-2, dilation 1-2 (independent per axis), inputs at
/// least as large as the dilated kernel minus the padding.
fn case() -> impl Strategy<Value = Case> {
    let axis = || (1..=3usize, 1..=3usize, 0..=2usize, 1..=2usize, 0..=4usize);
    (
        (1..=2usize, 1..=3usize, 1..=3usize),
        axis(),
        axis(),
        any::<bool>(),
        [view_kind(), view_kind(), view_kind()],
        any::<u64>(),
    )
        .prop_map(|((n, cin, cout), ah, aw, bias, kinds, seed)| {
            let (mut hw, mut kernel) = ([0; 2], [0; 2]);
            let (mut stride, mut padding, mut dilation) = ([0; 2], [0; 2], [0; 2]);
            for (a, (k, s, p, d, extra)) in [ah, aw].into_iter().enumerate() {
                let span = d * (k - 1) + 1;
                hw[a] = span.saturating_sub(2 * p).max(1) + extra;
                (kernel[a], stride[a], padding[a], dilation[a]) = (k, s, p, d);
            }
            let p = Conv2dParams::new()
                .stride_hw(stride)
                .padding_hw(padding)
                .dilation_hw(dilation);
            Case {
                n,
                cin,
                cout,
                hw,
                kernel,
                p,
                bias,
                kinds,
                seed,
            }
        })
}

/// `<a, b>` in f64, and the scale `sum |a_i b_i|` to measure its rounding error against.
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
    fn conv2d_matches_reference(c in case()) {
        let [kh, kw] = c.kernel;
        let x = c.x();
        let w = view_of_kind(&[c.cout, c.cin, kh, kw], c.kinds[1], c.seed ^ 1);
        let b = c.bias(c.cout);
        let got = x.conv2d(&w, b.as_ref(), &c.p);
        assert_close(&got, &reference::conv2d(&x, &w, b.as_ref(), &c.p), RTOL, ATOL);
    }

    #[test]
    fn conv_transpose2d_matches_reference(c in case(), opad in (0..3usize, 0..3usize)) {
        // Here `c.cin` channels go in and `c.cout` come out; any input size works.
        let [kh, kw] = c.kernel;
        let p = c.p;
        let op = [
            opad.0 % p.stride[0].max(p.dilation[0]),
            opad.1 % p.stride[1].max(p.dilation[1]),
        ];
        let nonempty = |a: usize| {
            (c.hw[a] - 1) * p.stride[a] + p.dilation[a] * (c.kernel[a] - 1) + op[a] + 1
                > 2 * p.padding[a]
        };
        prop_assume!(nonempty(0) && nonempty(1));
        let x = c.x();
        let w = view_of_kind(&[c.cin, c.cout, kh, kw], c.kinds[1], c.seed ^ 1);
        let b = c.bias(c.cout);
        let got = x.conv_transpose2d(&w, b.as_ref(), &p, op);
        let want = reference::conv_transpose2d(&x, &w, b.as_ref(), &p, op);
        assert_close(&got, &want, RTOL, ATOL);
    }

    #[test]
    fn conv2d_weight_matches_reference(c in case()) {
        let [ho, wo] = c.out_hw();
        let x = c.x();
        let g = view_of_kind(&[c.n, c.cout, ho, wo], c.kinds[2], c.seed ^ 2);
        let got = x.conv2d_weight(&g, c.kernel, &c.p);
        assert_close(&got, &reference::conv2d_weight(&x, &g, c.kernel, &c.p), RTOL, ATOL);
    }

    #[test]
    fn conv2d_and_conv_transpose2d_are_adjoint(c in case()) {
        // <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>, with the output padding that
        // brings conv_transpose2d back to x's size.
        let [kh, kw] = c.kernel;
        let x = random_array(&[c.n, c.cin, c.hw[0], c.hw[1]], c.seed);
        let w = random_array(&[c.cout, c.cin, kh, kw], c.seed ^ 1);
        let [ho, wo] = c.out_hw();
        let y = random_array(&[c.n, c.cout, ho, wo], c.seed ^ 2);
        let p = c.p;
        let op: [usize; 2] = std::array::from_fn(|a| {
            (c.hw[a] + 2 * p.padding[a] - p.dilation[a] * (c.kernel[a] - 1) - 1) % p.stride[a]
        });
        let back = y.conv_transpose2d(&w, None, &p, op);
        prop_assert_eq!(back.shape(), x.shape());
        assert_adjoint(dot(&x.conv2d(&w, None, &p), &y), dot(&x, &back));
    }

    #[test]
    fn conv2d_and_conv2d_weight_are_adjoint(c in case()) {
        // <conv2d(x, w), y> = <w, conv2d_weight(x, y)>.
        let [kh, kw] = c.kernel;
        let x = random_array(&[c.n, c.cin, c.hw[0], c.hw[1]], c.seed);
        let w = random_array(&[c.cout, c.cin, kh, kw], c.seed ^ 1);
        let [ho, wo] = c.out_hw();
        let y = random_array(&[c.n, c.cout, ho, wo], c.seed ^ 2);
        let dw = x.conv2d_weight(&y, c.kernel, &c.p);
        assert_adjoint(dot(&x.conv2d(&w, None, &c.p), &y), dot(&w, &dw));
    }
}

/// All three ops on one layer, against the references (with a bias where there is one).
fn check_layer(x_shape: [usize; 4], cout: usize, k: usize, p: Conv2dParams) {
    check_layer_with(x_shape, cout, k, p, None);
}

/// As [`check_layer`]; with `weight_bound`, the weight gradient is checked at
/// `weight_bound * (sum |g x| + 1)` instead (see [`check_scaled`]).
fn check_layer_with(
    x_shape: [usize; 4],
    cout: usize,
    k: usize,
    p: Conv2dParams,
    weight_bound: Option<f32>,
) {
    let x = random_array(&x_shape, 1);
    let w = random_array(&[cout, x_shape[1], k, k], 2);
    let b = random_array(&[cout], 3);
    let y = x.conv2d(&w, Some(&b), &p);
    assert_close(&y, &reference::conv2d(&x, &w, Some(&b), &p), RTOL, ATOL);
    let g = random_array(y.shape(), 4);
    let dw = x.conv2d_weight(&g, [k, k], &p);
    let want = reference::conv2d_weight(&x, &g, [k, k], &p);
    match weight_bound {
        None => assert_close(&dw, &want, RTOL, ATOL),
        Some(bound) => {
            let scale = reference::conv2d_weight(&abs(&x), &abs(&g), [k, k], &p);
            check_scaled("conv2d_weight", x_shape, cout, (&dw, &want, &scale), bound);
        }
    }
    // conv_transpose2d from g's channels back to x's: Cin*kh*kw rows of columns.
    let bt = random_array(&[x_shape[1]], 5);
    let z = g.conv_transpose2d(&w, Some(&bt), &p, [0, 0]);
    let want = reference::conv_transpose2d(&g, &w, Some(&bt), &p, [0, 0]);
    assert_close(&z, &want, RTOL, ATOL);
}

/// Large maps with many channels: `64*5*5 = 1600` column rows over 400 positions are cut
/// into tiles of 256 and 144 positions, the tile edge falling mid-row (the weight gradient
/// and the transposed convolution; conv2d itself takes its few-output path here). With a
/// 9x9 kernel and padding 4 on a 36x36 map (padded rows of 44 for 36 outputs) conv2d tiles
/// too: `3*81` rows over 1296 positions in tiles of 1078 and 218 (sums of 243 products,
/// within the tolerance's few hundred).
#[test]
fn large_maps_are_tiled() {
    check_layer([2, 64, 20, 20], 2, 5, Conv2dParams::new().padding(2));
    let p = Conv2dParams::new().padding(4);
    let (x, w) = (
        random_array(&[2, 3, 36, 36], 1),
        random_array(&[6, 3, 9, 9], 2),
    );
    let b = random_array(&[6], 3);
    let y = x.conv2d(&w, Some(&b), &p);
    assert_close(&y, &reference::conv2d(&x, &w, Some(&b), &p), RTOL, ATOL);
}

/// Small maps (110 positions) with `200*5*5 = 5000` column rows: two images side by side
/// per gemm, and an odd batch leaves a block with one image.
#[test]
fn small_maps_are_batched_side_by_side() {
    check_layer([3, 200, 10, 11], 3, 5, Conv2dParams::new().padding(2));
}

/// Strided layers run as implicit GEMMs packed from the padded input's stride phases: 4x4
/// stride-2 layers shaped like the default discriminator's (28 -> 14 from one channel;
/// 14 -> 7, 8 phase columns per output row of 7), dcgan28's 5x5 stride-2 first layer, a
/// stride-3 one, and odd sizes whose phases differ in length.
#[test]
fn strided_layers_from_padded_phases_match_the_reference() {
    let s2 = Conv2dParams::new().stride(2).padding(1);
    check_layer([3, 1, 28, 28], 64, 4, s2);
    check_layer([5, 64, 14, 14], 128, 4, s2);
    check_layer(
        [2, 3, 28, 28],
        8,
        5,
        Conv2dParams::new().stride(2).padding(2),
    );
    check_layer(
        [2, 4, 31, 29],
        6,
        3,
        Conv2dParams::new().stride(3).padding(1),
    );
    check_layer(
        [2, 5, 17, 21],
        7,
        4,
        Conv2dParams::new().stride_hw([2, 1]).padding(1),
    );
    check_layer(
        [2, 5, 9, 16],
        7,
        4,
        Conv2dParams::new().stride_hw([1, 2]).padding(1),
    );
}

/// Batches that fill the vector lanes (`conv/image_lanes.rs`: 32 images to a block on
/// AVX-512, 16 on AVX2) run conv2d and conv_transpose2d with the images in the lanes and
/// the taps on the padding skipped: dcgan28's 5x5 stride-2 layer with 53 images (the last
/// block part-filled) on an odd, non-square map, and the default discriminator's 4x4
/// stride-2 layer with 64. Their weight gradients take the runs over (pixel, image)
/// (`conv/weight_runs.rs`): each element one sequential sum over the whole batch, 1590 and
/// 3136 products that cancel (to 0.0068 off by 1.4e-5 in the first layer), so they are
/// checked at `1e-6 * (sum |g x| + 1)` as the long Winograd sums are.
#[test]
fn batches_in_the_vector_lanes_match_the_reference() {
    check_layer_with(
        [53, 16, 11, 9],
        24,
        5,
        Conv2dParams::new().stride(2).padding(2),
        Some(1e-6),
    );
    check_layer_with(
        [64, 32, 14, 14],
        16,
        4,
        Conv2dParams::new().stride(2).padding(1),
        Some(1e-6),
    );
}

/// 3x3 stride-1 layers with enough channels run as Winograd F(2x2, 3x3) (conv2d, and the
/// input gradient through it where the layer is padded): a U-Net-sized 64-channel layer on
/// odd, non-square maps (edge tiles cut), a CycleGAN residual block (128 channels, no
/// padding: its input gradient takes gemm + col2im) and 32 channels on a map of over 28x28
/// positions. 5x5 stride-1 layers with 64+ channels run as F(2x2, 5x5): dcgan28's G1
/// (256 and 128 channels on 7x7, padding 2, both directions), and an odd map with padding 1.
/// Winograd differs from direct summation by rounding only; these sums of 576-6400
/// products stay within the same tolerance as the other paths, except the long weight
/// gradients (the 3x3 layer on 30x29 by Winograd, and the 5x5 ones, which on these small
/// maps take the direct runs over the batch, `conv/weight_runs.rs`, before Winograd):
/// sums of 1740-6272 products that cancel (to 0.008 from a magnitude near 400 on the 30x29
/// map, off by 1.4e-5) are checked at `1e-6 * (sum |g x| + 1)` (3x3) and `1e-5 * (..)`
/// (5x5, the bound of F(2x2, 5x5), whose weight gradient the unit tests in
/// `winograd/weight_grad.rs` hold to it against f64).
#[test]
fn winograd_layers_match_the_reference() {
    let same = Conv2dParams::new().padding(1);
    check_layer([3, 64, 13, 11], 64, 3, same);
    check_layer([2, 128, 9, 9], 128, 3, Conv2dParams::new());
    check_layer_with([2, 32, 30, 29], 32, 3, same, Some(1e-6));
    check_winograd_5x5([3, 128, 7, 7], 256, Conv2dParams::new().padding(2));
    check_winograd_5x5([2, 64, 9, 11], 64, same);
}

/// A 5x5 layer's conv2d, transposed convolution and weight gradient against the reference, each output
/// within `1e-5 * (sum |w x| + 1)`: F(2x2, 5x5)'s transforms multiply by 4, 5 and sixths,
/// so on sums that cancel (G1's 3200 products of a magnitude near 800 ending near 0.07)
/// its error of about 2e-4 is beyond the relative tolerance of the other paths, though
/// within 3e-7 of the products' magnitude (the unit tests measure up to 1.7e-6).
fn check_winograd_5x5(x_shape: [usize; 4], cout: usize, p: Conv2dParams) {
    let x = random_array(&x_shape, 1);
    let w = random_array(&[cout, x_shape[1], 5, 5], 2);
    let g = random_array(reference::conv2d(&x, &w, None, &p).shape(), 4);
    let pairs = [
        (
            x.conv2d(&w, None, &p),
            reference::conv2d(&x, &w, None, &p),
            reference::conv2d(&abs(&x), &abs(&w), None, &p),
        ),
        (
            g.conv_transpose2d(&w, None, &p, [0, 0]),
            reference::conv_transpose2d(&g, &w, None, &p, [0, 0]),
            reference::conv_transpose2d(&abs(&g), &abs(&w), None, &p, [0, 0]),
        ),
        (
            x.conv2d_weight(&g, [5, 5], &p),
            reference::conv2d_weight(&x, &g, [5, 5], &p),
            reference::conv2d_weight(&abs(&x), &abs(&g), [5, 5], &p),
        ),
    ];
    let ops = ["conv2d", "conv_transpose2d", "conv2d_weight"];
    for (op, triple) in ops.into_iter().zip(&pairs) {
        check_scaled(op, x_shape, cout, (&triple.0, &triple.1, &triple.2), 1e-5);
    }
}

/// Elementwise `|a|`.
fn abs(a: &NdArray) -> NdArray {
    NdArray::from_vec(a.to_vec().iter().map(|v| v.abs()).collect(), a.shape()).unwrap()
}

/// Each of `got` within `bound * (scale + 1)` of `want`, where `scale` is the op on the
/// operands' magnitudes (`sum |w x|` per output): the scale f32 rounding works at.
fn check_scaled(
    op: &str,
    x_shape: [usize; 4],
    cout: usize,
    (got, want, scale): (&NdArray, &NdArray, &NdArray),
    bound: f32,
) {
    assert_eq!(got.shape(), want.shape());
    let (got, want, scale) = (got.to_vec(), want.to_vec(), scale.to_vec());
    for (i, ((a, b), s)) in got.iter().zip(&want).zip(&scale).enumerate() {
        assert!(
            (a - b).abs() <= bound * (s + 1.0),
            "{op} {x_shape:?} -> {cout}: output {i} is {a}, want {b} (scale {s})"
        );
    }
}

#[test]
fn empty_batch_gives_empty_outputs() {
    let p = Conv2dParams::new().padding(1);
    let x = NdArray::zeros(&[0, 2, 4, 4]);
    let w = NdArray::ones(&[3, 2, 3, 3]);
    assert_eq!(x.conv2d(&w, None, &p).shape(), &[0, 3, 4, 4]);
    let g = NdArray::zeros(&[0, 3, 4, 4]);
    assert_eq!(
        x.conv2d_weight(&g, [3, 3], &p),
        NdArray::zeros(&[3, 2, 3, 3])
    );
    let wt = NdArray::ones(&[3, 2, 3, 3]);
    assert_eq!(
        g.conv_transpose2d(&wt, None, &p, [0, 0]).shape(),
        &[0, 2, 4, 4]
    );
}

/// Bit patterns, so the comparison is exact (and NaN-safe).
fn bits(a: &NdArray) -> Vec<u32> {
    a.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// dcgan28's second discriminator conv (and the matching generator layer) at batch 64:
/// same bits on one and two threads.
#[test]
fn dcgan28_layers_are_deterministic_across_thread_counts() {
    let p = Conv2dParams::new().stride(2).padding(2);
    let x = random_array(&[64, 64, 14, 14], 10);
    let w = random_array(&[128, 64, 5, 5], 11);
    let b = random_array(&[128], 12);
    let g = random_array(&[64, 128, 7, 7], 13);
    let run = || {
        (
            bits(&x.conv2d(&w, Some(&b), &p)),
            bits(&g.conv_transpose2d(&w, None, &p, [1, 1])),
            bits(&x.conv2d_weight(&g, [5, 5], &p)),
        )
    };
    let one = on_threads(1, run);
    let two = on_threads(2, run);
    assert!(one.0 == two.0, "conv2d differs between 1 and 2 threads");
    assert!(
        one.1 == two.1,
        "conv_transpose2d differs between 1 and 2 threads"
    );
    assert!(
        one.2 == two.2,
        "conv2d_weight differs between 1 and 2 threads"
    );
}

/// Winograd layers (3x3 and 5x5): the same bits on one and two threads, with many images
/// per call (rayon tasks over the batch) and with one (the GEMMs split their own tiles).
#[test]
fn winograd_layers_are_deterministic_across_thread_counts() {
    for (k, shape, seed) in [
        (3, [16, 64, 14, 14], 22),
        (3, [1, 64, 40, 40], 23),
        (5, [9, 64, 7, 7], 24),
        (5, [1, 64, 20, 20], 25),
    ] {
        let same = Conv2dParams::new().padding(k / 2);
        let w = random_array(&[64, 64, k, k], 21);
        let x = random_array(&shape, seed);
        let run = || {
            (
                bits(&x.conv2d(&w, None, &same)),
                bits(&x.conv_transpose2d(&w, None, &same, [0, 0])),
            )
        };
        assert!(
            on_threads(1, run) == on_threads(2, run),
            "{k}x{k} {shape:?} differs between 1 and 2 threads"
        );
    }
}

#[test]
fn builders_and_output_sizes() {
    let p = Conv2dParams::new().stride(2).padding(2);
    assert_eq!(p.conv2d_output_hw([28, 28], [5, 5]), [14, 14]);
    assert_eq!(
        p.conv_transpose2d_output_hw([14, 14], [5, 5], [1, 1]),
        [28, 28]
    );
    let q = Conv2dParams::new().dilation(2).padding_hw([0, 1]);
    assert_eq!(q.conv2d_output_hw([7, 7], [3, 3]), [3, 5]);
    // Output padding may reach the dilation when it is below the stride, and vice versa.
    let r = Conv2dParams::new().dilation(3);
    assert_eq!(r.conv_transpose2d_output_hw([2, 2], [2, 2], [2, 0]), [7, 5]);
}

// ---- misuse ----

fn img(shape: &[usize]) -> NdArray {
    NdArray::zeros(shape)
}

#[test]
#[should_panic(expected = "conv2d: input must be 4-D")]
fn conv2d_rejects_rank_3_input() {
    img(&[1, 4, 4]).conv2d(&img(&[1, 1, 3, 3]), None, &Conv2dParams::new());
}

#[test]
#[should_panic(expected = "conv2d: weight must be 4-D")]
fn conv2d_rejects_rank_2_weight() {
    img(&[1, 1, 4, 4]).conv2d(&img(&[1, 9]), None, &Conv2dParams::new());
}

#[test]
#[should_panic(expected = "conv2d: input [1, 3, 4, 4] has 3 channels but weight [2, 4, 3, 3]")]
fn conv2d_rejects_channel_mismatch() {
    img(&[1, 3, 4, 4]).conv2d(&img(&[2, 4, 3, 3]), None, &Conv2dParams::new());
}

#[test]
#[should_panic(expected = "conv2d: dilated kernel extent 5")]
fn conv2d_rejects_kernel_larger_than_padded_input() {
    let p = Conv2dParams::new().dilation(2);
    img(&[1, 1, 4, 4]).conv2d(&img(&[1, 1, 3, 3]), None, &p);
}

#[test]
#[should_panic(expected = "conv2d: stride must be positive")]
fn conv2d_rejects_zero_stride() {
    let p = Conv2dParams::new().stride_hw([1, 0]);
    img(&[1, 1, 4, 4]).conv2d(&img(&[1, 1, 3, 3]), None, &p);
}

#[test]
#[should_panic(expected = "conv2d: dilation must be positive")]
fn conv2d_rejects_zero_dilation() {
    let p = Conv2dParams::new().dilation(0);
    img(&[1, 1, 4, 4]).conv2d(&img(&[1, 1, 3, 3]), None, &p);
}

#[test]
#[should_panic(expected = "conv2d: kernel size must be positive")]
fn conv2d_rejects_empty_kernel() {
    img(&[1, 1, 4, 4]).conv2d(&img(&[1, 1, 0, 3]), None, &Conv2dParams::new());
}

#[test]
#[should_panic(expected = "conv2d: bias must have shape [2]")]
fn conv2d_rejects_bad_bias() {
    let b = img(&[1, 2]);
    img(&[1, 1, 4, 4]).conv2d(&img(&[2, 1, 3, 3]), Some(&b), &Conv2dParams::new());
}

#[test]
#[should_panic(
    expected = "conv_transpose2d: input [1, 3, 4, 4] has 3 channels but weight [2, 3, 3, 3]"
)]
fn conv_transpose2d_rejects_channel_mismatch() {
    img(&[1, 3, 4, 4]).conv_transpose2d(&img(&[2, 3, 3, 3]), None, &Conv2dParams::new(), [0, 0]);
}

#[test]
#[should_panic(expected = "conv_transpose2d: output_padding [2, 0] must be smaller")]
fn conv_transpose2d_rejects_large_output_padding() {
    let p = Conv2dParams::new().stride(2);
    img(&[1, 1, 4, 4]).conv_transpose2d(&img(&[1, 1, 3, 3]), None, &p, [2, 0]);
}

#[test]
#[should_panic(expected = "conv_transpose2d: input size [1, 1] with kernel [1, 1]")]
fn conv_transpose2d_rejects_empty_output() {
    let p = Conv2dParams::new().padding(1);
    img(&[1, 1, 1, 1]).conv_transpose2d(&img(&[1, 1, 1, 1]), None, &p, [0, 0]);
}

#[test]
#[should_panic(expected = "conv_transpose2d: bias must have shape [2]")]
fn conv_transpose2d_rejects_bad_bias() {
    let b = img(&[1]);
    img(&[1, 1, 4, 4]).conv_transpose2d(
        &img(&[1, 2, 3, 3]),
        Some(&b),
        &Conv2dParams::new(),
        [0, 0],
    );
}

#[test]
#[should_panic(expected = "conv2d_weight: grad_output [1, 2, 3, 3] has spatial size [3, 3] but")]
fn conv2d_weight_rejects_wrong_grad_size() {
    img(&[1, 1, 4, 4]).conv2d_weight(&img(&[1, 2, 3, 3]), [3, 3], &Conv2dParams::new());
}

#[test]
#[should_panic(
    expected = "conv2d_weight: input [2, 1, 4, 4] and grad_output [1, 2, 2, 2] have different batch sizes"
)]
fn conv2d_weight_rejects_batch_mismatch() {
    img(&[2, 1, 4, 4]).conv2d_weight(&img(&[1, 2, 2, 2]), [3, 3], &Conv2dParams::new());
}

#[test]
#[should_panic(expected = "conv2d_weight: grad_output must be 4-D")]
fn conv2d_weight_rejects_rank_3_grad() {
    img(&[1, 1, 4, 4]).conv2d_weight(&img(&[2, 2, 2]), [3, 3], &Conv2dParams::new());
}

/// Shape errors are reported at the caller's line (`#[track_caller]` all the way down).
#[test]
fn panics_point_at_the_caller() {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&seen);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(loc) = info.location() {
            sink.lock().unwrap().push(loc.file().to_string());
        }
    }));
    let x = img(&[1, 1, 4, 4]);
    let cases: Vec<Box<dyn Fn() + std::panic::RefUnwindSafe>> = vec![
        Box::new(|| drop(x.conv2d(&img(&[1, 2, 3, 3]), None, &Conv2dParams::new()))),
        Box::new(|| drop(x.conv2d(&img(&[1, 1, 9, 3]), None, &Conv2dParams::new()))),
        Box::new(|| {
            drop(x.conv_transpose2d(&img(&[1, 1, 3, 3]), None, &Conv2dParams::new(), [1, 0]))
        }),
        Box::new(|| drop(x.conv2d_weight(&img(&[1, 1, 3, 3]), [3, 3], &Conv2dParams::new()))),
    ];
    let mut results = vec![];
    for case in &cases {
        results.push(std::panic::catch_unwind(case).is_err());
    }
    std::panic::set_hook(prev);
    assert!(results.iter().all(|&r| r));
    // Other tests may panic concurrently; ours are the ones that name this file or the
    // crate sources. None of ours may point into the tensor crate.
    let files = seen.lock().unwrap().clone();
    assert!(
        files
            .iter()
            .filter(|f| f.ends_with("conv.rs") && f.starts_with("tests"))
            .count()
            >= 4,
        "panic locations: {files:?}"
    );
    assert!(
        !files.iter().any(|f| f.contains("crates/tensor")),
        "panic locations: {files:?}"
    );
}
