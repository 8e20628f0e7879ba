//! Mode counting on the 2-D Gaussian mixtures (ring of 8, grid of 25), the protocol of
//! VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018, Table 1):
//!
//! 1. draw [`PACGAN_SAMPLES`] = 2,500 samples from the generator;
//! 2. assign each sample to its nearest mode (Euclidean, `f64`);
//! 3. a sample is **high quality** when that distance is at most
//!    [`HIGH_QUALITY_STDS`] = 3 standard deviations of the mixture's components;
//! 4. a mode is **captured** when at least one high-quality sample is assigned to it;
//! 5. the **reverse KL** is `KL(p || u) = sum_k p_k ln(K p_k)`, where `p_k` is the share of
//!    the *high-quality* samples assigned to mode `k` and `u` is uniform over the `K` modes
//!    (the true mixture weights). Empty modes contribute `0 ln 0 = 0`, so the value lies
//!    in `[0, ln K]`: 0 for a perfectly even spread, `ln K` when every high-quality sample
//!    sits on one mode. When no sample is high quality the histogram is undefined and
//!    `ln K` is reported, so a run that produces nothing usable never scores better than a
//!    collapsed one.

use agon_data::Mixture;
use agon_tensor::NdArray;

/// Samples drawn from a generator for one mode count in the PacGAN protocol.
pub const PACGAN_SAMPLES: usize = 2500;
/// A sample within this many component standard deviations of its nearest mode is high
/// quality.
pub const HIGH_QUALITY_STDS: f64 = 3.0;

/// The result of [`count_modes`].
#[derive(Clone, Debug, PartialEq)]
pub struct ModeReport {
    /// Modes with at least one high-quality sample assigned to them.
    pub modes_captured: usize,
    /// Modes of the mixture (8 or 25).
    pub num_modes: usize,
    /// Fraction of samples within 3 std of their nearest mode, in `[0, 1]`.
    pub high_quality_fraction: f64,
    /// `KL(high-quality histogram over modes || uniform)`, in `[0, ln K]` (see the module
    /// docs for empty modes and for the case of no high-quality sample).
    pub reverse_kl: f64,
    /// High-quality samples assigned to each mode (the histogram), in the order of
    /// [`Mixture::centres`].
    pub counts: Vec<usize>,
}

/// Counts the modes of `mixture` that `samples` (`[N, 2]`) capture, with the PacGAN
/// protocol (see the module docs).
///
/// ```
/// use agon_data::Mixture;
/// use agon_metrics::count_modes;
/// use rand::SeedableRng;
///
/// let ring = Mixture::ring8();
/// let real = ring.sample(2500, &mut rand::rngs::StdRng::seed_from_u64(0));
/// let report = count_modes(real.images(), &ring);
/// assert_eq!((report.modes_captured, report.num_modes), (8, 8));
/// assert!(report.high_quality_fraction > 0.97); // 1 - exp(-4.5) of a 2-D Gaussian
/// assert!(report.reverse_kl < 0.01);
/// ```
///
/// # Panics
/// If `samples` is not `[N, 2]` with `N > 0`.
#[track_caller]
pub fn count_modes(samples: &NdArray, mixture: &Mixture) -> ModeReport {
    assert!(
        samples.ndim() == 2 && samples.shape()[1] == 2 && samples.shape()[0] > 0,
        "count_modes: need 2-D points [N, 2] with N > 0, got shape {:?}",
        samples.shape()
    );
    let centres: Vec<[f64; 2]> = mixture
        .centres()
        .iter()
        .map(|c| [f64::from(c[0]), f64::from(c[1])])
        .collect();
    let num_modes = centres.len();
    let threshold = HIGH_QUALITY_STDS * f64::from(mixture.std());
    let mut counts = vec![0usize; num_modes];
    let points = samples.to_vec();
    for p in points.chunks_exact(2) {
        let (x, y) = (f64::from(p[0]), f64::from(p[1]));
        let (mode, dist) = centres
            .iter()
            .map(|c| (x - c[0]).hypot(y - c[1]))
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |best, (i, d)| {
                    if d < best.1 {
                        (i, d)
                    } else {
                        best
                    }
                },
            );
        if dist <= threshold {
            counts[mode] += 1;
        }
    }
    let high_quality: usize = counts.iter().sum();
    let reverse_kl = if high_quality == 0 {
        (num_modes as f64).ln()
    } else {
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / high_quality as f64;
                p * (p * num_modes as f64).ln()
            })
            .sum::<f64>()
            .max(0.0)
    };
    ModeReport {
        modes_captured: counts.iter().filter(|&&c| c > 0).count(),
        num_modes,
        high_quality_fraction: high_quality as f64 / (points.len() / 2) as f64,
        reverse_kl,
        counts,
    }
}
