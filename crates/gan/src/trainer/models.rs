//! Building the generator, discriminator and EMA copy a configuration names.

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::config::{ConfigError, TrainConfig};
use crate::models::{
    Activation, Conditioning, Dcgan, Dcgan28Discriminator, Dcgan28Generator, Mlp, Upsampling,
};
use crate::{copy_weights, Discriminator, Generator};

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
    let ema_wanted = cfg.optim.ema_decay > 0.0;
    let (g, d, ema): Models = match m.kind.as_str() {
        "dcgan" => {
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
                upsampling: if m.upsample == "transposed" {
                    Upsampling::Transposed
                } else {
                    Upsampling::NearestConv
                },
            };
            let g = spec.generator(&mut rng);
            let d = spec.discriminator(&mut rng);
            let ema = ema_wanted.then(|| Box::new(spec.generator(&mut rng)) as Box<dyn Generator>);
            (Box::new(g), Box::new(d), ema)
        }
        "dcgan28" => {
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
        "mlp" => {
            if wants_labels {
                return Err(err("model.kind = \"mlp\" is unconditional".into()));
            }
            if m.spectral_norm {
                return Err(err(
                    "model.spectral_norm is not available for model.kind = \"mlp\" (dcgan and dcgan28 have it)".into(),
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
                &[dim] => Box::new(
                    Mlp::new(
                        &[m.pack * dim, h, h, h, 1],
                        Activation::LeakyReLU(0.2),
                        &mut rng,
                    )
                    .packed(m.pack),
                ),
                &[c, hh, ww] => Box::new(Mlp::image_discriminator(
                    [c, hh, ww],
                    &[2 * h, h],
                    m.pack,
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
        other => {
            return Err(err(format!(
                "model.kind = {other:?} is not one of dcgan, dcgan28, mlp"
            )))
        }
    };
    if let Some(e) = &ema {
        copy_weights(e.as_ref(), g.as_ref());
    }
    Ok((g, d, ema))
}
