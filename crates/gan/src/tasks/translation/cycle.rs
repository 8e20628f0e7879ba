//! Unpaired translation (CycleGAN, Zhu et al. 2017): two domains A and B, each a set of
//! classes of one labelled dataset (`translate.a`, `translate.b`) or an image folder of its
//! own (`translate.a_dir`, `translate.b_dir`), no pairs between them.
//! `G_AB` turns A images into B images and `G_BA` the other way; `D_A` and `D_B` each judge
//! one domain, real against translated.
//!
//! A step, as the reference's `optimize_parameters`: draw a batch of the two domains'
//! images, split it by domain, then update both generators on
//!
//! `adv_weight * (L_G(D_B(G_AB(a))) + L_G(D_A(G_BA(b))))`
//! `+ cycle_weight * (|G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1)`
//! `+ identity_weight * (|G_AB(b) - b|_1 + |G_BA(a) - a|_1)`
//!
//! (the identity terms keep a generator from changing what is already in its target
//! domain), then both discriminators, each on its domain's real images against fakes drawn
//! from a replay buffer of past translations, with the loss halved as the reference does
//! (D learns slower than G). The generators are CycleGAN's ResNet (two stride-2
//! convolutions, `translate.blocks` residual blocks, two transposed convolutions) with
//! instance norm; the discriminators PatchGANs with instance norm. The domains are resolved
//! in `domains.rs`, the replay buffers `saved_pool.rs`, the scores `scores.rs`.

use agon_autodiff::{grad, no_grad, Tensor};
use agon_data::Dataset;
use agon_nn::optim::{Adam, Optimizer};
use agon_nn::Module;
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::domains::{config_error, domains, pick_rows, rows_in};
use super::saved_pool::SavedPool;
use super::{adam, forward_padded, ImageToImage, TranslationInput};
use crate::models::{ImageNorm, PatchDiscriminator, ResnetGenerator};
use crate::tasks::{check, StepContext, Task};
use crate::trainer::{mix, StepStats, TaskKind, TrainConfig, TrainError, TranslateConfig};
use crate::GanLoss;

/// The generator halves the sides twice: they are padded to multiples of 4.
const SIDE_MULTIPLE: usize = 4;

/// Batches drawn at most to find one holding both domains (a batch of 2 classes misses one
/// with probability `2^(1-n)`; this bounds a pathological split, it is never reached).
const MAX_DRAWS: usize = 64;

/// The `cyclegan` task (see the module docs).
pub struct CycleGan {
    g_ab: ResnetGenerator,
    g_ba: ResnetGenerator,
    d_a: PatchDiscriminator,
    d_b: PatchDiscriminator,
    pool_a: SavedPool,
    pool_b: SavedPool,
    opt_g: Adam,
    opt_d: Adam,
    loss: GanLoss,
    settings: TranslateConfig,
    channels: usize,
    domain_a: Vec<usize>,
    domain_b: Vec<usize>,
    grid: Option<(NdArray, NdArray)>,
}

/// `first`'s named parameters then `second`'s, prefixed with their network's name.
fn both(first: (&str, &dyn Module), second: (&str, &dyn Module)) -> Vec<(String, agon_nn::Param)> {
    [first, second]
        .into_iter()
        .flat_map(|(net, m)| {
            m.named_parameters()
                .into_iter()
                .map(move |(n, p)| (format!("{net}.{n}"), p))
        })
        .collect()
}

impl CycleGan {
    /// The task for images of `shape` (`[C, H, W]`) of data with `classes` classes, from a
    /// configuration whose domains are resolved ([`resolve_domains`](super::resolve_domains)).
    ///
    /// # Errors
    /// Data that is not images, images under 4x4, or unresolved domains.
    pub fn new(
        cfg: &TrainConfig,
        shape: &[usize],
        classes: Option<usize>,
    ) -> Result<Self, TrainError> {
        let &[c, h, w] = shape else {
            return Err(config_error(format!(
                "task = \"cyclegan\" needs images, but data.name = {:?} holds samples of shape \
                 {shape:?}",
                cfg.data.name
            ))
            .into());
        };
        if h < 4 || w < 4 {
            return Err(config_error(format!(
                "task = \"cyclegan\" needs images of at least 4x4, got {h}x{w}"
            ))
            .into());
        }
        let (domain_a, domain_b) = domains(&cfg.translate, classes.unwrap_or(0))?;
        let t = &cfg.translate;
        let width = cfg.model.width;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let norm = ImageNorm::Instance;
        let g_ab = ResnetGenerator::new(c, c, width, t.blocks, norm, None, &mut rng);
        let g_ba = ResnetGenerator::new(c, c, width, t.blocks, norm, None, &mut rng);
        let d_a = PatchDiscriminator::new(c, width, t.d_layers, norm, &mut rng);
        let d_b = PatchDiscriminator::new(c, width, t.d_layers, norm, &mut rng);
        let opt_g = adam(both(("g_ab", &g_ab), ("g_ba", &g_ba)), cfg.lr_g(), cfg);
        let opt_d = adam(both(("d_a", &d_a), ("d_b", &d_b)), cfg.lr_d(), cfg);
        Ok(CycleGan {
            g_ab,
            g_ba,
            d_a,
            d_b,
            pool_a: SavedPool::new(t.pool_size, shape, mix(cfg.seed, 4)),
            pool_b: SavedPool::new(t.pool_size, shape, mix(cfg.seed, 5)),
            opt_g,
            opt_d,
            loss: cfg.loss.kind,
            settings: t.clone(),
            channels: c,
            domain_a,
            domain_b,
            grid: None,
        })
    }

    /// Domain A's and domain B's class indices.
    pub fn domains(&self) -> (&[usize], &[usize]) {
        (&self.domain_a, &self.domain_b)
    }

    fn run(g: &dyn Module, x: &Tensor) -> Tensor {
        forward_padded(g, x, SIDE_MULTIPLE)
    }

    fn judge(d: &dyn Module, x: &Tensor) -> Tensor {
        let logits = d.forward(x);
        let n = logits.numel();
        logits.reshape(&[n, 1])
    }

    /// `images`' rows in domain A and in domain B.
    fn split(&self, images: &NdArray, labels: &[usize]) -> (NdArray, NdArray) {
        let pick = |domain: &[usize]| pick_rows(images, &rows_in(labels, domain));
        (pick(&self.domain_a), pick(&self.domain_b))
    }

    /// The next batch holding images of both domains, split.
    fn draw(&self, ctx: &mut StepContext<'_>) -> Result<(NdArray, NdArray), TrainError> {
        for _ in 0..MAX_DRAWS {
            let (images, labels) = ctx.batcher.next_batch();
            let labels = labels.expect("cyclegan data is labelled (select_domains)");
            let has = |d: &[usize]| labels.iter().any(|l| d.contains(l));
            if has(&self.domain_a) && has(&self.domain_b) {
                return Ok(self.split(&images, &labels));
            }
        }
        Err(config_error(format!(
            "{MAX_DRAWS} batches in a row held only one domain: raise batch_size or balance \
             the domains"
        ))
        .into())
    }

    /// One direction, `g` on `x` in evaluation mode without gradients.
    fn apply(g: &dyn Module, x: &NdArray) -> NdArray {
        g.eval();
        let y = no_grad(|| Self::run(g, &Tensor::constant(x.clone())))
            .data()
            .clone();
        g.train();
        y
    }
}

/// The gradients of `loss` for `first`'s parameters then `second`'s, in one backward pass:
/// the order of an optimiser built from [`both`] of them.
fn joint_grads(loss: &Tensor, first: &dyn Module, second: &dyn Module) -> Vec<Option<Tensor>> {
    let mut params = first.parameters();
    params.extend(second.parameters());
    let leaves: Vec<Tensor> = params.iter().map(|p| p.tensor()).collect();
    grad(&[loss], &leaves.iter().collect::<Vec<_>>(), None, false)
}

fn l1(x: &Tensor, y: &Tensor) -> Tensor {
    x.sub(y).abs().mean_all()
}

impl ImageToImage for CycleGan {
    fn kind(&self) -> TaskKind {
        TaskKind::Cyclegan
    }

    fn channels(&self) -> usize {
        self.channels
    }

    /// Domain A images are G_AB's input as they are.
    fn prepare(
        &self,
        targets: &NdArray,
        _holes: Option<agon_data::HoleKind>,
        _rng: &mut StdRng,
    ) -> TranslationInput {
        TranslationInput {
            source: targets.clone(),
            mask: None,
        }
    }

    fn prepare_user(
        &self,
        image: &NdArray,
        _mask: Option<&NdArray>,
    ) -> Result<TranslationInput, String> {
        Ok(TranslationInput {
            source: image.clone(),
            mask: None,
        })
    }

    /// `G_AB`: domain A to domain B.
    fn translate(&self, input: &TranslationInput) -> NdArray {
        Self::apply(&self.g_ab, &input.source)
    }

    /// The identity (CycleGAN's "no translation" reference).
    fn baseline(&self, input: &TranslationInput) -> Option<NdArray> {
        Some(input.source.clone())
    }

    fn preview(&self, input: &TranslationInput) -> NdArray {
        input.source.clone()
    }

    /// `G_BA` of the output: the cycle back to domain A.
    fn reconstruct(&self, output: &NdArray) -> Option<NdArray> {
        Some(Self::apply(&self.g_ba, output))
    }

    fn domains(&self) -> Option<(&[usize], &[usize])> {
        Some((&self.domain_a, &self.domain_b))
    }
}

impl Task for CycleGan {
    fn name(&self) -> &'static str {
        "cyclegan"
    }

    fn networks(&self) -> Vec<(&'static str, &dyn Module)> {
        vec![
            ("g_ab", &self.g_ab),
            ("g_ba", &self.g_ba),
            ("d_a", &self.d_a),
            ("d_b", &self.d_b),
            ("pool_a", &self.pool_a),
            ("pool_b", &self.pool_b),
        ]
    }

    fn optimizers(&self) -> Vec<(&'static str, &dyn Optimizer)> {
        vec![("opt_g", &self.opt_g), ("opt_d", &self.opt_d)]
    }

    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut dyn Optimizer)> {
        vec![("opt_g", &mut self.opt_g), ("opt_d", &mut self.opt_d)]
    }

    fn image_to_image(&self) -> Option<&dyn ImageToImage> {
        Some(self)
    }

    fn prepare_training(&mut self, config: &TrainConfig, data: &Dataset) -> Result<(), TrainError> {
        let labels = data.labels().unwrap_or(&[]);
        let per_domain = (config.log.samples / 2).max(1);
        let first = |domain: &[usize]| -> Vec<usize> {
            let mut rows = rows_in(labels, domain);
            rows.truncate(per_domain);
            rows
        };
        let (a, b) = (first(&self.domain_a), first(&self.domain_b));
        if !a.is_empty() && !b.is_empty() {
            self.grid = Some((data.gather(&a).0, data.gather(&b).0));
        }
        Ok(())
    }

    /// Rows of (A, G_AB(A), G_BA(G_AB(A))) triplets, then (B, G_BA(B), G_AB(G_BA(B))).
    fn sample_grid(&self) -> Option<(NdArray, usize)> {
        let (a, b) = self.grid.as_ref()?;
        let mut parts = vec![];
        for (x, there, back) in [(a, &self.g_ab, &self.g_ba), (b, &self.g_ba, &self.g_ab)] {
            let y = Self::apply(there, x);
            let r = Self::apply(back, &y);
            for i in 0..x.shape()[0] {
                parts.extend([x.narrow(0, i, 1), y.narrow(0, i, 1), r.narrow(0, i, 1)]);
            }
        }
        let n = parts.len() / 3;
        let per_row = ((n as f64 / 3.0).sqrt().ceil() as usize).max(1);
        Some((
            NdArray::concat(&parts.iter().collect::<Vec<_>>(), 0),
            3 * per_row,
        ))
    }

    fn train_step(&mut self, ctx: &mut StepContext<'_>) -> Result<StepStats, TrainError> {
        let (real_a, real_b) = self.draw(ctx)?;
        let s = &self.settings;
        let (a, b) = (Tensor::constant(real_a), Tensor::constant(real_b));
        let fake_b = Self::run(&self.g_ab, &a);
        let fake_a = Self::run(&self.g_ba, &b);
        let adversarial = self
            .loss
            .g_loss(&Self::judge(&self.d_b, &fake_b))
            .add(&self.loss.g_loss(&Self::judge(&self.d_a, &fake_a)));
        let cycle =
            l1(&Self::run(&self.g_ba, &fake_b), &a).add(&l1(&Self::run(&self.g_ab, &fake_a), &b));
        let mut g_loss = adversarial
            .mul_scalar(s.adv_weight)
            .add(&cycle.mul_scalar(s.cycle_weight));
        if s.identity_weight > 0.0 {
            let identity =
                l1(&Self::run(&self.g_ab, &b), &b).add(&l1(&Self::run(&self.g_ba, &a), &a));
            g_loss = g_loss.add(&identity.mul_scalar(s.identity_weight));
        }
        let g_loss_v = check(ctx.step, "g_loss", g_loss.item())?;
        self.opt_g
            .step_grads(&joint_grads(&g_loss, &self.g_ab, &self.g_ba));

        // Each D on its domain's real images against (buffered) translations into it.
        let seen_b = Tensor::constant(self.pool_b.query(fake_b.data()));
        let seen_a = Tensor::constant(self.pool_a.query(fake_a.data()));
        let (on_real_b, on_fake_b) = (Self::judge(&self.d_b, &b), Self::judge(&self.d_b, &seen_b));
        let (on_real_a, on_fake_a) = (Self::judge(&self.d_a, &a), Self::judge(&self.d_a, &seen_a));
        let d_loss = self
            .loss
            .d_loss(&on_real_b, &on_fake_b)
            .add(&self.loss.d_loss(&on_real_a, &on_fake_a))
            .mul_scalar(0.5);
        let d_loss_v = check(ctx.step, "d_loss", d_loss.item())?;
        self.opt_d
            .step_grads(&joint_grads(&d_loss, &self.d_a, &self.d_b));
        let score = |t: &Tensor| self.loss.mean_score(t);
        Ok(StepStats {
            step: ctx.step + 1,
            d_loss: d_loss_v,
            g_loss: g_loss_v,
            d_real: (score(&on_real_a) + score(&on_real_b)) / 2.0,
            d_fake: (score(&on_fake_a) + score(&on_fake_b)) / 2.0,
            penalty: 0.0,
        })
    }
}
