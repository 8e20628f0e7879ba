//! Indexing along an axis: two adjoint pairs, each one's gradient the other.
//!
//! | op | dL/d(first input) | dL/d(src) |
//! |---|---|---|
//! | gather(x, i) | zeros.scatter_add(i, g) | — |
//! | scatter_add(base, i, src) | g | g.gather(i) |
//! | index_select(x, i) | zeros.index_add(i, g) | — |
//! | index_add(base, i, src) | g | g.index_select(i) |

use agon_tensor::{Indices, NdArray};

use super::{record, unary};
use crate::tensor::Tensor;

fn zeros_like(t: &Tensor) -> Tensor {
    Tensor::constant(NdArray::zeros(t.shape()))
}

impl Tensor {
    /// `torch.gather` along `axis`.
    ///
    /// # Panics
    /// If the index does not fit or holds an out-of-range value.
    #[track_caller]
    pub fn gather(&self, axis: usize, index: &Indices) -> Tensor {
        let data = self.data().gather(axis, index);
        let index = index.clone();
        unary(self, data, "gather", move |x, _, g| {
            zeros_like(x).scatter_add(axis, &index, g)
        })
    }

    /// `self` plus `src` added at `index` along `axis` (out of place).
    ///
    /// # Panics
    /// If the shapes do not fit or an index is out of range.
    #[track_caller]
    pub fn scatter_add(&self, axis: usize, index: &Indices, src: &Tensor) -> Tensor {
        let data = self.data().scatter_add(axis, index, src.data());
        let index = index.clone();
        record(data, "scatter_add", &[self, src], move |_, _, g, needs| {
            vec![
                needs[0].then(|| g.clone()),
                needs[1].then(|| g.gather(axis, &index)),
            ]
        })
    }

    /// The slices `index[0], index[1], ..` of `axis` (`torch.index_select`; embeddings).
    ///
    /// # Panics
    /// If `index` is not 1-D or holds an out-of-range value.
    #[track_caller]
    pub fn index_select(&self, axis: usize, index: &Indices) -> Tensor {
        let data = self.data().index_select(axis, index);
        let index = index.clone();
        unary(self, data, "index_select", move |x, _, g| {
            zeros_like(x).index_add(axis, &index, g)
        })
    }

    /// `self` with `src`'s slices added at positions `index` along `axis` (out of place).
    ///
    /// # Panics
    /// If the shapes do not fit or an index is out of range.
    #[track_caller]
    pub fn index_add(&self, axis: usize, index: &Indices, src: &Tensor) -> Tensor {
        let data = self.data().index_add(axis, index, src.data());
        let index = index.clone();
        record(data, "index_add", &[self, src], move |_, _, g, needs| {
            vec![
                needs[0].then(|| g.clone()),
                needs[1].then(|| g.index_select(axis, &index)),
            ]
        })
    }
}
