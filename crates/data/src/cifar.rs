//! CIFAR-10 binary batches (`cifar-10-binary.tar.gz`, extracted).
//!
//! Each batch file is a sequence of 3,073-byte records: one label byte (0-9), then the
//! 32x32 image as 1,024 red, 1,024 green and 1,024 blue bytes, each plane row-major. That
//! is already NCHW, so records are copied plane by plane. A file whose length is not a
//! whole number of records is reported as truncated; nothing is allocated beyond the bytes
//! actually read.

use std::path::{Path, PathBuf};

use agon_tensor::NdArray;

use crate::dataset::{u8_to_unit, Dataset};
use crate::error::DataError;
use crate::idx::Split;

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
/// [`DataError::Io`] for unreadable files, [`DataError::Truncated`] when a file's length is
/// not a positive multiple of 3,073 bytes, [`DataError::Invalid`] for a label above 9.
pub fn load_cifar_batches<P: AsRef<Path>>(paths: &[P]) -> Result<Dataset, DataError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let len = bytes.len();
        if len == 0 || len % CIFAR_RECORD_BYTES != 0 {
            let whole = len.div_ceil(CIFAR_RECORD_BYTES).max(1) * CIFAR_RECORD_BYTES;
            return Err(DataError::Truncated {
                path: path.to_path_buf(),
                expected: whole as u64,
                actual: len as u64,
            });
        }
        files.push((path, bytes));
    }
    let n: usize = files
        .iter()
        .map(|(_, b)| b.len() / CIFAR_RECORD_BYTES)
        .sum();
    let mut pixels = Vec::with_capacity(n * (CIFAR_RECORD_BYTES - 1));
    let mut labels = Vec::with_capacity(n);
    for (path, bytes) in &files {
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
    let images = NdArray::from_vec(pixels, &[n, 3, 32, 32]).expect("whole records");
    let names = CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect();
    Ok(Dataset::new("cifar10", images, Some((labels, 10))).with_class_names(names))
}

/// The batch files of `split` in `dir` (or in its `cifar-10-batches-bin/` subfolder):
/// `data_batch_1.bin`..`data_batch_5.bin` that exist, or `test_batch.bin`.
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
        .filter(|p| p.is_file())
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
