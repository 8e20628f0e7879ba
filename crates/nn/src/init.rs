//! Weight initialisers, all drawing from a caller-owned RNG (same seed, same weights).
//!
//! Fan computations follow `torch.nn.init._calculate_fan_in_and_fan_out`: for a weight of
//! shape `[d0, d1, k..]`, `fan_in = d1 * prod(k)` and `fan_out = d0 * prod(k)`. For a
//! conv-transpose weight `[in, out, kh, kw]` that makes PyTorch's "fan_in" the number of
//! *output* channels times the kernel size; we keep that quirk so defaults match.

use agon_tensor::NdArray;
use rand::Rng;

/// `(fan_in, fan_out)` of a weight shape, as PyTorch computes them.
///
/// ```
/// assert_eq!(agon_nn::init::fans(&[64, 3, 5, 5]), (75, 1600));
/// assert_eq!(agon_nn::init::fans(&[10, 20]), (20, 10));
/// ```
///
/// # Panics
/// If the shape has fewer than 2 axes.
#[track_caller]
pub fn fans(shape: &[usize]) -> (usize, usize) {
    assert!(
        shape.len() >= 2,
        "init: fan in/out need a weight with at least 2 axes, got shape {shape:?}"
    );
    let receptive: usize = shape[2..].iter().product();
    (shape[1] * receptive, shape[0] * receptive)
}

/// Uniform on `[-bound, bound)`.
pub fn uniform<R: Rng + ?Sized>(shape: &[usize], bound: f32, rng: &mut R) -> NdArray {
    if bound == 0.0 {
        return NdArray::zeros(shape);
    }
    NdArray::rand_uniform(shape, -bound, bound, rng)
}

/// Normal with the given mean and standard deviation (DCGAN: `normal(shape, 0.0, 0.02)`).
pub fn normal<R: Rng + ?Sized>(shape: &[usize], mean: f32, std: f32, rng: &mut R) -> NdArray {
    NdArray::rand_normal(shape, mean, std, rng)
}

/// PyTorch's default for Linear and Conv weights: `kaiming_uniform(a = sqrt(5))`, which is
/// uniform on `±1/sqrt(fan_in)`.
pub fn pytorch_default_weight<R: Rng + ?Sized>(shape: &[usize], rng: &mut R) -> NdArray {
    let (fan_in, _) = fans(shape);
    uniform(shape, 1.0 / (fan_in as f32).sqrt(), rng)
}

/// PyTorch's default for Linear and Conv biases: uniform on `±1/sqrt(fan_in)` of the
/// layer's weight.
pub fn pytorch_default_bias<R: Rng + ?Sized>(len: usize, fan_in: usize, rng: &mut R) -> NdArray {
    let bound = if fan_in > 0 {
        1.0 / (fan_in as f32).sqrt()
    } else {
        0.0
    };
    uniform(&[len], bound, rng)
}

/// Xavier / Glorot uniform: `±gain * sqrt(6 / (fan_in + fan_out))`.
pub fn xavier_uniform<R: Rng + ?Sized>(shape: &[usize], gain: f32, rng: &mut R) -> NdArray {
    let (i, o) = fans(shape);
    uniform(shape, gain * (6.0 / (i + o) as f32).sqrt(), rng)
}

/// Xavier / Glorot normal: std `gain * sqrt(2 / (fan_in + fan_out))`.
pub fn xavier_normal<R: Rng + ?Sized>(shape: &[usize], gain: f32, rng: &mut R) -> NdArray {
    let (i, o) = fans(shape);
    normal(shape, 0.0, gain * (2.0 / (i + o) as f32).sqrt(), rng)
}

/// Kaiming / He uniform for a leaky ReLU of negative slope `a` (0 for ReLU), fan-in mode:
/// `±sqrt(6 / ((1 + a²) fan_in))`.
pub fn kaiming_uniform<R: Rng + ?Sized>(shape: &[usize], a: f32, rng: &mut R) -> NdArray {
    let (fan_in, _) = fans(shape);
    uniform(shape, (6.0 / ((1.0 + a * a) * fan_in as f32)).sqrt(), rng)
}

/// Kaiming / He normal, fan-in mode: std `sqrt(2 / ((1 + a²) fan_in))`.
pub fn kaiming_normal<R: Rng + ?Sized>(shape: &[usize], a: f32, rng: &mut R) -> NdArray {
    let (fan_in, _) = fans(shape);
    normal(
        shape,
        0.0,
        (2.0 / ((1.0 + a * a) * fan_in as f32)).sqrt(),
        rng,
    )
}
