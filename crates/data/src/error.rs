//! [`DataError`]: why a dataset, image or batcher state could not be loaded or saved.
//!
//! Every variant names the file (or directory) it is about, and its message says what is
//! wrong in words a user can act on. Readers never panic on bad bytes.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::limits::Limit;

/// Why reading or writing data failed. Displayed as `"<path>: <problem>"`.
#[derive(Debug)]
pub enum DataError {
    /// The operating system refused (missing file, permissions, disk full).
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file does not start with the magic number its format requires.
    BadMagic {
        /// The file.
        path: PathBuf,
        /// What the reader expected, e.g. `"0x00000803 (IDX unsigned-byte, 3 dims)"`.
        expected: String,
        /// What the file holds, in hex.
        found: String,
    },
    /// The file is shorter than its header or format says (or, for fixed-size formats,
    /// its length is not a whole number of records). For gzip files the counts are of
    /// decompressed bytes.
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header or format needs.
        expected: u64,
        /// Bytes the file holds.
        actual: u64,
    },
    /// Image and label files disagree on the number of examples.
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Examples in the image file.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Examples in the label file.
        label_count: usize,
    },
    /// The file is not a decodable image.
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        reason: String,
    },
    /// The file is well formed but holds something this crate does not read (e.g. IDX
    /// with 4 dims or float elements, images of 0 rows).
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is unsupported.
        what: String,
    },
    /// The data is well formed but its content is invalid (a label out of range, trailing
    /// bytes, an empty dataset or image folder, a batcher state that does not fit the
    /// dataset).
    Invalid {
        /// The file, directory or, for in-memory values, a short description.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A size the file claims (or its own length) is over one of the documented memory
    /// budgets ([`Limit`]: [`MAX_DATASET_BYTES`](crate::MAX_DATASET_BYTES),
    /// [`MAX_IMAGE_PIXELS`](crate::MAX_IMAGE_PIXELS), ...); nothing of that size was
    /// allocated.
    TooLarge {
        /// The file (or, for a folder of images, the folder).
        path: PathBuf,
        /// What was claimed, e.g. `"the header's dims [70000, 28, 28] as f32 samples"`.
        what: String,
        /// The claimed amount, in the limit's unit; `None` when it overflowed `u64`.
        claimed: Option<u64>,
        /// The limit it exceeds.
        limit: Limit,
    },
    /// The path is a directory, FIFO, device or socket where a regular file is needed
    /// (reading one could block forever or never end, so it is not opened).
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. `"a FIFO (named pipe)"`.
        kind: String,
    },
    /// A directory holds part of a dataset: one file of a pair without the other.
    Incomplete {
        /// The directory.
        dir: PathBuf,
        /// The file that is there.
        found: PathBuf,
        /// The file that is not, in words (e.g. `"its labels file"`).
        wanted: String,
        /// The names tried for it.
        looked_for: Vec<String>,
    },
    /// A directory holds none of the files a dataset needs.
    NotFound {
        /// The directory searched.
        dir: PathBuf,
        /// The file names looked for.
        looked_for: Vec<String>,
    },
    /// No data directory was given and the current directory is not inside an Agon
    /// checkout (see [`DataRoot`](crate::DataRoot)).
    NoDataDir {
        /// The current directory, where the search started.
        cwd: PathBuf,
    },
}

impl DataError {
    /// The file or directory the error is about.
    pub fn path(&self) -> &Path {
        match self {
            DataError::Io { path, .. }
            | DataError::BadMagic { path, .. }
            | DataError::Truncated { path, .. }
            | DataError::NotAnImage { path, .. }
            | DataError::Unsupported { path, .. }
            | DataError::Invalid { path, .. }
            | DataError::TooLarge { path, .. }
            | DataError::NotAFile { path, .. } => path,
            DataError::Incomplete { dir, .. } => dir,
            DataError::CountMismatch { images, .. } => images,
            DataError::NotFound { dir, .. } => dir,
            DataError::NoDataDir { cwd } => cwd,
        }
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, reason: impl Into<String>) -> Self {
        DataError::Invalid {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(path: &Path, what: impl Into<String>) -> Self {
        DataError::Unsupported {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            DataError::BadMagic {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: wrong magic number {found}, expected {expected}; is this the right file?",
                path.display()
            ),
            DataError::Truncated {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: truncated: {actual} bytes where {expected} are needed",
                path.display()
            ),
            DataError::CountMismatch {
                images,
                image_count,
                labels,
                label_count,
            } => write!(
                f,
                "{}: count mismatch: {image_count} images, but {} holds {label_count} labels",
                images.display(),
                labels.display()
            ),
            DataError::NotAnImage { path, reason } => {
                write!(
                    f,
                    "{}: not an image that can be decoded: {reason}",
                    path.display()
                )
            }
            DataError::Unsupported { path, what } => {
                write!(f, "{}: unsupported: {what}", path.display())
            }
            DataError::Invalid { path, reason } => write!(f, "{}: {reason}", path.display()),
            DataError::TooLarge {
                path,
                what,
                claimed,
                limit,
            } => {
                let claimed = claimed.map_or_else(|| "more than 2^64".into(), |c| c.to_string());
                write!(
                    f,
                    "{}: too large: {what} would take {claimed} {unit}, over the limit of {} \
                     {unit} ({})",
                    path.display(),
                    limit.value(),
                    limit.name(),
                    unit = limit.unit(),
                )
            }
            DataError::NotAFile { path, kind } => write!(
                f,
                "{}: not a regular file but {kind}; dataset files must be regular files \
                 (reading a pipe or device could block or never end)",
                path.display()
            ),
            DataError::Incomplete {
                dir,
                found,
                wanted,
                looked_for,
            } => write!(
                f,
                "{}: incomplete dataset: {} is here but {wanted} is missing (looked for {})",
                dir.display(),
                found
                    .file_name()
                    .map_or(found.as_os_str(), |n| n)
                    .to_string_lossy(),
                looked_for.join(", ")
            ),
            DataError::NotFound { dir, looked_for } => write!(
                f,
                "{}: no dataset files found (looked for {})",
                dir.display(),
                looked_for.join(", ")
            ),
            DataError::NoDataDir { cwd } => write!(
                f,
                "{}: no Agon data directory: pass --data-dir DIR, set AGON_DATA_DIR=DIR, or \
                 run from inside a checkout of the Agon repository (its data/ holds the \
                 shipped datasets and classifiers)",
                cwd.display()
            ),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
