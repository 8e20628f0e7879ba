//! Integer index arrays: the output of argmax and max-pooling, the input of gather and
//! scatter_add.

use std::sync::Arc;

use crate::layout::contiguous_strides;

/// A dense row-major array of `usize` indices, cheap to clone (shared storage).
///
/// ```
/// use agon_tensor::Indices;
/// let idx = Indices::from_vec(vec![2, 0, 1], &[3]);
/// assert_eq!(idx.shape(), &[3]);
/// assert_eq!(idx.as_slice(), &[2, 0, 1]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indices {
    shape: Vec<usize>,
    data: Arc<Vec<usize>>,
}

impl Indices {
    /// Wrap `data` as an index array of `shape`.
    ///
    /// # Panics
    /// If `data.len()` differs from the product of `shape`.
    #[track_caller]
    pub fn from_vec(data: Vec<usize>, shape: &[usize]) -> Self {
        let n: usize = shape.iter().product();
        assert_eq!(
            data.len(),
            n,
            "Indices::from_vec: shape {shape:?} needs {n} indices, got {}",
            data.len()
        );
        Indices {
            shape: shape.to_vec(),
            data: Arc::new(data),
        }
    }

    /// The extent of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Row-major strides of the (always dense) index array.
    pub fn strides(&self) -> Vec<usize> {
        contiguous_strides(&self.shape)
    }

    /// The indices in row-major order.
    pub fn as_slice(&self) -> &[usize] {
        &self.data
    }

    /// Number of indices.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when there are no indices.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The same indices viewed with another shape of equal size.
    ///
    /// # Panics
    /// If the sizes differ.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Indices {
        let n: usize = shape.iter().product();
        assert_eq!(
            n,
            self.len(),
            "Indices::reshape: cannot view {:?} as {shape:?}",
            self.shape
        );
        Indices {
            shape: shape.to_vec(),
            data: self.data.clone(),
        }
    }
}
