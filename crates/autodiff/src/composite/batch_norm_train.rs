//! Training-mode batch norm as one op: `y = (x - mean) / sqrt(var + eps) * weight + bias`
//! with the batch's per-channel mean and biased variance.
//!
//! Its derivative, with `xhat = (x - mean) * r`, `r = 1 / sqrt(var + eps)`, `M` elements per
//! channel and sums over all axes but the channel's:
//!
//! - `dbias = sum g`, `dweight = sum g * xhat`;
//! - `dx = weight * r * (g - sum(g) / M - xhat * sum(g * xhat) / M)`, because the mean and
//!   the variance depend on every `x` of the channel (PyTorch's gradient, which flows
//!   through the batch statistics).
//!
//! First-order backward (the engine runs rules with recording off) evaluates that formula
//! with the fused per-channel kernels of agon-tensor: one pass for the two sums, one for
//! `dx`, which is affine in `g` and `x - mean` per channel. When the backward is itself
//! being recorded (`create_graph`, a gradient penalty), the rule builds the same formula
//! from differentiable ops, so it can be differentiated again. A test checks that the two
//! agree, and that both match the composition of primitives this op replaces.

use agon_tensor::NdArray;

use crate::rule::Rule;
use crate::tensor::{is_grad_enabled, Tensor};

/// What the backward needs from the forward.
struct BatchNormTrain {
    /// Per-channel batch mean and `1 / sqrt(var + eps)`.
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    eps: f32,
    has_weight: bool,
    has_bias: bool,
}

/// The axes batch norm reduces over (all but 1) and the `[1, C, 1, ..]` shape of its
/// per-channel values.
fn channel_axes(x: &Tensor) -> (Vec<usize>, Vec<usize>) {
    let axes = (0..x.ndim()).filter(|&a| a != 1).collect();
    let mut stat_shape = vec![1; x.ndim()];
    stat_shape[1] = x.shape()[1];
    (axes, stat_shape)
}

impl Rule for BatchNormTrain {
    fn name(&self) -> &'static str {
        "batch_norm_train"
    }

    fn backward(
        &self,
        inputs: &[Tensor],
        _output: &Tensor,
        grad: &Tensor,
        needs: &[bool],
    ) -> Vec<Option<Tensor>> {
        let weight = self.has_weight.then(|| &inputs[1]);
        if is_grad_enabled() {
            return self.backward_graph(&inputs[0], weight, grad, needs);
        }
        let (x, g) = (inputs[0].data(), grad.data());
        let c = self.mean.len();
        let m = (x.numel() / c.max(1)).max(1) as f32;
        let (sum_g, sum_gc) = g.channel_grad_sums(x, &self.mean);
        let (sum_g, sum_gc) = (sum_g.to_vec(), sum_gc.to_vec());
        // sum g * xhat = r * sum g * (x - mean).
        let sum_gxhat: Vec<f32> = sum_gc
            .iter()
            .zip(&self.inv_std)
            .map(|(s, r)| s * r)
            .collect();
        let mut out = Vec::with_capacity(inputs.len());
        out.push(needs[0].then(|| {
            let w = weight.map(|w| w.data().to_vec());
            let (mut a, mut b, mut k) = (vec![0.0; c], vec![0.0; c], vec![0.0; c]);
            for ch in 0..c {
                let r = self.inv_std[ch];
                let scale = w.as_ref().map_or(1.0, |w| w[ch]) * r;
                // dx = scale * g - scale * sum_g / M - scale * r * (x - mean) * sum_gxhat / M
                a[ch] = scale;
                b[ch] = -scale * r * sum_gxhat[ch] / m;
                k[ch] = -scale * sum_g[ch] / m;
            }
            Tensor::constant(g.channel_affine2(x, &self.mean, &a, &b, &k))
        }));
        if self.has_weight {
            out.push(
                needs[1].then(|| Tensor::constant(NdArray::from_vec(sum_gxhat, &[c]).unwrap())),
            );
        }
        if self.has_bias {
            let i = out.len();
            out.push(needs[i].then(|| Tensor::constant(NdArray::from_vec(sum_g, &[c]).unwrap())));
        }
        out
    }
}

impl BatchNormTrain {
    /// The same gradients from differentiable ops (for `create_graph`): the statistics are
    /// recomputed from `x` in the graph, so second derivatives see their dependence on it.
    fn backward_graph(
        &self,
        x: &Tensor,
        weight: Option<&Tensor>,
        g: &Tensor,
        needs: &[bool],
    ) -> Vec<Option<Tensor>> {
        let (axes, stat_shape) = channel_axes(x);
        let c = x.shape()[1];
        let centered = x.sub(&x.mean(&axes, true));
        let inv_std = centered
            .square()
            .mean(&axes, true)
            .add_scalar(self.eps)
            .sqrt()
            .recip();
        let xhat = centered.mul(&inv_std);
        let mut out = Vec::new();
        out.push(needs[0].then(|| {
            let gx = match weight {
                Some(w) => g.mul(&w.reshape(&stat_shape)),
                None => g.clone(),
            };
            let mean_gx = gx.mean(&axes, true);
            let mean_gx_xhat = gx.mul(&xhat).mean(&axes, true);
            gx.sub(&mean_gx).sub(&xhat.mul(&mean_gx_xhat)).mul(&inv_std)
        }));
        if self.has_weight {
            out.push(needs[1].then(|| g.mul(&xhat).sum(&axes, false).reshape(&[c])));
        }
        if self.has_bias {
            let i = out.len();
            out.push(needs[i].then(|| g.sum(&axes, false).reshape(&[c])));
        }
        out
    }
}

/// Training-mode batch norm of `x` (`[N, C, ...]`) as one recorded op; returns the output,
/// the batch mean and the biased batch variance (both `[C]`).
pub(crate) fn batch_norm_train(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f32,
) -> (Tensor, NdArray, NdArray) {
    let c = x.shape()[1];
    let (mean, var) = x.data().channel_moments();
    let (mean_v, var_v) = (mean.to_vec(), var.to_vec());
    let inv_std: Vec<f32> = var_v.iter().map(|&v| 1.0 / (v + eps).sqrt()).collect();
    let w = weight.map(|w| w.data().to_vec());
    let b = bias.map(|b| b.data().to_vec());
    let scale: Vec<f32> = (0..c)
        .map(|ch| w.as_ref().map_or(1.0, |w| w[ch]) * inv_std[ch])
        .collect();
    let shift: Vec<f32> = (0..c).map(|ch| b.as_ref().map_or(0.0, |b| b[ch])).collect();
    let y = x.data().channel_affine(&mean_v, &scale, &shift);
    let inputs: Vec<&Tensor> = [Some(x), weight, bias].into_iter().flatten().collect();
    let rule = BatchNormTrain {
        mean: mean_v,
        inv_std,
        eps,
        has_weight: weight.is_some(),
        has_bias: bias.is_some(),
    };
    (Tensor::from_op(y, rule, &inputs), mean, var)
}
