//! Kernel Inception Distance (Bińkowski et al. 2018): the unbiased estimate of the squared
//! maximum mean discrepancy between two feature sets under the cubic polynomial kernel
//! `k(x, y) = (x . y / d + 1)^3`.
//!
//! For samples `X` (`n` rows) and `Y` (`m` rows):
//!
//! ```text
//! MMD^2 = sum_{i != j} k(x_i, x_j) / (n (n - 1))
//!       + sum_{i != j} k(y_i, y_j) / (m (m - 1))
//!       - 2 sum_{i, j} k(x_i, y_j) / (n m)
//! ```
//!
//! Unlike FID it is unbiased in the sample size (its expectation does not grow as fewer
//! samples are used) and can be negative when the two sets are alike. [`kid`] averages it
//! over random subsets of equal size (the published protocol: 100 subsets of 1,000);
//! [`kid_full`] is the deterministic single estimate on all samples. All sums in `f64`.

use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::linalg::{gram, Matrix};
use crate::MeanStd;

/// Subsets [`kid`] averages over by default (as the KID paper and torch-fidelity).
pub const KID_SUBSETS: usize = 100;
/// Subset size [`kid`] uses by default.
pub const KID_SUBSET_SIZE: usize = 1000;

/// The kernel sums of the MMD estimate for row sets `x` and `y`.
fn mmd2_unbiased(x: &Matrix, y: &Matrix) -> f64 {
    let d = x.cols() as f64;
    let kernel = |dot: f64| (dot / d + 1.0).powi(3);
    let off_diagonal_mean = |g: &Matrix| -> f64 {
        let n = g.rows();
        let mut sum = 0.0;
        for i in 0..n {
            for (j, &v) in g.row(i).iter().enumerate() {
                if i != j {
                    sum += kernel(v);
                }
            }
        }
        sum / (n * (n - 1)) as f64
    };
    let kxy = gram(x, y);
    let cross =
        kxy.as_slice().iter().map(|&v| kernel(v)).sum::<f64>() / (x.rows() * y.rows()) as f64;
    off_diagonal_mean(&gram(x, x)) + off_diagonal_mean(&gram(y, y)) - 2.0 * cross
}

#[track_caller]
fn check_pair(op: &str, a: &NdArray, b: &NdArray) {
    assert!(
        a.ndim() == 2 && b.ndim() == 2 && a.shape()[1] == b.shape()[1],
        "{op}: need feature matrices [N, D] and [M, D], got {:?} and {:?}",
        a.shape(),
        b.shape()
    );
    assert!(
        a.shape()[0] >= 2 && b.shape()[0] >= 2,
        "{op}: the unbiased estimate needs at least 2 samples per set, got {:?} and {:?}",
        a.shape(),
        b.shape()
    );
}

/// The unbiased MMD^2 with the cubic polynomial kernel on all of `a` (`[N, D]`) and `b`
/// (`[M, D]`) at once: KID without subset sampling, deterministic. `O((N + M)^2 D)` time,
/// `O((N + M)^2)` memory: use [`kid`] for large sets.
///
/// ```
/// use agon_metrics::kid_full;
/// use agon_tensor::NdArray;
/// let a = NdArray::from_vec(vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[3, 2]).unwrap();
/// let far = a.map(|v| v + 3.0);
/// assert!(kid_full(&a, &far) > kid_full(&a, &a.map(|v| v + 0.1)));
/// ```
///
/// # Panics
/// If the arrays are not 2-D with the same width and at least 2 rows each.
#[track_caller]
pub fn kid_full(a: &NdArray, b: &NdArray) -> f64 {
    check_pair("kid_full", a, b);
    mmd2_unbiased(&Matrix::from_ndarray(a), &Matrix::from_ndarray(b))
}

/// KID: the unbiased MMD^2 ([`kid_full`]) on `subsets` pairs of random subsets, each
/// `subset_size` rows of `a` and `subset_size` rows of `b` drawn without replacement from
/// an RNG seeded with `seed`; returns the mean and the standard deviation over subsets
/// (population std, as torch-fidelity reports it). `subset_size` is capped at the smaller
/// set's size. `O(subsets * subset_size^2 * D)`.
///
/// ```
/// use agon_metrics::kid;
/// use agon_tensor::NdArray;
/// let a = NdArray::arange(0.0, 40.0, 1.0).reshape(&[20, 2]).map(|v| (v * 0.37).sin());
/// let b = a.map(|v| v + 0.5);
/// let score = kid(&a, &b, 10, 8, 0);
/// assert!(score.mean > 0.0 && score.std >= 0.0);
/// assert_eq!(score, kid(&a, &b, 10, 8, 0)); // seeded
/// ```
///
/// # Panics
/// If the arrays are not 2-D with the same width, either has fewer than 2 rows,
/// `subsets` is 0 or `subset_size` is below 2.
#[track_caller]
pub fn kid(a: &NdArray, b: &NdArray, subsets: usize, subset_size: usize, seed: u64) -> MeanStd {
    check_pair("kid", a, b);
    assert!(
        subsets > 0 && subset_size >= 2,
        "kid: need subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}"
    );
    let (x, y) = (Matrix::from_ndarray(a), Matrix::from_ndarray(b));
    let size = subset_size.min(x.rows()).min(y.rows());
    let mut rng = StdRng::seed_from_u64(seed);
    let pick = |m: &Matrix, rng: &mut StdRng| -> Matrix {
        let idx = rand::seq::index::sample(rng, m.rows(), size);
        let mut data = Vec::with_capacity(size * m.cols());
        for i in idx.iter() {
            data.extend_from_slice(m.row(i));
        }
        Matrix::from_vec(size, m.cols(), data)
    };
    let values: Vec<f64> = (0..subsets)
        .map(|_| {
            let xs = pick(&x, &mut rng);
            let ys = pick(&y, &mut rng);
            mmd2_unbiased(&xs, &ys)
        })
        .collect();
    MeanStd::of(&values)
}
