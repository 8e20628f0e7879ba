//! GAN inversion: the latent code whose sample reconstructs a given image.
//!
//! Optimisation (as in Zhu et al. 2016, "Generative Visual Manipulation on the Natural
//! Image Manifold"): minimise `L(z) = mean((G(z) - x)^2) + λ mean(z^2)` over `z` with Adam,
//! from several starting codes at once, keeping the best. The generator runs in eval mode
//! (batch norm on its running statistics), so the restarts and images of one batch do not
//! influence each other and each `z` gets the gradient of its own loss. The prior term
//! `λ mean(z^2)` (the Gaussian's negative log-density, scaled) keeps codes near the shell the
//! generator was trained on, where its samples look like data.
//!
//! An encoder `E: x -> z` trained on the generator's own samples
//! (`min E |E(G(z)) - z|^2`) gives a start in one forward pass (the "hybrid" inversion of
//! the same paper): it is agon-metrics' LeNet-style [`Classifier`] with `latent_dim` outputs,
//! read as a regression.

use std::collections::BTreeMap;

use agon_autodiff::{no_grad, Tensor};
use agon_metrics::Classifier;
use agon_nn::optim::{Adam, AdamConfig, Optimizer};
use agon_nn::{loss, Module, Param};
use agon_tensor::{Indices, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::Generator;

/// `role` metadata of an encoder file.
pub const ENCODER_ROLE: &str = "gan-encoder";

/// How [`invert`] searches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InvertConfig {
    /// Starting codes per image (the encoder's code, when given, is the first).
    pub restarts: usize,
    /// Adam steps.
    pub steps: usize,
    /// Adam's learning rate on `z`.
    pub lr: f32,
    /// λ of the prior term `λ mean(z^2)`.
    pub prior_weight: f32,
    /// Seed of the random starts.
    pub seed: u64,
}

impl Default for InvertConfig {
    fn default() -> Self {
        InvertConfig {
            restarts: 4,
            steps: 300,
            lr: 0.05,
            prior_weight: 1e-3,
            seed: 0,
        }
    }
}

/// What [`invert`] found, per image.
#[derive(Clone, Debug)]
pub struct Inversion {
    /// The best code of each image `[N, latent_dim]`.
    pub codes: NdArray,
    /// `G(code)` `[N, C, H, W]`.
    pub reconstructions: NdArray,
    /// The pixel mean squared error of each reconstruction.
    pub mse: Vec<f32>,
}

/// Per-sample mean squared error of `a` against `b` (`[N, ...]` each).
fn per_sample_mse(a: &NdArray, b: &NdArray) -> Vec<f32> {
    let n = a.shape()[0];
    let per = a.numel() / n.max(1);
    a.to_vec()
        .chunks(per)
        .zip(b.to_vec().chunks(per))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum::<f32>() / per as f32)
        .collect()
}

/// Inverts `images` `[N, C, H, W]` (in `[-1, 1]`, the generator's output shape) through
/// `g`, with `labels` `[N]` for a conditional generator and, optionally, a first start per
/// image (`start` `[N, latent_dim]`, an encoder's codes).
///
/// ```
/// use agon_gan::applications::{invert, InvertConfig};
/// use agon_gan::{Dcgan, Generator};
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Dcgan { width: 4, latent_dim: 8, ..Dcgan::new(28, 1) }.generator(&mut rng);
/// // A sample of g itself is reachable: inversion gets close to it.
/// let z = NdArray::rand_normal(&[2, 8], 0.0, 1.0, &mut rng);
/// let target = agon_gan::trainer::sample_from(&g, &z, None);
/// let cfg = InvertConfig { steps: 100, ..Default::default() };
/// let found = invert(&g, &target, None, None, &cfg);
/// assert!(found.mse.iter().all(|&e| e < 0.05));
/// ```
///
/// # Panics
/// If the images are not `g`'s sample shape, a conditional generator gets no labels, or
/// `restarts` or `steps` is 0.
pub fn invert(
    g: &dyn Generator,
    images: &NdArray,
    labels: Option<&Indices>,
    start: Option<&NdArray>,
    cfg: &InvertConfig,
) -> Inversion {
    assert!(
        cfg.restarts >= 1 && cfg.steps >= 1,
        "invert: restarts and steps must be at least 1"
    );
    let (n, d, r) = (images.shape()[0], g.latent_dim(), cfg.restarts);
    // Batch row i * r + j is restart j of image i.
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut z0 = NdArray::rand_normal(&[n * r, d], 0.0, 1.0, &mut rng).to_vec();
    if let Some(s) = start {
        assert_eq!(
            s.shape(),
            [n, d],
            "invert: starting codes {:?}, expected [{n}, {d}]",
            s.shape()
        );
        for (i, code) in s.to_vec().chunks(d).enumerate() {
            z0[i * r * d..][..d].copy_from_slice(code);
        }
    }
    let z = Param::new(NdArray::from_vec(z0, &[n * r, d]).expect("n * r * d values"));
    let repeat = |x: &NdArray| -> NdArray {
        let rows: Vec<NdArray> = (0..n * r).map(|k| x.narrow(0, k / r, 1)).collect();
        NdArray::concat(&rows.iter().collect::<Vec<_>>(), 0)
    };
    let target = Tensor::constant(repeat(images));
    let labels = labels
        .map(|l| Indices::from_vec((0..n * r).map(|k| l.as_slice()[k / r]).collect(), &[n * r]));
    let mut opt = Adam::new(
        vec![("z".into(), z.clone())],
        AdamConfig::default().lr(cfg.lr),
    );
    g.eval();
    for _ in 0..cfg.steps {
        let zt = z.tensor();
        let fake = g.generate(&zt, labels.as_ref());
        // Sum over samples of each one's mean: every z gets the gradient of its own loss.
        let rec = loss::mse(&fake, &target).mul_scalar((n * r) as f32);
        let prior = zt
            .mul(&zt)
            .mean_all()
            .mul_scalar(cfg.prior_weight * (n * r) as f32);
        opt.step(&rec.add(&prior).backward());
    }
    let codes = z.data();
    let recon = no_grad(|| g.generate(&Tensor::constant(codes.clone()), labels.as_ref()))
        .data()
        .clone();
    g.train();
    let errors = per_sample_mse(&recon, &repeat(images));
    let best: Vec<usize> = (0..n)
        .map(|i| {
            (0..r)
                .min_by(|&a, &b| errors[i * r + a].total_cmp(&errors[i * r + b]))
                .map_or(i * r, |j| i * r + j)
        })
        .collect();
    let pick = |x: &NdArray| {
        let rows: Vec<NdArray> = best.iter().map(|&k| x.narrow(0, k, 1)).collect();
        NdArray::concat(&rows.iter().collect::<Vec<_>>(), 0)
    };
    Inversion {
        codes: pick(&codes),
        reconstructions: pick(&recon),
        mse: best.iter().map(|&k| errors[k]).collect(),
    }
}

/// Trains an encoder for `g`: `steps` Adam steps (lr 1e-3) of `|E(G(z)) - z|^2` on batches
/// of `batch` fresh samples (random classes for a conditional generator).
///
/// # Panics
/// If `g` does not make images, or `steps` or `batch` is 0.
pub fn train_encoder(g: &dyn Generator, steps: usize, batch: usize, seed: u64) -> Classifier {
    assert!(
        steps >= 1 && batch >= 1,
        "train_encoder: steps and batch must be at least 1"
    );
    let d = g.latent_dim();
    let mut rng = StdRng::seed_from_u64(seed);
    let probe = crate::trainer::draw_samples(g, 1, &mut rng);
    let s = probe.shape();
    assert_eq!(
        s.len(),
        4,
        "train_encoder: the generator makes {s:?}, not images"
    );
    let encoder = Classifier::for_shape([s[1], s[2], s[3]], d, seed);
    let mut opt = Adam::new(encoder.named_parameters(), AdamConfig::default().lr(1e-3));
    for _ in 0..steps {
        let z = NdArray::rand_normal(&[batch, d], 0.0, 1.0, &mut rng);
        let labels = g.num_classes().map(|k| {
            Indices::from_vec(
                (0..batch)
                    .map(|_| rand::Rng::random_range(&mut rng, 0..k))
                    .collect(),
                &[batch],
            )
        });
        let x = crate::trainer::sample_from(g, &z, labels.as_ref());
        let pred = encoder.logits(&Tensor::constant(x));
        opt.step(&loss::mse(&pred, &Tensor::constant(z)).backward());
    }
    encoder
}

/// The encoder's codes for `images`.
pub fn encode(encoder: &Classifier, images: &NdArray) -> NdArray {
    encoder.eval();
    let z = no_grad(|| encoder.logits(&Tensor::constant(images.clone())))
        .data()
        .clone();
    encoder.train();
    z
}

/// The metadata an encoder file carries.
pub fn encoder_metadata(generator: &str, latent_dim: usize) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("role".to_string(), ENCODER_ROLE.to_string()),
        ("generator".to_string(), generator.to_string()),
        ("latent_dim".to_string(), latent_dim.to_string()),
    ])
}
