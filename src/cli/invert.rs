//! `agon invert`: the latent codes that reconstruct real images, and the encoder that
//! starts the search.

use std::path::PathBuf;

use crate::data::{image_files, load_image, save_grid, save_png};
use crate::gan::applications::{
    encode, encoder_metadata, invert, train_encoder, InvertConfig, ENCODER_ROLE,
};
use crate::gan::trainer::{held_out_samples, load_generator, matching_classifier, sample_shape};
use crate::metrics::{psnr, Classifier};
use crate::nn::checkpoint::Checkpoint;
use crate::tensor::{Indices, NdArray};
use clap::Args;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The most images one call inverts.
const MAX_FILES: usize = 1000;

/// Options of `agon invert`.
#[derive(Args, Debug)]
pub struct InvertArgs {
    /// A training checkpoint (its generator; the EMA copy when the run kept one).
    #[arg(long)]
    checkpoint: PathBuf,
    /// A PNG or JPEG image, or a folder of them (resized to the generator's size).
    #[arg(long, required_unless_present_any = ["train_encoder", "real"])]
    input: Option<PathBuf>,
    /// Instead of --input: invert this many real images of the run's data (held out from
    /// training when the run used data.limit, else its first training images).
    #[arg(long, value_name = "N", conflicts_with = "input")]
    real: Option<usize>,
    /// Where to write the reconstructions, codes.csv, pairs.png and inversion.json.
    #[arg(long, default_value = "inverted")]
    out: PathBuf,
    /// Start from this encoder's codes (from --train-encoder); the other restarts are
    /// random.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// Instead of inverting: train an encoder on the generator's own samples and write it
    /// here.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "encoder"])]
    train_encoder: Option<PathBuf>,
    /// Encoder training steps (batches of 64 samples).
    #[arg(long, default_value_t = 2000)]
    encoder_steps: usize,
    /// Starting codes per image, optimised at once; the best is kept.
    #[arg(long, default_value_t = 4)]
    restarts: usize,
    /// Adam steps on the codes (0 with --encoder: the encoder's codes as they are).
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Adam's learning rate on the codes.
    #[arg(long, default_value_t = 0.05)]
    lr: f32,
    /// Weight of the prior term λ mean(z^2).
    #[arg(long, default_value_t = 1e-3)]
    prior: f32,
    /// Conditional generators: the class to invert with (default: the feature
    /// classifier's prediction for each image).
    #[arg(long)]
    class: Option<usize>,
    /// Seed of the random starts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(a: InvertArgs) -> Res<()> {
    let (g, cfg) = load_generator(&a.checkpoint)?;
    let shape = sample_shape(g.as_ref());
    if shape.len() != 3 {
        return Err(format!(
            "{}: the generator makes points of shape {shape:?}; agon invert inverts images",
            a.checkpoint.display()
        )
        .into());
    }
    if let Some(out) = &a.train_encoder {
        if a.encoder_steps == 0 || a.encoder_steps > 1_000_000 {
            return Err(
                format!("--encoder-steps {} must be in 1..=1000000", a.encoder_steps).into(),
            );
        }
        say!(
            "training an encoder on {} batches of 64 samples",
            a.encoder_steps
        );
        let e = train_encoder(g.as_ref(), a.encoder_steps, 64, a.seed);
        e.save(
            out,
            &encoder_metadata(&a.checkpoint.display().to_string(), g.latent_dim()),
        )?;
        say!("wrote {}", out.display());
        return Ok(());
    }
    if a.restarts == 0 || a.restarts > 256 || a.steps > 100_000 || !(a.lr > 0.0 && a.lr.is_finite())
    {
        return Err(format!(
            "--restarts must be in 1..=256, --steps at most 100000 and --lr positive (got {}, \
             {}, {})",
            a.restarts, a.steps, a.lr
        )
        .into());
    }
    if a.steps == 0 && a.encoder.is_none() {
        return Err("--steps 0 keeps the starting codes: give --encoder as well".into());
    }
    let (files, images) = match (&a.input, a.real) {
        (_, Some(n)) => {
            if !(1..=MAX_FILES).contains(&n) {
                return Err(format!("--real {n} must be in 1..={MAX_FILES}").into());
            }
            let (real, held_out) = held_out_samples(&cfg, n)?;
            say!(
                "inverting {} {} images of {}",
                real.len(),
                if held_out { "held-out" } else { "training" },
                cfg.data.name
            );
            let names = (0..real.len())
                .map(|i| PathBuf::from(format!("real-{i:04}")))
                .collect();
            (names, real.images().clone())
        }
        (Some(input), None) => {
            let files = image_files(input)?;
            if files.len() > MAX_FILES {
                return Err(format!(
                    "{}: more than the {MAX_FILES} images agon invert takes at once",
                    input.display()
                )
                .into());
            }
            let images: Vec<NdArray> = files
                .iter()
                .map(|f| load_image(f, shape[0], Some([shape[1], shape[2]])))
                .collect::<Result<_, _>>()?;
            (
                files,
                NdArray::concat(&images.iter().collect::<Vec<_>>(), 0),
            )
        }
        (None, None) => unreachable!("clap requires --input or --real"),
    };
    let n = images.shape()[0];
    let classifier = matching_classifier(&cfg, None, &shape).ok().map(|(c, _)| c);
    let labels = match (g.num_classes(), a.class, &classifier) {
        (None, Some(_), _) => return Err("--class given, but this generator is not conditional".into()),
        (None, None, _) => None,
        (Some(k), Some(c), _) if c >= k => {
            return Err(format!("--class {c} is out of range: the model has {k} classes").into())
        }
        (Some(_), Some(c), _) => Some(Indices::from_vec(vec![c; n], &[n])),
        (Some(_), None, Some(c)) => Some(Indices::from_vec(c.predict(&images), &[n])),
        (Some(_), None, None) => {
            return Err("this generator is conditional and no feature classifier matches its data: give --class".into())
        }
    };
    let start = match &a.encoder {
        Some(path) => Some(encoder_codes(path, &images, g.latent_dim())?),
        None => None,
    };
    let config = InvertConfig {
        restarts: a.restarts,
        steps: a.steps,
        lr: a.lr,
        prior_weight: a.prior,
        seed: a.seed,
    };
    let found = if a.steps == 0 {
        let z = start.clone().expect("checked: --steps 0 needs --encoder");
        let recon = crate::gan::trainer::sample_from(g.as_ref(), &z, labels.as_ref());
        crate::gan::applications::Inversion {
            mse: Vec::new(),
            codes: z,
            reconstructions: recon,
        }
    } else {
        invert(
            g.as_ref(),
            &images,
            labels.as_ref(),
            start.as_ref(),
            &config,
        )
    };
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let scores = psnr(&found.reconstructions, &images, 2.0);
    let feature_distance: Option<Vec<f64>> = classifier.as_ref().map(|c| {
        let (fa, fb) = (
            c.embed(&images).to_vec(),
            c.embed(&found.reconstructions).to_vec(),
        );
        let d = fa.len() / n;
        fa.chunks(d)
            .zip(fb.chunks(d))
            .map(|(x, y)| {
                x.iter()
                    .zip(y)
                    .map(|(p, q)| f64::from(p - q).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect()
    });
    let mut csv = String::from("image");
    for j in 0..g.latent_dim() {
        csv += &format!(",z{j}");
    }
    csv += "\n";
    let mut rows = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let stem = file
            .file_stem()
            .map_or_else(|| format!("image{i}"), |s| s.to_string_lossy().into_owned());
        let s = found.reconstructions.shape();
        save_png(
            &found.reconstructions.narrow(0, i, 1).reshape(&s[1..]),
            &a.out.join(format!("{stem}.png")),
        )?;
        let code = found.codes.narrow(0, i, 1).to_vec();
        csv += &format!(
            "{},{}\n",
            file.display(),
            code.iter()
                .map(f32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let fd = feature_distance.as_ref().map(|f| f[i]);
        out!(
            "{}\tPSNR {:.2} dB{}",
            file.display(),
            scores[i],
            fd.map_or(String::new(), |d| format!("\tfeature distance {d:.3}"))
        );
        rows.push(serde_json::json!({ "image": file.display().to_string(), "psnr": scores[i], "feature_distance": fd }));
    }
    crate::data::write_atomic(&a.out.join("codes.csv"), csv.as_bytes())?;
    let pairs: Vec<NdArray> = (0..n)
        .flat_map(|i| {
            [
                images.narrow(0, i, 1),
                found.reconstructions.narrow(0, i, 1),
            ]
        })
        .collect();
    let pairs = NdArray::concat(&pairs.iter().collect::<Vec<_>>(), 0);
    save_grid(
        &pairs,
        2 * (n as f64).sqrt().ceil() as usize,
        2,
        &a.out.join("pairs.png"),
    )?;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let doc = serde_json::json!({
        "checkpoint": a.checkpoint.display().to_string(),
        "encoder": a.encoder.as_ref().map(|p| p.display().to_string()),
        "restarts": a.restarts, "steps": a.steps, "lr": a.lr, "prior": a.prior,
        "mean_psnr": mean(&scores),
        "mean_feature_distance": feature_distance.as_deref().map(mean),
        "images": rows,
    });
    crate::data::write_atomic(
        &a.out.join("inversion.json"),
        (serde_json::to_string_pretty(&doc)? + "\n").as_bytes(),
    )?;
    say!(
        "inverted {n} image(s): mean PSNR {:.2} dB{}; wrote reconstructions, codes.csv, pairs.png \
         (input | reconstruction) and inversion.json to {}",
        mean(&scores),
        feature_distance
            .as_deref()
            .map_or(String::new(), |f| format!(
                ", mean feature distance {:.3}",
                mean(f)
            )),
        a.out.display()
    );
    Ok(())
}

/// An encoder file's codes for `images`, checked to be an encoder for `latent_dim` codes.
fn encoder_codes(path: &PathBuf, images: &NdArray, latent_dim: usize) -> Res<NdArray> {
    let meta = Checkpoint::read(path)?.metadata().clone();
    if meta.get("role").map(String::as_str) != Some(ENCODER_ROLE) {
        return Err(format!(
            "{}: not an encoder (make one with agon invert --train-encoder)",
            path.display()
        )
        .into());
    }
    let (e, _): (Classifier, _) = Classifier::load(path)?;
    if e.num_classes() != latent_dim || e.input_shape()[..] != images.shape()[1..] {
        return Err(format!(
            "{}: an encoder for {}-dim codes of {:?} images, but this generator has {latent_dim}-dim codes and makes {:?}",
            path.display(),
            e.num_classes(),
            e.input_shape(),
            &images.shape()[1..]
        )
        .into());
    }
    Ok(encode(&e, images))
}
