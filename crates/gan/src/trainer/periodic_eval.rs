//! Scores computed while training (`log.eval_every`), appended to `eval.csv` and drawn
//! to `eval.png`: the
//! FID-style distance and precision/recall in the feature classifier's space for image
//! data, mode counts for the 2-D mixtures.

use std::path::{Path, PathBuf};

use agon_data::{DataRoot, Mixture};
use agon_metrics::{count_modes, precision_recall, Classifier, FeatureStats, PR_K};
use agon_tensor::{Indices, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{load_dataset, sample_from, TaskKind, TrainConfig, TrainError};
use crate::Generator;

/// The 2-D mixture a configuration trains on, if any.
pub fn mixture_of(cfg: &TrainConfig) -> Option<Mixture> {
    match cfg.data.name.as_str() {
        "ring8" => Some(Mixture::ring8()),
        "grid25" => Some(Mixture::grid25()),
        _ => None,
    }
}

/// How a dataset is named in a classifier's metadata (`dataset`): the built-in names as
/// they are, a path as its canonical absolute form (so `./faces` and `/home/me/faces`
/// match).
pub fn dataset_identity(name: &str) -> String {
    const BUILT_IN: [&str; 5] = ["fashion-mnist", "mnist", "cifar10", "ring8", "grid25"];
    if BUILT_IN.contains(&name) {
        return name.to_string();
    }
    std::fs::canonicalize(name).map_or_else(|_| name.to_string(), |p| p.display().to_string())
}

/// The feature classifier for a run's data: the file at `path`, or
/// `classifiers/<data>.safetensors` in the data directory, checked to have been trained on
/// this dataset (its recorded `dataset`) and on images of `image_shape`.
///
/// # Errors
/// [`TrainError::Evaluation`] when the file is missing or unreadable, or was trained on
/// other data or another image shape; the message says how to train the right one. A
/// `cyclegan` run on two image folders has none.
pub fn matching_classifier(
    cfg: &TrainConfig,
    path: Option<&Path>,
    image_shape: &[usize],
) -> Result<(Classifier, PathBuf), TrainError> {
    if cfg.task == TaskKind::Cyclegan && cfg.translate.domain_folders().is_some() {
        return Err(TrainError::Evaluation {
            message: "a run on two image folders (translate.a_dir, translate.b_dir) has no \
                      feature classifier: `agon eval --train-classifier` trains on one dataset"
                .into(),
        });
    }
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => DataRoot::resolve(cfg.data.data_dir())?.classifier_path(&cfg.data.name),
    };
    let how = format!(
        "train one with: agon eval --train-classifier {}{}",
        cfg.data.name,
        if cfg.data.image_size > 0 {
            format!(" --image-size {}", cfg.data.image_size)
        } else {
            String::new()
        }
    );
    let (c, meta) = Classifier::load(&path).map_err(|e| TrainError::Evaluation {
        message: format!("no feature classifier for this data: {e}\n({how})"),
    })?;
    let want = dataset_identity(&cfg.data.name);
    let trained_on = meta.get("dataset").map_or("", String::as_str);
    let shape = c.input_shape();
    if dataset_identity(trained_on) != want || image_shape != shape {
        return Err(TrainError::Evaluation {
            message: format!(
                "{}: this classifier was trained on '{trained_on}' (images {shape:?}), but the \
                 run's data is '{want}' (images {image_shape:?}); its scores would mean \
                 nothing here\n({how})",
                path.display()
            ),
        });
    }
    Ok((c, path))
}

/// What every periodic evaluation of a run reuses: the classifier with the real data's
/// features, or the mixture whose modes are counted.
pub struct PeriodicEval {
    real: Option<(Classifier, NdArray, FeatureStats)>,
    mixture: Option<Mixture>,
}

impl PeriodicEval {
    /// Prepares the evaluation for `cfg`: for image data it loads the feature classifier
    /// (`classifiers/<data>.safetensors` in the data directory) and embeds
    /// `log.eval_samples` real images once.
    ///
    /// # Errors
    /// [`TrainError::Evaluation`] when no classifier is found for the data (saying how to
    /// train one), or the data cannot be loaded.
    pub fn new(cfg: &TrainConfig) -> Result<Self, TrainError> {
        if let Some(m) = mixture_of(cfg) {
            return Ok(PeriodicEval {
                real: None,
                mixture: Some(m),
            });
        }
        let mut data = cfg.data.clone();
        // The real images of the data, not only those a data.per_class run trains on.
        data.per_class = 0;
        data.limit = cfg.log.eval_samples;
        let real = load_dataset(&data, cfg.seed)?.dataset;
        let (c, _) = matching_classifier(cfg, None, real.image_shape()).map_err(|e| match e {
            TrainError::Evaluation { message } => TrainError::Evaluation {
                message: format!("log.eval_every: {message}"),
            },
            other => other,
        })?;
        let features = c.embed(real.images());
        let stats = FeatureStats::new(&features);
        Ok(PeriodicEval {
            real: Some((c, features, stats)),
            mixture: None,
        })
    }

    /// Scores `g` at `step` and appends a row to `eval.csv` in `cfg.out_dir` (atomically);
    /// returns the row. Its last column, `seconds`, is the wall time the run loop had
    /// spent up to this step, scoring left out (grids and checkpoints counted): the x axis
    /// of a score-against-time curve. A resumed run counts from its resume.
    ///
    /// # Errors
    /// When `eval.csv` cannot be written.
    pub fn run(
        &self,
        g: &dyn Generator,
        cfg: &TrainConfig,
        step: u64,
        seconds: f64,
    ) -> Result<String, TrainError> {
        let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0xe7a1);
        let n = if self.mixture.is_some() {
            agon_metrics::PACGAN_SAMPLES
        } else {
            cfg.log.eval_samples
        };
        let z = NdArray::rand_normal(&[n, g.latent_dim()], 0.0, 1.0, &mut rng);
        let labels = g
            .num_classes()
            .map(|k| Indices::from_vec((0..n).map(|i| i % k).collect(), &[n]));
        let samples = sample_from(g, &z, labels.as_ref());
        let (header, row) = match (&self.mixture, &self.real) {
            (Some(m), _) => {
                let r = count_modes(&samples, m);
                (
                    "step,modes,high_quality,reverse_kl,seconds",
                    format!(
                        "{step},{},{:.6},{:.6},{seconds:.2}",
                        r.modes_captured, r.high_quality_fraction, r.reverse_kl
                    ),
                )
            }
            (None, Some((c, real, stats))) => {
                let f = c.embed(&samples);
                let fid = stats.frechet_distance(&FeatureStats::new(&f));
                let pr = precision_recall(real, &f, PR_K);
                (
                    "step,fid,precision,recall,seconds",
                    format!(
                        "{step},{fid:.4},{:.4},{:.4},{seconds:.2}",
                        pr.precision, pr.recall
                    ),
                )
            }
            (None, None) => unreachable!("PeriodicEval::new sets one of them"),
        };
        let path = cfg.out_dir.join("eval.csv");
        let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| format!("{header}\n"));
        text.push_str(&row);
        text.push('\n');
        agon_data::write_atomic(&path, text.as_bytes())?;
        super::save_eval_curves(&text, &cfg.out_dir.join("eval.png"))?;
        Ok(row)
    }
}
