//! Errors for operations whose inputs come from outside the program (data, files).
//!
//! Shape misuse by the programmer panics instead (see each op's `# Panics`); this type is for
//! values a caller may want to recover from, such as a buffer read from disk.

use std::fmt;

/// Why building an array from external data failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TensorError {
    /// The buffer holds a different number of elements than the shape needs.
    LengthMismatch {
        /// Elements the shape needs.
        expected: usize,
        /// Elements the buffer holds.
        actual: usize,
        /// The requested shape.
        shape: Vec<usize>,
    },
    /// The shape's element count does not fit in `usize`.
    ShapeOverflow {
        /// The requested shape.
        shape: Vec<usize>,
    },
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorError::LengthMismatch {
                expected,
                actual,
                shape,
            } => write!(
                f,
                "from_vec: shape {shape:?} needs {expected} elements but the buffer holds {actual}"
            ),
            TensorError::ShapeOverflow { shape } => {
                write!(
                    f,
                    "from_vec: shape {shape:?} has more elements than fit in memory"
                )
            }
        }
    }
}

impl std::error::Error for TensorError {}
