//! # agon-autodiff
//!
//! Reverse-mode automatic differentiation for Agon, whose gradients are themselves
//! differentiable. A [`Tensor`] is an `agon_tensor::NdArray` plus, when it was computed
//! from tensors that need gradients, a record of the op. [`Tensor::backward`] and [`grad`]
//! walk that record backwards.
//!
//! Every backward rule is written with the same differentiable `Tensor` ops as forward
//! code. With `create_graph = false` the engine runs rules with recording off, so ordinary
//! training pays nothing extra; with `create_graph = true` the gradients carry graphs and
//! can be differentiated again, which is what gradient penalties (WGAN-GP, R1) need.
//!
//! ```
//! use agon_autodiff::{grad, Tensor};
//! use agon_tensor::NdArray;
//!
//! // A gradient penalty on f(x) = sum(w * x^2): ||df/dx||^2, differentiated w.r.t. w.
//! let w = Tensor::param(NdArray::from_vec(vec![1.0, 2.0], &[2]).unwrap());
//! let x = Tensor::param(NdArray::from_vec(vec![3.0, 4.0], &[2]).unwrap());
//! let f = w.mul(&x.square()).sum_all();
//! let dfdx = grad(&[&f], &[&x], None, true)[0].clone().unwrap(); // 2 w x = [6, 16]
//! let penalty = dfdx.square().sum_all(); // 4 w^2 x^2 summed = 36 + 256
//! let dw = penalty.backward().get(&w).unwrap().data().to_vec(); // 8 w x^2 = [72, 256]
//! assert_eq!(penalty.item(), 292.0);
//! assert_eq!(dw, vec![72.0, 256.0]);
//! ```
//!
//! New to autodiff? Read [`guide`]: it builds a scalar engine in a page and grows it into
//! this one, and ends with the table of every backward rule.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod composite;
mod dot;
mod engine;
pub mod guide;
mod ops;
mod rule;
mod tensor;

pub use composite::{
    batch_norm, batch_norm_inference, instance_norm, layer_norm, pixel_shuffle, reflection_pad2d,
    upsample2x_conv3x3, BatchNormMode, BatchStats, Reduction,
};
pub use engine::{grad, Gradients};
pub use rule::Rule;
pub use tensor::{is_grad_enabled, no_grad, on_worker, with_grad_enabled, Tensor};

/// The crate README's example, compiled and run as a doc test so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
