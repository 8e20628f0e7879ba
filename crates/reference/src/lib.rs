//! Naive reference kernels (in progress).
