//! Nearest neighbours of query rows among a base set, and the memorisation figure built on
//! them: is a GAN's sample closer to a training image than training images are to each
//! other?
//!
//! The search runs on the same Gram tiles as the k-NN scores ([`crate::gram`]): each tile
//! bounds every squared distance from above and below, the bounds pick the few candidates
//! that can be among the `k` nearest, and those get exact `f64` distances. The neighbours
//! returned are therefore the exact `f64` ones, ranked by distance and then by index, the
//! same bits on any number of threads.

use agon_tensor::NdArray;

use crate::gram::{map_tiles, tile_rows, union_mean, Centred};
use crate::knn::{chunk_min, minus_twice, Smallest, CHUNK};

/// One neighbour: its row in the base set and its squared Euclidean distance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbour {
    /// Row of the base set.
    pub index: usize,
    /// `|query - base[index]|^2`.
    pub sq_distance: f64,
}

/// The `k` nearest rows of `base` `[N, D]` to each row of `queries` `[M, D]`, nearest
/// first (ties by lower index). With `skip`, query `i` never gets base row `skip[i]` (a
/// query that is itself a base row: its leave-one-out neighbours).
///
/// ```
/// use agon_metrics::nearest_neighbours;
/// use agon_tensor::NdArray;
/// let base = NdArray::from_vec(vec![0.0, 0.0, 1.0, 0.0, 5.0, 5.0], &[3, 2]).unwrap();
/// let q = NdArray::from_vec(vec![0.9, 0.1], &[1, 2]).unwrap();
/// let nn = nearest_neighbours(&q, &base, 2, None);
/// assert_eq!((nn[0][0].index, nn[0][1].index), (1, 0));
/// assert!((nn[0][0].sq_distance - 0.02).abs() < 1e-6);
/// // Base row 1 as its own query, skipping itself.
/// let own = nearest_neighbours(&base.narrow(0, 1, 1), &base, 1, Some(&[1]));
/// assert_eq!(own[0][0].index, 0);
/// ```
///
/// # Panics
/// If the two sets are not 2-D of one width, `k` is 0 or more than the base rows a query
/// may use, or `skip` is not one row per query.
#[track_caller]
pub fn nearest_neighbours(
    queries: &NdArray,
    base: &NdArray,
    k: usize,
    skip: Option<&[usize]>,
) -> Vec<Vec<Neighbour>> {
    assert!(
        queries.ndim() == 2 && base.ndim() == 2 && queries.shape()[1] == base.shape()[1],
        "nearest_neighbours: need queries [M, D] and base [N, D], got {:?} and {:?}",
        queries.shape(),
        base.shape()
    );
    let n = base.shape()[0];
    let usable = n - usize::from(skip.is_some());
    assert!(
        k >= 1 && k <= usable,
        "nearest_neighbours: k = {k} with {n} base rows{}",
        if skip.is_some() { " (one skipped)" } else { "" }
    );
    if let Some(s) = skip {
        assert_eq!(
            s.len(),
            queries.shape()[0],
            "nearest_neighbours: {} skip rows for {} queries",
            s.len(),
            queries.shape()[0]
        );
    }
    let centre = union_mean(&[queries, base]);
    let (q, b) = (Centred::new(queries, &centre), Centred::new(base, &centre));
    let t = q.sq_distance_bound();
    let (qn, bn) = (q.sq_norms(), b.sq_norms());
    // Upper bound of query i, base j: (1 + t) |q_i|^2 + [(1 + t) |b_j|^2 - 2 g_ij]; the
    // lower bound is the upper one less 2 t (|q_i|^2 + |b_j|^2). Within a row both leave
    // out the same (1 + t) |q_i|^2, so they compare as they are.
    let upper_col: Vec<f64> = bn.iter().map(|v| (1.0 + t) * v).collect();
    let max_norm = bn.iter().copied().fold(0.0, f64::max);
    let per_tile = map_tiles(&q, &b, tile_rows(n), false, |tile| {
        let mut smallest = Smallest::new(k);
        let mut upper = Vec::new();
        let mut out = Vec::with_capacity(tile.rows());
        for r in 0..tile.rows() {
            let i = tile.i0 + r;
            minus_twice(&mut upper, &upper_col, tile.row(r));
            let skipped = skip.map(|s| s[i]);
            if let Some(j) = skipped {
                upper[j] = f64::INFINITY;
            }
            let kth = smallest.kth_of(&upper);
            let margin = 2.0 * t * qn[i];
            let mut found: Vec<Neighbour> = Vec::new();
            for (c, us) in upper.chunks(CHUNK).enumerate() {
                if chunk_min(us) - margin - 2.0 * t * max_norm > kth {
                    continue;
                }
                for (jc, &u) in us.iter().enumerate() {
                    let j = c * CHUNK + jc;
                    if Some(j) != skipped && u - margin - 2.0 * t * bn[j] <= kth {
                        found.push(Neighbour {
                            index: j,
                            sq_distance: q.exact_sq_distance(i, &b, j),
                        });
                    }
                }
            }
            if found.len() < k {
                // Only NaN rows get here (finite rows have finite bounds): rank them all.
                found = (0..n)
                    .filter(|&j| Some(j) != skipped)
                    .map(|j| Neighbour {
                        index: j,
                        sq_distance: q.exact_sq_distance(i, &b, j),
                    })
                    .collect();
            }
            found.sort_by(|a, b| {
                a.sq_distance
                    .total_cmp(&b.sq_distance)
                    .then(a.index.cmp(&b.index))
            });
            found.truncate(k);
            out.push(found);
        }
        out
    });
    per_tile.concat()
}

/// How close samples come to the training set, against how close training images come to
/// each other.
#[derive(Clone, Debug, PartialEq)]
pub struct Memorisation {
    /// The share of samples whose nearest training image is nearer than `threshold`.
    pub share_closer: f64,
    /// The median distance from a training image to its nearest other training image
    /// (over the reference rows): the typical real-to-real nearest-neighbour distance.
    pub threshold: f64,
    /// The median distance from a sample to its nearest training image.
    pub sample_median: f64,
    /// The share of samples nearer to a training image than the nearest 1% of
    /// real-to-real pairs: near-copies.
    pub share_near_copies: f64,
    /// Samples scored.
    pub samples: usize,
    /// Training rows whose leave-one-out distance set the threshold.
    pub reference_rows: usize,
}

/// The memorisation figure of `samples` `[M, D]` against `train` `[N, D]` (pixels or
/// features): each sample's distance to its nearest training image, compared with the
/// leave-one-out nearest-neighbour distances of `reference` training rows (evenly spaced
/// over the set, at most `N`). A generator that reproduces training images has most of
/// its samples below the median real-to-real distance; by construction half of the
/// reference rows are.
///
/// ```
/// use agon_metrics::memorisation;
/// use agon_tensor::NdArray;
/// let train = NdArray::arange(0.0, 200.0, 1.0).reshape(&[50, 4]).map(|v| (v * 0.37).sin());
/// // Copies of training images: every sample is at distance 0.
/// let copies = train.narrow(0, 10, 20);
/// let m = memorisation(&copies, &train, 50);
/// assert_eq!((m.share_closer, m.share_near_copies), (1.0, 1.0));
/// ```
///
/// # Panics
/// As [`nearest_neighbours`]; also if `train` has fewer than 2 rows or `reference` is 0.
#[track_caller]
pub fn memorisation(samples: &NdArray, train: &NdArray, reference: usize) -> Memorisation {
    let n = train.shape()[0];
    assert!(
        n >= 2 && reference >= 1,
        "memorisation: need 2 or more training rows and reference >= 1"
    );
    let m = reference.min(n);
    let rows: Vec<usize> = (0..m).map(|i| i * n / m).collect();
    let picked: Vec<NdArray> = rows.iter().map(|&r| train.narrow(0, r, 1)).collect();
    let queries = NdArray::concat(&picked.iter().collect::<Vec<_>>(), 0);
    let dist = |nn: Vec<Vec<Neighbour>>| -> Vec<f64> {
        nn.iter().map(|v| v[0].sq_distance.sqrt()).collect()
    };
    let mut real = dist(nearest_neighbours(&queries, train, 1, Some(&rows)));
    let mut fake = dist(nearest_neighbours(samples, train, 1, None));
    real.sort_by(f64::total_cmp);
    fake.sort_by(f64::total_cmp);
    let threshold = median(&real);
    let copy_line = real[(real.len() - 1) / 100];
    let share = |line: f64| fake.iter().filter(|&&d| d < line).count() as f64 / fake.len() as f64;
    Memorisation {
        share_closer: share(threshold),
        threshold,
        sample_median: median(&fake),
        // At least distance 0 counts as a copy, even when 1% of real pairs coincide.
        share_near_copies: fake.iter().filter(|&&d| d < copy_line || d == 0.0).count() as f64
            / fake.len() as f64,
        samples: fake.len(),
        reference_rows: m,
    }
}

/// The median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}
