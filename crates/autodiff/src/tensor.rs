//! The graph `Tensor`: an [`NdArray`] plus, when it was computed from tensors that need
//! gradients, the node that records how.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use agon_tensor::NdArray;

use crate::rule::Rule;

/// Creation ids order the graph: a node is always created after its inputs, so walking
/// ids from high to low visits every node before anything it was computed from.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// A value in a computation graph: an [`NdArray`] plus, for results of differentiable ops,
/// a record of the op and its inputs. Cloning is cheap (reference-counted).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// let x = Tensor::param(NdArray::from_vec(vec![3.0], &[1]).unwrap());
/// let y = x.mul(&x).sum_all(); // y = x^2
/// let grads = y.backward();
/// assert_eq!(grads.get(&x).unwrap().data().to_vec(), vec![6.0]);
/// ```
#[derive(Clone)]
pub struct Tensor(Arc<Inner>);

pub(crate) struct Inner {
    id: u64,
    data: NdArray,
    requires_grad: bool,
    node: Option<Node>,
}

/// How a non-leaf tensor was made: the rule that differentiates it and its inputs.
pub(crate) struct Node {
    pub(crate) rule: Box<dyn Rule>,
    pub(crate) inputs: Vec<Tensor>,
}

impl Tensor {
    fn new(data: NdArray, requires_grad: bool, node: Option<Node>) -> Self {
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            data,
            requires_grad,
            node,
        }))
    }

    /// A leaf that needs gradients: a parameter or an input you differentiate against.
    pub fn param(data: NdArray) -> Self {
        Self::new(data, true, None)
    }

    /// A leaf that needs no gradient (data, labels, noise).
    pub fn constant(data: NdArray) -> Self {
        Self::new(data, false, None)
    }

    /// A 0-d constant.
    pub fn scalar(value: f32) -> Self {
        Self::constant(NdArray::scalar(value))
    }

    /// The result of applying `rule` to `inputs`, producing `data`. Records a node when
    /// gradient recording is on and some input needs a gradient; otherwise a constant.
    ///
    /// This is how every differentiable op is built, including ones defined outside this
    /// crate: compute the value with `agon-tensor`, then describe the derivative as a
    /// [`Rule`].
    pub fn from_op(data: NdArray, rule: impl Rule + 'static, inputs: &[&Tensor]) -> Self {
        if is_grad_enabled() && inputs.iter().any(|t| t.requires_grad()) {
            let node = Node {
                rule: Box::new(rule),
                inputs: inputs.iter().map(|&t| t.clone()).collect(),
            };
            Self::new(data, true, Some(node))
        } else {
            Self::constant(data)
        }
    }

    /// The value.
    pub fn data(&self) -> &NdArray {
        &self.0.data
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.0.data.shape()
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.0.data.ndim()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.data.numel()
    }

    /// The single value of a one-element tensor.
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    #[track_caller]
    pub fn item(&self) -> f32 {
        self.0.data.item()
    }

    /// True for parameters and for results computed (with recording on) from them.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// True for tensors not produced by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }

    /// The same value cut from the graph: a constant that gradients do not flow through.
    pub fn detach(&self) -> Tensor {
        Tensor::constant(self.0.data.clone())
    }

    /// Creation id: unique, and larger than the ids of the tensors this one was made from.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The name of the op that produced this tensor (`None` for leaves).
    pub fn op_name(&self) -> Option<&'static str> {
        self.0.node.as_ref().map(|n| n.rule.name())
    }

    pub(crate) fn node(&self) -> Option<&Node> {
        self.0.node.as_ref()
    }

    /// The tensors this one was computed from (empty for leaves).
    pub fn inputs(&self) -> &[Tensor] {
        self.0.node.as_ref().map_or(&[], |n| &n.inputs)
    }
}

impl Drop for Inner {
    /// Drops a long chain of nodes without recursion: a 100,000-op chain would otherwise
    /// overflow the stack, one frame per node, when its last handle goes away.
    fn drop(&mut self) {
        let mut stack: Vec<Tensor> = match self.node.take() {
            Some(n) => n.inputs,
            None => return,
        };
        while let Some(t) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(t.0)
                && let Some(n) = inner.node.take()
            {
                stack.extend(n.inputs);
            }
        }
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor(id={}, op={}, requires_grad={}, {:?})",
            self.id(),
            self.op_name().unwrap_or("leaf"),
            self.requires_grad(),
            self.data()
        )
    }
}

/// True unless inside a [`no_grad`] scope on this thread.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` with gradient recording off on this thread: ops inside return constants and
/// build no graph (inference, EMA updates, and first-order backward passes use this).
///
/// ```
/// use agon_autodiff::{no_grad, Tensor};
/// use agon_tensor::NdArray;
/// let w = Tensor::param(NdArray::ones(&[2]));
/// let y = no_grad(|| w.mul(&w));
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    with_grad_enabled(false, f)
}

/// [`agon_tensor::on_worker`] for code that records graphs: runs `f` on a rayon worker with
/// the caller's gradient-recording setting, whichever thread runs it.
///
/// Why not plain `agon_tensor::on_worker`: the setting is per thread, and a worker that
/// waits inside a parallel op may steal and run other jobs, including another caller's
/// whole `on_worker` closure. A worker inside a [`no_grad`] sampling pass that steals a
/// training step would run that step without recording its graph (two tests training in
/// parallel threads did exactly that). Setting the caller's value for the duration of `f`,
/// and restoring the worker's after, makes the closure independent of where it runs.
///
/// ```
/// use agon_autodiff::{is_grad_enabled, no_grad, on_worker};
/// assert!(on_worker(is_grad_enabled));
/// assert!(!no_grad(|| on_worker(is_grad_enabled)));
/// ```
///
/// `tests/on_worker.rs` checks the stolen case: every worker of the pool busy inside
/// `no_grad`, and a closure from a recording caller still records.
pub fn on_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let enabled = is_grad_enabled();
    agon_tensor::on_worker(move || with_grad_enabled(enabled, f))
}

/// Runs `f` with gradient recording set to `enabled`, restoring the previous setting after
/// (also when `f` panics).
pub fn with_grad_enabled<T>(enabled: bool, f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(enabled)));
    f()
}
