//! Improved precision and recall (Kynkäänniemi et al. 2019): quality and diversity as two
//! numbers instead of FID's one.
//!
//! Each set's *manifold* is the union of balls centred on its samples, the ball of a sample
//! reaching its `k`-th nearest neighbour in the same set (itself excluded). Then
//! - **precision** = the fraction of fake samples inside the real manifold (are the
//!   samples realistic?),
//! - **recall** = the fraction of real samples inside the fake manifold (is all of the data
//!   covered?).
//!
//! "Inside" is strict, `d(x, c) < r_c`, as in the `prdc` reference code (ties have
//! probability zero for continuous features). Distances come from `f32` Gram tiles
//! ([`crate::gram`]) in `O((N + M)^2 D)` time and bounded memory; a comparison that the
//! tile's error bound cannot settle is redone with the exact `f64` distance
//! ([`crate::balls`]), so the scores are those of exact `f64` distances. Radii cost `O(N)`
//! per sample by a fixed-size selection, not sorting.

use agon_tensor::NdArray;

use crate::balls::{count_both_ways, Radii};
use crate::gram::{tile_rows, Centred};
use crate::knn::{knn_inputs, kth_nn_sq_radii};

/// The neighbourhood size of precision and recall in the paper and its reference code.
pub const PR_K: usize = 3;

/// Improved precision and recall of a fake feature set against a real one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrecisionRecall {
    /// Fraction of fake samples inside the real manifold, in `[0, 1]`.
    pub precision: f64,
    /// Fraction of real samples inside the fake manifold, in `[0, 1]`.
    pub recall: f64,
}

/// [`precision_recall`] on prepared sets, with Gram tiles of `tile(columns)` rows.
pub(crate) fn precision_recall_of(
    real: &Centred,
    fake: &Centred,
    k: usize,
    tile: impl Fn(usize) -> usize,
) -> PrecisionRecall {
    let real_radii = kth_nn_sq_radii(real, k, tile(real.rows()));
    let fake_radii = kth_nn_sq_radii(fake, k, tile(fake.rows()));
    // Fakes in real balls (rows) and reals in fake balls (columns) of one fake x real pass.
    let (fakes_inside, reals_inside) = count_both_ways(
        fake,
        real,
        tile(real.rows()),
        (1, Radii::PerCentre(&real_radii)),
        Radii::PerQuery(&fake_radii),
    );
    PrecisionRecall {
        precision: fakes_inside as f64 / fake.rows() as f64,
        recall: reals_inside as f64 / real.rows() as f64,
    }
}

/// Improved precision and recall of `fake` (`[M, D]`) against `real` (`[N, D]`) with
/// `k`-nearest-neighbour manifolds ([`PR_K`] = 3 in the paper).
///
/// ```
/// use agon_metrics::{precision_recall, PR_K};
/// use agon_tensor::NdArray;
/// let real = NdArray::arange(0.0, 20.0, 1.0).reshape(&[10, 2]).map(|v| (v * 1.3).sin());
/// let pr = precision_recall(&real, &real.map(|v| v + 0.01), PR_K);
/// assert_eq!((pr.precision, pr.recall), (1.0, 1.0));
/// let far = precision_recall(&real, &real.map(|v| v + 100.0), PR_K);
/// assert_eq!((far.precision, far.recall), (0.0, 0.0));
/// ```
///
/// # Panics
/// If the arrays are not 2-D with the same width, `k` is 0, or a set has `k` or fewer
/// samples.
#[track_caller]
pub fn precision_recall(real: &NdArray, fake: &NdArray, k: usize) -> PrecisionRecall {
    let (real, fake) = knn_inputs("precision_recall", real, fake, k);
    precision_recall_of(&real, &fake, k, tile_rows)
}
