//! Batch and layer normalisation layers.

use std::sync::atomic::{AtomicBool, Ordering};

use agon_autodiff::{batch_norm, batch_norm_inference, layer_norm, BatchNormMode, Tensor};
use agon_tensor::{NdArray, Rectifier};

use crate::module::Module;
use crate::param::{Buffer, Param};

/// Batch normalisation over every axis but 1 (`[N, C]`, `[N, C, L]` or `[N, C, H, W]`),
/// with PyTorch's defaults: momentum 0.1, eps 1e-5, learnable `weight` (ones) and `bias`
/// (zeros), running statistics in `running_mean`, `running_var` (unbiased) and
/// `num_batches_tracked`.
///
/// Training mode normalises with the batch's statistics and updates the running ones;
/// evaluation mode uses the running ones.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{BatchNorm2d, Module};
/// use agon_tensor::NdArray;
/// let bn = BatchNorm2d::new(3);
/// let x = Tensor::constant(NdArray::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 2, 2]));
/// let y = bn.forward(&x);
/// assert!(y.data().mean_all().item().abs() < 1e-5);
/// assert_eq!(bn.num_batches_tracked.data().item(), 1.0);
/// ```
pub struct BatchNorm {
    /// Scale `[C]` (absent when not affine).
    pub weight: Option<Param>,
    /// Shift `[C]` (absent when not affine).
    pub bias: Option<Param>,
    /// Running mean `[C]`.
    pub running_mean: Buffer,
    /// Running unbiased variance `[C]`.
    pub running_var: Buffer,
    /// Number of training batches seen.
    pub num_batches_tracked: Buffer,
    /// Weight of the newest batch in the running averages.
    pub momentum: f32,
    /// Added to the variance before the square root.
    pub eps: f32,
    training: AtomicBool,
    /// Running statistics as a plain average of the batches since it was set (PyTorch's
    /// `momentum = None`) instead of the momentum average.
    cumulative: AtomicBool,
}

/// PyTorch's name for batch norm over `[N, C]` or `[N, C, L]`.
pub type BatchNorm1d = BatchNorm;
/// PyTorch's name for batch norm over `[N, C, H, W]`.
pub type BatchNorm2d = BatchNorm;

impl BatchNorm {
    /// Batch norm over `num_features` channels with PyTorch's defaults (affine, in training
    /// mode).
    pub fn new(num_features: usize) -> Self {
        BatchNorm {
            weight: Some(Param::new(NdArray::ones(&[num_features]))),
            bias: Some(Param::new(NdArray::zeros(&[num_features]))),
            running_mean: Buffer::new(NdArray::zeros(&[num_features])),
            running_var: Buffer::new(NdArray::ones(&[num_features])),
            num_batches_tracked: Buffer::counter(0),
            momentum: 0.1,
            eps: 1e-5,
            training: AtomicBool::new(true),
            cumulative: AtomicBool::new(false),
        }
    }

    /// Without learnable scale and shift.
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// True in training mode.
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    /// The current weight and bias as graph leaves.
    fn affine_tensors(&self) -> (Option<Tensor>, Option<Tensor>) {
        (
            self.weight.as_ref().map(Param::tensor),
            self.bias.as_ref().map(Param::tensor),
        )
    }

    /// Evaluation mode: normalise with the running statistics, then `rectifier` if given.
    fn inference(&self, x: &Tensor, rectifier: Option<Rectifier>) -> Tensor {
        let (w, b) = self.affine_tensors();
        let (rm, rv) = (self.running_mean.data(), self.running_var.data());
        batch_norm_inference(x, w.as_ref(), b.as_ref(), (&rm, &rv), self.eps, rectifier)
    }
}

/// A norm's optional `weight` and `bias`, under PyTorch's names.
pub(crate) fn affine_params(weight: Option<&Param>, bias: Option<&Param>) -> Vec<(String, Param)> {
    [("weight", weight), ("bias", bias)]
        .into_iter()
        .filter_map(|(name, p)| p.map(|p| (name.to_string(), p.clone())))
        .collect()
}

/// `(1 - m) * old + m * new`, PyTorch's running-average update.
fn blend(old: &NdArray, new: &NdArray, m: f32) -> NdArray {
    old.mul_scalar(1.0 - m).add(&new.mul_scalar(m))
}

impl Module for BatchNorm {
    fn forward(&self, x: &Tensor) -> Tensor {
        if self.is_training() {
            let (w, b) = self.affine_tensors();
            let (y, stats) = batch_norm(
                x,
                w.as_ref(),
                b.as_ref(),
                None,
                BatchNormMode::Train,
                self.eps,
            );
            let stats = stats.expect("training mode returns batch statistics");
            // The cumulative average of batches 1..=n+1 weighs the newest by 1/(n+1):
            // avg_{n+1} = avg_n + (s_{n+1} - avg_n) / (n+1).
            let m = if self.cumulative.load(Ordering::Relaxed) {
                1.0 / (self.num_batches_tracked.data().item() + 1.0)
            } else {
                self.momentum
            };
            self.running_mean
                .set(blend(&self.running_mean.data(), &stats.mean, m));
            self.running_var
                .set(blend(&self.running_var.data(), &stats.var_unbiased, m));
            self.num_batches_tracked
                .set(self.num_batches_tracked.data().add_scalar(1.0));
            y
        } else {
            self.inference(x, None)
        }
    }

    /// In evaluation mode, with a ReLU or LeakyReLU next: both in one pass over the
    /// activations when no gradient is wanted (sampling), the same ops otherwise.
    fn forward_fused(&self, next: &dyn Module, x: &Tensor) -> Option<Tensor> {
        if self.is_training() {
            return None;
        }
        Some(self.inference(x, Some(next.as_rectifier()?)))
    }

    fn params(&self) -> Vec<(String, Param)> {
        affine_params(self.weight.as_ref(), self.bias.as_ref())
    }

    fn buffers(&self) -> Vec<(String, Buffer)> {
        vec![
            ("running_mean".to_string(), self.running_mean.clone()),
            ("running_var".to_string(), self.running_var.clone()),
            (
                "num_batches_tracked".to_string(),
                self.num_batches_tracked.clone(),
            ),
        ]
    }

    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn set_own_cumulative_stats(&self, cumulative: bool) {
        if cumulative {
            // The first batch that follows then weighs 1: the old statistics are dropped.
            let c = self.running_mean.shape()[0];
            self.running_mean.set(NdArray::zeros(&[c]));
            self.running_var.set(NdArray::ones(&[c]));
            self.num_batches_tracked.set(NdArray::scalar(0.0));
        }
        self.cumulative.store(cumulative, Ordering::Relaxed);
    }
}

/// Layer normalisation over the trailing `normalized_shape` axes, with elementwise
/// `weight` (ones) and `bias` (zeros) of that shape; eps 1e-5.
pub struct LayerNorm {
    /// The trailing shape normalised over.
    pub normalized_shape: Vec<usize>,
    /// Scale.
    pub weight: Param,
    /// Shift.
    pub bias: Param,
    /// Added to the variance.
    pub eps: f32,
}

impl LayerNorm {
    /// Layer norm over trailing axes of shape `normalized_shape`.
    pub fn new(normalized_shape: &[usize]) -> Self {
        LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            weight: Param::new(NdArray::ones(normalized_shape)),
            bias: Param::new(NdArray::zeros(normalized_shape)),
            eps: 1e-5,
        }
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let (w, b) = (self.weight.tensor(), self.bias.tensor());
        layer_norm(x, &self.normalized_shape, Some(&w), Some(&b), self.eps)
    }

    fn params(&self) -> Vec<(String, Param)> {
        vec![
            ("weight".to_string(), self.weight.clone()),
            ("bias".to_string(), self.bias.clone()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Per-channel mean and unbiased variance of `[N, C]` rows, in f64.
    fn column_stats(x: &[f32], n: usize, c: usize) -> (Vec<f64>, Vec<f64>) {
        let mean: Vec<f64> = (0..c)
            .map(|j| (0..n).map(|i| x[i * c + j] as f64).sum::<f64>() / n as f64)
            .collect();
        let var = (0..c)
            .map(|j| {
                let s: f64 = (0..n)
                    .map(|i| (x[i * c + j] as f64 - mean[j]).powi(2))
                    .sum();
                s / (n - 1) as f64
            })
            .collect();
        (mean, var)
    }

    #[test]
    fn cumulative_statistics_average_the_batches_then_momentum_resumes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let (n, c) = (5, 3);
        let bn = BatchNorm::new(c);
        bn.forward(&Tensor::constant(NdArray::rand_normal(
            &[n, c],
            9.0,
            1.0,
            &mut rng,
        )));
        bn.set_cumulative_stats(true);
        let (mut mean_sum, mut var_sum) = (vec![0.0; c], vec![0.0; c]);
        for k in 0..3 {
            let x = NdArray::rand_normal(&[n, c], k as f32, 1.0 + k as f32, &mut rng);
            let (m, v) = column_stats(&x.to_vec(), n, c);
            for j in 0..c {
                mean_sum[j] += m[j] / 3.0;
                var_sum[j] += v[j] / 3.0;
            }
            bn.forward(&Tensor::constant(x));
        }
        bn.set_cumulative_stats(false);
        // The first batch (mean 9) before the switch is forgotten entirely.
        let (rm, rv) = (
            bn.running_mean.data().to_vec(),
            bn.running_var.data().to_vec(),
        );
        for j in 0..c {
            assert!(
                (rm[j] as f64 - mean_sum[j]).abs() < 1e-5,
                "{rm:?} vs {mean_sum:?}"
            );
            assert!(
                (rv[j] as f64 - var_sum[j]).abs() < 1e-5,
                "{rv:?} vs {var_sum:?}"
            );
        }
        assert_eq!(bn.num_batches_tracked.data().item(), 3.0);
        // Off again: the next batch enters with weight momentum (0.1).
        let x = NdArray::rand_normal(&[n, c], 0.0, 1.0, &mut rng);
        let (m, _) = column_stats(&x.to_vec(), n, c);
        bn.forward(&Tensor::constant(x));
        let after = bn.running_mean.data().to_vec();
        for j in 0..c {
            let want = 0.9 * rm[j] as f64 + 0.1 * m[j];
            assert!((after[j] as f64 - want).abs() < 1e-5);
        }
    }
}

#[cfg(test)]
mod fusion_tests {
    use super::*;
    use crate::{LeakyReLU, ReLU, Sequential};
    use agon_autodiff::{grad, no_grad};
    use rand::SeedableRng;

    fn bits(t: &Tensor) -> Vec<u32> {
        t.data().to_vec().iter().map(|v| v.to_bits()).collect()
    }

    /// In evaluation mode a batch norm and the rectifier after it run fused in a
    /// Sequential. Under `no_grad` that is one pass; with gradients it is recorded ops. Both
    /// give the bits of the two layers run one after the other, and the gradient still
    /// reaches the input and the parameters.
    #[test]
    fn eval_batch_norm_then_rectifier_runs_fused_with_the_same_bits() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for (shape, leaky) in [(vec![6, 4, 3, 5], true), (vec![6, 7], false)] {
            let c = shape[1];
            let bn = BatchNorm::new(c);
            for _ in 0..3 {
                bn.forward(&Tensor::constant(NdArray::rand_normal(
                    &shape, 1.0, 2.0, &mut rng,
                )));
            }
            let (w, b) = (bn.weight.clone().unwrap(), bn.bias.clone().unwrap());
            w.set(NdArray::rand_normal(&[c], 1.0, 0.5, &mut rng));
            b.set(NdArray::rand_normal(&[c], 0.0, 0.5, &mut rng));
            bn.eval();
            let x = NdArray::rand_normal(&shape, 1.0, 2.0, &mut rng);
            let seq = if leaky {
                Sequential::new().push(bn).push(LeakyReLU(0.2))
            } else {
                Sequential::new().push(bn).push(ReLU)
            };
            seq.eval();
            let layers = seq.children();
            let (bn, rectifier) = (layers[0].1, layers[1].1);

            let apart = rectifier.forward(&bn.forward(&Tensor::constant(x.clone())));
            let fused_no_grad = no_grad(|| {
                bn.forward_fused(rectifier, &Tensor::constant(x.clone()))
                    .expect("eval-mode batch norm fuses with a rectifier")
            });
            let xp = Tensor::param(x.clone());
            let fused_graph = bn.forward_fused(rectifier, &xp).unwrap();
            assert_eq!(bits(&fused_no_grad), bits(&apart));
            assert_eq!(bits(&fused_graph), bits(&apart));
            assert_eq!(
                bits(&seq.forward(&Tensor::constant(x.clone()))),
                bits(&apart)
            );

            let g = grad(
                &[&fused_graph.sum_all()],
                &[&xp, &w.tensor(), &b.tensor()],
                None,
                false,
            );
            let gx = g[0].as_ref().expect("the gradient reaches the input");
            assert_eq!(gx.shape(), shape.as_slice());
            assert!(gx.data().to_vec().iter().any(|&v| v != 0.0));
            assert!(g[1].is_some() && g[2].is_some(), "and the weight and bias");

            seq.train();
            assert!(bn.forward_fused(rectifier, &Tensor::constant(x)).is_none());
        }
    }
}
