//! # agon
//!
//! Generative adversarial networks in Rust, on a hand-written tensor core. This umbrella
//! crate re-exports Agon's crates; it also holds the integration tests, the criterion
//! benchmarks and (later) the `agon` command.
//!
//! ```
//! use agon::tensor::NdArray;
//! assert_eq!(NdArray::ones(&[2, 2]).numel(), 4);
//! ```
#![warn(missing_docs)]

pub use agon_autodiff as autodiff;
pub use agon_data as data;
pub use agon_gan as gan;
pub use agon_metrics as metrics;
pub use agon_nn as nn;
pub use agon_tensor as tensor;
