//! Encoding a checkpoint as safetensors bytes, and writing a file atomically.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::{Dtype, View};

use super::dtype::{f32_bytes, i64_bytes, is_integer};
use super::{CheckpointError, Entry, Value};

/// One tensor ready to be written: dtype, shape and little-endian bytes.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// The safetensors bytes of `entries` with `metadata` in the header.
///
/// Float values are written as F32, integer entries (counters) as I64, raw entries (dtypes
/// Agon does not convert) byte for byte as they were read.
pub(crate) fn encode(
    entries: &BTreeMap<String, Entry>,
    metadata: &BTreeMap<String, String>,
) -> io::Result<Vec<u8>> {
    let encoded: Vec<(&String, Encoded)> = entries
        .iter()
        .map(|(name, e)| {
            let enc = match &e.value {
                Value::Float(a) if is_integer(e.dtype) => Encoded {
                    dtype: Dtype::I64,
                    shape: a.shape().to_vec(),
                    bytes: i64_bytes(&a.to_vec()),
                },
                Value::Float(a) => Encoded {
                    dtype: Dtype::F32,
                    shape: a.shape().to_vec(),
                    bytes: f32_bytes(&a.to_vec()),
                },
                Value::Raw(bytes) => Encoded {
                    dtype: e.dtype,
                    shape: e.shape.clone(),
                    bytes: bytes.clone(),
                },
            };
            (name, enc)
        })
        .collect();
    let meta: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    safetensors::serialize(encoded.iter().map(|(n, e)| (n.as_str(), e)), Some(meta))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("cannot encode: {e}")))
}

/// Distinguishes temporary files of concurrent saves within one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (named with
/// the process id), `write_all`, `sync_all`, rename over `path`, then a best-effort fsync of
/// the directory so the rename itself is durable.
///
/// A crash or error at any point leaves `path` as it was (the old file or nothing); on error
/// the temporary file is removed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io_err = |source: io::Error| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path.file_name().ok_or_else(|| {
        io_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names no file",
        ))
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let context = |what: &str, e: io::Error| {
        io_err(io::Error::new(
            e.kind(),
            format!("{what} {}: {e}", tmp.display()),
        ))
    };

    // `create_new` never follows or clobbers an existing file at the temporary name.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| context("cannot create temporary file", e))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| context("cannot write temporary file", e));
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(io::Error::new(
            e.kind(),
            format!("cannot rename {} over it: {e}", tmp.display()),
        )));
    }
    sync_dir(&dir);
    Ok(())
}

/// Flushes the directory entry of a rename to disk. Best effort: some platforms (Windows)
/// cannot open a directory as a file, and the data itself is already synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
