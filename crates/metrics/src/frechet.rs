//! The Fréchet distance between two Gaussians fitted to feature sets: with features from
//! Inception-v3 it is FID; Agon's scores use its own classifier's features and say so
//! ("FID (agon-fmnist classifier)").
//!
//! `FD = |mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1^{1/2} C2 C1^{1/2})^{1/2})`.
//!
//! The usual implementations take `sqrtm(C1 C2)` of a non-symmetric product (SciPy's Schur
//! method), which can return complex values and needs an `eps` offset for singular
//! covariances. `C1 C2` is similar to the symmetric PSD matrix `C1^{1/2} C2 C1^{1/2}`, so
//! both have the same eigenvalues and the same trace of the square root; Agon uses the
//! symmetric form and needs only two symmetric eigendecompositions: one for `C1^{1/2}`, one
//! for the eigenvalues of `C1^{1/2} C2 C1^{1/2}`, whose square roots sum to the trace
//! (eigenvalues at rounding level count as 0: see [`psd_roots`](crate::linalg::psd_roots)). Everything is `f64`; `O(D^3)` after the `O(N D^2)`
//! covariances.

use agon_tensor::NdArray;

use crate::linalg::{gram, mean_cov, psd_roots, sqrtm_psd, symmetric_eigen, Matrix};

/// The mean and covariance of a feature set, computed once and reused (the statistics of
/// the real data against every checkpoint's samples).
#[derive(Clone, Debug)]
pub struct FeatureStats {
    /// Mean feature vector `[D]`.
    pub mean: Vec<f64>,
    /// Sample covariance `[D, D]` (divisor `N - 1`).
    pub cov: Matrix,
    /// Number of samples the statistics came from.
    pub count: usize,
}

impl FeatureStats {
    /// The statistics of the rows of `features` (`[N, D]`, `N >= 2`).
    ///
    /// ```
    /// use agon_metrics::FeatureStats;
    /// use agon_tensor::NdArray;
    /// let s = FeatureStats::new(&NdArray::from_vec(vec![0.0, 2.0, 1.0, 3.0], &[2, 2]).unwrap());
    /// assert_eq!((s.mean.as_slice(), s.count), (&[0.5, 2.5][..], 2));
    /// ```
    ///
    /// # Panics
    /// If `features` is not 2-D or has fewer than 2 rows.
    #[track_caller]
    pub fn new(features: &NdArray) -> Self {
        let (mean, cov) = mean_cov(features);
        FeatureStats {
            mean,
            cov,
            count: features.shape()[0],
        }
    }

    /// The Fréchet distance to `other` ([`frechet_distance`]).
    ///
    /// # Panics
    /// If the feature widths differ.
    #[track_caller]
    pub fn frechet_distance(&self, other: &FeatureStats) -> f64 {
        frechet_distance(&self.mean, &self.cov, &other.mean, &other.cov)
    }
}

/// The Fréchet distance between `N(mu1, cov1)` and `N(mu2, cov2)`:
/// `|mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1^{1/2} C2 C1^{1/2})^{1/2})`.
///
/// Covariances must be symmetric positive semi-definite (they are symmetrised; eigenvalues
/// at rounding level count as 0, so singular covariances, from fewer samples than
/// dimensions, are fine). The result is not clamped: identical inputs give 0 up to
/// rounding (about `1e-13` of the traces), which may be slightly negative.
///
/// ```
/// use agon_metrics::frechet_distance;
/// use agon_metrics::linalg::Matrix;
/// // 1-D: (mu1 - mu2)^2 + (sigma1 - sigma2)^2.
/// let (c1, c2) = (Matrix::from_rows(&[&[4.0]]), Matrix::from_rows(&[&[1.0]]));
/// let fd = frechet_distance(&[1.0], &c1, &[3.0], &c2);
/// assert!((fd - (4.0 + 1.0)).abs() < 1e-12);
/// ```
///
/// # Panics
/// If the means and covariances do not all have the same width `D`.
#[track_caller]
pub fn frechet_distance(mu1: &[f64], cov1: &Matrix, mu2: &[f64], cov2: &Matrix) -> f64 {
    let d = mu1.len();
    assert!(
        mu2.len() == d
            && [cov1.rows(), cov1.cols(), cov2.rows(), cov2.cols()]
                .iter()
                .all(|&x| x == d),
        "frechet_distance: widths differ: mu1 [{d}], cov1 {}x{}, mu2 [{}], cov2 {}x{}",
        cov1.rows(),
        cov1.cols(),
        mu2.len(),
        cov2.rows(),
        cov2.cols()
    );
    let mean_term: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b) * (a - b)).sum();
    let s1 = sqrtm_psd(cov1);
    let middle = gram(&gram(&s1, cov2), &s1); // S1 C2 S1 (S1 symmetric, so S1^T = S1)
    let trace_sqrt: f64 = psd_roots(&symmetric_eigen(&middle).values).iter().sum();
    mean_term + cov1.trace() + cov2.trace() - 2.0 * trace_sqrt
}

/// The Fréchet distance between Gaussians fitted to two feature sets `a` (`[N, D]`) and
/// `b` (`[M, D]`): means and unbiased covariances in `f64`, then [`frechet_distance`].
///
/// ```
/// use agon_metrics::frechet_distance_features;
/// use agon_tensor::NdArray;
/// let a = NdArray::from_vec(vec![0.0, 0.0, 1.0, 1.0, 2.0, 0.0], &[3, 2]).unwrap();
/// let b = a.map(|v| v + 1.0); // shifted by (1, 1): FD = 2
/// assert!((frechet_distance_features(&a, &b) - 2.0).abs() < 1e-9);
/// assert!(frechet_distance_features(&a, &a).abs() < 1e-9);
/// ```
///
/// # Panics
/// If either array is not 2-D with at least 2 rows, or the widths differ.
#[track_caller]
pub fn frechet_distance_features(a: &NdArray, b: &NdArray) -> f64 {
    FeatureStats::new(a).frechet_distance(&FeatureStats::new(b))
}
