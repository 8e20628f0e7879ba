//! The networks of the image-to-image tasks, built from `[translate]` and `model.width`,
//! and their weight count (checked before anything is built).
//!
//! | task | G | G's input channels | D (PatchGAN) judges |
//! |---|---|---|---|
//! | `superres` | [`SrResnetGenerator`] | C (the low-resolution image) | bicubic(input) ‖ image: 2C |
//! | `inpaint` | [`UnetGenerator`] | C + 1 (the image with holes zeroed, the mask) | input ‖ image: 2C + 1 |
//! | `sketch2image` | [`UnetGenerator`] | 1 (the edge map) | edges ‖ image: 1 + C |
//! | `cyclegan` (`cycle.rs`) | two [`ResnetGenerator`](crate::models::ResnetGenerator)s | C | one image: C (two Ds) |
//!
//! Both networks use batch norm (pix2pix's and SRGAN's choice); the U-Net has no dropout
//! below depth 5 (its dropout sits on levels 4 and deeper, as the reference places it).

use agon_nn::Module;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::models::{ImageNorm, PatchDiscriminator, SrResnetGenerator, UnetGenerator};
use crate::trainer::{mix, ConfigError, TaskKind, TrainConfig, MAX_MODEL_WEIGHTS};

/// G's input channels and D's input channels for images of `c` channels.
pub(crate) fn channels(task: TaskKind, c: usize) -> (usize, usize) {
    match task {
        TaskKind::Superres => (c, 2 * c),
        TaskKind::Inpaint => (c + 1, 2 * c + 1),
        // Unpaired: each G maps an image to an image, each D judges one image.
        TaskKind::Cyclegan => (c, c),
        _ => (1, 1 + c),
    }
}

/// The weights (convolution kernels; biases and norms left out) of G and D together for
/// images `[c, h, w]`: a lower bound of their parameter count, `None` on overflow.
pub fn weight_count(cfg: &TrainConfig, c: usize) -> Option<u128> {
    let t = &cfg.translate;
    let w = cfg.model.width as u128;
    let (g_in, d_in) = channels(cfg.task, c);
    let (g_in, d_in, c) = (g_in as u128, d_in as u128, c as u128);
    let g = match cfg.task {
        TaskKind::Superres => {
            let per_block = w.checked_mul(w)?.checked_mul(18)?;
            let stages = t.scale.trailing_zeros() as u128;
            let body = per_block
                .checked_mul(t.blocks as u128)?
                .checked_add(w.checked_mul(w)?.checked_mul(9)?)?;
            let up = w.checked_mul(w)?.checked_mul(36)?.checked_mul(stages)?;
            let ends = (g_in + c).checked_mul(w)?.checked_mul(9)?;
            body.checked_add(up)?.checked_add(ends)?
        }
        TaskKind::Cyclegan => {
            // One ResNet G: 7x7 ends, two 3x3 stride-2 layers each way (w<->2w<->4w),
            // `blocks` residual blocks of two 3x3 convolutions at 4w.
            let ends = c.checked_mul(w)?.checked_mul(98)?;
            let strided = w.checked_mul(w)?.checked_mul(180)?;
            let blocks = w
                .checked_mul(w)?
                .checked_mul(288)?
                .checked_mul(t.blocks as u128)?;
            ends.checked_add(strided)?.checked_add(blocks)?
        }
        _ => {
            // Level l has `inner(l)` features: a 4x4 conv down from `outer`, a 4x4 transposed
            // conv up from `2 inner(l)` (`inner(l)` at the innermost level) to `outer`.
            let inner = |l: usize| w.checked_mul(1 << l.min(3));
            let depth = t.unet_depth;
            let mut total = 0u128;
            for l in 0..depth {
                let (outer_in, outer_out) = if l == 0 {
                    (g_in, c)
                } else {
                    (inner(l - 1)?, inner(l - 1)?)
                };
                let up_in = if l == depth - 1 {
                    inner(l)?
                } else {
                    inner(l)?.checked_mul(2)?
                };
                let conv = outer_in
                    .checked_mul(inner(l)?)?
                    .checked_add(up_in.checked_mul(outer_out)?)?;
                total = total.checked_add(conv.checked_mul(16)?)?;
            }
            total
        }
    };
    let width = |n: usize| w.checked_mul(1 << n.min(3));
    let layers = t.d_layers;
    let mut d = d_in.checked_mul(w)?;
    for n in 1..=layers {
        d = d.checked_add(width(n - 1)?.checked_mul(width(n)?)?)?;
    }
    d = d.checked_add(width(layers)?)?.checked_mul(16)?;
    if cfg.task == TaskKind::Cyclegan {
        // Two of each.
        return g.checked_add(d)?.checked_mul(2);
    }
    g.checked_add(d)
}

/// A task's G and D.
pub(crate) type Networks = (Box<dyn Module>, Box<dyn Module>);

/// G and D for `cfg` on images of `shape` (`[C, H, W]`), weights from the run's seed.
///
/// # Errors
/// Data that is not images, a side the task cannot use (`translate.scale` must divide it),
/// or networks over [`MAX_MODEL_WEIGHTS`].
pub(crate) fn build(cfg: &TrainConfig, shape: &[usize]) -> Result<Networks, ConfigError> {
    let err = |message: String| ConfigError {
        source: "configuration".into(),
        message,
    };
    let task = cfg.task;
    let &[c, h, w] = shape else {
        return Err(err(format!(
            "task = \"{task}\" needs images, but data.name = {:?} holds samples of shape \
             {shape:?}",
            cfg.data.name
        )));
    };
    let t = &cfg.translate;
    if task == TaskKind::Superres && !(h.is_multiple_of(t.scale) && w.is_multiple_of(t.scale)) {
        return Err(err(format!(
            "translate.scale = {} must divide the {h}x{w} images (28 allows 2 and 4)",
            t.scale
        )));
    }
    if h < 4 || w < 4 {
        return Err(err(format!(
            "task = \"{task}\" needs images of at least 4x4, got {h}x{w}"
        )));
    }
    match weight_count(cfg, c) {
        Some(n) if n <= MAX_MODEL_WEIGHTS => {}
        n => {
            return Err(err(format!(
                "task = \"{task}\" with model.width = {} needs {} weights, more than the \
                 {MAX_MODEL_WEIGHTS} Agon accepts",
                cfg.model.width,
                n.map_or("over 2^128".to_string(), |n| n.to_string())
            )))
        }
    }
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (g_in, d_in) = channels(task, c);
    let width = cfg.model.width;
    let g: Box<dyn Module> = match task {
        TaskKind::Superres => Box::new(SrResnetGenerator::new(
            c, width, t.blocks, t.scale, &mut rng,
        )),
        _ => Box::new(UnetGenerator::new(
            g_in,
            c,
            width,
            t.unet_depth,
            ImageNorm::Batch,
            Some(mix(cfg.seed, 3)),
            &mut rng,
        )),
    };
    let d = Box::new(PatchDiscriminator::new(
        d_in,
        width,
        t.d_layers,
        ImageNorm::Batch,
        &mut rng,
    ));
    Ok((g, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(m: &dyn Module) -> u128 {
        m.named_parameters()
            .iter()
            .map(|(_, p)| p.data().numel() as u128)
            .sum()
    }

    /// The count is a lower bound within 10% of what is built, for every task.
    #[test]
    fn weight_count_matches_the_built_networks() {
        for (task, shape) in [
            (TaskKind::Superres, [1, 28, 28]),
            (TaskKind::Superres, [3, 32, 32]),
            (TaskKind::Inpaint, [1, 28, 28]),
            (TaskKind::Sketch2image, [3, 32, 32]),
        ] {
            let mut cfg = TrainConfig {
                task,
                ..TrainConfig::default()
            };
            cfg.model.width = 8;
            let (g, d) = build(&cfg, &shape).unwrap();
            let built = weights(g.as_ref()) + weights(d.as_ref());
            let counted = weight_count(&cfg, shape[0]).unwrap();
            assert!(
                counted <= built && counted * 100 >= built * 90,
                "{task} {shape:?}: counted {counted}, built {built}"
            );
        }
    }

    #[test]
    fn oversized_and_misfit_networks_are_refused_before_building() {
        let mut cfg = TrainConfig {
            task: TaskKind::Inpaint,
            ..TrainConfig::default()
        };
        cfg.model.width = 512;
        cfg.translate.unet_depth = 8;
        let e = build(&cfg, &[1, 28, 28]).err().unwrap();
        assert!(e.message.contains("Agon accepts"), "{e}");
        let cfg = TrainConfig {
            task: TaskKind::Superres,
            ..TrainConfig::default()
        };
        let e = build(&cfg, &[1, 30, 30]).err().unwrap();
        assert!(e.message.contains("translate.scale"), "{e}");
        let e = build(&cfg, &[2]).err().unwrap();
        assert!(e.message.contains("needs images"), "{e}");
    }

    /// `weight_count` (checked before a checkpoint's task is built) is a lower bound within
    /// 10% of the four networks built.
    #[test]
    fn cyclegan_weight_count_matches_its_four_networks() {
        let mut cfg = TrainConfig {
            task: TaskKind::Cyclegan,
            ..TrainConfig::default()
        };
        cfg.model.width = 8;
        cfg.translate.a = "0".into();
        cfg.translate.b = "1".into();
        for c in [1, 3] {
            let t = super::super::CycleGan::new(&cfg, &[c, 28, 28], Some(10)).unwrap();
            let built: u128 = crate::tasks::Task::networks(&t)
                .iter()
                .map(|(_, m)| weights(*m))
                .sum();
            let counted = weight_count(&cfg, c).unwrap();
            assert!(
                counted <= built && counted * 100 >= built * 90,
                "counted {counted}, built {built}"
            );
        }
        cfg.translate.a = "sneaker".into();
        let e = super::super::CycleGan::new(&cfg, &[1, 28, 28], Some(10))
            .err()
            .unwrap();
        assert!(e.to_string().contains("sneaker"), "{e}");
    }
}
