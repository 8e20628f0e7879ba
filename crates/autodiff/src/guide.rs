//! # From a scalar engine to this one
//!
//! A chapter for learners: it starts with a reverse-mode autodiff over single numbers,
//! small enough to read in five minutes, and changes one thing at a time until it is the
//! engine in this crate. Every code block is a doc test, so it runs.
//!
//! ## 1. Scalars
//!
//! Reverse mode needs two things: while computing forward, remember for every value which
//! values it was made from and how; then, starting from the output with gradient 1, walk
//! back through that record in reverse order, handing each input its share by the chain
//! rule: `dL/dinput += dL/doutput * doutput/dinput`.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! /// A number in a graph: its value, its gradient, and how it was made.
//! #[derive(Clone)]
//! struct Value(Rc<RefCell<Node>>);
//! struct Node { value: f64, grad: f64, id: usize, parents: Vec<(Value, f64)> }
//! // parents: (input, d output / d input), the local derivative, known at forward time.
//!
//! thread_local!(static NEXT: RefCell<usize> = RefCell::new(0));
//! fn new(value: f64, parents: Vec<(Value, f64)>) -> Value {
//!     let id = NEXT.with(|n| { let mut n = n.borrow_mut(); *n += 1; *n });
//!     Value(Rc::new(RefCell::new(Node { value, grad: 0.0, id, parents })))
//! }
//! impl Value {
//!     fn v(&self) -> f64 { self.0.borrow().value }
//!     fn add(&self, o: &Value) -> Value { new(self.v() + o.v(), vec![(self.clone(), 1.0), (o.clone(), 1.0)]) }
//!     fn mul(&self, o: &Value) -> Value { new(self.v() * o.v(), vec![(self.clone(), o.v()), (o.clone(), self.v())]) }
//!     fn tanh(&self) -> Value { let t = self.v().tanh(); new(t, vec![(self.clone(), 1.0 - t * t)]) }
//!
//!     /// Every value reachable from self, newest first: ids grow as values are created,
//!     /// and a value is always created after its parents, so sorting by id descending is
//!     /// a valid reverse topological order.
//!     fn backward(&self) {
//!         let mut all = vec![]; let mut stack = vec![self.clone()];
//!         let mut seen = std::collections::HashSet::new();
//!         while let Some(v) = stack.pop() {
//!             if !seen.insert(v.0.borrow().id) { continue; }
//!             for (p, _) in &v.0.borrow().parents { stack.push(p.clone()); }
//!             all.push(v);
//!         }
//!         all.sort_by_key(|v| std::cmp::Reverse(v.0.borrow().id));
//!         self.0.borrow_mut().grad = 1.0;
//!         for v in all {
//!             let (g, parents) = { let n = v.0.borrow(); (n.grad, n.parents.clone()) };
//!             for (p, local) in parents { p.0.borrow_mut().grad += g * local; }
//!         }
//!     }
//! }
//!
//! // A neuron: tanh(w*x + b).
//! let (x, w, b) = (new(0.5, vec![]), new(-2.0, vec![]), new(0.3, vec![]));
//! let y = w.mul(&x).add(&b).tanh();
//! y.backward();
//! let dy = 1.0 - y.v() * y.v();
//! assert!((w.0.borrow().grad - dy * 0.5).abs() < 1e-12);  // dy/dw = tanh' * x
//! assert!((x.0.borrow().grad - dy * -2.0).abs() < 1e-12); // dy/dx = tanh' * w
//! ```
//!
//! That is the whole idea. Everything below is engineering around it.
//!
//! ## 2. From scalars to arrays
//!
//! Replace `f64` by an n-d array ([`agon_tensor::NdArray`]) and each local derivative by
//! a rule that maps the output's gradient to the inputs' gradients. For `y = a * b`
//! elementwise the rule is `dL/da = g * b`. Broadcasting adds one step: if `b` had shape
//! `[3]` and was broadcast to `[2, 3]`, each of its elements was used twice, so its
//! gradient is the sum over the broadcast axis: `sum_to(g * a, [3])`. `sum_to` is the
//! adjoint of `broadcast_to`, and each is the other's rule.
//!
//! ## 3. Gradients in a map, not on the tensors
//!
//! The scalar engine wrote `grad` into the nodes, so running `backward` twice doubled
//! them, and a node shared by two losses mixed their gradients. Here
//! [`Tensor::backward`](crate::Tensor::backward) returns a [`Gradients`](crate::Gradients)
//! map keyed by tensor id and writes nothing: calling it twice gives the same answer.
//!
//! ## 4. Walk only what matters, and let go early
//!
//! The engine (`src/engine.rs`) keeps the creation-id
//! trick and adds three economies:
//! - **discover** with an explicit stack, never recursion: a chain of 100,000 ops would
//!   overflow the call stack otherwise (dropping one is made iterative too);
//! - **prune** to nodes on a path to a wanted input, so asking for one gradient does not
//!   compute all of them, and tell each rule which inputs need a gradient (`needs`), so a
//!   first conv layer never computes the gradient of the image;
//! - **free** each node's gradient as soon as its rule has consumed it.
//!
//! ## 5. Rules written in the engine's own ops
//!
//! Here is the step the scalar engine cannot take. Its local derivatives were numbers
//! computed at forward time; ours are computed at backward time *with the same
//! differentiable ops as the forward pass*. The rule for `exp` is `g.mul(y)`, a `Tensor`
//! multiplication. So:
//! - with `create_graph = false` the engine runs the rules inside
//!   [`no_grad`](crate::no_grad): the same kernels, nothing recorded, no cost;
//! - with `create_graph = true` the rules are recorded like any computation, so the
//!   gradient is itself a tensor with a graph, and you can differentiate it again.
//!
//! That is what WGAN-GP needs: its penalty is a function of `dD/dx`, and training the
//! critic needs the derivative of that penalty with respect to the critic's weights.
//!
//! ```
//! use agon_autodiff::{grad, Tensor};
//! use agon_tensor::NdArray;
//! let x = Tensor::param(NdArray::scalar(2.0));
//! let y = x.powf(4.0);
//! let mut d = y.clone();
//! for expected in [32.0, 48.0, 48.0] { // 4x^3, 12x^2, 24x at x = 2
//!     d = grad(&[&d], &[&x], None, true)[0].clone().unwrap();
//!     assert_eq!(d.item(), expected);
//! }
//! ```
//!
//! For this to work to any order, every rule must be built from ops that themselves have
//! rules: the op families must be *closed*. They are: matmul's gradient is matmul;
//! conv2d, conv_transpose2d and conv2d_weight express each other's gradients; max-pooling
//! is a `gather`, whose gradient is `scatter_add`, whose gradient is `gather`;
//! `broadcast_to` and `sum_to` are each other's gradient; `narrow` and `pad` likewise.
//! Softmax, batch norm and the losses need no rules at all: they are compositions.
//!
//! ## 6. The rule table
//!
//! Each family's file opens with its table; in short (`g` = dL/dy, `y` = output):
//!
//! | op | forward | dL/d(input) | code |
//! |---|---|---|---|
//! | add, sub | a ± b | g, ±g (then `sum_to`) | `ops/arith.rs` |
//! | mul | a b | g b, g a | `ops/arith.rs` |
//! | div | a / b | g / b, -g y / b | `ops/arith.rs` |
//! | maximum, minimum | max(a, b) | g to the winner, halved at ties | `ops/arith.rs` |
//! | where_ | m ? a : b | g m, g (1 - m) | `ops/arith.rs` |
//! | exp, log, sqrt | | g y, g / x, g / 2y | `ops/unary.rs` |
//! | tanh, sigmoid, softplus | | g (1 - y²), g y (1 - y), g σ(x) | `ops/unary.rs` |
//! | relu, leaky_relu, abs, clamp | | g × constant mask | `ops/unary.rs` |
//! | powf, recip | | g p x^(p-1), -g y² | `ops/unary.rs` |
//! | sum, mean | Σ | g broadcast (÷ n) | `ops/reduce.rs` |
//! | max, min | | g to the extremes, shared at ties | `ops/reduce.rs` |
//! | sum_to / broadcast_to | | broadcast_to / sum_to | `ops/reduce.rs`, `ops/movement.rs` |
//! | reshape, permute, squeeze | | the inverse movement | `ops/movement.rs` |
//! | narrow / pad, slice, concat | | pad / narrow, index_add, narrow | `ops/movement.rs` |
//! | gather / scatter_add | | scatter_add / gather | `ops/index.rs` |
//! | index_select / index_add | | index_add / index_select | `ops/index.rs` |
//! | matmul | A B | G Bᵀ, Aᵀ G | `ops/matmul.rs` |
//! | conv2d | | conv_transpose2d(g, w), conv2d_weight(x, g) | `ops/conv.rs` |
//! | conv_transpose2d | | conv2d(g, w), conv2d_weight(g, x) | `ops/conv.rs` |
//! | conv2d_weight | | conv_transpose2d(gy, G), conv2d(x, G) | `ops/conv.rs` |
//! | max_pool2d | gather at argmax | (gather's rule) | `ops/pool.rs` |
//! | avg_pool2d, upsample_nearest2d | | their adjoints, and back | `ops/pool.rs` |
//!
//! ## 7. Looking inside
//!
//! - [`Tensor::to_dot`](crate::Tensor::to_dot) exports the graph for Graphviz.
//! - Set `AGON_TRACE_BACKWARD=1` and the engine prints every node it visits, newest
//!   first, with its op and shape: the order of step 4, made visible.
//! - Write your own op with [`Tensor::from_op`](crate::Tensor::from_op) and a
//!   [`Rule`](crate::Rule); if its backward uses `Tensor` ops, it is differentiable to any
//!   order for free.
