//! Batch and layer normalisation as compositions of primitives.

use agon_tensor::{NdArray, Rectifier};

use super::batch_norm_train::batch_norm_train;
use crate::tensor::{is_grad_enabled, Tensor};

/// Whether batch norm normalises with the batch's statistics or the running ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchNormMode {
    /// Use this batch's mean and (biased) variance; report them for the running update.
    Train,
    /// Use the running mean and variance passed in.
    Eval,
}

/// The statistics a training-mode batch norm used, for updating running averages (the
/// caller owns the running buffers; PyTorch stores the *unbiased* variance there).
#[derive(Clone, Debug)]
pub struct BatchStats {
    /// Per-channel batch mean `[C]`.
    pub mean: NdArray,
    /// Per-channel unbiased batch variance `[C]`.
    pub var_unbiased: NdArray,
}

/// Batch normalisation over every axis but 1 (`[N, C]` or `[N, C, H, W]`):
/// `(x - mean) / sqrt(var + eps) * weight + bias`, with `weight` and `bias` of shape `[C]`.
///
/// In [`BatchNormMode::Train`] the mean and biased variance come from the batch and are
/// part of the graph (so the gradient flows through them, as in PyTorch); the returned
/// [`BatchStats`] feed the caller's running averages. In [`BatchNormMode::Eval`], the
/// given `running` statistics are used as constants.
///
/// ```
/// use agon_autodiff::{batch_norm, BatchNormMode, Tensor};
/// use agon_tensor::NdArray;
/// let x = Tensor::constant(NdArray::from_vec(vec![1.0, 3.0], &[2, 1]).unwrap());
/// let (y, stats) = batch_norm(&x, None, None, None, BatchNormMode::Train, 0.0);
/// assert_eq!(y.data().to_vec(), vec![-1.0, 1.0]);
/// assert_eq!(stats.unwrap().var_unbiased.to_vec(), vec![2.0]);
/// ```
///
/// # Panics
/// If `x` has fewer than 2 axes, the parameter shapes are not `[C]`, or eval mode has no
/// running statistics.
#[track_caller]
pub fn batch_norm(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    running: Option<(&NdArray, &NdArray)>,
    mode: BatchNormMode,
    eps: f32,
) -> (Tensor, Option<BatchStats>) {
    let c = checked_channels(
        "batch_norm",
        x,
        &[
            ("weight", weight.map(Tensor::shape)),
            ("bias", bias.map(Tensor::shape)),
        ],
    );
    match mode {
        BatchNormMode::Train => {
            // One fused op (see batch_norm_train.rs); its gradient is PyTorch's, through
            // the batch statistics, and differentiable again.
            let (y, mean, var) = batch_norm_train(x, weight, bias, eps);
            let n = x.numel() / c.max(1);
            let stats = BatchStats {
                mean,
                var_unbiased: var.mul_scalar(n as f32 / (n.max(2) - 1) as f32),
            };
            (y, Some(stats))
        }
        BatchNormMode::Eval => {
            let running = running.expect("batch_norm: eval mode needs running statistics");
            let y = batch_norm_inference(x, weight, bias, running, eps, None);
            (y, None)
        }
    }
}

/// Evaluation-mode batch norm with the running statistics `(mean, var)`, then `rectifier`
/// if given: `act((x - mean) * scale + bias)` with `scale = weight / sqrt(var + eps)` (the
/// form of PyTorch's inference kernel). [`batch_norm`] in [`BatchNormMode::Eval`] is this
/// without a rectifier; a `BatchNorm` layer followed by a ReLU or LeakyReLU calls it with one.
///
/// When no gradient is wanted (inside [`no_grad`](crate::no_grad), or nothing requires
/// one), it is a single pass over `x` ([`NdArray::channel_affine_rectified`]) instead of
/// four broadcasting passes and the activation's; otherwise the same arithmetic is recorded
/// as graph ops. Both give the same bits.
///
/// ```
/// use agon_autodiff::{batch_norm_inference, Tensor};
/// use agon_tensor::{NdArray, Rectifier};
/// let x = Tensor::constant(NdArray::from_vec(vec![1.0, 3.0], &[2, 1]).unwrap());
/// let (mean, var) = (NdArray::full(&[1], 2.0), NdArray::full(&[1], 4.0));
/// let y = batch_norm_inference(&x, None, None, (&mean, &var), 0.0, Some(Rectifier::ReLU));
/// assert_eq!(y.data().to_vec(), vec![0.0, 0.5]);
/// ```
///
/// # Panics
/// If `x` has fewer than 2 axes or a parameter or statistic is not `[C]`.
#[track_caller]
pub fn batch_norm_inference(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    (mean, var): (&NdArray, &NdArray),
    eps: f32,
    rectifier: Option<Rectifier>,
) -> Tensor {
    let c = checked_channels(
        "batch_norm_inference",
        x,
        &[
            ("weight", weight.map(Tensor::shape)),
            ("bias", bias.map(Tensor::shape)),
            ("running mean", Some(mean.shape())),
            ("running var", Some(var.shape())),
        ],
    );
    // scale = weight / sqrt(var + eps): a [C] op, differentiable in the weight.
    let std = Tensor::constant(var.add_scalar(eps).sqrt());
    let scale = match weight {
        Some(w) => w.div(&std),
        None => Tensor::constant(NdArray::ones(&[c])).div(&std),
    };
    let wants_grad = is_grad_enabled()
        && (x.requires_grad()
            || weight.is_some_and(Tensor::requires_grad)
            || bias.is_some_and(Tensor::requires_grad));
    if !wants_grad {
        let shift = bias.map_or_else(|| vec![0.0; c], |b| b.data().to_vec());
        let (x, center, scale) = (x.data(), mean.to_vec(), scale.data().to_vec());
        let y = match rectifier {
            Some(r) => x.channel_affine_rectified(&center, &scale, &shift, r),
            None => x.channel_affine(&center, &scale, &shift),
        };
        return Tensor::constant(y);
    }
    let mut stat_shape = vec![1; x.ndim()];
    stat_shape[1] = c;
    let centred = x.sub(&Tensor::constant(mean.reshape(&stat_shape)));
    let scaled = centred.mul(&scale.reshape(&stat_shape));
    // Zero when there is no bias, as the single pass adds: the same bits, signed zeros
    // included.
    let shifted = match bias {
        Some(b) => scaled.add(&b.reshape(&stat_shape)),
        None => scaled.add(&Tensor::constant(NdArray::zeros(&stat_shape))),
    };
    match rectifier {
        Some(Rectifier::ReLU) => shifted.relu(),
        Some(Rectifier::LeakyReLU(slope)) => shifted.leaky_relu(slope),
        None => shifted,
    }
}

/// The channel count `C` of `x` (`[N, C, ...]`), after checking that `x` has at least two
/// axes and that every per-channel array given has shape `[C]`.
#[track_caller]
fn checked_channels(op: &str, x: &Tensor, per_channel: &[(&str, Option<&[usize]>)]) -> usize {
    assert!(
        x.ndim() >= 2,
        "{op}: input of shape {:?} needs at least [N, C]",
        x.shape()
    );
    let c = x.shape()[1];
    for &(what, shape) in per_channel {
        if let Some(shape) = shape {
            assert!(
                shape == [c],
                "{op}: {what} of shape {shape:?} for {c} channels (need [{c}])"
            );
        }
    }
    c
}

/// Layer normalisation over the trailing axes `normalized_shape` (as
/// `torch.nn.functional.layer_norm`), with optional elementwise `weight` and `bias` of
/// that shape.
///
/// # Panics
/// If the trailing axes of `x` differ from `normalized_shape`.
#[track_caller]
pub fn layer_norm(
    x: &Tensor,
    normalized_shape: &[usize],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f32,
) -> Tensor {
    let k = normalized_shape.len();
    assert!(
        x.ndim() >= k && &x.shape()[x.ndim() - k..] == normalized_shape,
        "layer_norm: input {:?} does not end in normalized_shape {normalized_shape:?}",
        x.shape()
    );
    let axes: Vec<usize> = (x.ndim() - k..x.ndim()).collect();
    let centered = x.sub(&x.mean(&axes, true));
    let var = centered.square().mean(&axes, true);
    let y = centered.div(&var.add_scalar(eps).sqrt());
    affine(y, weight, bias, normalized_shape)
}

/// `y * weight + bias`, each reshaped to `shape` for broadcasting.
fn affine(y: Tensor, weight: Option<&Tensor>, bias: Option<&Tensor>, shape: &[usize]) -> Tensor {
    let y = match weight {
        Some(w) => y.mul(&w.reshape(shape)),
        None => y,
    };
    match bias {
        Some(b) => y.add(&b.reshape(shape)),
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::assert_close as close;
    use super::*;
    use crate::engine::grad;

    /// The composition of primitives that the fused training-mode op replaced: the
    /// reference it must agree with, values and derivatives of every order.
    fn composite(x: &Tensor, w: &Tensor, b: &Tensor, eps: f32) -> Tensor {
        let axes: Vec<usize> = (0..x.ndim()).filter(|&a| a != 1).collect();
        let mut shape = vec![1; x.ndim()];
        shape[1] = x.shape()[1];
        let centered = x.sub(&x.mean(&axes, true));
        let var = centered.square().mean(&axes, true);
        let y = centered.div(&var.add_scalar(eps).sqrt());
        affine(y, Some(w), Some(b), &shape)
    }

    /// Forward, first-order gradients (the fused kernels) and second-order gradients (the
    /// graph-building backward, through a gradient-norm penalty) equal the composite's,
    /// for [N, C] and [N, C, H, W] inputs, one with a large channel mean.
    #[test]
    fn the_fused_op_matches_the_composition_to_every_order() {
        for shape in [vec![6, 5], vec![3, 4, 5, 3], vec![2, 3, 1, 7]] {
            let numel: usize = shape.iter().product();
            let c = shape[1];
            let x = Tensor::param(
                NdArray::from_vec(
                    (0..numel)
                        .map(|i| {
                            ((i * 37) % 11) as f32 / 3.0 - 1.5 + if i % c == 0 { 40.0 } else { 0.0 }
                        })
                        .collect(),
                    &shape,
                )
                .unwrap(),
            );
            let w = Tensor::param(
                NdArray::from_vec((0..c).map(|i| 0.5 + i as f32 * 0.3).collect(), &[c]).unwrap(),
            );
            let b = Tensor::param(
                NdArray::from_vec((0..c).map(|i| i as f32 * 0.1 - 0.2).collect(), &[c]).unwrap(),
            );
            // A weighting that makes the loss's gradient uneven across elements.
            let r = Tensor::constant(
                NdArray::from_vec(
                    (0..numel).map(|i| ((i * 13) % 7) as f32 - 3.0).collect(),
                    &shape,
                )
                .unwrap(),
            );
            let (fused, _) = batch_norm(&x, Some(&w), Some(&b), None, BatchNormMode::Train, 1e-5);
            let reference = composite(&x, &w, &b, 1e-5);
            close(fused.data(), reference.data(), 1e-5, "forward");
            let params = [&x, &w, &b];
            let loss = |y: &Tensor| y.mul(&r).sum_all();
            let g_fused = grad(&[&loss(&fused)], &params, None, false);
            let g_ref = grad(&[&loss(&reference)], &params, None, false);
            for (i, (a, b)) in g_fused.iter().zip(&g_ref).enumerate() {
                close(
                    a.as_ref().unwrap().data(),
                    b.as_ref().unwrap().data(),
                    1e-4,
                    &format!("grad {i} of {shape:?}"),
                );
            }
            // A penalty on the input gradient's norm, differentiated again.
            let penalty = |y: &Tensor| {
                let gx = grad(&[&loss(y)], &[&x], None, true)[0].clone().unwrap();
                gx.square().sum_all()
            };
            let h_fused = grad(&[&penalty(&fused)], &params, None, false);
            let h_ref = grad(&[&penalty(&reference)], &params, None, false);
            // The penalty does not depend on the bias: no gradient on either side.
            assert!(h_fused[2].is_none() && h_ref[2].is_none());
            for i in 0..2 {
                let (a, b) = (h_fused[i].as_ref().unwrap(), h_ref[i].as_ref().unwrap());
                close(
                    a.data(),
                    b.data(),
                    1e-3,
                    &format!("second-order grad {i} of {shape:?}"),
                );
            }
        }
    }
}
