//! The backward pass: from output gradients to input gradients.
//!
//! 1. **Discover** every tensor that needs a gradient and is reachable from the outputs
//!    (explicit stack: a chain of 100,000 ops is fine).
//! 2. **Prune** to the nodes on a path to a wanted input: a node is needed if it is wanted
//!    or one of its inputs is needed. Creation ids give a topological order (inputs are
//!    older than the tensors made from them), so one sweep by increasing id decides it.
//! 3. **Sweep** the needed nodes from newest to oldest. By the time a node is reached,
//!    every tensor that used it has been swept, so its gradient is complete: take it out
//!    of the map (freeing it once consumed), run its rule for the inputs that need one, and
//!    add the results into their entries.
//!
//! With `create_graph = false` the rules run under [`no_grad`](crate::no_grad): the same
//! kernels, nothing recorded. With `true` they are recorded like any forward computation,
//! so the gradients can be differentiated again.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use agon_tensor::NdArray;

use crate::tensor::{with_grad_enabled, Tensor};

/// Gradients from [`Tensor::backward`], looked up by tensor.
///
/// Only leaves that need gradients and lie in the loss's graph get one; for anything
/// else [`get`](Gradients::get) returns `None`.
#[derive(Default)]
pub struct Gradients {
    map: HashMap<u64, Tensor>,
}

impl Gradients {
    /// dL/dt, or `None` when `t` is not a leaf of the graph that needs a gradient.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.map.get(&t.id())
    }

    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no gradient was produced.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Tensor {
    /// Gradients of this scalar with respect to every leaf that needs one (parameters).
    /// Writes nothing onto tensors: calling it twice gives the same answer.
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_tensor::NdArray;
    /// let w = Tensor::param(NdArray::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    /// let loss = w.mul(&w).sum_all();
    /// assert_eq!(loss.backward().get(&w).unwrap().data().to_vec(), vec![2.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If the tensor is not a single element (use [`grad`] with `grad_outputs`).
    #[track_caller]
    pub fn backward(&self) -> Gradients {
        assert!(
            self.numel() == 1,
            "backward: output has shape {:?}, not a single element; pass grad_outputs to \
             agon_autodiff::grad for non-scalar outputs",
            self.shape()
        );
        let seed = Tensor::constant(NdArray::ones(self.shape()));
        let map = run(std::slice::from_ref(self), vec![seed], None, false);
        Gradients { map }
    }
}

/// Gradients of `outputs` with respect to `inputs`, like `torch.autograd.grad`.
///
/// `grad_outputs` weights each output (its shape must match; `None` means ones, which
/// requires single-element outputs). With `create_graph`, the returned gradients are
/// themselves differentiable: a gradient penalty built from them can be backpropagated.
/// An input that the outputs do not depend on gets `None`.
///
/// ```
/// use agon_autodiff::{grad, Tensor};
/// use agon_tensor::NdArray;
/// let x = Tensor::param(NdArray::scalar(3.0));
/// let y = x.mul(&x).mul(&x); // x^3
/// let dy = grad(&[&y], &[&x], None, true)[0].clone().unwrap(); // 3x^2 = 27
/// let d2y = grad(&[&dy], &[&x], None, false)[0].clone().unwrap(); // 6x = 18
/// assert_eq!((dy.item(), d2y.item()), (27.0, 18.0));
/// ```
///
/// # Panics
/// If `grad_outputs` has the wrong length or a shape differs from its output's, or it is
/// `None` and an output has more than one element.
#[track_caller]
pub fn grad(
    outputs: &[&Tensor],
    inputs: &[&Tensor],
    grad_outputs: Option<&[&Tensor]>,
    create_graph: bool,
) -> Vec<Option<Tensor>> {
    let seeds: Vec<Tensor> = match grad_outputs {
        Some(g) => {
            assert_eq!(
                g.len(),
                outputs.len(),
                "grad: {} grad_outputs for {} outputs",
                g.len(),
                outputs.len()
            );
            for (o, g) in outputs.iter().zip(g) {
                assert_eq!(
                    o.shape(),
                    g.shape(),
                    "grad: grad_output of shape {:?} for an output of shape {:?}",
                    g.shape(),
                    o.shape()
                );
            }
            g.iter().map(|&t| t.clone()).collect()
        }
        None => outputs
            .iter()
            .map(|o| {
                assert!(
                    o.numel() == 1,
                    "grad: output of shape {:?} is not a single element; pass grad_outputs",
                    o.shape()
                );
                Tensor::constant(NdArray::ones(o.shape()))
            })
            .collect(),
    };
    let wanted: HashSet<u64> = inputs.iter().map(|t| t.id()).collect();
    let outs: Vec<Tensor> = outputs.iter().map(|&t| t.clone()).collect();
    let mut map = run(&outs, seeds, Some(&wanted), create_graph);
    inputs.iter().map(|t| map.remove(&t.id())).collect()
}

/// True when `AGON_TRACE_BACKWARD` is set: the engine then prints each node it visits.
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("AGON_TRACE_BACKWARD").is_some())
}

/// The three phases above. `wanted = None` wants every leaf that needs a gradient.
/// Returns the wanted tensors' gradients by id.
fn run(
    outputs: &[Tensor],
    seeds: Vec<Tensor>,
    wanted: Option<&HashSet<u64>>,
    create_graph: bool,
) -> HashMap<u64, Tensor> {
    let graph = discover(outputs);
    let is_wanted = |t: &Tensor| match wanted {
        Some(w) => w.contains(&t.id()),
        None => t.is_leaf(),
    };
    // Prune: ascending ids visit inputs before the tensors made from them.
    let mut ids: Vec<u64> = graph.keys().copied().collect();
    ids.sort_unstable();
    let mut needed: HashSet<u64> = HashSet::new();
    for &id in &ids {
        let t = &graph[&id];
        if is_wanted(t) || t.inputs().iter().any(|i| needed.contains(&i.id())) {
            needed.insert(id);
        }
    }

    with_grad_enabled(create_graph, || {
        let mut grads: HashMap<u64, Tensor> = HashMap::new();
        for (o, s) in outputs.iter().zip(seeds) {
            accumulate(&mut grads, o.id(), s);
        }
        let mut result = HashMap::new();
        for &id in ids.iter().rev().filter(|id| needed.contains(id)) {
            let Some(g) = grads.remove(&id) else {
                continue; // no gradient reaches this node
            };
            let t = &graph[&id];
            if tracing() {
                eprintln!(
                    "[agon backward] node {id} {} {:?}",
                    t.op_name().unwrap_or("leaf"),
                    t.shape()
                );
            }
            if let Some(node) = t.node() {
                let needs: Vec<bool> = node
                    .inputs
                    .iter()
                    .map(|i| needed.contains(&i.id()))
                    .collect();
                let input_grads = node.rule.backward(&node.inputs, t, &g, &needs);
                assert_eq!(
                    input_grads.len(),
                    node.inputs.len(),
                    "rule `{}` returned {} gradients for {} inputs",
                    node.rule.name(),
                    input_grads.len(),
                    node.inputs.len()
                );
                for ((input, gi), &need) in node.inputs.iter().zip(input_grads).zip(&needs) {
                    if let (Some(gi), true) = (gi, need) {
                        assert_eq!(
                            gi.shape(),
                            input.shape(),
                            "rule `{}` returned a gradient of shape {:?} for an input of shape {:?}",
                            node.rule.name(),
                            gi.shape(),
                            input.shape()
                        );
                        accumulate(&mut grads, input.id(), gi);
                    }
                }
            }
            if is_wanted(t) {
                result.insert(id, g);
            }
        }
        result
    })
}

/// Every tensor reachable from `outputs` that needs a gradient, by id (explicit stack).
fn discover(outputs: &[Tensor]) -> HashMap<u64, Tensor> {
    let mut graph = HashMap::new();
    let mut stack: Vec<Tensor> = outputs
        .iter()
        .filter(|t| t.requires_grad())
        .cloned()
        .collect();
    while let Some(t) = stack.pop() {
        if graph.contains_key(&t.id()) {
            continue;
        }
        stack.extend(t.inputs().iter().filter(|i| i.requires_grad()).cloned());
        graph.insert(t.id(), t);
    }
    graph
}

/// Adds `g` into the gradient entry for `id` (a tensor used twice gets the sum).
fn accumulate(grads: &mut HashMap<u64, Tensor>, id: u64, g: Tensor) {
    let total = match grads.remove(&id) {
        Some(prev) => prev.add(&g),
        None => g,
    };
    grads.insert(id, total);
}
