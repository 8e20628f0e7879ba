//! Gram matrices of feature sets through agon-tensor's `f32` sgemm, a tile of rows at a
//! time, for the kernel and k-NN scores.
//!
//! Each tile is `rows x m` dot products `a_i . b_j` (one [`sgemm`] call) that the caller
//! reduces at once (kernel sums, k-th neighbours, counts), so the full `n x m` matrix never
//! exists. Tiles run in parallel on rayon; their height depends only on `m`, never on the
//! number of threads, and their results come back in tile order, so every reduction
//! performs the same operations in the same order on 1 or 16 threads.
//!
//! Precision: the features are `f32` already, so the only `f32` rounding is in the shifted
//! copy and the products' sums. Rows are shifted by a common centre (the mean of all sets
//! involved) before the products, which keeps `|x|^2 + |y|^2 - 2 x . y` from cancelling
//! when the features share a large offset (ReLU features do); the centre's contribution to
//! a dot product is added back in `f64` ([`Centred::offsets`]). Distances carry an error
//! bound ([`Centred::sq_distance_bound`]) so that the k-NN scores can settle the rare close
//! comparisons with an exact `f64` distance ([`Centred::exact_sq_distance`]).

use agon_tensor::gemm::{sgemm, MatMut, MatRef};
use agon_tensor::NdArray;
use rayon::prelude::*;

/// Dot products per tile: 4 Mi `f32` (16 MiB), a tile of 419 rows against 10,000 columns.
/// Large enough that each sgemm call amortises packing the right operand, small enough
/// that a few tiles in flight stay far below the 400 MB of a 10,000 x 10,000 matrix.
const TILE_VALUES: usize = 1 << 22;

/// The tile height for `m` columns (at most 1,024 rows, at least 16).
pub(crate) fn tile_rows(m: usize) -> usize {
    (TILE_VALUES / m.max(1)).clamp(16, 1024)
}

/// A feature set `[rows, cols]` prepared for Gram tiles: the rows shifted by a centre and
/// rounded to `f32`, with the per-row `f64` terms that undo the shift.
#[derive(Clone, Debug)]
pub(crate) struct Centred {
    rows: usize,
    cols: usize,
    /// The original rows, row-major, for exact distances.
    raw: Vec<f32>,
    /// `x - centre` rounded to `f32`, row-major: the sgemm operand.
    shifted: Vec<f32>,
    /// `|x - centre|^2` of the `f32` shifted rows, in `f64`.
    sq_norms: Vec<f64>,
    /// `x . centre - |centre|^2 / 2`, so that `x . y = (x - c) . (y - c) + off_x + off_y`.
    offsets: Vec<f64>,
}

/// The mean of the rows of all `sets` together (each `[n_i, d]`, the same `d`), in `f64`.
pub(crate) fn union_mean(sets: &[&NdArray]) -> Vec<f64> {
    let d = sets[0].shape()[1];
    let mut sum = vec![0.0f64; d];
    let mut count = 0usize;
    for x in sets {
        let data = x.to_vec();
        for i in 0..x.shape()[0] {
            for (s, &v) in sum.iter_mut().zip(&data[i * d..(i + 1) * d]) {
                *s += f64::from(v);
            }
        }
        count += x.shape()[0];
    }
    sum.iter_mut().for_each(|s| *s /= count.max(1) as f64);
    sum
}

impl Centred {
    /// `x` (2-D, `[n, centre.len()]`) shifted by `centre`.
    pub(crate) fn new(x: &NdArray, centre: &[f64]) -> Self {
        Self::from_raw(x.to_vec(), x.shape()[0], centre)
    }

    fn from_raw(raw: Vec<f32>, rows: usize, centre: &[f64]) -> Self {
        let cols = centre.len();
        let half_c2 = 0.5 * centre.iter().map(|c| c * c).sum::<f64>();
        let mut shifted = Vec::with_capacity(raw.len());
        let mut sq_norms = Vec::with_capacity(rows);
        let mut offsets = Vec::with_capacity(rows);
        for i in 0..rows {
            let row = &raw[i * cols..(i + 1) * cols];
            let (mut norm, mut dot_c) = (0.0, 0.0);
            for (&v, &c) in row.iter().zip(centre) {
                let s = (f64::from(v) - c) as f32;
                shifted.push(s);
                norm += f64::from(s) * f64::from(s);
                dot_c += f64::from(v) * c;
            }
            sq_norms.push(norm);
            offsets.push(dot_c - half_c2);
        }
        Centred {
            rows,
            cols,
            raw,
            shifted,
            sq_norms,
            offsets,
        }
    }

    /// The rows `idx` (in that order), with the same centre.
    pub(crate) fn select(&self, idx: impl Iterator<Item = usize>) -> Self {
        let d = self.cols;
        let mut out = Centred {
            rows: 0,
            cols: d,
            raw: Vec::new(),
            shifted: Vec::new(),
            sq_norms: Vec::new(),
            offsets: Vec::new(),
        };
        for i in idx {
            out.raw.extend_from_slice(&self.raw[i * d..(i + 1) * d]);
            out.shifted
                .extend_from_slice(&self.shifted[i * d..(i + 1) * d]);
            out.sq_norms.push(self.sq_norms[i]);
            out.offsets.push(self.offsets[i]);
            out.rows += 1;
        }
        out
    }

    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Row width.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// `|x_i - c|^2` per row.
    pub(crate) fn sq_norms(&self) -> &[f64] {
        &self.sq_norms
    }

    /// `x_i . c - |c|^2 / 2` per row.
    pub(crate) fn offsets(&self) -> &[f64] {
        &self.offsets
    }

    /// `|x_i - y_j|^2` from the original values in `f64`, as the `f64` loops computed it
    /// before (up to their rounding, about `1e-16` relative).
    pub(crate) fn exact_sq_distance(&self, i: usize, other: &Centred, j: usize) -> f64 {
        let d = self.cols;
        let (x, y) = (
            &self.raw[i * d..(i + 1) * d],
            &other.raw[j * d..(j + 1) * d],
        );
        x.iter()
            .zip(y)
            .map(|(&a, &b)| {
                let t = f64::from(a) - f64::from(b);
                t * t
            })
            .sum()
    }

    /// `t` such that a squared distance from a tile, `|x|^2 + |y|^2 - 2 g` (clamped at 0),
    /// is within `t * (|x - c|^2 + |y - c|^2)` of the exact one.
    ///
    /// The sgemm's sum of `d` products errs by at most `d u |x - c| |y - c|` for unit
    /// roundoff `u = 2^-24`, whatever its summation order; rounding the shifted rows to
    /// `f32` moves a squared distance by at most `4 u (|x - c|^2 + |y - c|^2)`. The rest
    /// is `f64` rounding; 16 more `u` cover it with room to spare.
    pub(crate) fn sq_distance_bound(&self) -> f64 {
        (self.cols as f64 + 16.0) * f64::from(f32::EPSILON) / 2.0
    }
}

/// A block of dot products between rows `i0..i0 + rows` of one set and rows
/// `j0..j0 + cols` of another, row-major `[rows, cols]`, as `f32` from the shifted rows.
pub(crate) struct GramTile<'a> {
    /// First row of the left set.
    pub(crate) i0: usize,
    /// First row of the right set (column 0 of the tile).
    pub(crate) j0: usize,
    /// Number of columns.
    pub(crate) cols: usize,
    /// The dot products `(x_i - c) . (y_j - c)`.
    pub(crate) data: &'a [f32],
}

impl GramTile<'_> {
    /// The dot products of row `i0 + r` of the left set with the tile's columns.
    pub(crate) fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.data.len() / self.cols.max(1)
    }
}

/// Computes the Gram matrix of `a` against `b` in tiles of `tile_rows` rows of `a` and
/// returns `reduce(tile)` for each, in tile order. With `upper`, `a` and `b` are the same
/// set and a tile starting at row `i0` holds only columns `i0..`: enough for sums over
/// `i < j`, at about half the products.
pub(crate) fn map_tiles<R: Send>(
    a: &Centred,
    b: &Centred,
    tile_rows: usize,
    upper: bool,
    reduce: impl Fn(&GramTile<'_>) -> R + Sync,
) -> Vec<R> {
    assert_eq!(a.cols, b.cols, "Gram tiles: rows of different widths");
    let (n, m, d) = (a.rows, b.rows, a.cols);
    let starts: Vec<usize> = (0..n).step_by(tile_rows.max(1)).collect();
    starts
        .into_par_iter()
        // One buffer per rayon job, reused across its tiles: zero-filling 16 MiB per tile
        // cost 5% of precision/recall, and sgemm with beta = 0 never reads it.
        .map_init(Vec::new, |data: &mut Vec<f32>, i0| {
            let rows = tile_rows.min(n - i0);
            let j0 = if upper { i0 } else { 0 };
            let cols = m - j0;
            data.resize(rows * cols, 0.0);
            if cols > 0 {
                sgemm(
                    1.0,
                    MatRef::new(&a.shifted, i0 * d, [rows, d], [d, 1]),
                    MatRef::new(&b.shifted, j0 * d, [cols, d], [d, 1]).t(),
                    0.0,
                    MatMut::row_major(data, rows, cols),
                );
            }
            reduce(&GramTile { i0, j0, cols, data })
        })
        .collect()
}
