//! # agon-tensor
//!
//! Agon's numeric core: an f32 n-dimensional array ([`NdArray`]) with shared storage and
//! strided, zero-copy views; elementwise, reduction and indexing kernels; its own BLIS-style
//! SIMD GEMM ([`gemm`]: AVX-512 and AVX2 micro-kernels chosen at run time, matrixmultiply as
//! the portable path); and rayon-parallel convolution (GEMM-based, implicit at stride 1) and pooling with
//! PyTorch's NCHW semantics. It has no notion of gradients: `agon-autodiff` builds on it.
//!
//! ```
//! use agon_tensor::NdArray;
//! let x = NdArray::arange(0.0, 6.0, 1.0).reshape(&[2, 3]);
//! let w = NdArray::ones(&[3, 2]);
//! let y = x.matmul(&w).relu();
//! assert_eq!(y.to_vec(), vec![3.0, 3.0, 12.0, 12.0]);
//! ```
//!
//! ## Conventions
//! - Operations return new arrays and never mutate their inputs; views share storage.
//! - Shape misuse is a programming error: it panics with the op's name, the shapes and a
//!   hint, reported at the caller's line (`#[track_caller]`). Data from outside the program
//!   goes through fallible constructors such as [`NdArray::from_vec`].
//! - Determinism: parallel kernels split work into fixed-size chunks and combine partial
//!   results in a fixed order, so outputs are bit-identical for any number of threads.
#![warn(missing_docs)]

mod array;
mod channels;
pub mod conv;
mod elementwise;
mod error;
pub mod gemm;
mod index;
mod indices;
mod join;
mod layout;
mod matmul;
mod parallel;
mod phases;
pub mod pool;
mod reduce;
mod rng;
mod strided;
mod upsample;
mod views;

pub use array::NdArray;
pub use channels::Rectifier;
pub use conv::Conv2dParams;
pub use error::TensorError;
pub use indices::Indices;
pub use layout::{broadcast_shapes, checked_numel, contiguous_strides, Layout};
pub use parallel::on_worker;
pub use pool::Pool2dParams;

/// The crate README's example, compiled and run as a doc test so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
