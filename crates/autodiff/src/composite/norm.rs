//! Batch and layer normalisation as compositions of primitives.

use agon_tensor::NdArray;

use crate::tensor::Tensor;

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
    assert!(
        x.ndim() >= 2,
        "batch_norm: input of shape {:?} needs at least [N, C]",
        x.shape()
    );
    let c = x.shape()[1];
    let mut stat_shape = vec![1; x.ndim()];
    stat_shape[1] = c;
    let axes: Vec<usize> = (0..x.ndim()).filter(|&a| a != 1).collect();
    let (centered, var, stats) = match mode {
        BatchNormMode::Train => {
            let mean = x.mean(&axes, true);
            let centered = x.sub(&mean);
            let var = centered.square().mean(&axes, true);
            let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
            let unbiased = var
                .data()
                .mul_scalar(n as f32 / (n.max(2) - 1) as f32)
                .reshape(&[c]);
            let stats = BatchStats {
                mean: mean.data().reshape(&[c]),
                var_unbiased: unbiased,
            };
            (centered, var, Some(stats))
        }
        BatchNormMode::Eval => {
            let (rm, rv) = running.expect("batch_norm: eval mode needs running statistics");
            let rm = Tensor::constant(rm.reshape(&stat_shape));
            let rv = Tensor::constant(rv.reshape(&stat_shape));
            (x.sub(&rm), rv, None)
        }
    };
    let y = centered.div(&var.add_scalar(eps).sqrt());
    (affine(y, weight, bias, &stat_shape), stats)
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
