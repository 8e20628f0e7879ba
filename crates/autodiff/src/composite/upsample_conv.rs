//! Nearest x2 upsampling followed by a 3x3 convolution (stride 1, padding 1), computed
//! without upsampling: the "resize-convolution" of many generators, at about half the
//! multiply-adds.
//!
//! Output pixel `(2i + a, 2j + b)` of `conv3x3(upsample2x(x))` sees input rows `i - 1, i`
//! (phase `a = 0`: kernel row 0 on row `i - 1`, rows 1 and 2 both on row `i`) or `i, i + 1`
//! (`a = 1`: rows 0 and 1 on `i`, row 2 on `i + 1`), and the same along columns. So each of
//! the four phases `(a, b)` is a 2x2 convolution of `x` whose taps are sums of 3x3 taps:
//!
//! `w_ab[o, c, r, s] = sum_{ki in R(a, r)} sum_{kj in R(b, s)} w[o, c, ki, kj]`, with
//! `R(0, 0) = {0}`, `R(0, 1) = {1, 2}`, `R(1, 0) = {0, 1}`, `R(1, 1) = {2}`.
//!
//! All four run as one 2x2 convolution of `x` padded by 1 with `4 * Cout` outputs, and
//! `interleave_phases` puts phase `(a, b)`'s pixel `(i + a, j + b)` at `(2i + a, 2j + b)`.
//! That is 16 multiply-adds per input pixel and output channel where the upsampled
//! convolution does 36 (`4 * 9`). Everything is built from differentiable ops (the tap sums
//! are a matrix product with a constant 0/1 matrix), so gradients of every order follow.

use agon_tensor::{Conv2dParams, NdArray};

use crate::tensor::Tensor;

/// [`phase_matrix`], built on first use (a forward on every generator block needs it;
/// cloning an `NdArray` shares its storage).
static PHASES: std::sync::OnceLock<NdArray> = std::sync::OnceLock::new();

/// The constant `[9, 16]` matrix mapping a 3x3 kernel (`ki * 3 + kj`) to the four phases'
/// 2x2 kernels (`((a * 2 + b) * 2 + r) * 2 + s`).
fn phase_matrix() -> NdArray {
    // R(a, r): the kernel rows that phase a's tap r sums.
    let rows = |a: usize, r: usize| -> &'static [usize] {
        match (a, r) {
            (0, 0) => &[0],
            (0, _) => &[1, 2],
            (_, 0) => &[0, 1],
            _ => &[2],
        }
    };
    let mut m = vec![0.0f32; 9 * 16];
    for a in 0..2 {
        for b in 0..2 {
            for r in 0..2 {
                for s in 0..2 {
                    let col = ((a * 2 + b) * 2 + r) * 2 + s;
                    for &ki in rows(a, r) {
                        for &kj in rows(b, s) {
                            m[(ki * 3 + kj) * 16 + col] = 1.0;
                        }
                    }
                }
            }
        }
    }
    NdArray::from_vec(m, &[9, 16]).expect("9 x 16")
}

/// `conv2d(upsample_nearest2d(x, 2), weight, bias, stride 1, padding 1)` for a 3x3 `weight`
/// `[Cout, Cin, 3, 3]` and optional `bias` `[Cout]`, computed phase by phase (see the module
/// documentation): the same values up to rounding, about half the arithmetic, no upsampled
/// tensor.
///
/// ```
/// use agon_autodiff::{upsample2x_conv3x3, Tensor};
/// use agon_tensor::{Conv2dParams, NdArray};
/// let x = Tensor::constant(NdArray::arange(0.0, 18.0, 1.0).reshape(&[1, 2, 3, 3]));
/// let w = Tensor::constant(NdArray::arange(-9.0, 9.0, 0.5).reshape(&[2, 2, 3, 3]));
/// let direct = x.upsample_nearest2d([2, 2]).conv2d(&w, None, &Conv2dParams::new().padding(1));
/// let fused = upsample2x_conv3x3(&x, &w, None);
/// assert_eq!(fused.shape(), &[1, 2, 6, 6]);
/// for (a, b) in fused.data().to_vec().iter().zip(direct.data().to_vec()) {
///     assert!((a - b).abs() < 1e-3);
/// }
/// ```
///
/// # Panics
/// If `x` is not 4-D, `weight` is not `[Cout, Cin, 3, 3]` with `Cin` matching, or the bias
/// is not `[Cout]`.
#[track_caller]
pub fn upsample2x_conv3x3(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
    let ws = weight.shape();
    assert!(
        ws.len() == 4 && ws[2] == 3 && ws[3] == 3 && x.ndim() == 4 && x.shape()[1] == ws[1],
        "upsample2x_conv3x3: input {:?} and weight {ws:?} (need [N, Cin, H, W] and \
         [Cout, Cin, 3, 3])",
        x.shape()
    );
    let (cout, cin) = (ws[0], ws[1]);
    // [Cout*Cin, 9] @ [9, 16] -> [Cout, Cin, a, b, r, s] -> [a, b, Cout, Cin, r, s].
    let phases = weight
        .reshape(&[cout * cin, 9])
        .matmul(&Tensor::constant(PHASES.get_or_init(phase_matrix).clone()))
        .reshape(&[cout, cin, 2, 2, 2, 2])
        .permute(&[2, 3, 0, 1, 4, 5])
        .reshape(&[4 * cout, cin, 2, 2]);
    let bias4 = bias.map(|b| Tensor::concat(&[b, b, b, b], 0));
    x.conv2d(&phases, bias4.as_ref(), &Conv2dParams::new().padding(1))
        .interleave_phases()
}

#[cfg(test)]
mod tests {
    use super::super::test_util::assert_close as close;
    use super::*;
    use crate::engine::grad;

    fn filled(shape: &[usize], k: usize) -> Tensor {
        let n: usize = shape.iter().product();
        let v = (0..n).map(|i| ((i * k) % 23) as f32 / 11.0 - 1.0).collect();
        Tensor::param(NdArray::from_vec(v, shape).unwrap())
    }

    /// Values, first-order gradients and the gradients of an input-gradient penalty equal
    /// those of the upsampled convolution, with and without bias, on odd and even sizes.
    #[test]
    fn matches_upsampling_then_convolving_to_second_order() {
        for (x_shape, cout, with_bias) in [
            ([2, 3, 5, 4], 2, true),
            ([1, 1, 3, 3], 4, false),
            ([3, 4, 7, 7], 1, true),
        ] {
            let x = filled(&x_shape, 7);
            let w = filled(&[cout, x_shape[1], 3, 3], 13);
            let b = filled(&[cout], 5);
            let bias = with_bias.then_some(&b);
            let direct = |x: &Tensor| {
                x.upsample_nearest2d([2, 2])
                    .conv2d(&w, bias, &Conv2dParams::new().padding(1))
            };
            let fused = |x: &Tensor| upsample2x_conv3x3(x, &w, bias);
            close(fused(&x).data(), direct(&x).data(), 1e-5, "forward");
            let r = filled(direct(&x).shape(), 3);
            let loss = |y: Tensor| y.mul(&r).sum_all();
            let params: Vec<&Tensor> = if with_bias {
                vec![&x, &w, &b]
            } else {
                vec![&x, &w]
            };
            let g_fused = grad(&[&loss(fused(&x))], &params, None, false);
            let g_direct = grad(&[&loss(direct(&x))], &params, None, false);
            for (i, (a, d)) in g_fused.iter().zip(&g_direct).enumerate() {
                let (a, d) = (a.as_ref().unwrap(), d.as_ref().unwrap());
                close(a.data(), d.data(), 1e-4, &format!("grad {i}"));
            }
            let penalty = |y: Tensor| {
                let gx = grad(&[&loss(y)], &[&x], None, true)[0].clone().unwrap();
                gx.square().sum_all()
            };
            let h_fused = grad(&[&penalty(fused(&x))], &[&w], None, false);
            let h_direct = grad(&[&penalty(direct(&x))], &[&w], None, false);
            close(
                h_fused[0].as_ref().unwrap().data(),
                h_direct[0].as_ref().unwrap().data(),
                1e-3,
                "second-order grad of w",
            );
        }
    }
}
