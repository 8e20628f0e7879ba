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
//! probability zero for continuous features). Distances are Euclidean in `f64`, computed
//! block by block through [`for_each_sq_distance_block`] in `O((N + M)^2 D)` time and
//! bounded memory; radii cost `O(N)` per sample by selection, not sorting.

use agon_tensor::NdArray;

use crate::linalg::{for_each_sq_distance_block, Matrix};

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

/// The squared distance from each row of `x` to its `k`-th nearest other row (`O(n^2 d)`).
pub(crate) fn kth_nn_sq_radii(x: &Matrix, k: usize) -> Vec<f64> {
    let mut radii = vec![0.0; x.rows()];
    let mut others = Vec::with_capacity(x.rows());
    for_each_sq_distance_block(x, x, |i0, block| {
        for r in 0..block.rows() {
            let i = i0 + r;
            others.clear();
            others.extend(
                block
                    .row(r)
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, &d)| d),
            );
            let (_, kth, _) = others.select_nth_unstable_by(k - 1, f64::total_cmp);
            radii[i] = *kth;
        }
    });
    radii
}

/// The fraction of rows of `queries` inside the manifold of `centres` whose squared radii
/// are `radii`.
pub(crate) fn fraction_inside(queries: &Matrix, centres: &Matrix, radii: &[f64]) -> f64 {
    let mut inside = 0usize;
    for_each_sq_distance_block(queries, centres, |_, block| {
        for r in 0..block.rows() {
            if block.row(r).iter().zip(radii).any(|(d, rad)| d < rad) {
                inside += 1;
            }
        }
    });
    inside as f64 / queries.rows() as f64
}

/// Checks two feature matrices for the k-NN scores and widens them to `f64`.
#[track_caller]
pub(crate) fn knn_inputs(op: &str, real: &NdArray, fake: &NdArray, k: usize) -> (Matrix, Matrix) {
    assert!(
        real.ndim() == 2 && fake.ndim() == 2 && real.shape()[1] == fake.shape()[1],
        "{op}: need feature matrices real [N, D] and fake [M, D], got {:?} and {:?}",
        real.shape(),
        fake.shape()
    );
    assert!(
        k >= 1 && real.shape()[0] > k && fake.shape()[0] > k,
        "{op}: k = {k} nearest neighbours need k >= 1 and more than k samples per set, got \
         {:?} and {:?}",
        real.shape(),
        fake.shape()
    );
    (Matrix::from_ndarray(real), Matrix::from_ndarray(fake))
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
    let real_radii = kth_nn_sq_radii(&real, k);
    let fake_radii = kth_nn_sq_radii(&fake, k);
    PrecisionRecall {
        precision: fraction_inside(&fake, &real, &real_radii),
        recall: fraction_inside(&real, &fake, &fake_radii),
    }
}
