//! Spectral normalisation (Miyato et al. 2018) as a wrapper, PyTorch's way.

use std::sync::atomic::{AtomicBool, Ordering};

use agon_autodiff::Tensor;
use agon_tensor::NdArray;
use rand::Rng;

use super::WeightedLayer;
use crate::module::Module;
use crate::param::{Buffer, Param};

/// Divides a layer's weight by an estimate of its largest singular value σ, keeping the
/// layer roughly 1-Lipschitz (a stabiliser for discriminators).
///
/// As `torch.nn.utils.spectral_norm`: the weight is viewed as a matrix with the output axis
/// as rows; vectors `u` and `v` are buffers (`weight_u`, `weight_v`) refined by one power
/// iteration per training forward (`v = W^T u / |W^T u|`, `u = W v / |W v|`, no gradient
/// through them); σ = uᵀ W v is differentiated through W. The parameter is saved as
/// `weight_orig`, so the state dict matches PyTorch's.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Linear, Module, SpectralNorm};
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let sn = SpectralNorm::new(Linear::new(8, 4, true, &mut rng), &mut rng);
/// for _ in 0..30 {
///     sn.forward(&Tensor::constant(NdArray::zeros(&[1, 8]))); // power iterations
/// }
/// assert!((sn.sigma() - sn.true_sigma_estimate()).abs() < 1e-3);
/// let names: Vec<String> = sn.state_dict().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight_orig", "bias", "weight_u", "weight_v"]);
/// ```
pub struct SpectralNorm<L: WeightedLayer> {
    /// The wrapped layer (its `weight` is the un-normalised `weight_orig`).
    pub layer: L,
    /// Left singular vector estimate `[rows]`.
    pub u: Buffer,
    /// Right singular vector estimate `[cols]`.
    pub v: Buffer,
    /// Floor on vector norms before dividing.
    pub eps: f32,
    training: AtomicBool,
}

/// `x / max(|x|, eps)`.
fn normalize(x: &NdArray, eps: f32) -> NdArray {
    let norm = x.mul(x).sum_all().item().sqrt();
    x.div_scalar(norm.max(eps))
}

impl<L: WeightedLayer> SpectralNorm<L> {
    /// Wraps `layer`, drawing the initial `u` and `v` from N(0, 1), normalised.
    pub fn new<R: Rng + ?Sized>(layer: L, rng: &mut R) -> Self {
        let eps = 1e-12;
        let (rows, cols) = Self::matrix_dims(&layer);
        let u = normalize(&NdArray::rand_normal(&[rows], 0.0, 1.0, rng), eps);
        let v = normalize(&NdArray::rand_normal(&[cols], 0.0, 1.0, rng), eps);
        SpectralNorm {
            layer,
            u: Buffer::new(u),
            v: Buffer::new(v),
            eps,
            training: AtomicBool::new(true),
        }
    }

    fn matrix_dims(layer: &L) -> (usize, usize) {
        let shape = layer.weight().shape();
        let rows = shape[layer.output_axis()];
        (rows, shape.iter().product::<usize>() / rows)
    }

    /// The weight as a `[rows, cols]` matrix, output axis first (a differentiable view).
    fn weight_matrix(&self, w: &Tensor) -> Tensor {
        let axis = self.layer.output_axis();
        let mut perm: Vec<usize> = (0..w.ndim()).collect();
        perm.remove(axis);
        perm.insert(0, axis);
        let (rows, cols) = Self::matrix_dims(&self.layer);
        w.permute(&perm).reshape(&[rows, cols])
    }

    /// The current σ estimate `uᵀ W v` (no gradient).
    pub fn sigma(&self) -> f32 {
        let w = self.weight_matrix(&Tensor::constant(self.layer.weight().data()));
        let wv = w.data().matmul(&self.v.data());
        self.u.data().mul(&wv).sum_all().item()
    }

    /// σ from 100 power iterations on a copy, leaving the buffers alone (for tests and
    /// diagnostics).
    pub fn true_sigma_estimate(&self) -> f32 {
        let w = self.weight_matrix(&Tensor::constant(self.layer.weight().data()));
        let w = w.data().clone();
        let mut u = self.u.data();
        let mut v = self.v.data();
        for _ in 0..100 {
            v = normalize(&w.transpose(0, 1).matmul(&u), self.eps);
            u = normalize(&w.matmul(&v), self.eps);
        }
        u.mul(&w.matmul(&v)).sum_all().item()
    }
}

impl<L: WeightedLayer> Module for SpectralNorm<L> {
    fn forward(&self, x: &Tensor) -> Tensor {
        let w = self.layer.weight().tensor();
        let mat = self.weight_matrix(&w);
        if self.training.load(Ordering::Relaxed) {
            let m = mat.data();
            let v = normalize(&m.transpose(0, 1).matmul(&self.u.data()), self.eps);
            let u = normalize(&m.matmul(&v), self.eps);
            self.v.set(v);
            self.u.set(u);
        }
        let (u, v) = (
            Tensor::constant(self.u.data()),
            Tensor::constant(self.v.data()),
        );
        let sigma = u.mul(&mat.matmul(&v)).sum_all();
        self.layer.forward_with_weight(x, &w.div(&sigma))
    }

    fn params(&self) -> Vec<(String, Param)> {
        let mut p = vec![("weight_orig".to_string(), self.layer.weight().clone())];
        p.extend(self.layer.other_params());
        p
    }

    fn buffers(&self) -> Vec<(String, Buffer)> {
        vec![
            ("weight_u".to_string(), self.u.clone()),
            ("weight_v".to_string(), self.v.clone()),
        ]
    }

    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}
