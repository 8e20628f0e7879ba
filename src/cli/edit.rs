//! `agon edit`: a strip of samples moved along a latent direction, and how much the target
//! attribute and everything else moved.

use std::path::PathBuf;

use crate::data::{load_image, save_grid};
use crate::gan::applications::{
    boundary_direction, edit_codes, invert, measure, principal_directions, sample_rng, Attribute,
    InvertConfig,
};
use crate::gan::tasks::parse_domain;
use crate::gan::trainer::{load_dataset, load_generator, matching_classifier, sample_from};
use crate::gan::Generator;
use crate::metrics::{psnr, Classifier};
use crate::tensor::{Indices, NdArray};
use clap::Args;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// GANSpace components on offer (`pc0` ..).
const MAX_COMPONENTS: usize = 10;

/// Options of `agon edit`.
#[derive(Args, Debug)]
pub struct EditArgs {
    /// A training checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The direction: `class:NAME` or `class:INDEX` (the feature classifier's probability
    /// of that class), `brightness`, `ink` (InterFaceGAN boundaries fitted on the model's
    /// own samples), or `pc0` .. `pc9` (GANSpace principal components).
    #[arg(long)]
    direction: String,
    /// The strip runs from -strength to +strength (in units of the unit direction; the
    /// codes have norm about √latent_dim).
    #[arg(long, default_value_t = 3.0, allow_negative_numbers = true)]
    strength: f32,
    /// Images per row.
    #[arg(long, default_value_t = 7)]
    steps: usize,
    /// Rows (random codes), unless --input is given.
    #[arg(long, default_value_t = 4)]
    rows: usize,
    /// Edit this image instead: it is inverted first (agon invert's defaults).
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Codes whose samples fit the direction.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Codes the reported movement is measured over.
    #[arg(long, default_value_t = 200)]
    measure_n: usize,
    /// The strip to write.
    #[arg(long, default_value = "edit.png")]
    out: PathBuf,
    /// Also write the measurements as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seed for the codes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// What a direction name asks for.
enum Wanted {
    Boundary(Attribute),
    Component(usize),
}

fn parse_direction(
    name: &str,
    class_names: Option<&[String]>,
    classes: Option<usize>,
) -> Res<Wanted> {
    match name {
        "brightness" => return Ok(Wanted::Boundary(Attribute::Brightness)),
        "ink" => return Ok(Wanted::Boundary(Attribute::Ink)),
        _ => {}
    }
    if let Some(pc) = name.strip_prefix("pc") {
        return match pc.parse::<usize>() {
            Ok(i) if i < MAX_COMPONENTS => Ok(Wanted::Component(i)),
            _ => Err(format!(
                "--direction {name}: components are pc0 .. pc{}",
                MAX_COMPONENTS - 1
            )
            .into()),
        };
    }
    if let Some(class) = name.strip_prefix("class:") {
        let k = classes.ok_or(
            "--direction class:...: no feature classifier matches this run's data (train one \
             with agon eval --train-classifier)",
        )?;
        let picked = parse_domain("--direction", class, class_names, k)?;
        return match picked[..] {
            [c] => Ok(Wanted::Boundary(Attribute::Class(c))),
            _ => Err(format!("--direction {name}: name one class").into()),
        };
    }
    Err(format!(
        "--direction {name:?}: expected class:NAME, class:INDEX, brightness, ink or pc0 .. pc{}",
        MAX_COMPONENTS - 1
    )
    .into())
}

/// Labels cycling over the classes for `n` codes of a conditional generator, each code's
/// label repeated `repeat` times.
fn labels(g: &dyn Generator, n: usize, repeat: usize) -> Option<Indices> {
    g.num_classes().map(|k| {
        Indices::from_vec(
            (0..n * repeat).map(|i| (i / repeat) % k).collect(),
            &[n * repeat],
        )
    })
}

pub fn run(a: EditArgs) -> Res<()> {
    if a.steps < 2 || a.steps > 64 || a.rows == 0 || a.rows > 256 || !a.strength.is_finite() {
        return Err(format!(
            "--steps must be in 2..=64, --rows in 1..=256 and --strength finite (got {}, {}, {})",
            a.steps, a.rows, a.strength
        )
        .into());
    }
    if !(16..=100_000).contains(&a.samples) || !(1..=10_000).contains(&a.measure_n) {
        return Err("--samples must be in 16..=100000 and --measure-n in 1..=10000".into());
    }
    let (g, cfg) = load_generator(&a.checkpoint)?;
    let d = g.latent_dim();
    let probe = sample_from(
        g.as_ref(),
        &NdArray::zeros(&[1, d]),
        labels(g.as_ref(), 1, 1).as_ref(),
    );
    let shape = probe.shape()[1..].to_vec();
    if shape.len() != 3 {
        return Err(format!(
            "{}: the generator makes points, not images",
            a.checkpoint.display()
        )
        .into());
    }
    let classifier: Option<Classifier> =
        matching_classifier(&cfg, None, &shape).ok().map(|(c, _)| c);
    let class_names = if a.direction.starts_with("class:") {
        load_dataset(&cfg.data, cfg.seed)
            .ok()
            .and_then(|l| l.dataset.class_names().map(<[String]>::to_vec))
    } else {
        None
    };
    let wanted = parse_direction(
        &a.direction,
        class_names.as_deref(),
        classifier.as_ref().map(Classifier::num_classes),
    )?;

    // The direction, from the model's own samples.
    let z_fit = NdArray::rand_normal(&[a.samples, d], 0.0, 1.0, &mut sample_rng(a.seed, 0));
    let fit_labels = labels(g.as_ref(), a.samples, 1);
    let (direction, about) = match wanted {
        Wanted::Boundary(attr) => {
            let x = sample_from(g.as_ref(), &z_fit, fit_labels.as_ref());
            let scores = measure(attr, &x, classifier.as_ref());
            (
                boundary_direction(&z_fit, &scores),
                format!("InterFaceGAN boundary over {} samples", a.samples),
            )
        }
        Wanted::Component(i) => {
            let (dirs, explained) = principal_directions(g.as_ref(), &z_fit, fit_labels.as_ref(), i + 1)
                .ok_or("this generator does not expose its early activations (GANSpace needs the dcgan model)")?;
            (
                dirs[i].clone(),
                format!(
                    "GANSpace component {i}, {:.1}% of the first block's variance",
                    100.0 * explained[i]
                ),
            )
        }
    };
    let strengths: Vec<f32> = (0..a.steps)
        .map(|j| -a.strength + 2.0 * a.strength * j as f32 / (a.steps - 1) as f32)
        .collect();

    // The strip: random codes, or the inverted input.
    let (codes, code_labels, input) = match &a.input {
        Some(file) => {
            let image = load_image(file, shape[0], Some([shape[1], shape[2]]))?;
            let l = match (g.num_classes(), &classifier) {
                (None, _) => None,
                (Some(_), Some(c)) => Some(Indices::from_vec(c.predict(&image), &[1])),
                (Some(_), None) => return Err("a conditional generator needs the feature classifier to pick the input's class".into()),
            };
            let found = invert(
                g.as_ref(),
                &image,
                l.as_ref(),
                None,
                &InvertConfig {
                    seed: a.seed,
                    ..InvertConfig::default()
                },
            );
            (found.codes, l, Some(image))
        }
        None => {
            let z = NdArray::rand_normal(&[a.rows, d], 0.0, 1.0, &mut sample_rng(a.seed, 1));
            (z, labels(g.as_ref(), a.rows, 1), None)
        }
    };
    let n = codes.shape()[0];
    let strip_labels = code_labels.map(|l| {
        Indices::from_vec(
            l.as_slice()
                .iter()
                .flat_map(|&c| std::iter::repeat_n(c, a.steps))
                .collect(),
            &[n * a.steps],
        )
    });
    let strip = sample_from(
        g.as_ref(),
        &edit_codes(&codes, &direction, &strengths),
        strip_labels.as_ref(),
    );
    save_grid(&strip, a.steps, 2, &a.out)?;
    say!(
        "wrote {}: {n} row(s) from strength {} to {} along {} ({about})",
        a.out.display(),
        -a.strength,
        a.strength,
        a.direction
    );

    // How far things moved, over fresh codes: -s, 0 and +s.
    let m = a.measure_n;
    let z_m = NdArray::rand_normal(&[m, d], 0.0, 1.0, &mut sample_rng(a.seed, 2));
    let ends = [-a.strength, 0.0, a.strength];
    let moved = sample_from(
        g.as_ref(),
        &edit_codes(&z_m, &direction, &ends),
        labels(g.as_ref(), m, 3).as_ref(),
    );
    let at = |j: usize| -> NdArray {
        let rows: Vec<NdArray> = (0..m).map(|i| moved.narrow(0, 3 * i + j, 1)).collect();
        NdArray::concat(&rows.iter().collect::<Vec<_>>(), 0)
    };
    let (low, mid, high) = (at(0), at(1), at(2));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut doc =
        serde_json::json!({ "direction": a.direction, "strength": a.strength, "codes": m });
    let target = match wanted {
        Wanted::Boundary(attr) => Some(attr),
        Wanted::Component(_) => None,
    };
    let mut report = Vec::new();
    for (name, attr) in [
        ("brightness", Attribute::Brightness),
        ("ink", Attribute::Ink),
    ]
    .into_iter()
    .chain(
        target
            .filter(|t| matches!(t, Attribute::Class(_)))
            .map(|t| ("target class", t)),
    ) {
        let v: Vec<f64> = [&low, &mid, &high]
            .iter()
            .map(|x| mean(&measure(attr, x, classifier.as_ref())))
            .collect();
        report.push(format!("{name} {:.3} / {:.3} / {:.3}", v[0], v[1], v[2]));
        doc[name.replace(' ', "_")] = serde_json::json!(v);
    }
    if let Some(c) = &classifier {
        // Total variation of the class distribution from 0 to ±s, leaving out the target.
        let k = c.num_classes();
        let skip = match target {
            Some(Attribute::Class(t)) => Some(t),
            _ => None,
        };
        let probs = |x: &NdArray| c.probabilities(x).to_vec();
        let (pm, pl, ph) = (probs(&mid), probs(&low), probs(&high));
        let tv = |other: &[f32]| -> f64 {
            let per: Vec<f64> = (0..m)
                .map(|i| {
                    0.5 * (0..k)
                        .filter(|&j| Some(j) != skip)
                        .map(|j| f64::from((other[i * k + j] - pm[i * k + j]).abs()))
                        .sum::<f64>()
                })
                .collect();
            mean(&per)
        };
        let (tl, th) = (tv(&pl), tv(&ph));
        report.push(format!(
            "other classes' probabilities moved (total variation) {tl:.3} / {th:.3}"
        ));
        doc["other_classes_tv"] = serde_json::json!([tl, th]);
    }
    let rms = |x: &NdArray| {
        mean(
            &psnr(x, &mid, 2.0)
                .iter()
                .map(|p| 2.0 * 10f64.powf(-p / 20.0))
                .collect::<Vec<_>>(),
        )
    };
    let (rl, rh) = (rms(&low), rms(&high));
    report.push(format!("pixel RMS change {rl:.3} / {rh:.3}"));
    doc["pixel_rms_change"] = serde_json::json!([rl, rh]);
    if let Some(image) = &input {
        let rec = strip.narrow(0, a.steps / 2, 1);
        let p = psnr(&rec, image, 2.0)[0];
        report.push(format!("the input's reconstruction: PSNR {p:.2} dB"));
        doc["reconstruction_psnr"] = serde_json::json!(p);
    }
    out!(
        "over {m} codes, at strength -{0} / 0 / +{0}: {1}",
        a.strength,
        report.join("; ")
    );
    if let Some(path) = &a.json {
        crate::data::write_atomic(
            path,
            (serde_json::to_string_pretty(&doc)? + "\n").as_bytes(),
        )?;
    }
    Ok(())
}
