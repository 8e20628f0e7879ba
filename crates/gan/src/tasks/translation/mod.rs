//! The image-to-image tasks (pix2pix, Isola et al. 2017; SRGAN, Ledig et al. 2017): a real
//! image is degraded into G's input (downsampled, holed, reduced to edges), G makes an image
//! from it, and a PatchGAN D judges (input, image) pairs, real against made.
//!
//! A step, as pix2pix's `optimize_parameters`: draw a batch and its inputs, run G once,
//! update D on (condition, real) against (condition, G's output detached) (`optim.n_critic`
//! times, on fresh batches before the last), then update G on
//! `adv_weight * adversarial + l1_weight * |G(x) - y|_1 + perceptual_weight * |phi(G(x)) -
//! phi(y)|^2` through the updated D, with `phi` the feature classifier's embedding. With
//! `translate.adv_weight = 0` no D is trained: the reconstruction-only baseline.
//!
//! For `inpaint` G's output is composited, `known + mask * G(x)`: pixels outside the holes
//! are the input's own, so the L1 term and D see only what G filled in.

mod cycle;
mod domains;
mod networks;
mod saved_pool;
mod scores;

pub use cycle::CycleGan;
pub(crate) use domains::{check_domain_folders, fill_default_domains};
pub use domains::{parse_domain, resolve_domains, rows_in, select_domains};
pub use networks::weight_count;
pub use scores::{score_translation, OutputScores, TranslationScores};

use agon_autodiff::{no_grad, reflection_pad2d, Tensor};
use agon_data::{downsample_area, hole_masks, sobel_edges, upsample_bicubic, Dataset, HoleKind};
use agon_metrics::Classifier;
use agon_nn::optim::{clip_weights, Adam, AdamConfig, Optimizer};
use agon_nn::Module;
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{check, StepContext, Task};
use crate::loss::perceptual_loss;
use crate::trainer::{
    matching_classifier, mix, HoleChoice, StepStats, TaskKind, TrainConfig, TrainError,
    TranslateConfig,
};
use crate::GanLoss;

/// What G is given for a batch of images.
#[derive(Clone, Debug)]
pub struct TranslationInput {
    /// G's input `[N, C_in, h, w]`: the low-resolution image (`superres`), the image with
    /// its holes zeroed and the mask as one more channel (`inpaint`), or the edge map
    /// (`sketch2image`).
    pub source: NdArray,
    /// `inpaint`: the holes `[N, 1, H, W]`, 1 where a pixel is missing.
    pub mask: Option<NdArray>,
}

/// The image-to-image side of a task: how its inputs are made and what G makes of them.
/// `agon sample`, `agon eval` and `agon apply` use it.
pub trait ImageToImage {
    /// The task.
    fn kind(&self) -> TaskKind;
    /// Channels of the images G makes.
    fn channels(&self) -> usize;
    /// G's inputs for real `targets` `[N, C, H, W]`: holes of `holes` (the training mix
    /// when `None`) for `inpaint`, drawn from `rng`.
    fn prepare(
        &self,
        targets: &NdArray,
        holes: Option<HoleKind>,
        rng: &mut StdRng,
    ) -> TranslationInput;
    /// G's inputs for a user's image `[N, C, h, w]` (`agon apply`): the low-resolution
    /// image itself, the image and its holes (`mask` `[N, 1, h, w]`, 1 = missing), or the
    /// edge map (its channel mean).
    ///
    /// # Errors
    /// A mask missing for `inpaint` or of another size than the image.
    fn prepare_user(
        &self,
        image: &NdArray,
        mask: Option<&NdArray>,
    ) -> Result<TranslationInput, String>;
    /// G's output for `input`, in evaluation mode and without gradients.
    fn translate(&self, input: &TranslationInput) -> NdArray;
    /// The classical baseline's output for `input`: bicubic upsampling (`superres`),
    /// diffusion fill (`inpaint`), the edge map itself (`sketch2image`: the identity, as
    /// CycleGAN's papers compare against).
    fn baseline(&self, input: &TranslationInput) -> Option<NdArray>;
    /// What `input` looks like at the output's size and channels, for grids: the
    /// low-resolution image upsampled by pixel repetition, the image with its holes grey,
    /// the edge map.
    fn preview(&self, input: &TranslationInput) -> NdArray;
    /// Unpaired tasks: `output` translated back (`cyclegan`'s `G_BA`), which grids show in
    /// place of a target; `None` (the default) for the paired tasks.
    fn reconstruct(&self, output: &NdArray) -> Option<NdArray> {
        let _ = output;
        None
    }
    /// Unpaired tasks: the class indices of domain A (G's input) and domain B (its output).
    fn domains(&self) -> Option<(&[usize], &[usize])> {
        None
    }
}

/// A grid of (input preview, output, target) triplets for `targets` and their `input`
/// (for `cyclegan`: input, output, output translated back),
/// with its row length (a few triplets a row): what sample grids and `agon sample` show.
pub fn triplet_grid(
    task: &dyn ImageToImage,
    targets: &NdArray,
    input: &TranslationInput,
) -> (NdArray, usize) {
    let n = targets.shape()[0];
    let (preview, output) = (task.preview(input), task.translate(input));
    let third = task.reconstruct(&output);
    let mut rows = Vec::with_capacity(3 * n);
    for i in 0..n {
        for part in [&preview, &output, third.as_ref().unwrap_or(targets)] {
            rows.push(part.narrow(0, i, 1));
        }
    }
    let per_row = ((n as f64 / 3.0).sqrt().ceil() as usize).max(1);
    (
        NdArray::concat(&rows.iter().collect::<Vec<_>>(), 0),
        3 * per_row,
    )
}

/// The `superres`, `inpaint` and `sketch2image` tasks (see the module docs).
pub struct Translation {
    kind: TaskKind,
    g: Box<dyn Module>,
    d: Box<dyn Module>,
    opt_g: Adam,
    opt_d: Adam,
    loss: GanLoss,
    settings: TranslateConfig,
    channels: usize,
    perceptual: Option<Classifier>,
    grid: Option<(NdArray, TranslationInput)>,
}

fn adam(params: Vec<(String, agon_nn::Param)>, lr: f32, cfg: &TrainConfig) -> Adam {
    Adam::new(
        params,
        AdamConfig::default()
            .lr(lr)
            .betas(cfg.optim.beta1, cfg.optim.beta2),
    )
}

/// Pixel repetition by `factor` (`F.interpolate(mode="nearest")`).
fn upsample_nearest(x: &NdArray, factor: usize) -> NdArray {
    let &[n, c, h, w] = x.shape() else {
        unreachable!("batches are [N, C, H, W]")
    };
    let v = x.to_vec();
    let (oh, ow) = (h * factor, w * factor);
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for plane in v.chunks(h * w) {
        for y in 0..oh {
            out.extend((0..ow).map(|x| plane[(y / factor) * w + x / factor]));
        }
    }
    NdArray::from_vec(out, &[n, c, oh, ow]).expect("sizes computed above")
}

/// `x` `[N, 1, H, W]` repeated to `c` channels.
fn to_channels(x: &NdArray, c: usize) -> NdArray {
    if x.shape()[1] == c {
        return x.clone();
    }
    NdArray::concat(&vec![x; c], 1)
}

/// `x * (1 - mask)`: the image with its holes zeroed (grey in `[-1, 1]`).
fn knock_out(x: &NdArray, mask: &NdArray) -> NdArray {
    let keep = mask.map(|m| 1.0 - m);
    x.mul(&keep.broadcast_to(x.shape()))
}

/// Classical inpainting (the baseline): each hole pixel repeatedly replaced by the mean of
/// its four neighbours (Jacobi iterations of Laplace's equation, the known pixels fixed),
/// starting from the mean of the known pixels; 200 sweeps reach every hole pixel of a
/// 28x28 image.
fn diffusion_fill(image: &NdArray, mask: &NdArray) -> NdArray {
    let &[_, c, h, w] = image.shape() else {
        unreachable!("batches are [N, C, H, W]")
    };
    let mut v = image.to_vec();
    let m = mask.to_vec();
    for (i, img) in v.chunks_mut(c * h * w).enumerate() {
        let hole = &m[i * h * w..][..h * w];
        for plane in img.chunks_mut(h * w) {
            let known: Vec<f32> = (0..h * w)
                .filter(|&p| hole[p] < 0.5)
                .map(|p| plane[p])
                .collect();
            let start = if known.is_empty() {
                0.0
            } else {
                known.iter().sum::<f32>() / known.len() as f32
            };
            for p in 0..h * w {
                if hole[p] >= 0.5 {
                    plane[p] = start;
                }
            }
            for _ in 0..200 {
                let prev = plane.to_vec();
                for y in 0..h {
                    for x in 0..w {
                        let p = y * w + x;
                        if hole[p] < 0.5 {
                            continue;
                        }
                        let mut sum = 0.0;
                        let mut k = 0.0;
                        for (dy, dx) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                            let (yy, xx) = (y as i64 + dy, x as i64 + dx);
                            if (0..h as i64).contains(&yy) && (0..w as i64).contains(&xx) {
                                sum += prev[yy as usize * w + xx as usize];
                                k += 1.0;
                            }
                        }
                        plane[p] = sum / k;
                    }
                }
            }
        }
    }
    NdArray::from_vec(v, image.shape()).expect("same shape")
}

impl Translation {
    /// The task `config.task` names for images of `shape` (`[C, H, W]`): builds G and D
    /// and their optimisers.
    ///
    /// # Errors
    /// When the networks cannot be built for the data (see `networks.rs`).
    pub fn new(config: &TrainConfig, shape: &[usize]) -> Result<Self, TrainError> {
        let (g, d) = networks::build(config, shape)?;
        let opt_g = adam(g.named_parameters(), config.lr_g(), config);
        let opt_d = adam(d.named_parameters(), config.lr_d(), config);
        Ok(Translation {
            kind: config.task,
            g,
            d,
            opt_g,
            opt_d,
            loss: config.loss.kind,
            settings: config.translate.clone(),
            channels: shape[0],
            perceptual: None,
            grid: None,
        })
    }

    fn unet_multiple(&self) -> usize {
        1 << self.settings.unet_depth
    }

    /// G's output for `input`, differentiable in G's parameters.
    fn generate(&self, input: &TranslationInput) -> Tensor {
        let x = Tensor::constant(input.source.clone());
        if self.kind == TaskKind::Superres {
            return self.g.forward(&x);
        }
        // The U-Net needs sides that are multiples of 2^depth.
        let y = forward_padded(self.g.as_ref(), &x, self.unet_multiple());
        let (h, w) = (x.shape()[2], x.shape()[3]);
        match &input.mask {
            Some(mask) => {
                let known = x.narrow(1, 0, self.channels);
                let m =
                    Tensor::constant(mask.broadcast_to(&[mask.shape()[0], self.channels, h, w]));
                known.add(&m.mul(&y))
            }
            None => y,
        }
    }

    /// What D sees beside an image: the input at the output's size.
    fn condition(&self, input: &TranslationInput) -> Tensor {
        Tensor::constant(match self.kind {
            TaskKind::Superres => upsample_bicubic(&input.source, self.settings.scale),
            _ => input.source.clone(),
        })
    }

    /// D's patch logits for (condition, image), flattened to `[N * patches, 1]`.
    fn judge(&self, condition: &Tensor, image: &Tensor) -> Tensor {
        let logits = self.d.forward(&Tensor::concat(&[condition, image], 1));
        let n = logits.numel();
        logits.reshape(&[n, 1])
    }
}

/// `g` on `x` padded to sides that are multiples of `m` (reflection where the padding is
/// smaller than the image, zeros otherwise), cropped back to `x`'s size: encoder-decoder
/// generators halve the sides several times and need them to divide.
pub(super) fn forward_padded(g: &dyn Module, x: &Tensor, m: usize) -> Tensor {
    let (h, w) = (x.shape()[2], x.shape()[3]);
    let (ph, pw) = (h.div_ceil(m) * m - h, w.div_ceil(m) * m - w);
    if ph == 0 && pw == 0 {
        return g.forward(x);
    }
    let (top, left) = (ph / 2, pw / 2);
    let padded = if ph < h && pw < w {
        reflection_pad2d(x, [left, pw - left, top, ph - top])
    } else {
        x.pad(&[(0, 0), (0, 0), (top, ph - top), (left, pw - left)], 0.0)
    };
    g.forward(&padded).narrow(2, top, h).narrow(3, left, w)
}

impl ImageToImage for Translation {
    fn kind(&self) -> TaskKind {
        self.kind
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn prepare(
        &self,
        targets: &NdArray,
        holes: Option<HoleKind>,
        rng: &mut StdRng,
    ) -> TranslationInput {
        match self.kind {
            TaskKind::Superres => TranslationInput {
                source: downsample_area(targets, self.settings.scale),
                mask: None,
            },
            TaskKind::Inpaint => {
                let &[n, _, h, w] = targets.shape() else {
                    unreachable!("batches are [N, C, H, W]")
                };
                let mask = match (holes, self.settings.holes) {
                    (Some(kind), _) => hole_masks(n, h, w, kind, rng),
                    (None, HoleChoice::Rectangle) => hole_masks(n, h, w, HoleKind::Rectangle, rng),
                    (None, HoleChoice::Strokes) => hole_masks(n, h, w, HoleKind::Strokes, rng),
                    (None, HoleChoice::Centre) => hole_masks(n, h, w, HoleKind::Centre, rng),
                    (None, HoleChoice::Mixed) => {
                        let each: Vec<NdArray> = (0..n)
                            .map(|_| {
                                let kind = if rng.random_bool(0.5) {
                                    HoleKind::Rectangle
                                } else {
                                    HoleKind::Strokes
                                };
                                hole_masks(1, h, w, kind, rng)
                            })
                            .collect();
                        NdArray::concat(&each.iter().collect::<Vec<_>>(), 0)
                    }
                };
                holed_input(targets, mask)
            }
            _ => TranslationInput {
                source: sobel_edges(targets),
                mask: None,
            },
        }
    }

    fn prepare_user(
        &self,
        image: &NdArray,
        mask: Option<&NdArray>,
    ) -> Result<TranslationInput, String> {
        match self.kind {
            TaskKind::Superres => Ok(TranslationInput {
                source: image.clone(),
                mask: None,
            }),
            TaskKind::Inpaint => {
                let mask = mask.ok_or("inpaint needs a mask (white where the image is missing)")?;
                let (s, m) = (image.shape(), mask.shape());
                if m != [s[0], 1, s[2], s[3]] {
                    return Err(format!(
                        "the mask is {}x{} but the image is {}x{}",
                        m[3], m[2], s[3], s[2]
                    ));
                }
                Ok(holed_input(image, mask.clone()))
            }
            _ => {
                let c = image.shape()[1] as f32;
                Ok(TranslationInput {
                    source: image.sum(&[1], true).map(|v| v / c),
                    mask: None,
                })
            }
        }
    }

    fn translate(&self, input: &TranslationInput) -> NdArray {
        self.g.eval();
        let y = no_grad(|| self.generate(input)).data().clone();
        self.g.train();
        y
    }

    fn baseline(&self, input: &TranslationInput) -> Option<NdArray> {
        match (self.kind, &input.mask) {
            (TaskKind::Superres, _) => Some(upsample_bicubic(&input.source, self.settings.scale)),
            (TaskKind::Inpaint, Some(mask)) => {
                let known = input.source.narrow(1, 0, self.channels);
                Some(diffusion_fill(&known, mask))
            }
            (TaskKind::Sketch2image, _) => Some(to_channels(&input.source, self.channels)),
            _ => None,
        }
    }

    fn preview(&self, input: &TranslationInput) -> NdArray {
        match self.kind {
            TaskKind::Superres => upsample_nearest(&input.source, self.settings.scale),
            TaskKind::Inpaint => input.source.narrow(1, 0, self.channels),
            _ => to_channels(&input.source, self.channels),
        }
    }
}

/// `inpaint`'s input for `targets` with holes `mask`.
fn holed_input(targets: &NdArray, mask: NdArray) -> TranslationInput {
    TranslationInput {
        source: NdArray::concat(&[&knock_out(targets, &mask), &mask], 1),
        mask: Some(mask),
    }
}

impl Task for Translation {
    fn name(&self) -> &'static str {
        use crate::trainer::ConfigChoice;
        self.kind.name()
    }

    fn networks(&self) -> Vec<(&'static str, &dyn Module)> {
        vec![("g", self.g.as_ref()), ("d", self.d.as_ref())]
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
        if self.settings.perceptual_weight > 0.0 {
            let (c, _) = matching_classifier(config, None, data.image_shape())?;
            c.eval();
            self.perceptual = Some(c);
        }
        let n = config.log.samples.min(data.len());
        let targets = data.images().narrow(0, 0, n);
        let mut rng = StdRng::seed_from_u64(mix(config.seed, 2));
        let input = self.prepare(&targets, None, &mut rng);
        self.grid = Some((targets, input));
        Ok(())
    }

    fn sample_grid(&self) -> Option<(NdArray, usize)> {
        let (targets, input) = self.grid.as_ref()?;
        Some(triplet_grid(self, targets, input))
    }

    fn train_step(&mut self, ctx: &mut StepContext<'_>) -> Result<StepStats, TrainError> {
        let cfg = ctx.config;
        let s = &self.settings;
        let adversarial = s.adv_weight > 0.0;
        let rounds = if adversarial { cfg.optim.n_critic } else { 1 };
        let (mut d_loss_v, mut d_real_v, mut d_fake_v) = (0.0, 0.0, 0.0);
        let mut last = None;
        for round in 0..rounds {
            let targets = ctx.batcher.next_batch().0;
            let input = self.prepare(&targets, None, &mut *ctx.rng);
            let final_round = round + 1 == rounds;
            // G runs once for the last round: D learns from its output detached, G from it
            // through the updated D (pix2pix's order).
            let fake = if final_round {
                self.generate(&input)
            } else {
                no_grad(|| self.generate(&input))
            };
            let target = Tensor::constant(targets);
            let condition = self.condition(&input);
            if adversarial {
                let on_real = self.judge(&condition, &target);
                let on_fake = self.judge(&condition, &fake.detach());
                let d_loss = self.loss.d_loss(&on_real, &on_fake);
                d_loss_v = check(ctx.step, "d_loss", d_loss.item())?;
                d_real_v = self.loss.mean_score(&on_real);
                d_fake_v = self.loss.mean_score(&on_fake);
                self.opt_d.step_grads(&self.d.parameter_grads(&d_loss));
                if cfg.loss.weight_clip > 0.0 {
                    let params: Vec<_> =
                        self.d.named_parameters().into_iter().map(|p| p.1).collect();
                    clip_weights(&params, cfg.loss.weight_clip);
                }
            }
            if final_round {
                last = Some((fake, target, condition));
            }
        }
        let (fake, target, condition) = last.expect("at least one round");
        let mut g_loss = fake.sub(&target).abs().mean_all().mul_scalar(s.l1_weight);
        if adversarial {
            let adv = self.loss.g_loss(&self.judge(&condition, &fake));
            g_loss = g_loss.add(&adv.mul_scalar(s.adv_weight));
        }
        if let Some(phi) = &self.perceptual {
            let perceptual = perceptual_loss(phi, &fake, &target);
            g_loss = g_loss.add(&perceptual.mul_scalar(s.perceptual_weight));
        }
        let g_loss_v = check(ctx.step, "g_loss", g_loss.item())?;
        self.opt_g.step_grads(&self.g.parameter_grads(&g_loss));
        Ok(StepStats {
            step: ctx.step + 1,
            d_loss: d_loss_v,
            g_loss: g_loss_v,
            d_real: d_real_v,
            d_fake: d_fake_v,
            penalty: 0.0,
        })
    }
}
