//! `NdArray`: f32 storage shared between views, plus a layout.

use std::fmt;
use std::sync::Arc;

use crate::error::TensorError;
use crate::layout::Layout;
use crate::parallel::{collect_chunks, fill_chunks};
use crate::strided::fill_from_offsets;

/// An n-dimensional f32 array: shared storage plus a strided [`Layout`].
///
/// Cloning is cheap (the storage is reference-counted) and view operations such as
/// [`permute`](NdArray::permute) or [`broadcast_to`](NdArray::broadcast_to) copy nothing.
/// Operations never mutate an array in place; they return new arrays.
///
/// ```
/// use agon_tensor::NdArray;
/// let a = NdArray::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
/// let t = a.transpose(0, 1); // a view: shape [3, 2], no copy
/// assert_eq!(t.shape(), &[3, 2]);
/// assert_eq!(t.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// ```
#[derive(Clone)]
pub struct NdArray {
    storage: Arc<Vec<f32>>,
    layout: Layout,
}

impl NdArray {
    /// An array over `data` in row-major order.
    ///
    /// # Errors
    /// [`TensorError::LengthMismatch`] when `data.len()` is not the product of `shape`;
    /// [`TensorError::ShapeOverflow`] when that product does not fit in `usize`.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Self, TensorError> {
        let expected =
            crate::layout::checked_numel(shape).ok_or_else(|| TensorError::ShapeOverflow {
                shape: shape.to_vec(),
            })?;
        if data.len() != expected {
            return Err(TensorError::LengthMismatch {
                expected,
                actual: data.len(),
                shape: shape.to_vec(),
            });
        }
        Ok(Self::from_parts(Arc::new(data), Layout::contiguous(shape)))
    }

    /// Wraps a buffer whose length is already known to match `shape` (crate-internal: kernels
    /// that allocate their own output).
    pub(crate) fn from_dense(data: Vec<f32>, shape: &[usize]) -> Self {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        Self::from_parts(Arc::new(data), Layout::contiguous(shape))
    }

    pub(crate) fn storage_ref(&self) -> &Arc<Vec<f32>> {
        &self.storage
    }

    pub(crate) fn from_parts(storage: Arc<Vec<f32>>, layout: Layout) -> Self {
        debug_assert!(layout.storage_end() <= storage.len());
        NdArray { storage, layout }
    }

    /// A 0-d array holding `value`.
    ///
    /// ```
    /// assert_eq!(agon_tensor::NdArray::scalar(2.5).item(), 2.5);
    /// ```
    pub fn scalar(value: f32) -> Self {
        Self::from_dense(vec![value], &[])
    }

    /// An array of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: f32) -> Self {
        Self::from_dense(vec![value; shape.iter().product()], shape)
    }

    /// An array of zeros.
    ///
    /// ```
    /// let z = agon_tensor::NdArray::zeros(&[2, 2]);
    /// assert_eq!(z.to_vec(), vec![0.0; 4]);
    /// ```
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, 0.0)
    }

    /// An array of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, 1.0)
    }

    /// `[start, start + step, ..]` up to but excluding `end`, as in `torch.arange`.
    ///
    /// ```
    /// let a = agon_tensor::NdArray::arange(0.0, 2.0, 0.5);
    /// assert_eq!(a.to_vec(), vec![0.0, 0.5, 1.0, 1.5]);
    /// ```
    ///
    /// # Panics
    /// If `step` is zero or not finite, or has the wrong sign for the range.
    #[track_caller]
    pub fn arange(start: f32, end: f32, step: f32) -> Self {
        assert!(
            step != 0.0 && step.is_finite() && (end - start) * step >= 0.0,
            "arange: step {step} cannot go from {start} to {end}"
        );
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let data: Vec<f32> = (0..n).map(|i| start + i as f32 * step).collect();
        Self::from_dense(data, &[n])
    }

    /// The `n x n` identity matrix.
    ///
    /// ```
    /// let i = agon_tensor::NdArray::eye(2);
    /// assert_eq!(i.to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn eye(n: usize) -> Self {
        let mut data = vec![0.0; n * n];
        for i in 0..n {
            data[i * n + i] = 1.0;
        }
        Self::from_dense(data, &[n, n])
    }

    /// The extent of each axis.
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    /// The step in storage elements for each axis (0 on broadcast axes).
    pub fn strides(&self) -> &[usize] {
        self.layout.strides()
    }

    /// Storage index of element `[0, 0, ..]`.
    pub fn offset(&self) -> usize {
        self.layout.offset()
    }

    /// The full layout (shape, strides, offset).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.layout.ndim()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// True when the elements are dense and in row-major order.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// The whole shared storage buffer this array views (kernels pair it with `strides()`).
    pub fn storage(&self) -> &[f32] {
        &self.storage
    }

    /// The elements as one row-major slice, when the array is contiguous.
    pub fn as_slice(&self) -> Option<&[f32]> {
        if self.is_contiguous() {
            let start = self.offset();
            Some(&self.storage[start..start + self.numel()])
        } else {
            None
        }
    }

    /// The element at `index`.
    ///
    /// # Panics
    /// If `index` has the wrong rank or is out of bounds.
    #[track_caller]
    pub fn get(&self, index: &[usize]) -> f32 {
        self.storage[self.layout.index_to_offset(index)]
    }

    /// The single element of a one-element array.
    ///
    /// # Panics
    /// If the array does not hold exactly one element.
    #[track_caller]
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.numel(),
            1,
            "item: array of shape {:?} does not hold exactly one element",
            self.shape()
        );
        self.storage[self.offset()]
    }

    /// True when no element is NaN or infinite (checkpoints and samples are refused
    /// otherwise).
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// assert!(NdArray::ones(&[2, 2]).all_finite());
    /// assert!(!NdArray::from_vec(vec![1.0, f32::NAN], &[2]).unwrap().all_finite());
    /// ```
    pub fn all_finite(&self) -> bool {
        match self.as_slice() {
            Some(s) => s.iter().all(|v| v.is_finite()),
            None => self.gather_dense().iter().all(|v| v.is_finite()),
        }
    }

    /// The elements in logical row-major order.
    pub fn to_vec(&self) -> Vec<f32> {
        match self.as_slice() {
            Some(s) => s.to_vec(),
            None => self.gather_dense(),
        }
    }

    /// A row-major array with the same elements: `self` itself (a cheap clone) when already
    /// contiguous, otherwise a copy.
    pub fn contiguous(&self) -> NdArray {
        if self.is_contiguous() {
            self.clone()
        } else {
            Self::from_dense(self.gather_dense(), self.shape())
        }
    }

    /// Copies a strided view into a fresh dense buffer (parallel for large arrays).
    fn gather_dense(&self) -> Vec<f32> {
        let mut out = vec![0.0f32; self.numel()];
        let src = &self.storage[..];
        let (shape, strides, base) = (self.shape(), self.strides(), self.offset());
        fill_chunks(&mut out, |start, chunk| {
            fill_from_offsets(shape, [strides], [base], start, chunk, |[o]| src[o]);
        });
        out
    }

    /// Applies `f` to every element (in logical order) into a new contiguous array.
    pub fn map(&self, f: impl Fn(f32) -> f32 + Sync + Send) -> NdArray {
        if let Some(src) = self.as_slice() {
            if src.len() < crate::parallel::PAR_ELEMENTWISE_MIN {
                // Collected directly: no zero-fill of a buffer about to be overwritten.
                return Self::from_dense(src.iter().map(|&x| f(x)).collect(), self.shape());
            }
            let out = collect_chunks(src.len(), |start, chunk| {
                let n = chunk.len();
                // Writes every element: both slices have length n.
                for (o, &x) in chunk.iter_mut().zip(&src[start..start + n]) {
                    o.write(f(x));
                }
            });
            return Self::from_dense(out, self.shape());
        }
        let mut out = vec![0.0f32; self.numel()];
        let src = &self.storage[..];
        let (shape, strides, base) = (self.shape(), self.strides(), self.offset());
        fill_chunks(&mut out, |start, chunk| {
            fill_from_offsets(shape, [strides], [base], start, chunk, |[o]| f(src[o]));
        });
        Self::from_dense(out, self.shape())
    }

    /// True when both arrays have the same shape and every pair of elements is within
    /// `atol + rtol * |other|`. NaNs compare unequal.
    ///
    /// ```
    /// use agon_tensor::NdArray;
    /// let a = NdArray::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    /// let b = NdArray::from_vec(vec![1.0, 2.0001], &[2]).unwrap();
    /// assert!(a.allclose(&b, 1e-3, 0.0));
    /// ```
    pub fn allclose(&self, other: &NdArray, rtol: f32, atol: f32) -> bool {
        self.shape() == other.shape()
            && self
                .to_vec()
                .iter()
                .zip(other.to_vec())
                .all(|(&a, b)| (a - b).abs() <= atol + rtol * b.abs())
    }
}

impl fmt::Debug for NdArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        let v = self.to_vec();
        write!(f, "NdArray(shape={:?}, data=", self.shape())?;
        if v.len() <= SHOWN {
            write!(f, "{v:?})")
        } else {
            write!(f, "{:?} .. ({} elements))", &v[..SHOWN], v.len())
        }
    }
}

impl PartialEq for NdArray {
    /// Same shape and exactly equal elements (layout may differ).
    fn eq(&self, other: &Self) -> bool {
        self.shape() == other.shape() && self.to_vec() == other.to_vec()
    }
}
