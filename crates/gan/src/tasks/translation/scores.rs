//! How well an image-to-image model does on real images, beside its classical baseline:
//! PSNR and SSIM against the real image, L1 over the holes (`inpaint`), the feature
//! classifier's accuracy on the outputs (does the item stay what it was?) and the Fréchet
//! distance of the outputs' features to the real images'. What `agon eval` reports for
//! these tasks and `docs/results.md` tabulates.

use agon_data::HoleKind;
use agon_metrics::{ssim, Classifier, FeatureStats};
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::domains::{pick_rows, rows_in};
use super::{ImageToImage, TranslationInput};

/// The scores of one set of outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputScores {
    /// PSNR (dB) of the set against the real images, data range 2 (images in `[-1, 1]`):
    /// `10 log10(2^2 / MSE)` with the MSE over every pixel of every image. (The mean of
    /// per-image PSNRs is infinite as soon as one output is exact, as a hole that falls
    /// on flat background is for the diffusion fill.)
    pub psnr: f64,
    /// Mean SSIM (Gaussian window, Wang et al. 2004).
    pub ssim: f64,
    /// `inpaint`: mean absolute error over the hole pixels (in `[-1, 1]` units).
    pub hole_l1: Option<f64>,
    /// The feature classifier's accuracy on the outputs, against the real images' labels.
    pub class_accuracy: Option<f64>,
    /// Fréchet distance of the outputs' classifier features to the real images'.
    pub fid: Option<f64>,
}

/// The model's and the baseline's scores under one kind of input.
#[derive(Clone, Debug, PartialEq)]
pub struct TranslationScores {
    /// What the inputs were: `"downsampled x4"`, `"centre holes"`, `"random holes"`,
    /// `"edges"`.
    pub setting: String,
    /// The trained generator.
    pub model: OutputScores,
    /// The classical baseline (bicubic, diffusion fill), when the task has one.
    pub baseline: Option<OutputScores>,
}

/// Images scored per forward pass (bounds memory).
const CHUNK: usize = 250;

/// PSNR (dB) of the whole set `outputs` against `targets`, data range 2.
fn set_psnr(outputs: &NdArray, targets: &NdArray) -> f64 {
    let mse = outputs
        .sub(targets)
        .to_vec()
        .iter()
        .map(|d| (*d as f64) * (*d as f64))
        .sum::<f64>()
        / targets.numel() as f64;
    10.0 * (4.0 / mse).log10()
}

/// Mean Gaussian-window SSIM of `outputs` against `targets`, data range 2.
fn mean_ssim(outputs: &NdArray, targets: &NdArray) -> f64 {
    let v = ssim(outputs, targets, 2.0);
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn score_outputs(
    outputs: &NdArray,
    targets: &NdArray,
    labels: Option<&[usize]>,
    masks: Option<&NdArray>,
    classifier: Option<&Classifier>,
    real_features: Option<&FeatureStats>,
) -> OutputScores {
    let hole_l1 = masks.map(|m| {
        let c = targets.shape()[1];
        let diff = outputs.sub(targets).map(f32::abs).to_vec();
        let m = m.to_vec();
        let per_pixel = targets.shape()[2] * targets.shape()[3];
        let (mut total, mut count) = (0.0f64, 0.0f64);
        for (i, d) in diff.iter().enumerate() {
            let img = i / (c * per_pixel);
            let px = i % per_pixel;
            let w = m[img * per_pixel + px] as f64;
            total += w * *d as f64;
            count += w;
        }
        total / count.max(1.0)
    });
    let (class_accuracy, fid) = match classifier {
        Some(c) => {
            let accuracy = labels.map(|l| {
                let predicted = c.predict(outputs);
                let hits = predicted.iter().zip(l).filter(|(p, y)| p == y).count();
                hits as f64 / l.len() as f64
            });
            let fid =
                real_features.map(|r| r.frechet_distance(&FeatureStats::new(&c.embed(outputs))));
            (accuracy, fid)
        }
        None => (None, None),
    };
    OutputScores {
        psnr: set_psnr(outputs, targets),
        ssim: mean_ssim(outputs, targets),
        hole_l1,
        class_accuracy,
        fid,
    }
}

/// Scores `task` on real `images` `[N, C, H, W]` (with `labels` for the accuracy) under
/// each of its input settings (for `inpaint`: centre holes, then random holes), with the
/// feature `classifier` when there is one. Holes are drawn from `seed`.
pub fn score_translation(
    task: &dyn ImageToImage,
    images: &NdArray,
    labels: Option<&[usize]>,
    classifier: Option<&Classifier>,
    seed: u64,
) -> Vec<TranslationScores> {
    use crate::trainer::TaskKind;
    if task.kind() == TaskKind::Cyclegan {
        return score_cycle(task, images, labels, classifier);
    }
    let settings: Vec<(String, Option<HoleKind>)> = match task.kind() {
        TaskKind::Inpaint => vec![
            ("centre holes".into(), Some(HoleKind::Centre)),
            ("random holes".into(), None),
        ],
        TaskKind::Superres => vec![("downsampled".into(), None)],
        _ => vec![("edge maps".into(), None)],
    };
    let real_features = classifier.map(|c| FeatureStats::new(&c.embed(images)));
    let n = images.shape()[0];
    let mut rng = StdRng::seed_from_u64(seed);
    settings
        .into_iter()
        .map(|(setting, holes)| {
            let (mut outs, mut bases, mut masks) = (vec![], vec![], vec![]);
            for start in (0..n).step_by(CHUNK) {
                let targets = images.narrow(0, start, CHUNK.min(n - start));
                let input: TranslationInput = task.prepare(&targets, holes, &mut rng);
                outs.push(task.translate(&input));
                bases.extend(task.baseline(&input));
                masks.extend(input.mask);
            }
            let cat = |v: &[NdArray]| NdArray::concat(&v.iter().collect::<Vec<_>>(), 0);
            let masks = (!masks.is_empty()).then(|| cat(&masks));
            let score = |out: &NdArray| {
                score_outputs(
                    out,
                    images,
                    labels,
                    masks.as_ref(),
                    classifier,
                    real_features.as_ref(),
                )
            };
            TranslationScores {
                setting,
                model: score(&cat(&outs)),
                baseline: (!bases.is_empty()).then(|| score(&cat(&bases))),
            }
        })
        .collect()
}

/// Scores of translations into one domain: PSNR and SSIM against the input (how much of
/// it the translation keeps), the fraction the classifier puts in the target domain's
/// classes, and the Fréchet distance of the outputs to the target domain's real images.
fn score_direction(
    outputs: &NdArray,
    inputs: &NdArray,
    target_domain: &[usize],
    classifier: Option<&Classifier>,
    target_features: Option<&FeatureStats>,
) -> OutputScores {
    OutputScores {
        psnr: set_psnr(outputs, inputs),
        ssim: mean_ssim(outputs, inputs),
        hole_l1: None,
        class_accuracy: classifier.map(|c| {
            let p = c.predict(outputs);
            p.iter().filter(|y| target_domain.contains(y)).count() as f64 / p.len().max(1) as f64
        }),
        fid: classifier
            .zip(target_features)
            .map(|(c, r)| r.frechet_distance(&FeatureStats::new(&c.embed(outputs)))),
    }
}

/// `cyclegan`'s scores on real `images` of both domains (`labels` say which): "A to B" and
/// "B to A", the model against the identity.
fn score_cycle(
    task: &dyn ImageToImage,
    images: &NdArray,
    labels: Option<&[usize]>,
    classifier: Option<&Classifier>,
) -> Vec<TranslationScores> {
    let (Some((a, b)), Some(labels)) = (task.domains(), labels) else {
        return vec![];
    };
    let (ia, ib) = (rows_in(labels, a), rows_in(labels, b));
    if ia.is_empty() || ib.is_empty() {
        return vec![];
    }
    let (real_a, real_b) = (pick_rows(images, &ia), pick_rows(images, &ib));
    let stats = |x: &NdArray| classifier.map(|c| FeatureStats::new(&c.embed(x)));
    let (stats_a, stats_b) = (stats(&real_a), stats(&real_b));
    let to_b = task.translate(&TranslationInput {
        source: real_a.clone(),
        mask: None,
    });
    let to_a = task
        .reconstruct(&real_b)
        .expect("cyclegan translates both ways");
    vec![
        TranslationScores {
            setting: "A to B".into(),
            model: score_direction(&to_b, &real_a, b, classifier, stats_b.as_ref()),
            baseline: Some(score_direction(
                &real_a,
                &real_a,
                b,
                classifier,
                stats_b.as_ref(),
            )),
        },
        TranslationScores {
            setting: "B to A".into(),
            model: score_direction(&to_a, &real_b, a, classifier, stats_a.as_ref()),
            baseline: Some(score_direction(
                &real_b,
                &real_b,
                a,
                classifier,
                stats_a.as_ref(),
            )),
        },
    ]
}
