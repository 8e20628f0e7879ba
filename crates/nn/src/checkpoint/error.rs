//! `CheckpointError`: why a checkpoint could not be written, read or applied.

use std::fmt;
use std::path::PathBuf;

use crate::optim::OptimStateError;

/// Why a checkpoint could not be saved, read or loaded into a module or optimiser.
///
/// Every variant names the file (`<memory>` for a checkpoint that never touched a file) and,
/// where one is at fault, the tensor.
///
/// ```
/// use agon_nn::checkpoint::{Checkpoint, CheckpointError};
/// let err = Checkpoint::from_bytes(b"short").unwrap_err();
/// assert!(matches!(err, CheckpointError::Malformed { .. }));
/// assert!(err.to_string().contains("too short"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file could not be read, or written and renamed into place.
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The bytes are not a valid safetensors file: truncated, bad header length, bad JSON,
    /// offsets that do not tile the data, a byte length that does not match shape and dtype.
    Malformed {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// Tensors the module needs are absent from the file.
    MissingTensors {
        /// The checkpoint file.
        path: PathBuf,
        /// The absent names, sorted.
        names: Vec<String>,
    },
    /// The file holds tensors the module does not have (strict loading refuses them).
    UnexpectedTensors {
        /// The checkpoint file.
        path: PathBuf,
        /// The extra names, sorted.
        names: Vec<String>,
    },
    /// A tensor's shape differs from the module's.
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's full name in the file.
        name: String,
        /// The shape the module needs.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor's element type cannot be loaded where it is asked for (integers other than
    /// counters, 8-bit and exotic types).
    UnsupportedDtype {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's full name in the file.
        name: String,
        /// The safetensors dtype name (`"I8"`, `"U8"`, `"I64"`, ...).
        dtype: String,
    },
    /// The optimiser refused the state stored under `prefix` (nothing was changed).
    Optimizer {
        /// The checkpoint file.
        path: PathBuf,
        /// The prefix the optimiser state was read from.
        prefix: String,
        /// The optimiser's reason.
        source: OptimStateError,
    },
}

/// At most this many names are listed in a message (the error value holds them all).
const LISTED: usize = 12;

fn list(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(LISTED)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED {
        s.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    s
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io { path, source } => {
                write!(f, "checkpoint {}: I/O error: {source}", path.display())
            }
            CheckpointError::Malformed { path, reason } => write!(
                f,
                "checkpoint {} is not a valid safetensors file: {reason}",
                path.display()
            ),
            CheckpointError::MissingTensors { path, names } => write!(
                f,
                "checkpoint {} lacks {} tensor(s) the module needs: {}",
                path.display(),
                names.len(),
                list(names)
            ),
            CheckpointError::UnexpectedTensors { path, names } => write!(
                f,
                "checkpoint {} holds {} tensor(s) the module does not have: {}",
                path.display(),
                names.len(),
                list(names)
            ),
            CheckpointError::ShapeMismatch {
                path,
                name,
                expected,
                found,
            } => write!(
                f,
                "checkpoint {}: tensor `{name}` has shape {found:?}, the module expects {expected:?}",
                path.display()
            ),
            CheckpointError::UnsupportedDtype { path, name, dtype } => write!(
                f,
                "checkpoint {}: tensor `{name}` has dtype {dtype}, which cannot be loaded here \
                 (parameters and float buffers take F32, F16, BF16 or F64; I64 and I32 only \
                 counters such as num_batches_tracked)",
                path.display()
            ),
            CheckpointError::Optimizer {
                path,
                prefix,
                source,
            } => write!(
                f,
                "checkpoint {}: optimiser state under `{prefix}`: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            CheckpointError::Optimizer { source, .. } => Some(source),
            _ => None,
        }
    }
}
