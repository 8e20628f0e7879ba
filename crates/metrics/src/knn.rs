//! The `k`-th neighbour radii behind precision/recall and density/coverage, from Gram
//! tiles (the counts of points inside the balls they define are in [`crate::balls`]).
//!
//! A tile gives each squared distance as `|x|^2 + |y|^2 - 2 g` within `t (|x|^2 + |y|^2)`
//! of the exact one ([`Centred::sq_distance_bound`]). The radii are chosen from these
//! bounds in vectorised passes over a row, and exact `f64` distances
//! ([`Centred::exact_sq_distance`]) are computed only for the few neighbours the bounds
//! cannot rank. The radii are therefore exact `f64` distances: what the `f64` loops
//! computed, up to their own `1e-16` rounding.

use agon_tensor::NdArray;

use crate::gram::{map_tiles, union_mean, Centred};

/// The `k` smallest values seen, for `k`-th nearest radii in one pass over a row.
pub(crate) struct Smallest {
    k: usize,
    /// Ascending, at most `k` values.
    values: Vec<f64>,
}

impl Smallest {
    pub(crate) fn new(k: usize) -> Self {
        Smallest {
            k,
            values: Vec::with_capacity(k + 1),
        }
    }

    /// The value a candidate must beat to enter (infinite until `k` are held).
    fn threshold(&self) -> f64 {
        if self.values.len() < self.k {
            f64::INFINITY
        } else {
            self.values[self.k - 1]
        }
    }

    /// The `k`-th smallest of `values` (infinite if fewer than `k` are finite).
    pub(crate) fn kth_of(&mut self, values: &[f64]) -> f64 {
        self.values.clear();
        let mut threshold = f64::INFINITY;
        for chunk in values.chunks(CHUNK) {
            // Once the first few chunks are seen, almost no chunk holds a value below the
            // threshold: one vectorised minimum rules out all of it.
            if chunk_min(chunk) >= threshold {
                continue;
            }
            for &v in chunk {
                if v < threshold {
                    let at = self.values.partition_point(|&x| x <= v);
                    self.values.insert(at, v);
                    self.values.truncate(self.k);
                    threshold = self.threshold();
                }
            }
        }
        threshold
    }
}

/// Values per chunk in the chunked scans: long enough to amortise the test, short enough
/// that a chunk with a hit costs little to rescan.
pub(crate) const CHUNK: usize = 64;

/// The smallest value of `chunk` (infinite if empty; NaN ignored), eight lanes at a time.
pub(crate) fn chunk_min(chunk: &[f64]) -> f64 {
    let mut lanes = [f64::INFINITY; 8];
    let mut groups = chunk.chunks_exact(8);
    for group in &mut groups {
        for (m, &v) in lanes.iter_mut().zip(group) {
            *m = if v < *m { v } else { *m };
        }
    }
    let tail = groups.remainder().iter();
    lanes
        .iter()
        .chain(tail)
        .fold(f64::INFINITY, |m, &v| if v < m { v } else { m })
}

/// `out[j] = col[j] - 2 g[j]`: one vectorised pass turning a tile row into distance
/// bounds up to a per-row constant.
pub(crate) fn minus_twice(out: &mut Vec<f64>, col: &[f64], g: &[f32]) {
    out.clear();
    out.extend(col.iter().zip(g).map(|(&c, &g)| c - 2.0 * f64::from(g)));
}

/// The squared distance from each row of `x` to its `k`-th nearest other row
/// (`O(n^2 d)`), in Gram tiles of `tile` rows.
///
/// Per row `i`: the `k`-th smallest *upper* bound `U` of the tile distances bounds the
/// exact `k`-th distance from above, so every row at least as near has a lower bound
/// `<= U`; those candidates (usually exactly `k`) get exact distances, and the `k`-th of
/// them is the radius.
pub(crate) fn kth_nn_sq_radii(x: &Centred, k: usize, tile: usize) -> Vec<f64> {
    let t = x.sq_distance_bound();
    let norms = x.sq_norms();
    // Upper bound of row i, column j: (1 + t) |x_i|^2 + [(1 + t) |x_j|^2 - 2 g_ij].
    let upper_col: Vec<f64> = norms.iter().map(|n| (1.0 + t) * n).collect();
    let max_norm = norms.iter().copied().fold(0.0, f64::max);
    let per_tile = map_tiles(x, x, tile, false, |tile| {
        let mut smallest = Smallest::new(k);
        let (mut upper, mut candidates) = (Vec::new(), Vec::new());
        let mut radii = Vec::with_capacity(tile.rows());
        for r in 0..tile.rows() {
            let i = tile.i0 + r;
            minus_twice(&mut upper, &upper_col, tile.row(r));
            upper[i] = f64::INFINITY; // not its own neighbour
                                      // Both bounds below leave out the same (1 + t) |x_i|^2, so they compare as they are.
            let kth = smallest.kth_of(&upper);
            // The lower bound is the upper one less 2 t (|x_i|^2 + |x_j|^2).
            candidates.clear();
            let lower_margin = 2.0 * t * norms[i];
            for (c, (us, ns)) in upper.chunks(CHUNK).zip(norms.chunks(CHUNK)).enumerate() {
                // Lower bounds are at least the upper ones less 2 t (|x_i|^2 + max |x_j|^2).
                if chunk_min(us) - lower_margin - 2.0 * t * max_norm > kth {
                    continue;
                }
                for (jc, (&u, &nj)) in us.iter().zip(ns).enumerate() {
                    let j = c * CHUNK + jc;
                    if u - 2.0 * t * (norms[i] + nj) <= kth && j != i {
                        candidates.push(x.exact_sq_distance(i, x, j));
                    }
                }
            }
            if candidates.len() < k {
                // Only NaN features get here (finite rows have finite bounds): rank all
                // exact distances, as the f64 loops did.
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
