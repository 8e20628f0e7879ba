//! The generation tasks: noise (and, for `conditional`, a class label) in, an image or a
//! point out; D judges the sample (with its label when conditional). One struct serves
//! both, since a label is simply absent for the unconditional one.
//!
//! A step: `optim.n_critic` D updates on a real batch and a detached fake one (with the
//! configured loss, AC-GAN's class term, WGAN-GP and/or lazy R1, then WGAN weight clipping
//! when set), then one G update through the updated D, then the EMA copy.

use agon_autodiff::{no_grad, Tensor};
use agon_data::DiffAugment;
use agon_nn::optim::{clip_weights, Adam, AdamConfig, Optimizer};
use agon_nn::Module;
use agon_tensor::{Indices, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{check, StepContext, Task};
use crate::trainer::{
    build_models, mix, ConfigError, OptimConfig, StepStats, TrainConfig, TrainError,
};
use crate::{
    ema_update, gradient_penalty, r1_penalty, recompute_batch_norm_stats, Discriminator, GanLoss,
    Generator,
};
use std::sync::atomic::{AtomicBool, Ordering};

/// Noise (and label) to sample: the `unconditional` and `conditional` tasks.
pub struct Generation {
    name: &'static str,
    g: Box<dyn Generator>,
    d: Box<dyn Discriminator>,
    ema: Option<Box<dyn Generator>>,
    opt_g: Adam,
    opt_d: Adam,
    loss: GanLoss,
    augment: DiffAugment,
    fixed_z: NdArray,
    fixed_labels: Option<Indices>,
    /// `(batches, batch size, seed)` of the EMA's BatchNorm recomputation.
    ema_bn: (usize, usize, u64),
    /// The EMA has been updated (its BatchNorm statistics copied from the live G) since
    /// they were last recomputed.
    ema_bn_stale: AtomicBool,
}

fn adam(params: Vec<(String, agon_nn::Param)>, lr: f32, o: &OptimConfig) -> Adam {
    Adam::new(params, AdamConfig::default().lr(lr).betas(o.beta1, o.beta2))
}

impl Generation {
    /// The task `name` for `config` on data of sample shape `shape` with `classes` classes:
    /// builds G, D (and the EMA copy) and their optimisers, and draws the fixed noise of the
    /// sample grid.
    ///
    /// # Errors
    /// When the models cannot be built for the data, or the loss or augmentation is
    /// unknown.
    pub fn new(
        name: &'static str,
        config: &TrainConfig,
        shape: &[usize],
        classes: Option<usize>,
    ) -> Result<Self, TrainError> {
        let (g, d, ema) = build_models(config, shape, classes, config.seed)?;
        let loss: GanLoss = config.loss.kind;
        let augment: DiffAugment = config.data.augment.parse().map_err(|e| ConfigError {
            source: "configuration".into(),
            message: format!("data.augment: {e}"),
        })?;
        let opt_g = adam(g.named_parameters(), config.lr_g(), &config.optim);
        let opt_d = adam(d.named_parameters(), config.lr_d(), &config.optim);
        let mut rng = StdRng::seed_from_u64(mix(config.seed, 2));
        let n = config.log.samples;
        let fixed_z = NdArray::rand_normal(&[n, g.latent_dim()], 0.0, 1.0, &mut rng);
        // Conditional models: rows of the sample grid cycle through the classes.
        let fixed_labels = g
            .num_classes()
            .map(|k| Indices::from_vec((0..n).map(|i| i % k).collect(), &[n]));
        Ok(Generation {
            name,
            g,
            d,
            ema,
            opt_g,
            opt_d,
            loss,
            augment,
            fixed_z,
            fixed_labels,
            ema_bn: (
                config.optim.ema_bn_batches,
                config.batch_size,
                mix(config.seed, 6),
            ),
            ema_bn_stale: AtomicBool::new(false),
        })
    }

    /// The EMA generator (else G), its BatchNorm statistics first recomputed for its
    /// averaged weights when an update has made them stale: every path that samples or
    /// saves the EMA comes through here, so what is sampled, scored and saved is the same
    /// model. The recomputation draws its own fixed noise, so training is unchanged by
    /// when it runs.
    fn sampler(&self) -> &dyn Generator {
        let Some(e) = self.ema.as_deref() else {
            return self.g.as_ref();
        };
        if self.ema_bn_stale.swap(false, Ordering::Relaxed) {
            let (batches, batch_size, seed) = self.ema_bn;
            recompute_batch_norm_stats(e, batches, batch_size, seed);
        }
        e
    }

    fn noise(&self, n: usize, rng: &mut StdRng) -> Tensor {
        Tensor::constant(NdArray::rand_normal(
            &[n, self.g.latent_dim()],
            0.0,
            1.0,
            rng,
        ))
    }

    /// DiffAugment when configured (image data only), else the batch itself.
    fn augmented(&self, x: &Tensor, rng: &mut StdRng) -> Tensor {
        if self.augment.is_none() {
            x.clone()
        } else {
            self.augment.apply(x, rng)
        }
    }
}

impl Task for Generation {
    fn name(&self) -> &'static str {
        self.name
    }

    fn networks(&self) -> Vec<(&'static str, &dyn Module)> {
        let mut nets: Vec<(&'static str, &dyn Module)> =
            vec![("g", self.g.as_ref()), ("d", self.d.as_ref())];
        if self.ema.is_some() {
            nets.push(("ema", self.sampler()));
        }
        nets
    }

    fn optimizers(&self) -> Vec<(&'static str, &dyn Optimizer)> {
        vec![("opt_g", &self.opt_g), ("opt_d", &self.opt_d)]
    }

    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut dyn Optimizer)> {
        vec![("opt_g", &mut self.opt_g), ("opt_d", &mut self.opt_d)]
    }

    fn generator(&self) -> Option<&dyn Generator> {
        Some(self.g.as_ref())
    }

    fn sampling_generator(&self) -> Option<&dyn Generator> {
        Some(self.sampler())
    }

    fn discriminator(&self) -> Option<&dyn Discriminator> {
        Some(self.d.as_ref())
    }

    fn sample_grid(&self) -> Option<(NdArray, usize)> {
        let images =
            crate::trainer::sample_from(self.sampler(), &self.fixed_z, self.fixed_labels.as_ref());
        let nrow = self
            .g
            .num_classes()
            .unwrap_or_else(|| (images.shape()[0] as f64).sqrt().ceil() as usize);
        (images.ndim() == 4).then_some((images, nrow))
    }

    fn train_step(&mut self, ctx: &mut StepContext<'_>) -> Result<StepStats, TrainError> {
        let cfg = ctx.config;
        let (mut d_loss_v, mut d_real_v, mut d_fake_v, mut penalty_v) = (0.0, 0.0, 0.0, 0.0);
        for critic_step in 0..cfg.optim.n_critic {
            let (real, labels) = ctx.batcher.next_batch();
            let labels = labels
                .filter(|_| self.g.num_classes().is_some() || self.d.num_classes().is_some())
                .map(|l| Indices::from_vec(l.clone(), &[l.len()]));
            let real = Tensor::constant(real);
            let n = real.shape()[0];
            let z = self.noise(n, &mut *ctx.rng);
            let fake = no_grad(|| self.g.generate(&z, labels.as_ref()));
            let real_aug = self.augmented(&real, &mut *ctx.rng);
            let fake_aug = self.augmented(&fake, &mut *ctx.rng);
            let on_real = self.d.judge(&real_aug, labels.as_ref());
            let on_fake = self.d.judge(&fake_aug, labels.as_ref());
            let mut d_loss = self.loss.d_loss(&on_real.logits, &on_fake.logits);
            if let (Some(cl), Some(l)) = (&on_real.class_logits, &labels) {
                d_loss = d_loss.add(&crate::aux_class_loss(cl, l).mul_scalar(cfg.loss.aux_weight));
            }
            // Both penalties may be on at once: their terms add.
            let mut penalty: Option<Tensor> = None;
            let mut add_penalty = |p: Tensor| {
                penalty = Some(match penalty.take() {
                    Some(q) => q.add(&p),
                    None => p,
                })
            };
            if cfg.loss.gp_weight > 0.0 {
                let gp = gradient_penalty(
                    self.d.as_ref(),
                    &real,
                    &fake,
                    labels.as_ref(),
                    &mut *ctx.rng,
                );
                add_penalty(gp.mul_scalar(cfg.loss.gp_weight));
            }
            let d_updates = ctx.step * cfg.optim.n_critic + critic_step;
            if cfg.loss.r1_gamma > 0.0 && d_updates.is_multiple_of(cfg.loss.r1_every) {
                // Lazy R1 (StyleGAN2): every k-th D step, weighted by k.
                let r1 = r1_penalty(self.d.as_ref(), &real, labels.as_ref());
                let w = cfg.loss.r1_gamma / 2.0 * cfg.loss.r1_every as f32;
                add_penalty(r1.mul_scalar(w));
            }
            if let Some(p) = &penalty {
                d_loss = d_loss.add(p);
            }
            d_loss_v = check(ctx.step, "d_loss", d_loss.item())?;
            penalty_v = penalty.as_ref().map_or(0.0, |p| p.item());
            d_real_v = self.loss.mean_score(&on_real.logits);
            d_fake_v = self.loss.mean_score(&on_fake.logits);
            self.opt_d.step_grads(&self.d.parameter_grads(&d_loss));
            if cfg.loss.weight_clip > 0.0 {
                let params: Vec<_> = self.d.named_parameters().into_iter().map(|p| p.1).collect();
                clip_weights(&params, cfg.loss.weight_clip);
            }
        }

        let labels = self.g.num_classes().map(|k| {
            let l: Vec<usize> = (0..cfg.batch_size)
                .map(|i| (i + ctx.step as usize) % k)
                .collect();
            Indices::from_vec(l, &[cfg.batch_size])
        });
        let z = self.noise(cfg.batch_size, &mut *ctx.rng);
        let fake = self.g.generate(&z, labels.as_ref());
        let judged = self
            .d
            .judge(&self.augmented(&fake, &mut *ctx.rng), labels.as_ref());
        let mut g_loss = self.loss.g_loss(&judged.logits);
        if let (Some(cl), Some(l)) = (&judged.class_logits, &labels) {
            g_loss = g_loss.add(&crate::aux_class_loss(cl, l).mul_scalar(cfg.loss.aux_weight));
        }
        let g_loss_v = check(ctx.step, "g_loss", g_loss.item())?;
        self.opt_g.step_grads(&self.g.parameter_grads(&g_loss));
        if let Some(e) = &self.ema {
            ema_update(e.as_ref(), self.g.as_ref(), cfg.optim.ema_decay);
            self.ema_bn_stale.store(true, Ordering::Relaxed);
        }
        Ok(StepStats {
            step: ctx.step + 1,
            d_loss: d_loss_v,
            g_loss: g_loss_v,
            d_real: d_real_v,
            d_fake: d_fake_v,
            penalty: penalty_v,
        })
    }
}
