//! CIFAR-10 binary batches (`cifar-10-binary.tar.gz`, extracted).
//!
//! Each batch file is a sequence of 3,073-byte records: one label byte (0-9), then the
//! 32x32 image as 1,024 red, 1,024 green and 1,024 blue bytes, each plane row-major. That
//! is already NCHW, so records are copied plane by plane.
//!
//! # Hostile files
//! Every file is checked before any is read: a regular file (a FIFO or `/dev/zero` would
//! block or never end), a positive whole number of records, and all of them together
//! within [`MAX_DATASET_BYTES`](crate::MAX_DATASET_BYTES) as `f32`. Files are then read one
//! at a time into the output, so at most one batch file's bytes are held besides it.

use std::path::{Path, PathBuf};

use agon_tensor::NdArray;

use crate::dataset::{u8_to_unit, Dataset};
use crate::error::DataError;
use crate::files::{open_regular, regular_len};
use crate::idx::Split;
use crate::limits::{f32_bytes, within, Limit};

/// Bytes per CIFAR-10 record: 1 label + 3 x 32 x 32 pixels.
pub const CIFAR_RECORD_BYTES: usize = 1 + 3 * 32 * 32;

/// The CIFAR-10 class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Loads CIFAR-10 batch files, concatenated in the order given, as `[N, 3, 32, 32]` images
/// in `[-1, 1]` with labels 0-9 and class names, named `"cifar10"`.
///
/// # Errors
/// [`DataError::Invalid`] when `paths` is empty or a label is above 9, [`DataError::Io`]
/// for unreadable files, [`DataError::NotAFile`] for a directory, FIFO or device,
/// [`DataError::Truncated`] when a file's length is not a positive multiple of 3,073 bytes,
/// [`DataError::TooLarge`] when the records together exceed
/// [`MAX_DATASET_BYTES`](crate::MAX_DATASET_BYTES) as `f32`.
pub fn load_cifar_batches<P: AsRef<Path>>(paths: &[P]) -> Result<Dataset, DataError> {
    if paths.is_empty() {
        return Err(DataError::invalid(
            Path::new("CIFAR-10"),
            "no batch files given; a dataset needs at least one",
        ));
    }
    // Lengths first, from the file system: nothing is read until all are known to fit.
    let mut files = Vec::with_capacity(paths.len());
    let mut n = 0u64;
    for path in paths {
        let path = path.as_ref();
        let len = regular_len(path)?;
        check_whole_records(path, len)?;
        n += len / CIFAR_RECORD_BYTES as u64;
        let what = || format!("{n} CIFAR-10 images (up to this file) as f32 samples");
        within(path, what, f32_bytes(&[n, 3, 32, 32]), Limit::DatasetBytes)?;
        files.push((path, len));
    }
    let n = n as usize;
    let mut pixels = Vec::with_capacity(n * (CIFAR_RECORD_BYTES - 1));
    let mut labels = Vec::with_capacity(n);
    for &(path, len) in &files {
        let bytes = read_exactly(path, len)?;
        for (i, record) in bytes.chunks_exact(CIFAR_RECORD_BYTES).enumerate() {
            let label = usize::from(record[0]);
            if label >= 10 {
                return Err(DataError::invalid(
                    path,
                    format!("record {i} has label {label}; CIFAR-10 labels are 0-9"),
                ));
            }
            labels.push(label);
            pixels.extend(record[1..].iter().map(|&b| u8_to_unit(b)));
        }
    }
    let images = NdArray::from_vec(pixels, &[n, 3, 32, 32]).map_err(|e| {
        // Unreachable: every file held whole records.
        DataError::invalid(files[0].0, format!("internal error: {e}"))
    })?;
    let names = CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect();
    Ok(Dataset::new("cifar10", images, Some((labels, 10))).with_class_names(names))
}

/// A batch file must hold a positive whole number of records.
fn check_whole_records(path: &Path, len: u64) -> Result<(), DataError> {
    let record = CIFAR_RECORD_BYTES as u64;
    if len == 0 || !len.is_multiple_of(record) {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: len.div_ceil(record).max(1) * record,
            actual: len,
        });
    }
    Ok(())
}

/// The `len` bytes of `path`, which must still be a regular file of that length (it was
/// checked before; a file that changed since is refused, not half read).
fn read_exactly(path: &Path, len: u64) -> Result<Vec<u8>, DataError> {
    use std::io::Read;
    let (file, now) = open_regular(path)?;
    let mut bytes = Vec::with_capacity(len.min(now) as usize);
    file.take(len + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::io(path, e))?;
    if bytes.len() as u64 != len {
        return Err(DataError::invalid(
            path,
            format!(
                "changed while being read: {len} bytes when listed, {} when read",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// The batch files of `split` in `dir` (or in its `cifar-10-batches-bin/` subfolder):
/// `data_batch_1.bin`..`data_batch_5.bin` that exist, or `test_batch.bin`. Entries that are
/// not regular files are listed too, so that loading them reports what they are.
pub fn find_cifar_batches(dir: &Path, split: Split) -> Vec<PathBuf> {
    let nested = dir.join("cifar-10-batches-bin");
    let dir = if nested.is_dir() { &nested } else { dir };
    let names: Vec<String> = match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".into()],
    };
    names
        .iter()
        .map(|n| dir.join(n))
        // Anything present: a FIFO or directory under a batch's name is reported by the
        // reader rather than silently skipped.
        .filter(|p| p.exists())
        .collect()
}

/// CIFAR-10 from `dir`: the training batches when present, otherwise the test batch.
///
/// # Errors
/// [`DataError::NotFound`] when neither is there, and everything [`load_cifar_batches`]
/// reports.
pub fn cifar10(dir: &Path) -> Result<Dataset, DataError> {
    for split in [Split::Train, Split::Test] {
        let files = find_cifar_batches(dir, split);
        if !files.is_empty() {
            return load_cifar_batches(&files);
        }
    }
    Err(DataError::NotFound {
        dir: dir.to_path_buf(),
        looked_for: vec![
            "data_batch_1.bin .. data_batch_5.bin".into(),
            "test_batch.bin".into(),
            "(also under cifar-10-batches-bin/)".into(),
        ],
    })
}
