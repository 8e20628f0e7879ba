//! Gradient-norm clipping and WGAN weight clipping.

use agon_autodiff::Tensor;

use crate::param::Param;

/// Scales gradients so that their global L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_`, and returns the norm before clipping.
///
/// The norm is taken over all gradients together: `total = sqrt(sum_i ||g_i||²)` (summed in
/// f64). With `coef = max_norm / (total + 1e-6)` (in f32, as PyTorch), every gradient is
/// multiplied by `coef` when `coef < 1`, i.e. when `total` exceeds `max_norm` (by more than
/// the `1e-6` guard). `None` entries are skipped. The scaled gradients are plain values
/// without a graph, like PyTorch's in-place update under `no_grad`.
///
/// One difference: when the norm is not finite PyTorch would multiply by `0` or `NaN`;
/// here the gradients are left as they are and the non-finite norm is returned for the
/// caller to act on.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::optim::clip_grad_norm;
/// use agon_tensor::NdArray;
/// let g = |v: Vec<f32>| Some(Tensor::constant(NdArray::from_vec(v.clone(), &[v.len()]).unwrap()));
/// let mut grads = vec![g(vec![3.0]), None, g(vec![4.0])];
/// assert_eq!(clip_grad_norm(&mut grads, 1.0), 5.0);
/// let scaled = grads[2].as_ref().unwrap().data().to_vec()[0];
/// assert!((scaled - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm(grads: &mut [Option<Tensor>], max_norm: f32) -> f32 {
    let sum_sq: f64 = grads
        .iter()
        .flatten()
        .map(|g| {
            let d = g.data().contiguous();
            let s = d.as_slice().expect("contiguous() is dense");
            s.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>()
        })
        .sum();
    let total = sum_sq.sqrt() as f32;
    let coef = max_norm / (total + 1e-6);
    if total.is_finite() && coef < 1.0 {
        for g in grads.iter_mut().flatten() {
            *g = Tensor::constant(g.data().mul_scalar(coef));
        }
    }
    total
}

/// WGAN weight clipping: clamps every element of every parameter to `[-c, c]`.
///
/// ```
/// use agon_nn::optim::clip_weights;
/// use agon_nn::Param;
/// use agon_tensor::NdArray;
/// let p = Param::new(NdArray::from_vec(vec![-0.5, 0.001, 0.2], &[3]).unwrap());
/// clip_weights(&[p.clone()], 0.01);
/// assert_eq!(p.data().to_vec(), vec![-0.01, 0.001, 0.01]);
/// ```
///
/// # Panics
/// If `c` is negative or NaN.
#[track_caller]
pub fn clip_weights(params: &[Param], c: f32) {
    assert!(c >= 0.0, "clip_weights: bound {c} must be >= 0");
    for p in params {
        p.set(p.data().clamp(-c, c));
    }
}
