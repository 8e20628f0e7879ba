//! Opening dataset files: only regular files, and never reading more than a limit.
//!
//! Opening a FIFO blocks until something writes to it, and a device such as `/dev/zero`
//! never ends, so a reader handed one would hang or read until memory runs out. Every
//! dataset and image file is therefore checked to be a regular file (after following
//! symlinks) before it is opened, and checked again on the open handle, which catches a
//! file swapped for something else in between except for the open itself.

use std::fs::{File, FileType};
use std::io::Read;
use std::path::Path;

use crate::error::DataError;
use crate::limits::{within, Limit};

/// What a non-regular file is, in words.
pub(crate) fn kind_of(t: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// `Ok(())` for a regular file, [`DataError::NotAFile`] for anything else.
fn check_regular(path: &Path, t: FileType) -> Result<(), DataError> {
    if t.is_file() {
        Ok(())
    } else {
        Err(DataError::NotAFile {
            path: path.to_path_buf(),
            kind: kind_of(t).to_string(),
        })
    }
}

/// Opens `path` for reading when it is a regular file (symlinks followed); returns it with
/// its length.
///
/// # Errors
/// [`DataError::Io`] when it cannot be inspected or opened, [`DataError::NotAFile`] for a
/// directory, FIFO, device or socket.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    check_regular(path, meta.file_type())?;
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let meta = file.metadata().map_err(|e| DataError::io(path, e))?;
    check_regular(path, meta.file_type())?;
    Ok((file, meta.len()))
}

/// The length of the regular file `path`, without opening it.
///
/// # Errors
/// As [`open_regular`].
pub(crate) fn regular_len(path: &Path) -> Result<u64, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    check_regular(path, meta.file_type())?;
    Ok(meta.len())
}

/// Reads the regular file `path` whole when it holds at most `limit.value()` bytes.
///
/// # Errors
/// As [`open_regular`], and [`DataError::TooLarge`] when the file is (or grows while being
/// read) over the limit.
pub(crate) fn read_regular(path: &Path, limit: Limit) -> Result<Vec<u8>, DataError> {
    let (file, len) = open_regular(path)?;
    let what = || "the file".to_string();
    within(path, what, Some(len), limit)?;
    // The length is backed by the file; read one byte more to notice one that grew.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit.value() + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::io(path, e))?;
    within(path, what, Some(bytes.len() as u64), limit)?;
    Ok(bytes)
}
