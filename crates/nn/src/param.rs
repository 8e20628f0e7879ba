//! Parameters and buffers: named, shared, replaceable state of a module.

use std::sync::{Arc, Mutex, MutexGuard};

use agon_autodiff::Tensor;
use agon_tensor::NdArray;

/// A learnable tensor, shared between the module that reads it and the optimiser that
/// updates it (cloning shares, like an `Arc`).
///
/// Its current value is a leaf [`Tensor`] that needs gradients. A forward pass reads it with
/// [`tensor`](Param::tensor); gradients are keyed by that leaf; an optimiser step installs a
/// new leaf with [`set`](Param::set).
///
/// ```
/// use agon_nn::Param;
/// use agon_tensor::NdArray;
/// let p = Param::new(NdArray::ones(&[2]));
/// let loss = p.tensor().square().sum_all();
/// let g = loss.backward();
/// assert_eq!(g.get(&p.tensor()).unwrap().data().to_vec(), vec![2.0, 2.0]);
/// p.set(NdArray::zeros(&[2]));
/// assert_eq!(p.data().to_vec(), vec![0.0, 0.0]);
/// ```
#[derive(Clone)]
pub struct Param(Arc<Mutex<Tensor>>);

impl Param {
    /// A parameter holding `data`.
    pub fn new(data: NdArray) -> Self {
        Param(Arc::new(Mutex::new(Tensor::param(data))))
    }

    fn lock(&self) -> MutexGuard<'_, Tensor> {
        // A panic while holding the lock cannot leave a half-written Tensor (assignment of
        // a handle is atomic from our point of view), so a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current value as a graph leaf (the same tensor, same id, until the next `set`).
    pub fn tensor(&self) -> Tensor {
        self.lock().clone()
    }

    /// The current value's array.
    pub fn data(&self) -> NdArray {
        self.lock().data().clone()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.lock().shape().to_vec()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.lock().numel()
    }

    /// Replaces the value with a new leaf holding `data`.
    ///
    /// # Panics
    /// If `data` has a different shape: a parameter's shape is fixed by its layer.
    #[track_caller]
    pub fn set(&self, data: NdArray) {
        let mut t = self.lock();
        assert_eq!(
            t.shape(),
            data.shape(),
            "Param::set: new value has shape {:?}, parameter has {:?}",
            data.shape(),
            t.shape()
        );
        *t = Tensor::param(data);
    }

    /// True when both handles share one parameter.
    pub fn same_as(&self, other: &Param) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What a buffer holds, which decides its dtype in checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// Floating point state (running mean, spectral-norm vectors): saved as F32.
    Float,
    /// A counter (BatchNorm's `num_batches_tracked`): saved as I64, as PyTorch does.
    Count,
}

/// Non-learnable state saved with a module: BatchNorm running statistics, spectral-norm
/// vectors. Shared on clone.
///
/// ```
/// use agon_nn::Buffer;
/// use agon_tensor::NdArray;
/// let b = Buffer::new(NdArray::zeros(&[3]));
/// b.set(NdArray::ones(&[3]));
/// assert_eq!(b.data().to_vec(), vec![1.0; 3]);
/// ```
#[derive(Clone)]
pub struct Buffer {
    value: Arc<Mutex<NdArray>>,
    kind: BufferKind,
}

impl Buffer {
    /// A float buffer.
    pub fn new(data: NdArray) -> Self {
        Buffer {
            value: Arc::new(Mutex::new(data)),
            kind: BufferKind::Float,
        }
    }

    /// A counter buffer (a 0-d array holding a whole number), saved as I64.
    pub fn counter(value: u64) -> Self {
        Buffer {
            value: Arc::new(Mutex::new(NdArray::scalar(value as f32))),
            kind: BufferKind::Count,
        }
    }

    fn lock(&self) -> MutexGuard<'_, NdArray> {
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current value.
    pub fn data(&self) -> NdArray {
        self.lock().clone()
    }

    /// Float state or a counter.
    pub fn kind(&self) -> BufferKind {
        self.kind
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.lock().shape().to_vec()
    }

    /// Replaces the value.
    ///
    /// # Panics
    /// If `data` has a different shape.
    #[track_caller]
    pub fn set(&self, data: NdArray) {
        let mut v = self.lock();
        assert_eq!(
            v.shape(),
            data.shape(),
            "Buffer::set: new value has shape {:?}, buffer has {:?}",
            data.shape(),
            v.shape()
        );
        *v = data;
    }
}
