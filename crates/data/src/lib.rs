//! # agon-data
//!
//! Datasets, batching and images for Agon's GANs:
//!
//! - **Readers** that return a [`Dataset`] of `[N, C, H, W]` images in `[-1, 1]` with
//!   labels: IDX files ([`mnist`], [`fashion_mnist`], [`kmnist`], [`load_idx_pair`]; gzip
//!   or raw), CIFAR-10 binary batches ([`cifar10`]), a folder of PNGs resized to the
//!   model's size ([`image_folder`]), and the 2-D mode-collapse benchmarks ([`ring8`],
//!   [`grid25`], [`Mixture`]).
//! - **The default dataset** ([`default_dataset`]): Fashion-MNIST, the full 60,000-image
//!   training split when installed at `/usr/share/datasets/fashion-mnist`, otherwise the
//!   10,000-image test split shipped in the repository's `data/fashion-mnist/`.
//! - A seeded, shuffling, resumable [`Batcher`].
//! - [`DiffAugment`]: differentiable translation, cutout and colour for real and fake
//!   batches alike.
//! - [`ClassicAugment`]: flips and shifts for a classifier's training images, and
//!   [`pick_per_class`]: a few labelled images of each class, picked by seed (the
//!   small-data experiments).
//! - PNG grids of samples ([`save_grid`]) and PNG decoding ([`load_png`]).
//!
//! ```
//! use agon_data::{default_dataset, Batcher, DiffAugment};
//! use agon_autodiff::Tensor;
//! use rand::SeedableRng;
//!
//! let data = default_dataset().unwrap();           // Fashion-MNIST, [N, 1, 28, 28]
//! let mut batches = Batcher::new(data, 64, 0).drop_last(true);
//! let (real, labels) = batches.next_batch();       // [64, 1, 28, 28], Some(64 labels)
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let seen = DiffAugment::all().apply(&Tensor::constant(real), &mut rng);
//! assert_eq!(seen.shape(), &[64, 1, 28, 28]);
//! assert!(labels.unwrap().iter().all(|&l| l < 10));
//! ```
//!
//! ## Errors
//! Files are the environment: every reader returns [`DataError`], which names the file and
//! the problem (wrong magic number, truncated, image/label count mismatch, not an image,
//! unsupported dims or types, an empty dataset, a size over a budget, a FIFO or device
//! where a file belongs). Readers never panic on bad bytes and never allocate what a
//! header merely claims: claimed sizes are checked against what the file can hold (its
//! length, or for compressed data its length times the format's largest expansion) and
//! against the documented budgets ([`MAX_DATASET_BYTES`], [`MAX_IMAGE_PIXELS`],
//! [`MAX_IDX_BYTES`], [`MAX_PNG_BYTES`], [`MAX_IMAGE_FILE_BYTES`]) first. Only regular
//! files are opened, so a FIFO or device given as a dataset file is an error, not a hang.
//! Misuse by the programmer (a zero batch size, a 3-D array given to [`save_grid`])
//! panics with a message, as elsewhere in Agon.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod augment;
mod batcher;
mod cifar;
mod dataset;
mod decoded;
mod error;
mod files;
mod idx;
mod idx_format;
mod image_folder;
mod image_pairs;
mod jpeg;
mod limits;
mod locate;
mod mixtures;
mod pick;
mod png_decode;
mod png_grid;
mod resize;

use std::io::Write;
use std::path::Path;

pub use augment::{
    rand_brightness, rand_contrast, rand_cutout, rand_hflip, rand_saturation, rand_shift,
    rand_translation, ClassicAugment, DiffAugment,
};
pub use batcher::{Batcher, BatcherState};
pub use cifar::{
    cifar10, find_cifar_batches, load_cifar_batches, CIFAR10_CLASSES, CIFAR_RECORD_BYTES,
};
pub use dataset::Dataset;
pub use error::DataError;
pub use idx::{
    default_dataset, default_dataset_dirs, default_dataset_in, fashion_mnist, fashion_mnist_dirs,
    find_idx_pair, has_idx_files, has_idx_split, kmnist, load_idx_dir, load_idx_pair, mnist,
    pick_dataset_dir, shipped_fashion_mnist_dir, Split, FASHION_MNIST_CLASSES, KMNIST_CLASSES,
    SYSTEM_FASHION_MNIST_DIR,
};
pub use idx_format::{read_idx, write_idx, IdxArray};
pub use image_folder::{image_files, image_folder, image_folder_with, load_image, FolderReport};
pub use image_pairs::{downsample_area, hole_masks, sobel_edges, upsample_bicubic, HoleKind};
pub use limits::{
    Limit, MAX_DATASET_BYTES, MAX_IDX_BYTES, MAX_IMAGE_FILE_BYTES, MAX_IMAGE_PIXELS, MAX_PNG_BYTES,
};
pub use locate::{checkout_data_dir, DataRoot, RootOrigin, DATA_DIR_ENV};
pub use mixtures::{grid25, ring8, Mixture, GRID25_STD, RING8_RADIUS, RING8_STD};
pub use pick::pick_per_class;
pub use png_grid::{load_png, make_grid, save_grid, save_png};

/// Writes `bytes` to `path` atomically: into `<name>.<pid>.tmp` beside it (creating the
/// parent directory if needed), synced, then renamed over `path`. A crash leaves either the
/// old file or the new one, never half of one.
///
/// ```
/// let path = std::env::temp_dir().join(format!("agon-atomic-doc-{}.txt", std::process::id()));
/// agon_data::write_atomic(&path, b"hello").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// [`DataError::Io`] naming `path` (or its temporary file) when any step fails; the
/// temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
    }
    let mut tmp_name = path
        .file_name()
        .ok_or_else(|| DataError::invalid(path, "not a file path"))?
        .to_os_string();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}

/// The crate README's example, compiled and run as a doc test so it cannot go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
