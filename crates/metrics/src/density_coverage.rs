//! Density and coverage (Naeem et al. 2020): precision and recall made robust to outliers.
//!
//! With `r_i` the distance from real sample `i` to its `k`-th nearest real neighbour
//! (itself excluded):
//! - **density** = `(1 / (k M)) sum_j sum_i 1[d(f_j, x_i) < r_i]`: how many real
//!   neighbourhoods each fake sample falls in, on average, divided by `k`. About 1 when the
//!   fakes follow the real distribution, above 1 when they crowd into dense regions, and
//!   unbounded.
//! - **coverage** = `(1 / N) sum_i 1[min_j d(x_i, f_j) < r_i]`: the fraction of real
//!   neighbourhoods that contain at least one fake sample, in `[0, 1]`.
//!
//! Only the real manifold is used, so a few outlying fakes cannot inflate the scores as
//! they inflate recall. Strict inequalities as in the `prdc` reference code; distances from
//! `f32` Gram tiles with exact `f64` tie-breaks (see
//! [`precision_recall`](crate::precision_recall)).

use agon_tensor::NdArray;

use crate::balls::{count_both_ways, Radii};
use crate::gram::{tile_rows, Centred};
use crate::knn::{knn_inputs, kth_nn_sq_radii};

/// The neighbourhood size of density and coverage in the paper.
pub const DC_K: usize = 5;

/// Density and coverage of a fake feature set against a real one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DensityCoverage {
    /// Mean number of real neighbourhoods containing a fake sample, over `k` (about 1 for
    /// matching distributions; can exceed 1).
    pub density: f64,
    /// Fraction of real neighbourhoods containing at least one fake sample, in `[0, 1]`.
    pub coverage: f64,
}

/// [`density_coverage`] on prepared sets, with Gram tiles of `tile(columns)` rows.
pub(crate) fn density_coverage_of(
    real: &Centred,
    fake: &Centred,
    k: usize,
    tile: impl Fn(usize) -> usize,
) -> DensityCoverage {
    let radii = kth_nn_sq_radii(real, k, tile(real.rows()));
    // Every (fake, real ball) pair counts towards density (rows); a real ball is covered
    // when some fake is inside it (columns).
    let ball = Radii::PerCentre(&radii);
    let (hits, covered) = count_both_ways(fake, real, tile(real.rows()), (usize::MAX, ball), ball);
    DensityCoverage {
        density: hits as f64 / (k * fake.rows()) as f64,
        coverage: covered as f64 / real.rows() as f64,
    }
}

/// Density and coverage of `fake` (`[M, D]`) against `real` (`[N, D]`) with
/// `k`-nearest-neighbour balls around the real samples ([`DC_K`] = 5 in the paper).
///
/// ```
/// use agon_metrics::{density_coverage, DC_K};
/// use agon_tensor::NdArray;
/// let real = NdArray::arange(0.0, 40.0, 1.0).reshape(&[20, 2]).map(|v| (v * 1.7).sin());
/// let same = density_coverage(&real, &real.map(|v| v + 1e-3), DC_K);
/// assert_eq!(same.coverage, 1.0);
/// assert!(same.density > 0.5);
/// let far = density_coverage(&real, &real.map(|v| v + 100.0), DC_K);
/// assert_eq!((far.density, far.coverage), (0.0, 0.0));
/// ```
///
/// # Panics
/// If the arrays are not 2-D with the same width, `k` is 0, or a set has `k` or fewer
/// samples.
#[track_caller]
pub fn density_coverage(real: &NdArray, fake: &NdArray, k: usize) -> DensityCoverage {
    let (real, fake) = knn_inputs("density_coverage", real, fake, k);
    density_coverage_of(&real, &fake, k, tile_rows)
}
