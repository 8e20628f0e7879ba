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
//! tile's error bound cannot settle is redone with the exact `f64` distance, so the scores
//! are those of exact `f64` distances. Radii cost `O(N)` per sample by a fixed-size
//! selection, not sorting.

use agon_tensor::NdArray;

use crate::gram::{map_tiles, tile_rows, union_mean, Centred};

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

/// The squared distance between rows with shifted squared norms `na`, `nb` and shifted
/// dot product `g`, and its error bound for the bound factor `t`
/// ([`Centred::sq_distance_bound`]). The clamp at 0 only moves it towards the exact value.
#[inline]
fn sq_distance(na: f64, nb: f64, g: f32, t: f64) -> (f64, f64) {
    let s = na + nb;
    ((s - 2.0 * f64::from(g)).max(0.0), t * s)
}

/// The `k` smallest values seen, for `k`-th nearest radii in one pass over a row.
struct Smallest {
    k: usize,
    /// Ascending, at most `k` values.
    values: Vec<f64>,
}

impl Smallest {
    fn new(k: usize) -> Self {
        Smallest {
            k,
            values: Vec::with_capacity(k + 1),
        }
    }

    fn clear(&mut self) {
        self.values.clear();
    }

    /// The value a candidate must beat to enter (infinite until `k` are held).
    #[inline]
    fn threshold(&self) -> f64 {
        if self.values.len() < self.k {
            f64::INFINITY
        } else {
            self.values[self.k - 1]
        }
    }

    #[inline]
    fn push(&mut self, v: f64) {
        if v < self.threshold() {
            let at = self.values.partition_point(|&x| x <= v);
            self.values.insert(at, v);
            self.values.truncate(self.k);
        }
    }
}

/// The squared distance from each row of `x` to its `k`-th nearest other row
/// (`O(n^2 d)`), in Gram tiles of `tile` rows.
///
/// Per row: the `k`-th smallest *upper* bound `U` of the tile distances bounds the exact
/// `k`-th distance from above, so every row at least as near has a lower bound `<= U`;
/// those candidates (usually exactly `k`) get exact distances, and the `k`-th of them is
/// the radius.
pub(crate) fn kth_nn_sq_radii(x: &Centred, k: usize, tile: usize) -> Vec<f64> {
    let t = x.sq_distance_bound();
    let norms = x.sq_norms();
    let per_tile = map_tiles(x, x, tile, false, |tile| {
        let mut smallest = Smallest::new(k);
        let mut candidates = Vec::new();
        let mut radii = Vec::with_capacity(tile.rows());
        for r in 0..tile.rows() {
            let i = tile.i0 + r;
            let row = tile.row(r);
            smallest.clear();
            for (j, (&g, &nb)) in row.iter().zip(norms).enumerate() {
                let (d, e) = sq_distance(norms[i], nb, g, t);
                if j != i {
                    smallest.push(d + e);
                }
            }
            let upper = smallest.threshold();
            candidates.clear();
            for (j, (&g, &nb)) in row.iter().zip(norms).enumerate() {
                let (d, e) = sq_distance(norms[i], nb, g, t);
                if j != i && d - e <= upper {
                    candidates.push(x.exact_sq_distance(i, x, j));
                }
            }
            if candidates.len() < k {
                // Only NaN features get here (every finite row has a finite upper
                // bound): rank all exact distances, as the f64 loops did.
                candidates.clear();
                candidates.extend(
                    (0..x.rows())
                        .filter(|&j| j != i)
                        .map(|j| x.exact_sq_distance(i, x, j)),
                );
            }
            let (_, kth, _) = candidates.select_nth_unstable_by(k - 1, f64::total_cmp);
            radii.push(*kth);
        }
        radii
    });
    per_tile.concat()
}

/// `sum_i min(cap, #{j : |q_i - c_j|^2 < radius(i, j)})` over the rows `q_i` of `queries`
/// and `c_j` of `centres`, in Gram tiles of `tile` rows. With `cap = 1` it counts the
/// queries inside the union of balls; with `usize::MAX`, all (query, ball) pairs.
///
/// A pair is decided by its tile distance when the error bound keeps it clear of the
/// radius, and by the exact distance otherwise.
pub(crate) fn count_inside(
    queries: &Centred,
    centres: &Centred,
    tile: usize,
    cap: usize,
    radius: impl Fn(usize, usize) -> f64 + Sync,
) -> usize {
    let t = queries.sq_distance_bound();
    let (nq, nc) = (queries.sq_norms(), centres.sq_norms());
    let per_tile = map_tiles(queries, centres, tile, false, |tile| {
        let mut candidates = Vec::new();
        let mut total = 0usize;
        for r in 0..tile.rows() {
            let i = tile.i0 + r;
            let mut count = 0usize;
            candidates.clear();
            for (j, (&g, &nb)) in tile.row(r).iter().zip(nc).enumerate() {
                let (d, e) = sq_distance(nq[i], nb, g, t);
                let rad = radius(i, j);
                if d + e < rad {
                    count += 1;
                    if count == cap {
                        break;
                    }
                } else if d - e < rad {
                    candidates.push(j);
                }
            }
            for &j in &candidates {
                if count == cap {
                    break;
                }
                if queries.exact_sq_distance(i, centres, j) < radius(i, j) {
                    count += 1;
                }
            }
            total += count;
        }
        total
    });
    per_tile.into_iter().sum()
}

/// Checks two feature matrices for the k-NN scores and shifts both by the mean of their
/// union (see [`crate::gram`]).
#[track_caller]
pub(crate) fn knn_inputs(op: &str, real: &NdArray, fake: &NdArray, k: usize) -> (Centred, Centred) {
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
    let centre = union_mean(&[real, fake]);
    (Centred::new(real, &centre), Centred::new(fake, &centre))
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
    let inside = |q: &Centred, c: &Centred, radii: &[f64]| {
        count_inside(q, c, tile(c.rows()), 1, |_, j| radii[j]) as f64 / q.rows() as f64
    };
    PrecisionRecall {
        precision: inside(fake, real, &real_radii),
        recall: inside(real, fake, &fake_radii),
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
