//! Elementwise kernels: unary maps, broadcasting binary ops, comparisons and `where_`.
//!
//! All of them produce a fresh contiguous array. Contiguous inputs of equal shape take a
//! slice fast path; anything else (broadcasts, transposes, slices) goes through the strided
//! odometer. Outputs above a size threshold are filled in parallel, in fixed-size chunks.

mod binary;
mod compare;
mod ops_traits;
mod unary;
