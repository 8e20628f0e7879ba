//! The memory budgets that sizes read from files are checked against, before anything of
//! that size is allocated.
//!
//! A file's header says how big its contents are (an IDX file's dims, a PNG's width and
//! height, the number of CIFAR records), and a hostile or damaged file can claim anything.
//! Each reader checks a claim twice before allocating for it: against what the file can
//! physically hold (its length, or for compressed data its length times the format's
//! largest expansion), which catches lies, and against the budgets here, which bound what
//! an honest but enormous file (or a decompression bomb that really inflates) can cost.
//! Going over a budget is a [`DataError::TooLarge`](crate::DataError::TooLarge) naming the
//! file, what was claimed and the limit's name.

use std::path::Path;

use crate::error::DataError;

/// The largest dataset a reader returns: 2 GiB of `f32` samples (512 Mi values), checked
/// from headers and file lengths before the samples are allocated. That holds CIFAR-10's
/// 50,000 training images 3.4 times over, the 60,000 Fashion-MNIST ones 11 times over, or
/// a folder of 43,000 images at 64x64 RGB.
pub const MAX_DATASET_BYTES: u64 = 2 << 30;

/// The largest payload an IDX header may claim: 2 GiB (the MNIST-family files hold at
/// most 47 MB). Loading it as a dataset is further bounded by [`MAX_DATASET_BYTES`].
pub const MAX_IDX_BYTES: u64 = 1 << 31;

/// The most pixels one decoded PNG or JPEG may have: 2^25 (e.g. 8192 x 4096, or a
/// 6000 x 4000 camera frame). Checked from the header before the frame is decoded, so a
/// file declaring 16384 x 16384 is refused without allocating its buffer.
pub const MAX_IMAGE_PIXELS: u64 = 1 << 25;

/// The largest decoded frame [`load_png`](crate::load_png) accepts: 256 MiB, which
/// [`MAX_IMAGE_PIXELS`] pixels of 16-bit RGBA fill exactly. The header's width, height and
/// sample size are checked against it before the buffer is allocated.
pub const MAX_PNG_BYTES: usize = 256 << 20;

/// The largest image file (PNG or JPEG) read: 256 MiB, checked from the file's length
/// before it is read.
pub const MAX_IMAGE_FILE_BYTES: u64 = 256 << 20;

/// The most a deflate stream (gzip, PNG's IDAT) can expand: 1032 to 1 (zlib's documented
/// limit: a 258-byte match in 2 bits). A compressed file of `n` bytes cannot hold more
/// than `1032 n` bytes of data.
pub(crate) const DEFLATE_MAX_RATIO: u64 = 1032;

/// Which limit a [`DataError::TooLarge`](crate::DataError::TooLarge) is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`MAX_DATASET_BYTES`], in bytes of `f32` samples.
    DatasetBytes,
    /// [`MAX_IDX_BYTES`], in bytes of IDX payload.
    IdxBytes,
    /// [`MAX_IMAGE_PIXELS`], in pixels of one image.
    ImagePixels,
    /// [`MAX_PNG_BYTES`], in bytes of one decoded PNG frame.
    PngBytes,
    /// [`MAX_IMAGE_FILE_BYTES`], in bytes of one image file.
    ImageFileBytes,
}

impl Limit {
    /// The limit's value.
    pub fn value(self) -> u64 {
        match self {
            Limit::DatasetBytes => MAX_DATASET_BYTES,
            Limit::IdxBytes => MAX_IDX_BYTES,
            Limit::ImagePixels => MAX_IMAGE_PIXELS,
            Limit::PngBytes => MAX_PNG_BYTES as u64,
            Limit::ImageFileBytes => MAX_IMAGE_FILE_BYTES,
        }
    }

    /// The constant's name, e.g. `"MAX_DATASET_BYTES"`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::DatasetBytes => "MAX_DATASET_BYTES",
            Limit::IdxBytes => "MAX_IDX_BYTES",
            Limit::ImagePixels => "MAX_IMAGE_PIXELS",
            Limit::PngBytes => "MAX_PNG_BYTES",
            Limit::ImageFileBytes => "MAX_IMAGE_FILE_BYTES",
        }
    }

    /// What it counts: `"bytes"` or `"pixels"`.
    pub fn unit(self) -> &'static str {
        match self {
            Limit::ImagePixels => "pixels",
            _ => "bytes",
        }
    }
}

/// `Ok(claimed)` when `claimed` (`None`: it overflowed `u64`) is within `limit`, else
/// [`DataError::TooLarge`] naming `path` and `what` was claimed.
pub(crate) fn within(
    path: &Path,
    what: impl FnOnce() -> String,
    claimed: Option<u64>,
    limit: Limit,
) -> Result<u64, DataError> {
    match claimed {
        Some(c) if c <= limit.value() => Ok(c),
        _ => Err(DataError::TooLarge {
            path: path.to_path_buf(),
            what: what(),
            claimed,
            limit,
        }),
    }
}

/// The bytes of `f32` samples `[n, dims..]` would take, `None` on overflow.
pub(crate) fn f32_bytes(extents: &[u64]) -> Option<u64> {
    extents.iter().try_fold(4u64, |acc, &d| acc.checked_mul(d))
}
