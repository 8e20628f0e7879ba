//! Building the generator, discriminator and EMA copy a configuration names.

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::config::{ConfigError, TrainConfig};
use super::config_kinds::ModelKind;
use crate::models::{
    Activation, Conditioning, Dcgan, Dcgan28Discriminator, Dcgan28Generator, Mlp, Upsampling,
};
use crate::{copy_weights, Discriminator, Generator};

/// The most weights G and D may have together (a memory budget of 512 MiB of f32 per copy;
/// training keeps about four copies: weights, gradients and Adam's two moments). Checked
/// before anything is allocated, so a configuration, or one stored in a checkpoint, cannot
/// make Agon allocate without bound.
pub const MAX_MODEL_WEIGHTS: u128 = 1 << 27;

/// The models of a run.
pub type Models = (
    Box<dyn Generator>,
    Box<dyn Discriminator>,
    Option<Box<dyn Generator>>,
);

fn err(message: String) -> ConfigError {
    ConfigError {
        source: "configuration".into(),
        message,
    }
}

/// Builds G, D and (when `optim.ema_decay > 0`) an EMA copy of G for data of
/// `image_shape` (`[C, H, W]`, or `[2]` for 2-D points) with `num_classes` classes.
/// Weights come from `seed`.
///
/// # Errors
/// When the model cannot handle the data (wrong image size, no labels for a conditional
/// model, conditioning on a model without it).
pub fn build_models(
    cfg: &TrainConfig,
    image_shape: &[usize],
    num_classes: Option<usize>,
    seed: u64,
) -> Result<Models, ConfigError> {
    let m = &cfg.model;
    let mut rng = StdRng::seed_from_u64(seed);
    let wants_labels = m.conditional || m.aux_classifier;
    let classes = match (wants_labels, num_classes) {
        (true, None) => {
            return Err(err(format!(
            "model.conditional / model.aux_classifier need a labelled dataset; {} has no labels",
            cfg.data.name
        )))
        }
        (true, Some(k)) => Some(k),
        (false, _) => None,
    };
    check_model_size(cfg, image_shape, classes)?;
    let ema_wanted = cfg.optim.ema_decay > 0.0;
    let (g, d, ema): Models = match m.kind {
        ModelKind::Dcgan => {
            let [c, h, w] = match image_shape {
                &[c, h, w] => [c, h, w],
                other => return Err(err(format!("model.kind = \"dcgan\" needs images [C, H, W], the data has samples of shape {other:?}"))),
            };
            if h != w || !Dcgan::supports(h) || ![1, 3].contains(&c) {
                return Err(err(format!(
                    "model.kind = \"dcgan\" handles square images of side 28 or a power of two from 16 to 256 (16, 32, 64, 128, 256), with 1 or 3 channels; the data is {c}x{h}x{w} (an image folder is resized with data.image_size = 64, and data.channels)"
                )));
            }
            let spec = Dcgan {
                image_size: h,
                channels: c,
                width: m.width,
                latent_dim: m.latent_dim,
                num_classes: classes,
                pack: m.pack,
                spectral_norm: m.spectral_norm,
                aux_classifier: m.aux_classifier,
                conditioning: Conditioning::Projection,
                upsampling: m.upsample,
            };
            let g = spec.generator(&mut rng);
            let d = spec.discriminator(&mut rng);
            let ema = ema_wanted.then(|| Box::new(spec.generator(&mut rng)) as Box<dyn Generator>);
            (Box::new(g), Box::new(d), ema)
        }
        ModelKind::Dcgan28 => {
            if image_shape != [1, 28, 28] || wants_labels || m.pack != 1 {
                return Err(err(format!(
                    "model.kind = \"dcgan28\" is the fixed reference model: unconditional, unpacked, 1x28x28 images (data: {image_shape:?})"
                )));
            }
            let g = Dcgan28Generator::new(&mut rng);
            let d = Dcgan28Discriminator::with_spectral_norm(
                &mut rng,
                seed.wrapping_add(1),
                m.spectral_norm,
            );
            let ema =
                ema_wanted.then(|| Box::new(Dcgan28Generator::new(&mut rng)) as Box<dyn Generator>);
            (Box::new(g), Box::new(d), ema)
        }
        ModelKind::Mlp => {
            if wants_labels {
                return Err(err(
                    "model.kind = \"mlp\" is unconditional; model.conditional, \
                     model.aux_classifier and task = \"conditional\" need dcgan"
                        .into(),
                ));
            }
            let h = m.mlp_hidden;
            let build_g = |rng: &mut StdRng| -> Box<dyn Generator> {
                match *image_shape {
                    [dim] => Box::new(Mlp::new(
                        &[m.latent_dim, h, h, h, dim],
                        Activation::ReLU,
                        rng,
                    )),
                    [c, hh, ww] => Box::new(Mlp::image_generator(
                        m.latent_dim,
                        &[h, 2 * h],
                        [c, hh, ww],
                        rng,
                    )),
                    _ => unreachable!("checked below"),
                }
            };
            let d: Box<dyn Discriminator> = match image_shape {
                &[dim] => {
                    let sizes = [m.pack * dim, h, h, h, 1];
                    let act = Activation::LeakyReLU(0.2);
                    let d = if m.spectral_norm {
                        Mlp::with_spectral_norm(&sizes, act, &mut rng)
                    } else {
                        Mlp::new(&sizes, act, &mut rng)
                    };
                    Box::new(d.packed(m.pack))
                }
                &[c, hh, ww] => Box::new(Mlp::image_discriminator(
                    [c, hh, ww],
                    &[2 * h, h],
                    m.pack,
                    m.spectral_norm,
                    &mut rng,
                )),
                other => {
                    return Err(err(format!(
                        "model.kind = \"mlp\" needs points [D] or images [C, H, W], got {other:?}"
                    )))
                }
            };
            let g = build_g(&mut rng);
            let ema = ema_wanted.then(|| build_g(&mut rng));
            (g, d, ema)
        }
    };
    if let Some(e) = &ema {
        copy_weights(e.as_ref(), g.as_ref());
    }
    Ok((g, d, ema))
}

/// Refuses models over [`MAX_MODEL_WEIGHTS`], before any is built.
fn check_model_size(
    cfg: &TrainConfig,
    image_shape: &[usize],
    classes: Option<usize>,
) -> Result<(), ConfigError> {
    match model_weight_count(cfg, image_shape, classes) {
        Some(n) if n <= MAX_MODEL_WEIGHTS => Ok(()),
        n => Err(err(format!(
            "model.kind = {} with model.width = {}, model.latent_dim = {}, model.mlp_hidden \
             = {} on data of shape {image_shape:?} needs {} weights, more than the \
             {MAX_MODEL_WEIGHTS} Agon accepts",
            cfg.model.kind,
            cfg.model.width,
            cfg.model.latent_dim,
            cfg.model.mlp_hidden,
            n.map_or("over 2^128".to_string(), |n| n.to_string())
        ))),
    }
}

/// The number of weights (linear, convolution and embedding matrices; biases and
/// normalisation parameters left out) of G and D together as `cfg` would build them for
/// data of `image_shape`: a lower bound of their parameter count computed without building
/// them. `None` when it overflows; 0 for models or shapes [`build_models`] refuses anyway.
pub fn model_weight_count(
    cfg: &TrainConfig,
    image_shape: &[usize],
    classes: Option<usize>,
) -> Option<u128> {
    if cfg.task.is_image_to_image() {
        return match *image_shape {
            [c, _, _] => crate::tasks::weight_count(cfg, c),
            _ => Some(0),
        };
    }
    let m = &cfg.model;
    let (latent, width, hidden, pack) = (
        m.latent_dim as u128,
        m.width as u128,
        m.mlp_hidden as u128,
        m.pack as u128,
    );
    let k = classes
        .filter(|_| m.conditional || m.aux_classifier)
        .map_or(0, |k| k as u128);
    let numel = image_shape
        .iter()
        .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))?;
    let sum = |terms: &[Option<u128>]| {
        terms
            .iter()
            .try_fold(0u128, |acc, t| acc.checked_add((*t)?))
    };
    match m.kind {
        ModelKind::Dcgan => {
            let &[c, h, _] = image_shape else {
                return Some(0);
            };
            let (base, doublings) = if h == 28 {
                (7u128, 2u32)
            } else if h.is_power_of_two() && h >= 16 {
                (4, h.trailing_zeros() - 2)
            } else {
                return Some(0);
            };
            let top = width.checked_mul(1u128.checked_shl(doublings - 1)?)?;
            let features = top.checked_mul(base * base)?;
            let kernel = match m.upsample {
                Upsampling::Transposed => 16,
                Upsampling::NearestConv => 9,
            };
            // G: embedding, the linear stem, then convolutions halving the features.
            let mut g = sum(&[k.checked_mul(latent), latent.checked_mul(features)])?;
            let mut ch = top;
            for _ in 1..doublings {
                g = g.checked_add(ch.checked_mul(ch / 2)?.checked_mul(kernel)?)?;
                ch /= 2;
            }
            g = g.checked_add(ch.checked_mul(c as u128 * kernel)?)?;
            // D: 4x4 stride-2 convolutions doubling the features, then the heads.
            let mut d = 0u128;
            let (mut c_in, mut c_out) = ((c as u128).checked_mul(pack)?, width);
            for _ in 0..doublings {
                d = d.checked_add(c_in.checked_mul(c_out)?.checked_mul(16)?)?;
                c_in = c_out;
                c_out = c_out.checked_mul(2)?;
            }
            // The real/fake head, and either the projection embedding or the AC-GAN head.
            let heads = features.checked_mul(1 + k)?;
            sum(&[Some(g), Some(d), Some(heads)])
        }
        ModelKind::Dcgan28 => {
            // The fixed layers of models/dcgan28.rs: G's linear stem and three 5x5
            // transposed convolutions, D's two 5x5 convolutions and linear head.
            let g = 100 * 7 * 7 * 256 + (256 * 128 + 128 * 64 + 64) * 25;
            let d = (64 + 64 * 128) * 25 + 128 * 7 * 7;
            Some(g + d)
        }
        ModelKind::Mlp => match *image_shape {
            [dim] => {
                let dim = dim as u128;
                let hh = hidden.checked_mul(hidden)?.checked_mul(2)?;
                sum(&[
                    latent.checked_mul(hidden),
                    Some(hh),
                    hidden.checked_mul(dim),
                    pack.checked_mul(dim)?.checked_mul(hidden),
                    Some(hh),
                    Some(hidden),
                ])
            }
            [_, _, _] => {
                let wide = hidden.checked_mul(2)?;
                let hw = hidden.checked_mul(wide)?;
                sum(&[
                    latent.checked_mul(hidden),
                    Some(hw),
                    wide.checked_mul(numel),
                    pack.checked_mul(numel)?.checked_mul(wide),
                    Some(hw),
                    Some(hidden),
                ])
            }
            _ => Some(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_nn::Module;

    fn params(m: &dyn Module) -> u128 {
        m.named_parameters()
            .iter()
            .map(|(_, p)| p.data().numel() as u128)
            .sum()
    }

    /// The estimate is a lower bound within a few percent of the built models' size.
    #[test]
    fn weight_count_matches_the_built_models() {
        use ModelKind::{Dcgan, Mlp};
        use Upsampling::{NearestConv, Transposed};
        let cases = vec![
            (Dcgan, NearestConv, 8, vec![1, 28, 28], false),
            (Dcgan, Transposed, 8, vec![3, 32, 32], true),
            (Dcgan, NearestConv, 4, vec![3, 64, 64], false),
            (Mlp, NearestConv, 8, vec![2], false),
            (ModelKind::Dcgan28, NearestConv, 8, vec![1, 28, 28], false),
            (Mlp, NearestConv, 8, vec![1, 28, 28], false),
        ];
        for (kind, up, width, shape, conditional) in cases {
            let mut cfg = TrainConfig::default();
            cfg.model.kind = kind;
            cfg.model.upsample = up;
            cfg.model.width = width;
            cfg.model.mlp_hidden = 16;
            cfg.model.conditional = conditional;
            let classes = conditional.then_some(10);
            let (g, d, _) = build_models(&cfg, &shape, classes, 0).unwrap();
            let built = params(g.as_ref()) + params(d.as_ref());
            let counted = model_weight_count(&cfg, &shape, classes).unwrap();
            assert!(
                counted <= built && counted * 100 >= built * 90,
                "{kind} {up} {shape:?}: counted {counted}, built {built}"
            );
        }
    }

    #[test]
    fn oversized_models_are_refused_before_building() {
        let mut cfg = TrainConfig::default();
        cfg.model.width = 1 << 40;
        let e = build_models(&cfg, &[1, 28, 28], None, 0).err().unwrap();
        assert!(e.message.contains("model.width"), "{e}");
        cfg.model.kind = ModelKind::Mlp;
        cfg.model.width = 32;
        cfg.model.mlp_hidden = 1 << 20;
        let e = build_models(&cfg, &[2], None, 0).err().unwrap();
        assert!(e.message.contains("Agon accepts"), "{e}");
    }
}
