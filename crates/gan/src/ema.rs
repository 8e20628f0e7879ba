//! An exponential moving average of a model's weights (Karras et al. 2018, Yazıcı et al.
//! 2019): samples from the averaged generator are usually sharper and steadier than from
//! the one being trained.
//!
//! Keep a second model of the same architecture, start it with [`copy_weights`], and call
//! [`ema_update`] after every generator step:
//!
//! ```
//! use agon_gan::{copy_weights, ema_update, Mlp};
//! use agon_nn::Module;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let g = Mlp::mlp2d_generator(&mut rng);
//! let g_ema = Mlp::mlp2d_generator(&mut rng);
//! copy_weights(&g_ema, &g);
//! // ... an optimiser step changes g ...
//! ema_update(&g_ema, &g, 0.999);
//! assert_eq!(g_ema.state_dict()[0].1.to_vec(), g.state_dict()[0].1.to_vec());
//! ```
//!
//! Parameters are matched by name, so the two models must have the same tree; buffers
//! (BatchNorm running statistics, spectral-norm vectors) are copied, not averaged, as in
//! StyleGAN's and most PyTorch implementations. No graph is recorded. The BatchNorm
//! statistics so copied were gathered by the live weights, not the averaged ones;
//! [`recompute_batch_norm_stats`] replaces them with the averaged generator's own
//! ("standing statistics") before it is sampled.

use std::collections::HashMap;

use agon_autodiff::{no_grad, Tensor};
use agon_nn::{Buffer, Module, Param};
use agon_tensor::{Indices, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::Generator;

/// Recomputes every BatchNorm running statistic of `g` as the plain average of the batch
/// statistics over `batches` training-mode batches of `batch_size` noise vectors (seeded
/// by `seed`; a conditional generator's labels cycle through its classes), as
/// `torch.optim.swa_utils.update_bn` does for averaged weights. Nothing else changes; `g`
/// is left in training mode. A generator without BatchNorm is left as it is; other layers
/// that act differently in training mode (dropout, spectral norm) advance their state as
/// in any training-mode forward.
///
/// ```
/// use agon_gan::{recompute_batch_norm_stats, Dcgan};
/// use agon_nn::Module;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Dcgan { width: 4, latent_dim: 8, ..Dcgan::new(28, 1) }.generator(&mut rng);
/// let before = g.named_buffers()[0].1.data().to_vec(); // the first running mean: zeros
/// recompute_batch_norm_stats(&g, 4, 16, 7);
/// assert_ne!(g.named_buffers()[0].1.data().to_vec(), before);
/// ```
pub fn recompute_batch_norm_stats(g: &dyn Generator, batches: usize, batch_size: usize, seed: u64) {
    let has_batch_norm = g
        .named_buffers()
        .iter()
        .any(|(name, _)| name.ends_with("running_mean"));
    if batches == 0 || !has_batch_norm {
        return;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let labels = g
        .num_classes()
        .map(|k| Indices::from_vec((0..batch_size).map(|i| i % k).collect(), &[batch_size]));
    g.train();
    g.set_cumulative_stats(true);
    for _ in 0..batches {
        let z = Tensor::constant(NdArray::rand_normal(
            &[batch_size, g.latent_dim()],
            0.0,
            1.0,
            &mut rng,
        ));
        // On a pool worker, as every trainer forward (agon_autodiff::on_worker).
        agon_autodiff::on_worker(|| no_grad(|| g.generate(&z, labels.as_ref())));
    }
    g.set_cumulative_stats(false);
}

/// `target ← decay · target + (1 - decay) · source` for every parameter, matched by name;
/// every buffer of `target` is set to `source`'s.
///
/// ```
/// use agon_gan::ema_update;
/// use agon_nn::{Linear, Module};
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let (avg, live) = (Linear::new(1, 1, false, &mut rng), Linear::new(1, 1, false, &mut rng));
/// avg.weight.set(NdArray::full(&[1, 1], 1.0));
/// live.weight.set(NdArray::full(&[1, 1], 3.0));
/// ema_update(&avg, &live, 0.75);
/// assert_eq!(avg.weight.data().to_vec(), vec![1.5]); // 0.75 * 1 + 0.25 * 3
/// ```
///
/// # Panics
/// If `decay` is outside `[0, 1]`, or the two models' parameter or buffer names or shapes
/// differ (the message names the first offending entry).
#[track_caller]
pub fn ema_update(target: &dyn Module, source: &dyn Module, decay: f32) {
    assert!(
        (0.0..=1.0).contains(&decay),
        "ema_update: decay {decay} is outside [0, 1]"
    );
    for (_, t, s) in matched_params("ema_update", target, source) {
        let avg = t
            .data()
            .mul_scalar(decay)
            .add(&s.data().mul_scalar(1.0 - decay));
        t.set(avg);
    }
    copy_buffers("ema_update", target, source);
}

/// Copies every parameter and buffer of `source` into `target` (matched by name), e.g. to
/// start an EMA model at the live model's weights.
///
/// ```
/// use agon_gan::{copy_weights, Mlp};
/// use agon_nn::Module;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let (a, b) = (Mlp::mlp2d_generator(&mut rng), Mlp::mlp2d_generator(&mut rng));
/// copy_weights(&a, &b);
/// assert_eq!(a.state_dict()[3].1.to_vec(), b.state_dict()[3].1.to_vec());
/// ```
///
/// # Panics
/// If the two models' parameter or buffer names or shapes differ.
#[track_caller]
pub fn copy_weights(target: &dyn Module, source: &dyn Module) {
    for (_, t, s) in matched_params("copy_weights", target, source) {
        t.set(s.data());
    }
    copy_buffers("copy_weights", target, source);
}

/// Pairs `target`'s parameters with `source`'s by name, checking both trees hold the same
/// names with the same shapes.
#[track_caller]
fn matched_params(
    op: &str,
    target: &dyn Module,
    source: &dyn Module,
) -> Vec<(String, Param, Param)> {
    let pairs = match_by_name(
        op,
        "parameter",
        target.named_parameters(),
        source.named_parameters(),
    );
    for (name, t, s) in &pairs {
        assert_eq!(
            t.shape(),
            s.shape(),
            "{op}: parameter {name:?} has shape {:?} in the target but {:?} in the source",
            t.shape(),
            s.shape()
        );
    }
    pairs
}

#[track_caller]
fn copy_buffers(op: &str, target: &dyn Module, source: &dyn Module) {
    let pairs: Vec<(String, Buffer, Buffer)> =
        match_by_name(op, "buffer", target.named_buffers(), source.named_buffers());
    for (name, t, s) in pairs {
        assert_eq!(
            t.shape(),
            s.shape(),
            "{op}: buffer {name:?} has shape {:?} in the target but {:?} in the source",
            t.shape(),
            s.shape()
        );
        t.set(s.data());
    }
}

/// `(name, target entry, source entry)` for every name, in the target's order.
#[track_caller]
fn match_by_name<T>(
    op: &str,
    what: &str,
    target: Vec<(String, T)>,
    source: Vec<(String, T)>,
) -> Vec<(String, T, T)> {
    let source_len = source.len();
    let mut by_name: HashMap<String, T> = source.into_iter().collect();
    assert_eq!(
        by_name.len(),
        source_len,
        "{op}: the source model has duplicate {what} names"
    );
    let mut out = Vec::with_capacity(target.len());
    for (name, t) in target {
        let s = by_name.remove(&name).unwrap_or_else(|| {
            panic!("{op}: {what} {name:?} of the target model is missing from the source model")
        });
        out.push((name, t, s));
    }
    if let Some(extra) = by_name.keys().min() {
        panic!("{op}: {what} {extra:?} of the source model is missing from the target model");
    }
    out
}
