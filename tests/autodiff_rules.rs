//! Every backward rule of `agon-autodiff`, checked against finite differences at first and
//! second order (`agon_reference::gradcheck`, whose module docs explain the step and the
//! tolerances).
//!
//! [`check`] runs three checks on `f`: `gradcheck(f)`, `gradgradcheck(f)` (which also
//! differentiates with respect to the output weighting, so a rule that treated its
//! incoming gradient as a constant fails) and `gradgradcheck(f²)` (so the gradient entering
//! each rule depends on `x`, which makes the second-order check meaningful for linear and
//! piecewise-linear ops, whose own second derivative is zero).
//!
//! Inputs are small and kept more than `eps` away from kinks and ties: [`away`] for
//! relu / abs / leaky_relu, [`distinct`] for max / min / max-pooling, hand-picked values
//! for `clamp` and `maximum`.

use agon_autodiff::{
    batch_norm, instance_norm, layer_norm, pixel_shuffle, reflection_pad2d, BatchNormMode,
    Reduction, Rule, Tensor,
};
use agon_reference::gradcheck::{gradcheck, gradgradcheck, GradcheckError, GradcheckOptions, Wrt};
use agon_reference::strategies::assert_close;
use agon_tensor::{Conv2dParams, Indices, NdArray, Pool2dParams};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// `gradcheck(f)`, `gradgradcheck(f)` and `gradgradcheck(f²)`, panicking with the report.
#[track_caller]
fn check(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[NdArray]) {
    let o = GradcheckOptions::default();
    if let Err(e) = gradcheck(&f, inputs, &o) {
        panic!("first order: {e}");
    }
    if let Err(e) = gradgradcheck(&f, inputs, &o) {
        panic!("second order: {e}");
    }
    if let Err(e) = gradgradcheck(|x: &[Tensor]| f(x).square(), inputs, &o) {
        panic!("second order of f^2: {e}");
    }
}

fn arr(data: &[f32], shape: &[usize]) -> NdArray {
    NdArray::from_vec(data.to_vec(), shape).unwrap()
}

/// Uniform in [-1, 1).
fn rnd(shape: &[usize], seed: u64) -> NdArray {
    NdArray::rand_uniform(shape, -1.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// Uniform in [lo, hi).
fn uni(shape: &[usize], lo: f32, hi: f32, seed: u64) -> NdArray {
    NdArray::rand_uniform(shape, lo, hi, &mut StdRng::seed_from_u64(seed))
}

/// Magnitude in [0.1, 1), random sign: at least 0.1 from the kink at 0.
fn away(shape: &[usize], seed: u64) -> NdArray {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            let m: f32 = rng.random_range(0.1..1.0);
            if rng.random_bool(0.5) {
                m
            } else {
                -m
            }
        })
        .collect();
    NdArray::from_vec(data, shape).unwrap()
}

/// A shuffled even grid over [-1.5, 1.5]: all values distinct by 3/n (> 2 eps for the
/// sizes used here), so no max / min / pooling window has a tie a step could flip.
fn distinct(shape: &[usize], seed: u64) -> NdArray {
    let n: usize = shape.iter().product();
    let mut data: Vec<f32> = (0..n)
        .map(|k| -1.5 + 3.0 * k as f32 / n.max(2) as f32)
        .collect();
    data.shuffle(&mut StdRng::seed_from_u64(seed));
    NdArray::from_vec(data, shape).unwrap()
}

fn idx(data: &[usize], shape: &[usize]) -> Indices {
    Indices::from_vec(data.to_vec(), shape)
}

// ---------------------------------------------------------------------------------------
// Broadcasting arithmetic
// ---------------------------------------------------------------------------------------

#[test]
fn add() {
    check(|x| x[0].add(&x[1]), &[rnd(&[2, 3], 1), rnd(&[3], 2)]);
    check(|x| x[0].add(&x[1]), &[rnd(&[2, 1], 3), rnd(&[1, 3], 4)]);
}

#[test]
fn sub() {
    check(|x| x[0].sub(&x[1]), &[rnd(&[2, 3], 5), rnd(&[2, 1], 6)]);
    check(|x| x[0].sub(&x[1]), &[rnd(&[3], 7), rnd(&[2, 3], 8)]);
}

#[test]
fn mul() {
    check(|x| x[0].mul(&x[1]), &[rnd(&[2, 3], 9), rnd(&[3], 10)]);
    check(|x| x[0].mul(&x[1]), &[rnd(&[2, 1], 11), rnd(&[1, 3], 12)]);
    check(|x| x[0].mul(&x[0]), &[rnd(&[4], 13)]);
}

#[test]
fn div() {
    check(
        |x| x[0].div(&x[1]),
        &[rnd(&[2, 3], 14), uni(&[3], 0.5, 2.0, 15)],
    );
    check(
        |x| x[0].div(&x[1]),
        &[rnd(&[2, 1], 16), uni(&[1, 3], -2.0, -0.5, 17)],
    );
}

/// `a` against `b` broadcast over rows: every pair at least 0.1 apart, each side wins
/// somewhere.
fn max_pair() -> [NdArray; 2] {
    [
        arr(&[0.9, -0.3, 0.5, -0.8, 0.1, 0.7], &[2, 3]),
        arr(&[0.2, -0.5, 0.6], &[3]),
    ]
}

#[test]
fn maximum() {
    check(|x| x[0].maximum(&x[1]), &max_pair());
}

#[test]
fn minimum() {
    check(|x| x[0].minimum(&x[1]), &max_pair());
}

#[test]
fn where_() {
    let mask = arr(&[1.0, 0.0, 1.0, 0.0, 0.0, 1.0], &[2, 3]);
    check(
        move |x| Tensor::where_(&mask, &x[0], &x[1]),
        &[rnd(&[2, 3], 18), rnd(&[3], 19)],
    );
}

#[test]
fn scalar_arith() {
    check(|x| x[0].add_scalar(0.5), &[rnd(&[2, 3], 20)]);
    check(|x| x[0].sub_scalar(0.5), &[rnd(&[2, 3], 21)]);
    check(|x| x[0].mul_scalar(-1.5), &[rnd(&[2, 3], 22)]);
    check(|x| x[0].div_scalar(4.0), &[rnd(&[2, 3], 23)]);
}

// ---------------------------------------------------------------------------------------
// Unary
// ---------------------------------------------------------------------------------------

#[test]
fn neg() {
    check(|x| x[0].neg(), &[rnd(&[2, 3], 24)]);
}

#[test]
fn exp() {
    check(|x| x[0].exp(), &[rnd(&[2, 3], 25)]);
}

#[test]
fn log() {
    check(|x| x[0].log(), &[uni(&[2, 3], 0.5, 2.0, 26)]);
}

#[test]
fn sqrt() {
    check(|x| x[0].sqrt(), &[uni(&[2, 3], 0.5, 2.0, 27)]);
}

#[test]
fn abs() {
    check(|x| x[0].abs(), &[away(&[2, 3], 28)]);
    check(|x| x[0].abs().mul(&x[0]), &[away(&[2, 3], 29)]);
}

#[test]
fn relu() {
    check(|x| x[0].relu(), &[away(&[2, 3], 30)]);
    // Piecewise linear: compose with a smooth op so the second order is not trivially 0.
    check(|x| x[0].relu().mul(&x[0]), &[away(&[2, 3], 31)]);
}

#[test]
fn leaky_relu() {
    check(|x| x[0].leaky_relu(0.2), &[away(&[2, 3], 32)]);
    check(|x| x[0].leaky_relu(0.2).mul(&x[0]), &[away(&[2, 3], 33)]);
}

#[test]
fn tanh() {
    check(|x| x[0].tanh(), &[uni(&[2, 3], -2.0, 2.0, 34)]);
}

#[test]
fn sigmoid() {
    check(|x| x[0].sigmoid(), &[uni(&[2, 3], -3.0, 3.0, 35)]);
}

#[test]
fn softplus() {
    check(
        |x| x[0].softplus(),
        &[arr(&[-4.0, -1.2, -0.3, 0.05, 0.8, 3.5], &[2, 3])],
    );
}

#[test]
fn powf() {
    check(|x| x[0].powf(2.5), &[uni(&[2, 3], 0.5, 2.0, 36)]);
    check(|x| x[0].powf(-1.5), &[uni(&[2, 3], 0.5, 2.0, 37)]);
    // Integer power of negative bases.
    check(|x| x[0].powf(3.0), &[rnd(&[2, 3], 38)]);
}

#[test]
fn recip() {
    check(|x| x[0].recip(), &[uni(&[2, 3], 0.5, 2.0, 39)]);
    check(|x| x[0].recip(), &[uni(&[3], -2.0, -0.5, 40)]);
}

#[test]
fn clamp() {
    // Inside and outside [-0.5, 0.5], never within 0.05 of a bound.
    let x = arr(&[-0.9, -0.4, -0.1, 0.2, 0.45, 0.7, 1.2, -0.62], &[2, 4]);
    check(|x| x[0].clamp(-0.5, 0.5), std::slice::from_ref(&x));
    check(|x| x[0].clamp(-0.5, 0.5).mul(&x[0]), &[x]);
}

// ---------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------

#[test]
fn sum() {
    check(|x| x[0].sum(&[0, 2], false), &[rnd(&[2, 3, 2], 41)]);
    check(|x| x[0].sum(&[1], true), &[rnd(&[2, 3, 2], 42)]);
    check(|x| x[0].sum_all(), &[rnd(&[2, 3], 43)]);
}

#[test]
fn mean() {
    check(|x| x[0].mean(&[0, 2], false), &[rnd(&[2, 3, 2], 44)]);
    check(|x| x[0].mean(&[1], true), &[rnd(&[2, 3, 2], 45)]);
    check(|x| x[0].mean_all(), &[rnd(&[2, 3], 46)]);
}

#[test]
fn max() {
    check(|x| x[0].max(&[1], false), &[distinct(&[2, 3, 2], 47)]);
    check(|x| x[0].max(&[0, 2], true), &[distinct(&[2, 3, 2], 48)]);
    check(|x| x[0].max(&[0, 1], false), &[distinct(&[2, 3], 49)]);
}

#[test]
fn min() {
    check(|x| x[0].min(&[1], false), &[distinct(&[2, 3, 2], 50)]);
    check(|x| x[0].min(&[0, 2], true), &[distinct(&[2, 3, 2], 51)]);
}

#[test]
fn max_dim() {
    check(|x| x[0].max_dim(1, false).0, &[distinct(&[3, 4], 52)]);
    check(|x| x[0].max_dim(0, true).0, &[distinct(&[3, 4], 53)]);
}

#[test]
fn var() {
    check(|x| x[0].var(&[1], false, 1), &[rnd(&[3, 4], 54)]);
    check(|x| x[0].var(&[0, 1], true, 0), &[rnd(&[3, 4], 55)]);
}

#[test]
fn sum_to() {
    check(|x| x[0].sum_to(&[3, 1]), &[rnd(&[2, 3, 2], 56)]);
    check(|x| x[0].sum_to(&[2]), &[rnd(&[3, 2], 57)]);
}

#[test]
fn broadcast_to() {
    check(|x| x[0].broadcast_to(&[2, 3, 2]), &[rnd(&[3, 1], 58)]);
    check(|x| x[0].broadcast_to(&[3, 2]), &[rnd(&[2], 59)]);
}

// ---------------------------------------------------------------------------------------
// Movement
// ---------------------------------------------------------------------------------------

#[test]
fn reshape() {
    check(|x| x[0].reshape(&[3, 4]), &[rnd(&[2, 6], 60)]);
    // A reshape of a non-contiguous view.
    check(|x| x[0].transpose(0, 1).reshape(&[12]), &[rnd(&[2, 6], 61)]);
}

#[test]
fn permute() {
    check(|x| x[0].permute(&[2, 0, 1]), &[rnd(&[2, 3, 2], 62)]);
}

#[test]
fn transpose() {
    check(|x| x[0].transpose(0, 2), &[rnd(&[2, 3, 2], 63)]);
}

#[test]
fn narrow() {
    check(|x| x[0].narrow(1, 1, 2), &[rnd(&[2, 4], 64)]);
    check(
        |x| x[0].transpose(0, 1).narrow(0, 1, 2),
        &[rnd(&[2, 4], 65)],
    );
}

#[test]
fn slice_with_step() {
    check(|x| x[0].slice(1, 0, 5, 2), &[rnd(&[2, 5], 66)]);
    check(|x| x[0].slice(0, 1, 5, 3), &[rnd(&[5, 2], 67)]);
    check(|x| x[0].slice(1, 1, 3, 1), &[rnd(&[2, 4], 68)]);
}

#[test]
fn pad() {
    check(|x| x[0].pad(&[(1, 0), (2, 1)], 0.5), &[rnd(&[2, 3], 69)]);
}

#[test]
fn concat() {
    check(
        |x| Tensor::concat(&[&x[0], &x[1]], 0),
        &[rnd(&[2, 3], 70), rnd(&[1, 3], 71)],
    );
    check(
        |x| Tensor::concat(&[&x[0], &x[1], &x[0]], 1),
        &[rnd(&[2, 1], 72), rnd(&[2, 3], 73)],
    );
}

#[test]
fn stack() {
    check(
        |x| Tensor::stack(&[&x[0], &x[1]], 1),
        &[rnd(&[2, 3], 74), rnd(&[2, 3], 75)],
    );
}

#[test]
fn unsqueeze_squeeze() {
    check(|x| x[0].unsqueeze(1), &[rnd(&[2, 3], 76)]);
    check(|x| x[0].squeeze(1), &[rnd(&[2, 1, 3], 77)]);
}

#[test]
fn flatten() {
    check(|x| x[0].flatten(1, 2), &[rnd(&[2, 3, 2], 78)]);
}

// ---------------------------------------------------------------------------------------
// Indexing
// ---------------------------------------------------------------------------------------

#[test]
fn gather() {
    let i = idx(&[0, 3, 2, 2, 1, 0], &[3, 2]);
    check(move |x| x[0].gather(1, &i), &[rnd(&[3, 4], 79)]);
}

#[test]
fn scatter_add() {
    // Repeated indices: two sources land on the same element.
    let i = idx(&[0, 3, 2, 2, 1, 0], &[3, 2]);
    check(
        move |x| x[0].scatter_add(1, &i, &x[1]),
        &[rnd(&[3, 4], 80), rnd(&[3, 2], 81)],
    );
}

#[test]
fn index_select() {
    let i = idx(&[2, 0, 2], &[3]);
    check(move |x| x[0].index_select(0, &i), &[rnd(&[4, 3], 82)]);
    let j = idx(&[1, 1], &[2]);
    check(move |x| x[0].index_select(1, &j), &[rnd(&[4, 3], 83)]);
}

#[test]
fn index_add() {
    let i = idx(&[2, 0, 2], &[3]);
    check(
        move |x| x[0].index_add(0, &i, &x[1]),
        &[rnd(&[4, 3], 84), rnd(&[3, 3], 85)],
    );
}

// ---------------------------------------------------------------------------------------
// Matmul
// ---------------------------------------------------------------------------------------

#[test]
fn matmul_2d() {
    check(
        |x| x[0].matmul(&x[1]),
        &[rnd(&[2, 3], 86), rnd(&[3, 4], 87)],
    );
}

#[test]
fn linear() {
    check(
        |x| x[0].linear(&x[1], Some(&x[2])),
        &[rnd(&[4, 3], 150), rnd(&[2, 3], 151), rnd(&[2], 152)],
    );
    check(
        |x| x[0].linear(&x[1], None),
        &[rnd(&[2, 2, 3], 153), rnd(&[2, 3], 154)],
    );
    check(
        |x| x[0].linear(&x[1], Some(&x[2])),
        &[rnd(&[3], 155), rnd(&[2, 3], 156), rnd(&[2], 157)],
    );
}

/// The fused op (bias in the GEMM's epilogue) gives the bits of `matmul` then `add`, and so
/// do its gradients, on a batch of rows: a layer's switch to it changes no training run. On
/// an input with more leading axes, `dW` is one product over all rows where `matmul`'s rule
/// summed one product per batch item (`sum_to`), so only it rounds differently.
#[test]
fn linear_is_matmul_then_add_bit_for_bit() {
    let bits = |t: &Tensor| -> Vec<u32> { t.data().to_vec().iter().map(|v| v.to_bits()).collect() };
    let (w, b) = (rnd(&[40, 48], 161), rnd(&[40], 162));
    let run = |x: &NdArray, fused: bool| {
        let (x, w, b) = (
            Tensor::param(x.clone()),
            Tensor::param(w.clone()),
            Tensor::param(b.clone()),
        );
        let y = if fused {
            x.linear(&w, Some(&b))
        } else {
            x.matmul(&w.transpose(0, 1)).add(&b)
        };
        let r = Tensor::constant(rnd(y.shape(), 163));
        let grads = y.mul(&r).sum_all().backward();
        let (dx, dw, db) = (grads.get(&x), grads.get(&w), grads.get(&b));
        (
            bits(&y),
            bits(dx.unwrap()),
            dw.unwrap().clone(),
            bits(db.unwrap()),
        )
    };
    let rows = rnd(&[192, 48], 160);
    let (fused, apart) = (run(&rows, true), run(&rows, false));
    assert!(fused.0 == apart.0, "values");
    assert!(fused.1 == apart.1, "input gradient");
    assert!(bits(&fused.2) == bits(&apart.2), "weight gradient");
    assert!(fused.3 == apart.3, "bias gradient");
    let batched = rows.reshape(&[3, 64, 48]);
    let (fused, apart) = (run(&batched, true), run(&batched, false));
    assert!(fused.0 == apart.0 && fused.1 == apart.1 && fused.3 == apart.3);
    assert_close(fused.2.data(), apart.2.data(), 1e-5, 1e-5);
}

#[test]
fn matmul_batched_broadcast() {
    check(
        |x| x[0].matmul(&x[1]),
        &[rnd(&[2, 1, 2, 3], 88), rnd(&[3, 3, 2], 89)],
    );
    check(
        |x| x[0].matmul(&x[1]),
        &[rnd(&[2, 2, 3], 90), rnd(&[3, 2], 91)],
    );
}

#[test]
fn matmul_1d() {
    check(|x| x[0].matmul(&x[1]), &[rnd(&[3], 92), rnd(&[3], 93)]);
    check(|x| x[0].matmul(&x[1]), &[rnd(&[3], 94), rnd(&[3, 2], 95)]);
    check(|x| x[0].matmul(&x[1]), &[rnd(&[2, 3], 96), rnd(&[3], 97)]);
    check(
        |x| x[0].matmul(&x[1]),
        &[rnd(&[3], 98), rnd(&[2, 3, 2], 99)],
    );
    check(
        |x| x[0].matmul(&x[1]),
        &[rnd(&[2, 2, 3], 100), rnd(&[3], 101)],
    );
}

// ---------------------------------------------------------------------------------------
// Convolution
// ---------------------------------------------------------------------------------------

#[test]
fn conv2d_stride_padding_bias() {
    let p = Conv2dParams::new().stride(2).padding(1);
    check(
        move |x| x[0].conv2d(&x[1], Some(&x[2]), &p),
        &[
            rnd(&[1, 2, 5, 5], 102),
            rnd(&[3, 2, 3, 3], 103),
            rnd(&[3], 104),
        ],
    );
}

#[test]
fn conv2d_dilation_asymmetric() {
    let p = Conv2dParams::new()
        .stride_hw([1, 2])
        .padding_hw([2, 1])
        .dilation_hw([2, 1]);
    check(
        move |x| x[0].conv2d(&x[1], None, &p),
        &[rnd(&[2, 1, 4, 5], 105), rnd(&[2, 1, 2, 3], 106)],
    );
}

#[test]
fn conv2d_stride_drops_rows() {
    // (6 - 3) / 2 + 1 = 2 outputs: the last input row and column reach no output, so the
    // input gradient needs output_padding to restore the 6 x 6 shape.
    let p = Conv2dParams::new().stride(2);
    check(
        move |x| x[0].conv2d(&x[1], None, &p),
        &[rnd(&[1, 2, 6, 6], 107), rnd(&[2, 2, 3, 3], 108)],
    );
}

#[test]
fn conv_transpose2d() {
    let p = Conv2dParams::new().stride(2).padding(1);
    check(
        move |x| x[0].conv_transpose2d(&x[1], Some(&x[2]), &p, [1, 1]),
        &[
            rnd(&[1, 2, 3, 3], 109),
            rnd(&[2, 3, 3, 3], 110),
            rnd(&[3], 111),
        ],
    );
    let q = Conv2dParams::new().stride(2).dilation(2);
    check(
        move |x| x[0].conv_transpose2d(&x[1], None, &q, [1, 0]),
        &[rnd(&[2, 1, 2, 3], 112), rnd(&[1, 2, 2, 2], 113)],
    );
}

#[test]
fn conv_transpose2d_output_padding_at_least_stride() {
    // output_padding 1 >= stride 1 is allowed because it is below dilation 2; conv2d of
    // the output gradient then has one more row and column than the input, which the
    // rule must drop (input gradient) and zero-extend (weight gradient).
    let p = Conv2dParams::new().dilation(2);
    check(
        move |x| x[0].conv_transpose2d(&x[1], None, &p, [1, 1]),
        &[rnd(&[1, 2, 3, 3], 116), rnd(&[2, 2, 2, 2], 117)],
    );
}

#[test]
fn conv2d_weight() {
    let p = Conv2dParams::new().stride(2).padding(1);
    let out = p.conv2d_output_hw([5, 5], [3, 3]);
    check(
        move |x| x[0].conv2d_weight(&x[1], [3, 3], &p),
        &[rnd(&[1, 2, 5, 5], 114), rnd(&[1, 3, out[0], out[1]], 115)],
    );
}

// ---------------------------------------------------------------------------------------
// Pooling and upsampling
// ---------------------------------------------------------------------------------------

#[test]
fn max_pool2d() {
    let p = Pool2dParams::new(3).stride(2).padding(1);
    check(
        move |x| x[0].max_pool2d(&p).0,
        &[distinct(&[1, 2, 5, 5], 116)],
    );
    let q = Pool2dParams::new(2);
    check(
        move |x| x[0].max_pool2d(&q).0,
        &[distinct(&[2, 1, 4, 4], 117)],
    );
    // Composed with a smooth op and a convolution, as a critic would use it.
    let c = Conv2dParams::new().padding(1);
    check(
        move |x| {
            x[0].max_pool2d(&q)
                .0
                .mul(&x[0].max_pool2d(&q).0.tanh())
                .conv2d(&x[1], None, &c)
        },
        &[distinct(&[1, 1, 4, 4], 118), rnd(&[2, 1, 3, 3], 119)],
    );
}

#[test]
fn avg_pool2d() {
    let p = Pool2dParams::new(3).stride(2).padding(1);
    check(move |x| x[0].avg_pool2d(&p), &[rnd(&[1, 2, 5, 5], 120)]);
    let q = Pool2dParams::new(2);
    check(move |x| x[0].avg_pool2d(&q), &[rnd(&[1, 1, 4, 4], 121)]);
}

#[test]
fn avg_pool2d_adjoint() {
    let p = Pool2dParams::new(3).stride(2).padding(1);
    check(
        move |x| x[0].avg_pool2d_adjoint(&p, [5, 5]),
        &[rnd(&[1, 2, 3, 3], 122)],
    );
}

#[test]
fn upsample_nearest2d() {
    check(
        |x| x[0].upsample_nearest2d([2, 3]),
        &[rnd(&[1, 2, 2, 3], 123)],
    );
}

#[test]
fn upsample_nearest2d_adjoint() {
    check(
        |x| x[0].upsample_nearest2d_adjoint([2, 3]),
        &[rnd(&[1, 2, 4, 6], 124)],
    );
}

// ---------------------------------------------------------------------------------------
// Composites
// ---------------------------------------------------------------------------------------

#[test]
fn softmax() {
    check(|x| x[0].softmax(1), &[uni(&[2, 4], -2.0, 2.0, 125)]);
    check(|x| x[0].softmax(0), &[uni(&[3, 2], -2.0, 2.0, 126)]);
}

#[test]
fn log_softmax() {
    check(|x| x[0].log_softmax(1), &[uni(&[2, 4], -2.0, 2.0, 127)]);
}

#[test]
fn logsumexp() {
    check(
        |x| x[0].logsumexp(1, false),
        &[uni(&[2, 4], -2.0, 2.0, 128)],
    );
    check(|x| x[0].logsumexp(0, true), &[uni(&[3, 2], -2.0, 2.0, 129)]);
}

#[test]
fn batch_norm_train() {
    check(
        |x| {
            batch_norm(
                &x[0],
                Some(&x[1]),
                Some(&x[2]),
                None,
                BatchNormMode::Train,
                1e-5,
            )
            .0
        },
        &[
            uni(&[4, 3], -2.0, 2.0, 130),
            uni(&[3], 0.5, 1.5, 131),
            rnd(&[3], 132),
        ],
    );
    check(
        |x| batch_norm(&x[0], None, None, None, BatchNormMode::Train, 1e-5).0,
        &[uni(&[2, 2, 2, 2], -2.0, 2.0, 133)],
    );
}

#[test]
fn batch_norm_eval() {
    let rm = arr(&[0.1, -0.2], &[2]);
    let rv = arr(&[0.8, 1.3], &[2]);
    check(
        move |x| {
            let running = Some((&rm, &rv));
            batch_norm(
                &x[0],
                Some(&x[1]),
                Some(&x[2]),
                running,
                BatchNormMode::Eval,
                1e-5,
            )
            .0
        },
        &[
            rnd(&[2, 2, 2, 2], 134),
            uni(&[2], 0.5, 1.5, 135),
            rnd(&[2], 136),
        ],
    );
}

#[test]
fn layer_norm_() {
    check(
        |x| layer_norm(&x[0], &[4], Some(&x[1]), Some(&x[2]), 1e-5),
        &[
            uni(&[2, 2, 4], -2.0, 2.0, 137),
            uni(&[4], 0.5, 1.5, 138),
            rnd(&[4], 139),
        ],
    );
    check(
        |x| layer_norm(&x[0], &[2, 3], None, None, 1e-5),
        &[uni(&[2, 2, 3], -2.0, 2.0, 140)],
    );
}

#[test]
fn instance_norm_() {
    check(
        |x| instance_norm(&x[0], Some(&x[1]), Some(&x[2]), 1e-5),
        &[
            uni(&[2, 2, 2, 3], -2.0, 2.0, 143),
            uni(&[2], 0.5, 1.5, 144),
            rnd(&[2], 145),
        ],
    );
    check(
        |x| instance_norm(&x[0], None, None, 1e-5),
        &[uni(&[1, 3, 3, 2], -2.0, 2.0, 146)],
    );
}

#[test]
fn reflection_pad2d_() {
    // Asymmetric, on both axes, with pads reaching the far edge (3 < 4, 2 < 3).
    check(
        |x| reflection_pad2d(&x[0], [3, 1, 2, 0]),
        &[rnd(&[1, 2, 3, 4], 147)],
    );
}

#[test]
fn pixel_shuffle_() {
    check(|x| pixel_shuffle(&x[0], 2), &[rnd(&[2, 8, 2, 3], 148)]);
}

#[test]
fn bce_with_logits() {
    let inputs = [uni(&[2, 3], -3.0, 3.0, 141), uni(&[2, 3], 0.0, 1.0, 142)];
    check(|x| x[0].bce_with_logits(&x[1], Reduction::Mean), &inputs);
    check(|x| x[0].bce_with_logits(&x[1], Reduction::Sum), &inputs);
    check(|x| x[0].bce_with_logits(&x[1], Reduction::None), &inputs);
}

#[test]
fn cross_entropy() {
    let t = idx(&[1, 3, 0], &[3]);
    let t2 = t.clone();
    check(
        move |x| x[0].cross_entropy(&t, Reduction::Mean),
        &[uni(&[3, 4], -2.0, 2.0, 143)],
    );
    check(
        move |x| x[0].cross_entropy(&t2, Reduction::Sum),
        &[uni(&[3, 4], -2.0, 2.0, 144)],
    );
}

#[test]
fn mse() {
    let inputs = [rnd(&[2, 3], 145), rnd(&[2, 3], 146)];
    check(|x| x[0].mse(&x[1], Reduction::Mean), &inputs);
    check(|x| x[0].mse(&x[1], Reduction::None), &inputs);
}

// ---------------------------------------------------------------------------------------
// The checker catches wrong rules
// ---------------------------------------------------------------------------------------

/// y = x³ with a deliberately broken rule.
struct BadCube {
    /// `true`: first derivative wrong (2x instead of 3x²). `false`: right value, but 3x²
    /// enters as a constant, so the recorded gradient has no dependence on x.
    wrong_first: bool,
}

impl Rule for BadCube {
    fn name(&self) -> &'static str {
        "bad_cube"
    }

    fn backward(
        &self,
        inputs: &[Tensor],
        _output: &Tensor,
        grad: &Tensor,
        _needs: &[bool],
    ) -> Vec<Option<Tensor>> {
        let x = &inputs[0];
        let d = if self.wrong_first {
            x.mul_scalar(2.0)
        } else {
            Tensor::constant(x.data().powf(2.0).mul_scalar(3.0))
        };
        vec![Some(grad.mul(&d))]
    }
}

fn bad_cube(x: &Tensor, wrong_first: bool) -> Tensor {
    Tensor::from_op(x.data().powf(3.0), BadCube { wrong_first }, &[x])
}

#[test]
fn gradcheck_catches_a_wrong_first_derivative() {
    let x = arr(&[0.5, -1.0, 1.5], &[3]);
    let err = gradcheck(
        |t| bad_cube(&t[0], true),
        &[x],
        &GradcheckOptions::default(),
    )
    .expect_err("a wrong rule must fail");
    match &err {
        GradcheckError::Mismatch {
            order, wrt, index, ..
        } => {
            assert_eq!((*order, *wrt), (1, Wrt::Input(0)));
            // |3x² - 2x| is largest at x = -1 (5) among 0.5 (0.25), -1 (5), 1.5 (3.75).
            assert_eq!(index, &vec![1]);
        }
        other => panic!("expected a mismatch, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("input 0") && msg.contains("analytic") && msg.contains("numeric"));
}

#[test]
fn gradgradcheck_catches_a_rule_that_is_not_differentiable() {
    let x = arr(&[0.5, -1.0, 1.5], &[3]);
    let o = GradcheckOptions::default();
    gradcheck(|t| bad_cube(&t[0], false), std::slice::from_ref(&x), &o)
        .expect("first order is right");
    let err =
        gradgradcheck(|t| bad_cube(&t[0], false), &[x], &o).expect_err("second order must fail");
    assert!(
        matches!(
            err,
            GradcheckError::Mismatch {
                order: 2,
                wrt: Wrt::Input(0),
                ..
            }
        ),
        "{err}"
    );
}
