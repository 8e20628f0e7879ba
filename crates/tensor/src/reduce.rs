//! Reductions over any set of axes: sum, mean, var, max/min (with arg indices), and
//! `sum_to`, the adjoint of `broadcast_to`.
//!
//! Each output element reduces `r` input elements. Those are visited in logical order, in
//! chunks of [`REDUCE_CHUNK`]; each chunk is folded sequentially and the chunk partials are
//! combined in chunk order. Parallelism splits over output elements (many outputs) or over
//! chunks (few, long reductions) but never changes that arithmetic, so results are
//! bit-identical for any thread count. Sums accumulate in f64.

use rayon::prelude::*;

use crate::array::NdArray;
use crate::indices::Indices;
use crate::parallel::PAR_ELEMENTWISE_MIN;
use crate::strided::for_each_offsets;

/// Elements folded sequentially before partials are combined. Fixed (never derived from
/// the thread count) for determinism; 4096 keeps per-chunk overhead under 1% while giving a
/// long reduction (e.g. a 64x64x14x14 batch-norm channel, 12544 elements) several chunks.
const REDUCE_CHUNK: usize = 4096;

/// What one reduction needs: a per-element step and a combine for partials.
struct Fold<A, S, M> {
    init: A,
    step: S,
    merge: M,
}

impl NdArray {
    /// Validates `axes` and returns (kept-first permutation, output shape with keepdim,
    /// output shape without).
    #[track_caller]
    fn reduction_plan(&self, op: &str, axes: &[usize]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let mut reduced = vec![false; self.ndim()];
        for &a in axes {
            assert!(
                a < self.ndim() && !reduced[a],
                "{op}: axes {axes:?} are out of range or repeated for shape {:?}",
                self.shape()
            );
            reduced[a] = true;
        }
        let kept = (0..self.ndim()).filter(|&a| !reduced[a]);
        let perm: Vec<usize> = kept.clone().chain(axes.iter().copied()).collect();
        let keep_shape = (0..self.ndim())
            .map(|a| if reduced[a] { 1 } else { self.shape()[a] })
            .collect();
        let drop_shape = kept.map(|a| self.shape()[a]).collect();
        (perm, keep_shape, drop_shape)
    }

    /// Folds the reduced elements of every output position; returns one `A` per output.
    /// `perm` lists kept axes then the `n_reduced` reduced ones (from `reduction_plan`).
    fn fold_axes<A, S, M>(&self, perm: &[usize], n_reduced: usize, fold: Fold<A, S, M>) -> Vec<A>
    where
        A: Copy + Send + Sync,
        S: Fn(A, usize, f32) -> A + Sync,
        M: Fn(A, A) -> A + Sync,
    {
        let view = self.permute(perm);
        let n_kept = view.ndim() - n_reduced;
        let n_out: usize = view.shape()[..n_kept].iter().product();
        let r: usize = view.shape()[n_kept..].iter().product();
        let (shape, strides, base, data) =
            (view.shape(), view.strides(), view.offset(), self.storage());
        // Folds chunk `c` (elements c*CHUNK.. of the r) of output `i`.
        let chunk = |i: usize, c: usize| -> A {
            let start = c * REDUCE_CHUNK;
            let len = REDUCE_CHUNK.min(r - start);
            let mut acc = fold.init;
            let mut pos = start;
            for_each_offsets(shape, [strides], [base], i * r + start, len, |[o]| {
                acc = (fold.step)(acc, pos, data[o]);
                pos += 1;
            });
            acc
        };
        let n_chunks = r.div_ceil(REDUCE_CHUNK);
        let whole = |i: usize| -> A {
            (0..n_chunks)
                .map(|c| chunk(i, c))
                .fold(fold.init, |a, b| (fold.merge)(a, b))
        };
        let big = n_out * r >= PAR_ELEMENTWISE_MIN;
        if big && n_out >= n_chunks {
            (0..n_out).into_par_iter().map(whole).collect()
        } else if big {
            (0..n_out)
                .map(|i| {
                    let parts: Vec<A> =
                        (0..n_chunks).into_par_iter().map(|c| chunk(i, c)).collect();
                    parts.into_iter().fold(fold.init, |a, b| (fold.merge)(a, b))
                })
                .collect()
        } else {
            (0..n_out).map(whole).collect()
        }
    }

    /// Per-output f64 sums when the reduced axes are the leading `k` axes of a contiguous
    /// array (a bias gradient: `[N, C] -> [C]`): rows are added into a partial-sum row,
    /// which vectorises, instead of walking each output's column with a stride.
    ///
    /// The arithmetic is exactly `fold_axes`'s: each output adds its inputs in order within
    /// chunks of `REDUCE_CHUNK` rows, then adds the chunk partials in order. So the bits
    /// match the general path for any thread count.
    fn sum_leading_rows(&self, axes: &[usize]) -> Option<Vec<f64>> {
        let k = axes.len();
        let leading = axes.iter().enumerate().all(|(i, &a)| a == i);
        let data = self.as_slice()?;
        if !leading || k == 0 || k == self.ndim() {
            return None;
        }
        let r: usize = self.shape()[..k].iter().product();
        let n: usize = self.shape()[k..].iter().product();
        let mut total = vec![0.0f64; n];
        let mut partial = vec![0.0f64; n];
        for chunk in 0..r.div_ceil(REDUCE_CHUNK) {
            partial.iter_mut().for_each(|p| *p = 0.0);
            let rows = chunk * REDUCE_CHUNK..((chunk + 1) * REDUCE_CHUNK).min(r);
            for i in rows {
                for (p, &x) in partial.iter_mut().zip(&data[i * n..(i + 1) * n]) {
                    *p += x as f64;
                }
            }
            for (t, &p) in total.iter_mut().zip(&partial) {
                *t += p;
            }
        }
        Some(total)
    }

    /// f64 sums for each output of a reduction over `axes`.
    fn sums(&self, perm: &[usize], axes: &[usize]) -> Vec<f64> {
        // The row path is sequential; keep the general path's parallelism for big inputs.
        if self.numel() < PAR_ELEMENTWISE_MIN
            && let Some(s) = self.sum_leading_rows(axes)
        {
            return s;
        }
        self.fold_axes(
            perm,
            axes.len(),
            Fold {
                init: 0.0f64,
                step: |a, _, x| a + x as f64,
                merge: |a, b| a + b,
            },
        )
    }

    /// Sum over `axes` (`&[]` reduces nothing; see [`sum_all`](NdArray::sum_all)).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let a = NdArray::arange(0.0, 6.0, 1.0).reshape(&[2, 3]);
    /// assert_eq!(a.sum(&[1], false).to_vec(), vec![3.0, 12.0]);
    /// assert_eq!(a.sum(&[0], true).shape(), &[1, 3]);
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    #[track_caller]
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> NdArray {
        let (perm, keep, drop) = self.reduction_plan("sum", axes);
        let sums = self.sums(&perm, axes);
        let data = sums.into_iter().map(|s| s as f32).collect();
        NdArray::from_dense(data, if keepdim { &keep } else { &drop })
    }

    /// Sum of all elements, as a 0-d array.
    pub fn sum_all(&self) -> NdArray {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.sum(&axes, false)
    }

    /// Mean over `axes`.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    #[track_caller]
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> NdArray {
        let (perm, keep, drop) = self.reduction_plan("mean", axes);
        let n: usize = axes.iter().map(|&a| self.shape()[a]).product();
        let sums = self.sums(&perm, axes);
        let data = sums.into_iter().map(|s| (s / n as f64) as f32).collect();
        NdArray::from_dense(data, if keepdim { &keep } else { &drop })
    }

    /// Mean of all elements, as a 0-d array.
    pub fn mean_all(&self) -> NdArray {
        let axes: Vec<usize> = (0..self.ndim()).collect();
        self.mean(&axes, false)
    }

    /// Variance over `axes` with `correction` subtracted from the count in the divisor
    /// (0: population / biased, as BatchNorm's normalisation; 1: sample / unbiased, as
    /// `torch.var`'s default). Two passes (mean, then squared deviations) for accuracy.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let a = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]).unwrap();
    /// assert_eq!(a.var(&[0], false, 0).item(), 1.25);
    /// ```
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    #[track_caller]
    pub fn var(&self, axes: &[usize], keepdim: bool, correction: usize) -> NdArray {
        let (perm, keep, drop) = self.reduction_plan("var", axes);
        let n: usize = axes.iter().map(|&a| self.shape()[a]).product();
        let mean = self.mean(axes, true);
        let dev = self.sub(&mean);
        let sq = dev.fold_axes(
            &perm,
            axes.len(),
            Fold {
                init: 0.0f64,
                step: |a, _, x| a + (x as f64) * (x as f64),
                merge: |a, b| a + b,
            },
        );
        let denom = n.saturating_sub(correction) as f64;
        let data = sq.into_iter().map(|s| (s / denom) as f32).collect();
        NdArray::from_dense(data, if keepdim { &keep } else { &drop })
    }

    /// Maximum over `axes` (NaN wins, as in PyTorch).
    ///
    /// # Panics
    /// If an axis is out of range or repeated, or a reduced axis is empty.
    #[track_caller]
    pub fn max(&self, axes: &[usize], keepdim: bool) -> NdArray {
        self.extreme("max", axes, keepdim, true).0
    }

    /// Minimum over `axes` (NaN wins).
    ///
    /// # Panics
    /// If an axis is out of range or repeated, or a reduced axis is empty.
    #[track_caller]
    pub fn min(&self, axes: &[usize], keepdim: bool) -> NdArray {
        self.extreme("min", axes, keepdim, false).0
    }

    /// Maximum along one axis and where it is (the first occurrence), as `torch.max(dim)`.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let a = NdArray::from_vec(vec![1.0, 5.0, 2.0, 7.0, 0.0, 7.0], &[2, 3]).unwrap();
    /// let (v, i) = a.max_dim(1, false);
    /// assert_eq!(v.to_vec(), vec![5.0, 7.0]);
    /// assert_eq!(i.as_slice(), &[1, 0]);
    /// ```
    ///
    /// # Panics
    /// If the axis is out of range or empty.
    #[track_caller]
    pub fn max_dim(&self, axis: usize, keepdim: bool) -> (NdArray, Indices) {
        self.check_axis("max_dim", axis);
        self.extreme("max_dim", &[axis], keepdim, true)
    }

    /// Minimum along one axis and where it is (the first occurrence).
    ///
    /// # Panics
    /// If the axis is out of range or empty.
    #[track_caller]
    pub fn min_dim(&self, axis: usize, keepdim: bool) -> (NdArray, Indices) {
        self.check_axis("min_dim", axis);
        self.extreme("min_dim", &[axis], keepdim, false)
    }

    /// Index of the maximum along `axis` (first occurrence).
    ///
    /// # Panics
    /// If the axis is out of range or empty.
    #[track_caller]
    pub fn argmax(&self, axis: usize, keepdim: bool) -> Indices {
        self.max_dim(axis, keepdim).1
    }

    /// Max or min with the flat position (within the reduced elements) of the winner.
    #[track_caller]
    fn extreme(&self, op: &str, axes: &[usize], keepdim: bool, is_max: bool) -> (NdArray, Indices) {
        let (perm, keep, drop) = self.reduction_plan(op, axes);
        let r: usize = axes.iter().map(|&a| self.shape()[a]).product();
        assert!(
            r > 0 || self.numel() == 0 && keep.iter().product::<usize>() == 0,
            "{op}: cannot reduce over empty axes {axes:?} of shape {:?}",
            self.shape()
        );
        // `b` beats `a` if it is NaN (and `a` is not), or strictly better: ties keep the
        // earlier position, which is what makes the result the first occurrence.
        let better = move |b: f32, a: f32| {
            (b.is_nan() && !a.is_nan()) || (if is_max { b > a } else { b < a })
        };
        let init = (
            if is_max {
                f32::NEG_INFINITY
            } else {
                f32::INFINITY
            },
            usize::MAX,
        );
        let found = self.fold_axes(
            &perm,
            axes.len(),
            Fold {
                init,
                step: |a: (f32, usize), pos, x| {
                    if a.1 == usize::MAX || better(x, a.0) {
                        (x, pos)
                    } else {
                        a
                    }
                },
                merge: |a: (f32, usize), b: (f32, usize)| {
                    if b.1 != usize::MAX && (a.1 == usize::MAX || better(b.0, a.0)) {
                        b
                    } else {
                        a
                    }
                },
            },
        );
        let shape = if keepdim { keep } else { drop };
        let values = found.iter().map(|a| a.0).collect();
        let idx = found.iter().map(|a| a.1).collect();
        (
            NdArray::from_dense(values, &shape),
            Indices::from_vec(idx, &shape),
        )
    }

    /// Sums broadcast axes away so the result has `shape`: the adjoint of
    /// [`broadcast_to`](NdArray::broadcast_to) (<broadcast_to(x), y> = <x, sum_to(y)>).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let g = NdArray::ones(&[2, 3, 4]);
    /// assert_eq!(g.sum_to(&[3, 1]).to_vec(), vec![8.0, 8.0, 8.0]);
    /// ```
    ///
    /// # Panics
    /// If `shape` does not broadcast to `self`'s shape.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> NdArray {
        let nd = self.ndim();
        let ok = shape.len() <= nd
            && shape.iter().enumerate().all(|(k, &d)| {
                let s = self.shape()[nd - shape.len() + k];
                d == s || d == 1
            });
        assert!(
            ok,
            "sum_to: shape {shape:?} does not broadcast to {:?}, so it is not a sum_to target",
            self.shape()
        );
        let lead = nd - shape.len();
        let axes: Vec<usize> = (0..nd)
            .filter(|&a| a < lead || (shape[a - lead] == 1 && self.shape()[a] != 1))
            .collect();
        self.sum(&axes, true).reshape(shape)
    }
}
