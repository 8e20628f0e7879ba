//! # agon-reference (dev-only)
//!
//! Naive, obviously-correct kernels that Agon's fast kernels are tested against, and test
//! helpers (proptest strategies for shapes and strided views, fixture loading, a counting
//! allocator, small files to damage). Every kernel here is a direct transcription of the
//! definition with plain index loops over logical indices: slow by design, easy to check by
//! eye.
#![warn(missing_docs)]

pub mod conv;
pub mod counting;
pub mod files;
pub mod fixtures;
pub mod gradcheck;
pub mod matmul;
pub mod ops;
pub mod pool;
pub mod strategies;
