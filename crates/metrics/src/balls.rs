//! Counts of points inside k-NN balls, from Gram tiles: the membership tests of
//! precision/recall and density/coverage.
//!
//! With `s = |q_i|^2 + |c_j|^2` and `g` the shifted dot product, a pair is *surely*
//! inside a ball of squared radius `r` when the distance's upper bound `(1 + t) s - 2 g`
//! is below `r`, and *possibly* inside when its lower bound `(1 - t) s - 2 g` is
//! ([`Centred::sq_distance_bound`]). Both tests read `2 g - col_j > row_i` with per-column
//! and per-row constants, so a tile row or column is tested in one vectorised pass; only
//! the pairs possibly but not surely inside get an exact `f64` distance
//! ([`Centred::exact_sq_distance`]).

use crate::gram::{map_tiles, Centred, GramTile};
use crate::knn::CHUNK;

/// Squared radii of the balls: indexed by the tile's column (a ball around each centre)
/// or by its row (a ball around each query).
#[derive(Clone, Copy)]
pub(crate) enum Radii<'a> {
    /// `radius(i, j) = r[j]`.
    PerCentre(&'a [f64]),
    /// `radius(i, j) = r[i]`.
    PerQuery(&'a [f64]),
}

impl Radii<'_> {
    fn of(self, i: usize, j: usize) -> f64 {
        match self {
            Radii::PerCentre(r) => r[j],
            Radii::PerQuery(r) => r[i],
        }
    }
}

/// The constants of the sure and possible tests for queries (tile rows) against centres
/// (tile columns): `2 g_ij - sure_col[j] > sure_row[i]` and the same with `maybe_*`.
struct Bounds {
    sure_col: Vec<f64>,
    maybe_col: Vec<f64>,
    sure_row: Vec<f64>,
    maybe_row: Vec<f64>,
}

impl Bounds {
    fn new(queries: &Centred, centres: &Centred, radii: Radii<'_>) -> Self {
        let t = queries.sq_distance_bound();
        let (nq, nc) = (queries.sq_norms(), centres.sq_norms());
        // The radius joins whichever side it is indexed by.
        let side = |norms: &[f64], f: f64, r: Option<&[f64]>| -> Vec<f64> {
            match r {
                Some(r) => norms.iter().zip(r).map(|(n, r)| f * n - r).collect(),
                None => norms.iter().map(|n| f * n).collect(),
            }
        };
        let (rc, rq) = match radii {
            Radii::PerCentre(r) => (Some(r), None),
            Radii::PerQuery(r) => (None, Some(r)),
        };
        // f * n rounds monotonically in f, so sure_col <= maybe_col and
        // sure_row >= maybe_row elementwise: every pair surely inside is possibly inside.
        Bounds {
            sure_col: side(nc, 1.0 + t, rc),
            maybe_col: side(nc, 1.0 - t, rc),
            sure_row: side(nq, 1.0 + t, rq),
            maybe_row: side(nq, 1.0 - t, rq),
        }
    }

    /// Pair `(i, j)` possibly but not surely inside, given `twice = 2 g_ij`.
    fn open(&self, i: usize, j: usize, twice: f64) -> bool {
        twice - self.maybe_col[j] > self.maybe_row[i]
            && twice - self.sure_col[j] <= self.sure_row[i]
    }
}

/// How many `j` of a tile row (query `i`) are surely and possibly inside, in one
/// vectorised pass by chunks that stops once `cap` are surely inside. NaN is outside.
fn count_sure_maybe(b: &Bounds, i: usize, g: &[f32], cap: usize) -> (usize, usize) {
    let (sure_row, maybe_row) = (b.sure_row[i], b.maybe_row[i]);
    let (mut sure, mut maybe) = (0, 0);
    let chunks = g
        .chunks(8 * CHUNK)
        .zip(b.sure_col.chunks(8 * CHUNK))
        .zip(b.maybe_col.chunks(8 * CHUNK));
    for ((g, sc), mc) in chunks {
        for ((&g, &s), &m) in g.iter().zip(sc).zip(mc) {
            let twice = 2.0 * f64::from(g);
            sure += usize::from(twice - s > sure_row);
            maybe += usize::from(twice - m > maybe_row);
        }
        if sure >= cap {
            break;
        }
    }
    (sure, maybe)
}

/// `sum_i min(cap, #{j inside})` over the rows of one tile.
fn row_counts(
    b: &Bounds,
    tile: &GramTile<'_>,
    (queries, centres): (&Centred, &Centred),
    cap: usize,
    radii: Radii<'_>,
) -> usize {
    let mut total = 0;
    for r in 0..tile.rows() {
        let (i, g) = (tile.i0 + r, tile.row(r));
        let (sure, maybe) = count_sure_maybe(b, i, g, cap);
        // Every pair surely inside is possibly inside: equal counts leave none open.
        if sure >= cap || maybe == sure {
            total += sure.min(cap);
            continue;
        }
        let mut count = sure;
        for (j, &gj) in g.iter().enumerate() {
            if b.open(i, j, 2.0 * f64::from(gj))
                && queries.exact_sq_distance(i, centres, j) < radii.of(i, j)
            {
                count += 1;
                if count == cap {
                    break;
                }
            }
        }
        total += count;
    }
    total
}

/// For each column `j` of one tile: whether some row of the tile is inside its ball.
fn column_hits(
    b: &Bounds,
    tile: &GramTile<'_>,
    (queries, centres): (&Centred, &Centred),
    radii: Radii<'_>,
) -> Vec<bool> {
    let m = tile.cols;
    let (mut sure, mut maybe) = (vec![false; m], vec![false; m]);
    for r in 0..tile.rows() {
        let i = tile.i0 + r;
        let (sure_row, maybe_row) = (b.sure_row[i], b.maybe_row[i]);
        let cols = sure.iter_mut().zip(maybe.iter_mut());
        for ((s, p), ((&g, &sc), &mc)) in
            cols.zip(tile.row(r).iter().zip(&b.sure_col).zip(&b.maybe_col))
        {
            let twice = 2.0 * f64::from(g);
            *s |= twice - sc > sure_row;
            *p |= twice - mc > maybe_row;
        }
    }
    for j in 0..m {
        if !maybe[j] || sure[j] {
            continue;
        }
        sure[j] = (0..tile.rows()).any(|r| {
            let i = tile.i0 + r;
            b.open(i, j, 2.0 * f64::from(tile.row(r)[j]))
                && queries.exact_sq_distance(i, centres, j) < radii.of(i, j)
        });
    }
    sure
}

/// Two counts from one Gram pass of `queries` against `centres`, in tiles of `tile` rows:
/// `sum_i min(cap, #{j : |q_i - c_j|^2 < row_radii(i, j)})` over the queries (with
/// `cap = 1` the queries inside the union of balls; with `usize::MAX` all (query, ball)
/// pairs), and the number of centres `c_j` with some query at
/// `|q_i - c_j|^2 < col_radii(i, j)`. Precision and recall (or density and
/// coverage) read the same distances from both sides; one pass saves a Gram matrix.
pub(crate) fn count_both_ways(
    queries: &Centred,
    centres: &Centred,
    tile: usize,
    (cap, row_radii): (usize, Radii<'_>),
    col_radii: Radii<'_>,
) -> (usize, usize) {
    let rows = Bounds::new(queries, centres, row_radii);
    let cols = Bounds::new(queries, centres, col_radii);
    let sets = (queries, centres);
    let per_tile = map_tiles(queries, centres, tile, false, |t| {
        let count = row_counts(&rows, t, sets, cap, row_radii);
        (count, column_hits(&cols, t, sets, col_radii))
    });
    let mut hit = vec![false; centres.rows()];
    let mut count = 0;
    for (c, hits) in per_tile {
        count += c;
        hit.iter_mut().zip(hits).for_each(|(h, x)| *h |= x);
    }
    (count, hit.into_iter().filter(|&h| h).count())
}
