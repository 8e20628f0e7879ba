//! # agon
//!
//! Generative adversarial networks in Rust, on a hand-written tensor core. This umbrella
//! crate re-exports Agon's crates; it also holds the `agon` command ([`cli`]: the binary is
//! a thin `main` around it, so tests drive the same entry points in-process), the
//! integration tests and the criterion benchmarks.
//!
//! ```
//! use agon::tensor::NdArray;
//! assert_eq!(NdArray::ones(&[2, 2]).numel(), 4);
//! ```
#![warn(missing_docs)]

pub mod allocator;
pub mod cli;

pub use agon_autodiff as autodiff;
pub use agon_data as data;
pub use agon_gan as gan;
pub use agon_metrics as metrics;
pub use agon_nn as nn;
pub use agon_tensor as tensor;
