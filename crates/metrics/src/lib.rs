//! # agon-metrics
//!
//! Scores that say how good and how diverse a GAN's samples are:
//!
//! | score | function | compares | better |
//! |---|---|---|---|
//! | Fréchet distance (FID with Inception features) | [`frechet_distance_features`], [`FeatureStats`] | Gaussians fitted to two feature sets | lower |
//! | KID (unbiased MMD^2, cubic kernel) | [`kid`], [`kid_full`] | two feature sets | lower |
//! | Inception-style score | [`inception_score`] | class probabilities of samples | higher |
//! | improved precision / recall | [`precision_recall`] | k-NN manifolds of two feature sets | higher |
//! | density / coverage | [`density_coverage`] | k-NN balls around real features | higher |
//! | mode counting (PacGAN protocol) | [`count_modes`] | 2-D samples against a [`Mixture`](agon_data::Mixture) | more modes, lower KL |
//! | class accuracy | [`accuracy`] | labelled (real or generated) images | higher |
//! | nearest neighbours, memorisation (share of samples nearer a training image than the median real-to-real distance) | [`nearest_neighbours`], [`memorisation`] | samples against training images | lower share |
//! | ROC-AUC, average precision, accuracy at 0.5 | [`detection_scores`] | a real-vs-generated detector's scores | higher |
//! | interior roughness (texture inside objects, edges left out) | [`interior_roughness`] | generated images against real ones | nearer the real value |
//!
//! Features come from [`Classifier`], a small LeNet-style CNN trained with Agon's own
//! stack ([`train_classifier`]), since Inception weights cannot be downloaded here. Scores
//! on its features are not comparable with published FIDs and are named for the network:
//! "FID (agon-fmnist classifier)". Print the real-vs-real floor (train split against test
//! split) beside every such score.
//!
//! ```
//! use agon_metrics::{frechet_distance_features, kid, precision_recall, PR_K};
//! use agon_tensor::NdArray;
//!
//! // Stand-ins for classifier features of real and generated images.
//! let real = NdArray::arange(0.0, 400.0, 1.0).reshape(&[100, 4]).map(|v| (v * 0.618).sin());
//! let fake = real.map(|v| 0.9 * v + 0.05);
//! let fd = frechet_distance_features(&real, &fake);
//! let k = kid(&real, &fake, 10, 50, 0);
//! let pr = precision_recall(&real, &fake, PR_K);
//! assert!(fd > 0.0 && frechet_distance_features(&real, &real).abs() < 1e-9);
//! assert!(k.mean.is_finite() && pr.precision > 0.5);
//! ```
//!
//! ## Numerics
//! The Fréchet distance works in `f64` throughout (features widened on entry) with an
//! in-house matrix square root ([`linalg`]: cyclic Jacobi eigendecomposition, symmetric
//! form of the Fréchet trace). KID and the k-NN scores take their dot products from `f32`
//! Gram tiles through agon-tensor's sgemm: the features shifted by the mean of both sets,
//! a few hundred rows at a time against all of the other set (never the whole `N x M`
//! matrix), reduced in parallel and combined in a fixed order, so the scores are the same
//! bits on any number of threads. KID adds the mean's part of each dot product back and
//! sums its kernels in `f64` (within 1e-7 relative of `f64` dot products in the tests);
//! the k-NN scores bound each tile distance's rounding error and settle the comparisons
//! the bound leaves open with the exact `f64` distance, so they count exactly what `f64`
//! distances count. `tests/metrics.rs` checks Fréchet distance, KID, precision/recall and
//! density/coverage against NumPy/SciPy (`scripts/metrics_fixtures.py`) to 1e-3 relative.
//!
//! Cost on one core, release build, two sets of 10,000 x 128 features: Fréchet distance
//! 0.3 s, `kid_full` 0.9-1.1 s, KID (100 subsets of 1,000) 1.2 s, precision/recall
//! 1.2-1.8 s, density/coverage 1.3 s (the `f64` loops before took 15 s for `kid_full` and
//! 16 s for precision/recall); tiles run in parallel on rayon's pool. The classifier
//! embeds about 2,000 images per second. The k-NN scores are `O((N + M)^2 D)`: subsample
//! beyond a few tens of thousands.
//!
//! ## Errors
//! Misuse (wrong ranks, mismatched widths, too few samples for `k` neighbours) panics with
//! a message naming the function and the shapes. Loading a classifier returns
//! [`CheckpointError`](agon_nn::checkpoint::CheckpointError).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod balls;
mod classifier;
mod density_coverage;
mod detection;
mod frechet;
mod gram;
mod image_quality;
mod inception_score;
mod kid;
mod knn;
pub mod linalg;
mod modes;
mod neighbours;
mod precision_recall;
#[cfg(test)]
mod reference;
mod texture;

pub use classifier::{
    accuracy, mean_loss, train_classifier, train_classifier_for_steps, train_classifier_with,
    Classifier, ClassifierTrainConfig, EpochReport, FEATURE_DIM, INPUT_SHAPE,
};
pub use density_coverage::{density_coverage, DensityCoverage, DC_K};
pub use detection::{accuracy_at, average_precision, detection_scores, roc_auc, DetectionScores};
pub use frechet::{frechet_distance, frechet_distance_features, FeatureStats};
pub use image_quality::{psnr, ssim};
pub use inception_score::inception_score;
pub use kid::{kid, kid_full, KID_SUBSETS, KID_SUBSET_SIZE};
pub use modes::{count_modes, ModeReport, HIGH_QUALITY_STDS, PACGAN_SAMPLES};
pub use neighbours::{memorisation, nearest_neighbours, Memorisation, Neighbour};
pub use precision_recall::{precision_recall, PrecisionRecall, PR_K};
pub use texture::{interior_roughness, Roughness};

/// The mean and population standard deviation of a score over subsets or splits
/// ([`kid`], [`inception_score`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanStd {
    /// The mean over subsets.
    pub mean: f64,
    /// The population standard deviation over subsets (0 for a single subset).
    pub std: f64,
}

impl MeanStd {
    /// The mean and population std of `values` (non-empty).
    ///
    /// ```
    /// let s = agon_metrics::MeanStd::of(&[1.0, 3.0]);
    /// assert_eq!((s.mean, s.std), (2.0, 1.0));
    /// ```
    ///
    /// # Panics
    /// If `values` is empty.
    #[track_caller]
    pub fn of(values: &[f64]) -> MeanStd {
        assert!(!values.is_empty(), "MeanStd::of: no values");
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

/// The crate README's example, compiled and run as a doc test so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
