//! Dense `f64` linear algebra for the scores, written in-house: a row-major [`Matrix`],
//! feature statistics ([`mean_cov`]), Gram matrices and blockwise pairwise distances,
//! a symmetric eigendecomposition ([`symmetric_eigen`], cyclic Jacobi) and the square root
//! of a positive semi-definite matrix through it ([`sqrtm_psd`]).
//!
//! Features arrive as `f32` ([`NdArray`]) and are widened to `f64` on entry: covariances of
//! thousands of samples and the cancellations inside the Fréchet distance and MMD need the
//! extra digits.
//!
//! ```
//! use agon_metrics::linalg::{sqrtm_psd, Matrix};
//! let m = Matrix::from_rows(&[&[4.0, 0.0], &[0.0, 9.0]]);
//! let r = sqrtm_psd(&m);
//! assert!((r.get(0, 0) - 2.0).abs() < 1e-12 && (r.get(1, 1) - 3.0).abs() < 1e-12);
//! ```

use agon_tensor::NdArray;

/// A dense row-major `rows x cols` matrix of `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The `n x n` identity.
    pub fn identity(n: usize) -> Self {
        let mut m = Matrix::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }

    /// Wraps row-major `data`.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    #[track_caller]
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "Matrix::from_vec: {rows}x{cols} needs {} values, got {}",
            rows * cols,
            data.len()
        );
        Matrix { rows, cols, data }
    }

    /// A matrix from its rows.
    ///
    /// ```
    /// let m = agon_metrics::linalg::Matrix::from_rows(&[&[1.0, 2.0], &[3.0, 4.0]]);
    /// assert_eq!((m.rows(), m.cols(), m.get(1, 0)), (2, 2, 3.0));
    /// ```
    ///
    /// # Panics
    /// If the rows differ in length.
    #[track_caller]
    pub fn from_rows(rows: &[&[f64]]) -> Self {
        let cols = rows.first().map_or(0, |r| r.len());
        assert!(
            rows.iter().all(|r| r.len() == cols),
            "Matrix::from_rows: rows of different lengths"
        );
        Matrix {
            rows: rows.len(),
            cols,
            data: rows.concat(),
        }
    }

    /// The 2-D `f32` array `x` widened to `f64`.
    ///
    /// # Panics
    /// If `x` is not 2-D.
    #[track_caller]
    pub fn from_ndarray(x: &NdArray) -> Self {
        assert_eq!(
            x.ndim(),
            2,
            "Matrix::from_ndarray: need a 2-D array [N, D], got shape {:?}",
            x.shape()
        );
        let (rows, cols) = (x.shape()[0], x.shape()[1]);
        Matrix {
            rows,
            cols,
            data: x.to_vec().into_iter().map(f64::from).collect(),
        }
    }

    /// Rounds to an `f32` [`NdArray`] of shape `[rows, cols]`.
    pub fn to_ndarray(&self) -> NdArray {
        let data = self.data.iter().map(|&v| v as f32).collect();
        NdArray::from_vec(data, &[self.rows, self.cols]).expect("rows * cols values")
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The values, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// Row `i`.
    #[track_caller]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element `(i, j)`.
    #[track_caller]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            i < self.rows && j < self.cols,
            "Matrix::get: ({i}, {j}) outside {}x{}",
            self.rows,
            self.cols
        );
        self.data[i * self.cols + j]
    }

    /// Sets element `(i, j)`.
    #[track_caller]
    pub fn set(&mut self, i: usize, j: usize, value: f64) {
        assert!(
            i < self.rows && j < self.cols,
            "Matrix::set: ({i}, {j}) outside {}x{}",
            self.rows,
            self.cols
        );
        self.data[i * self.cols + j] = value;
    }

    /// The transpose (a copy).
    pub fn t(&self) -> Matrix {
        let mut out = Matrix::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                out.data[j * self.rows + i] = self.data[i * self.cols + j];
            }
        }
        out
    }

    /// The product `self @ other`.
    ///
    /// # Panics
    /// If the inner dimensions differ.
    #[track_caller]
    pub fn matmul(&self, other: &Matrix) -> Matrix {
        assert_eq!(
            self.cols, other.rows,
            "Matrix::matmul: {}x{} @ {}x{}: inner dimensions differ",
            self.rows, self.cols, other.rows, other.cols
        );
        gram(self, &other.t())
    }

    /// The sum of the diagonal.
    ///
    /// # Panics
    /// If the matrix is not square.
    #[track_caller]
    pub fn trace(&self) -> f64 {
        self.assert_square("trace");
        (0..self.rows).map(|i| self.data[i * self.cols + i]).sum()
    }

    /// `(self + self^T) / 2`: removes the rounding asymmetry of products such as `S C S`.
    ///
    /// # Panics
    /// If the matrix is not square.
    #[track_caller]
    pub fn symmetrized(&self) -> Matrix {
        self.assert_square("symmetrized");
        let n = self.rows;
        Matrix::from_fn(n, n, |i, j| {
            0.5 * (self.data[i * n + j] + self.data[j * n + i])
        })
    }

    /// A matrix whose `(i, j)` element is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// The largest absolute elementwise difference to `other` (same shape).
    ///
    /// # Panics
    /// If the shapes differ.
    #[track_caller]
    pub fn max_abs_diff(&self, other: &Matrix) -> f64 {
        assert_eq!(
            (self.rows, self.cols),
            (other.rows, other.cols),
            "Matrix::max_abs_diff: shapes differ"
        );
        self.data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }

    #[track_caller]
    fn assert_square(&self, op: &str) {
        assert_eq!(
            self.rows, self.cols,
            "Matrix::{op}: need a square matrix, got {}x{}",
            self.rows, self.cols
        );
    }
}

/// Columns of the transposed right operand processed per tile in [`gram`]: the tile
/// (`d x TILE_BYTES / (8 d)` values) stays in a 256 KiB L2 cache while the rows of the left
/// operand sweep it. Larger tiles spill to L3, smaller ones shorten the vectorised loop.
const TILE_BYTES: usize = 256 * 1024;

/// `c[j] += a * b[j]` over a tile: the vectorised inner loop of [`gram`].
fn axpy(c: &mut [f64], a: f64, b: &[f64]) {
    for (cj, &bj) in c.iter_mut().zip(b) {
        *cj += a * bj;
    }
}

/// Four rows at once: each loaded `b[j]` feeds four products, quartering cache traffic.
/// Every `c` element still sums its products in the order of `k`, exactly as [`axpy`].
fn axpy4(c: [&mut [f64]; 4], a: [f64; 4], b: &[f64]) {
    let [c0, c1, c2, c3] = c;
    let it = c0
        .iter_mut()
        .zip(c1.iter_mut())
        .zip(c2.iter_mut())
        .zip(c3.iter_mut());
    for ((((x0, x1), x2), x3), &bj) in it.zip(b) {
        *x0 += a[0] * bj;
        *x1 += a[1] * bj;
        *x2 += a[2] * bj;
        *x3 += a[3] * bj;
    }
}

/// The Gram matrix `a @ b^T`: element `(i, j)` is the dot product of row `i` of `a` and row
/// `j` of `b` (`a` is `[n, d]`, `b` is `[m, d]`, the result `[n, m]`).
///
/// `O(n m d)`, about 4 G multiply-adds per second on one core (portable SSE2 `f64`): `b` is transposed once, then for each
/// tile of its columns, groups of four rows of `a` accumulate `a[i][k] * b^T[k][tile]`
/// over `k` with a vectorised axpy (no reassociated sums, so every element is the same
/// left-to-right sum over `k` whatever the grouping).
///
/// ```
/// use agon_metrics::linalg::{gram, Matrix};
/// let a = Matrix::from_rows(&[&[1.0, 2.0], &[3.0, 4.0]]);
/// let g = gram(&a, &a);
/// assert_eq!(g.as_slice(), &[5.0, 11.0, 11.0, 25.0]);
/// ```
///
/// # Panics
/// If `a` and `b` differ in their number of columns.
#[track_caller]
pub fn gram(a: &Matrix, b: &Matrix) -> Matrix {
    assert_eq!(
        a.cols, b.cols,
        "gram: rows of a ({}x{}) and b ({}x{}) differ in length",
        a.rows, a.cols, b.rows, b.cols
    );
    let (n, m, d) = (a.rows, b.rows, a.cols);
    let bt = b.t(); // [d, m]
    let mut c = Matrix::zeros(n, m);
    if m == 0 {
        return c;
    }
    let tile = (TILE_BYTES / (8 * d.max(1))).clamp(16, 4096);
    for j0 in (0..m).step_by(tile) {
        let j1 = (j0 + tile).min(m);
        for (g, rows) in c.data.chunks_mut(4 * m).enumerate() {
            let i0 = 4 * g;
            if rows.len() == 4 * m {
                let (r0, rest) = rows.split_at_mut(m);
                let (r1, rest) = rest.split_at_mut(m);
                let (r2, r3) = rest.split_at_mut(m);
                let (c0, c1) = (&mut r0[j0..j1], &mut r1[j0..j1]);
                let (c2, c3) = (&mut r2[j0..j1], &mut r3[j0..j1]);
                for k in 0..d {
                    let av = [0, 1, 2, 3].map(|r| a.data[(i0 + r) * d + k]);
                    axpy4(
                        [&mut *c0, &mut *c1, &mut *c2, &mut *c3],
                        av,
                        &bt.data[k * m + j0..k * m + j1],
                    );
                }
            } else {
                for (r, row) in rows.chunks_exact_mut(m).enumerate() {
                    let crow = &mut row[j0..j1];
                    for (k, &aik) in a.row(i0 + r).iter().enumerate() {
                        axpy(crow, aik, &bt.data[k * m + j0..k * m + j1]);
                    }
                }
            }
        }
    }
    c
}

/// Rows of the left operand per block in [`for_each_sq_distance_block`]: blocks of
/// `rows x m` distances stay near 32 MiB whatever `m` is.
const BLOCK_VALUES: usize = 1 << 22;

/// Squared Euclidean distances between the rows of `a` (`[n, d]`) and `b` (`[m, d]`),
/// computed block by block as `|a_i|^2 + |b_j|^2 - 2 a_i . b_j` (a [`gram`] per block) and
/// handed to `f(first_row, block)`, where `block` is `[rows, m]` for rows
/// `first_row..first_row + rows` of `a`. Memory stays bounded (about 32 MiB per block) for
/// any `n`.
///
/// Distances are translation invariant, but the expansion cancels badly when the points
/// sit far from the origin, so both sets are first shifted by the mean of `a`; negative
/// results of rounding are clamped to 0.
///
/// ```
/// use agon_metrics::linalg::{for_each_sq_distance_block, Matrix};
/// let a = Matrix::from_rows(&[&[0.0, 0.0], &[3.0, 4.0]]);
/// let mut all = Vec::new();
/// for_each_sq_distance_block(&a, &a, |_, block| all.extend_from_slice(block.as_slice()));
/// assert_eq!(all, [0.0, 25.0, 25.0, 0.0]);
/// ```
///
/// # Panics
/// If the rows of `a` and `b` differ in length.
#[track_caller]
pub fn for_each_sq_distance_block(a: &Matrix, b: &Matrix, mut f: impl FnMut(usize, &Matrix)) {
    assert_eq!(
        a.cols, b.cols,
        "pairwise distances: rows of a ({}x{}) and b ({}x{}) differ in length",
        a.rows, a.cols, b.rows, b.cols
    );
    let (n, m, d) = (a.rows, b.rows, a.cols);
    let centre = column_means(a);
    let shift = |x: &Matrix| Matrix::from_fn(x.rows, d, |i, j| x.data[i * d + j] - centre[j]);
    let (a, b) = (shift(a), shift(b));
    let sq_norms = |x: &Matrix| -> Vec<f64> {
        (0..x.rows)
            .map(|i| x.row(i).iter().map(|v| v * v).sum())
            .collect()
    };
    let (na, nb) = (sq_norms(&a), sq_norms(&b));
    let rows_per_block = (BLOCK_VALUES / m.max(1)).max(1);
    for i0 in (0..n).step_by(rows_per_block) {
        let i1 = (i0 + rows_per_block).min(n);
        let block_a = Matrix::from_vec(i1 - i0, d, a.data[i0 * d..i1 * d].to_vec());
        let mut block = gram(&block_a, &b);
        for r in 0..i1 - i0 {
            for (j, v) in block.data[r * m..(r + 1) * m].iter_mut().enumerate() {
                *v = (na[i0 + r] + nb[j] - 2.0 * *v).max(0.0);
            }
        }
        f(i0, &block);
    }
}

/// The mean of each column.
fn column_means(x: &Matrix) -> Vec<f64> {
    let mut mean = vec![0.0; x.cols];
    for i in 0..x.rows {
        for (m, v) in mean.iter_mut().zip(x.row(i)) {
            *m += v;
        }
    }
    let n = x.rows.max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

/// The mean `[D]` and covariance `[D, D]` of the rows of `features` (`[N, D]`), in `f64`.
///
/// The covariance is the unbiased sample covariance (divisor `N - 1`), as `numpy.cov`
/// (`rowvar=False`) and the reference FID implementations compute it. `O(N D^2)`.
///
/// ```
/// use agon_tensor::NdArray;
/// let x = NdArray::from_vec(vec![0.0, 0.0, 2.0, 4.0], &[2, 2]).unwrap();
/// let (mean, cov) = agon_metrics::linalg::mean_cov(&x);
/// assert_eq!(mean, [1.0, 2.0]);
/// assert_eq!(cov.as_slice(), &[2.0, 4.0, 4.0, 8.0]);
/// ```
///
/// # Panics
/// If `features` is not 2-D or has fewer than 2 rows.
#[track_caller]
pub fn mean_cov(features: &NdArray) -> (Vec<f64>, Matrix) {
    let x = Matrix::from_ndarray(features);
    assert!(
        x.rows >= 2,
        "mean_cov: a covariance needs at least 2 samples, got shape {:?}",
        features.shape()
    );
    let mean = column_means(&x);
    let d = x.cols;
    let centred_t = Matrix::from_fn(d, x.rows, |j, i| x.data[i * d + j] - mean[j]);
    let mut cov = gram(&centred_t, &centred_t);
    let denom = (x.rows - 1) as f64;
    cov.data.iter_mut().for_each(|v| *v /= denom);
    (mean, cov)
}

/// Eigenvalues (ascending) and orthonormal eigenvectors (the columns of `vectors`) of a
/// symmetric matrix: `A = V diag(values) V^T`.
#[derive(Clone, Debug)]
pub struct SymmetricEigen {
    /// The eigenvalues, ascending.
    pub values: Vec<f64>,
    /// The eigenvectors as columns, in the order of `values`.
    pub vectors: Matrix,
}

/// Sweeps after which [`symmetric_eigen`] gives up refining; cyclic Jacobi converges
/// quadratically and needs about 6-12 sweeps for the sizes here.
const MAX_SWEEPS: usize = 64;

/// The eigendecomposition of a symmetric matrix by the cyclic Jacobi method.
///
/// Each sweep applies a plane rotation to every off-diagonal pair `(p, q)`, zeroing it;
/// the off-diagonal mass falls quadratically once small, and sweeps stop when it is below
/// `1e-15` of the matrix's Frobenius norm. Jacobi is slower than tridiagonalisation plus
/// QR but simple and accurate (eigenvalues to high *relative* accuracy, vectors orthogonal
/// to rounding). Complexity: `O(n^3)` per sweep (n^2 / 2 rotations of `O(n)` each) and a
/// handful of sweeps, so about `10 * 3 n^3` flops: milliseconds for the feature widths of
/// these scores (`n` up to 256), too slow beyond a few thousand.
///
/// The input is symmetrised (`(A + A^T) / 2`) first.
///
/// ```
/// use agon_metrics::linalg::{symmetric_eigen, Matrix};
/// let a = Matrix::from_rows(&[&[2.0, 1.0], &[1.0, 2.0]]);
/// let e = symmetric_eigen(&a);
/// assert!((e.values[0] - 1.0).abs() < 1e-12 && (e.values[1] - 3.0).abs() < 1e-12);
/// ```
///
/// # Panics
/// If `a` is not square.
#[track_caller]
pub fn symmetric_eigen(a: &Matrix) -> SymmetricEigen {
    let mut a = a.symmetrized();
    let n = a.rows;
    let mut v = Matrix::identity(n);
    let frob = a.data.iter().map(|x| x * x).sum::<f64>().sqrt();
    for sweep in 0..MAX_SWEEPS {
        let off: f64 = (0..n)
            .flat_map(|p| (p + 1..n).map(move |q| (p, q)))
            .map(|(p, q)| a.data[p * n + q].powi(2))
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * frob {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a.data[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a.data[p * n + p], a.data[q * n + q]);
                // After a few sweeps, an element negligible beside both diagonal entries is
                // set to zero instead of rotated (Rutishauser's rule): rotating it would
                // change nothing, and chasing rounding noise would stall the sweeps.
                let tiny = 100.0 * apq.abs();
                if sweep > 3 && app.abs() + tiny == app.abs() && aqq.abs() + tiny == aqq.abs() {
                    a.data[p * n + q] = 0.0;
                    a.data[q * n + p] = 0.0;
                    continue;
                }
                // The rotation angle zeroing (p, q): t = tan(phi) is the smaller root of
                // t^2 + 2 theta t - 1 = 0, so |phi| <= pi / 4 (stable).
                let theta = (aqq - app) / (2.0 * apq);
                let t = if theta.abs() > 1e150 {
                    0.5 / theta
                } else {
                    theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A <- A J (columns p, q), then A <- J^T A (rows p, q); V <- V J.
                for k in 0..n {
                    let (akp, akq) = (a.data[k * n + p], a.data[k * n + q]);
                    a.data[k * n + p] = c * akp - s * akq;
                    a.data[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a.data[p * n + k], a.data[q * n + k]);
                    a.data[p * n + k] = c * apk - s * aqk;
                    a.data[q * n + k] = s * apk + c * aqk;
                }
                a.data[p * n + q] = 0.0;
                a.data[q * n + p] = 0.0;
                for k in 0..n {
                    let (vkp, vkq) = (v.data[k * n + p], v.data[k * n + q]);
                    v.data[k * n + p] = c * vkp - s * vkq;
                    v.data[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a.data[i * n + i].total_cmp(&a.data[j * n + j]));
    let values = order.iter().map(|&i| a.data[i * n + i]).collect();
    let vectors = Matrix::from_fn(n, n, |r, c| v.data[r * n + order[c]]);
    SymmetricEigen { values, vectors }
}

/// Square roots of the eigenvalues of a PSD matrix, with those at rounding level set to 0.
///
/// An eigenvalue that should be 0 (a singular covariance) comes out of any
/// eigendecomposition as noise of order `n * eps * max |lambda|`, and its square root,
/// `sqrt(n * eps) ~ 1e-7` of the scale, would be far larger than the rounding of everything
/// else. So eigenvalues below `n * eps * max |lambda|` (the usual rank tolerance, as in
/// `numpy.linalg.matrix_rank`), negative ones included, count as 0. A genuine eigenvalue that
/// small is below what the input's own rounding can resolve.
pub fn psd_roots(values: &[f64]) -> Vec<f64> {
    let scale = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = values.len() as f64 * f64::EPSILON * scale;
    values
        .iter()
        .map(|&l| if l > tol { l.sqrt() } else { 0.0 })
        .collect()
}

/// The principal square root of a symmetric positive semi-definite matrix:
/// `V diag(sqrt(max(lambda, 0))) V^T` from [`symmetric_eigen`], so `sqrtm_psd(M)^2 = M`.
///
/// Eigenvalues at rounding level, or that rounding made slightly negative (a covariance of
/// fewer samples than dimensions is singular), are taken as 0 ([`psd_roots`]). The result
/// is symmetric PSD. `O(n^3)`.
///
/// ```
/// use agon_metrics::linalg::{sqrtm_psd, Matrix};
/// let m = Matrix::from_rows(&[&[5.0, 4.0], &[4.0, 5.0]]); // eigenvalues 1 and 9
/// let r = sqrtm_psd(&m);
/// assert!(r.matmul(&r).max_abs_diff(&m) < 1e-12);
/// ```
///
/// # Panics
/// If `m` is not square.
#[track_caller]
pub fn sqrtm_psd(m: &Matrix) -> Matrix {
    let e = symmetric_eigen(m);
    let n = m.rows;
    let roots = psd_roots(&e.values);
    // V diag(r) V^T = (V diag(sqrt r)) (V diag(sqrt r))^T would need sqrt(sqrt); scale V's
    // columns by r and multiply by V^T instead.
    let scaled = Matrix::from_fn(n, n, |i, j| e.vectors.data[i * n + j] * roots[j]);
    gram(&scaled, &e.vectors).symmetrized()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(rows: usize, cols: usize, seed: u64) -> Matrix {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        Matrix::from_fn(rows, cols, |_, _| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
    }

    #[test]
    fn gram_matches_naive_across_tiles() {
        // d = 2048 makes the tile 16 columns wide, so 40 columns span three tiles.
        for (n, m, d) in [(3, 40, 2048), (7, 5, 3), (1, 1, 1), (0, 4, 2)] {
            let (a, b) = (pseudo_random(n, d, 1), pseudo_random(m, d, 2));
            let g = gram(&a, &b);
            for i in 0..n {
                for j in 0..m {
                    let want: f64 = a.row(i).iter().zip(b.row(j)).map(|(x, y)| x * y).sum();
                    assert!((g.get(i, j) - want).abs() < 1e-12 * d as f64);
                }
            }
        }
    }

    #[test]
    fn distance_blocks_cover_every_row_once() {
        // 2,100 x 2,000 distances: blocks of 2,097 rows, so two blocks.
        let (a, b) = (pseudo_random(2100, 3, 3), pseudo_random(2000, 3, 4));
        let mut seen = vec![0usize; a.rows()];
        for_each_sq_distance_block(&a, &b, |i0, block| {
            assert_eq!(block.cols(), b.rows());
            for r in 0..block.rows() {
                seen[i0 + r] += 1;
                for j in (0..b.rows()).step_by(97) {
                    let want: f64 = a
                        .row(i0 + r)
                        .iter()
                        .zip(b.row(j))
                        .map(|(x, y)| (x - y) * (x - y))
                        .sum();
                    assert!((block.get(r, j) - want).abs() < 1e-12);
                }
            }
        });
        assert!(seen.iter().all(|&s| s == 1));
    }

    #[test]
    fn jacobi_on_a_256_wide_covariance() {
        let x = pseudo_random(300, 256, 5);
        let xt = x.t();
        let cov = gram(&xt, &xt);
        let e = symmetric_eigen(&cov);
        let v = &e.vectors;
        let scale = cov.as_slice().iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scaled = Matrix::from_fn(256, 256, |i, j| v.get(i, j) * e.values[j]);
        assert!(gram(&scaled, v).max_abs_diff(&cov) < 1e-11 * scale);
        assert!(gram(&v.t(), &v.t()).max_abs_diff(&Matrix::identity(256)) < 1e-12);
    }
}
