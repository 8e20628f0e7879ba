//! [`Decoded`]: one decoded PNG or JPEG frame as its raw samples, and the checks every
//! decoder makes on the size a header declares before decoding.
//!
//! Samples stay 8- or 16-bit until a reader converts exactly the pixels it needs: widening
//! a whole frame to `f32` first would cost 2 to 4 times the frame again.

use std::path::Path;

use crate::error::DataError;
use crate::limits::{within, Limit};

/// A decoded frame: `channels` interleaved samples per pixel, 8 or 16 bits each.
pub(crate) struct Decoded {
    pub width: usize,
    pub height: usize,
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    pub channels: usize,
    /// Row-major `[height, width, channels]` samples, big-endian pairs when `sixteen`.
    samples: Vec<u8>,
    sixteen: bool,
}

impl Decoded {
    /// Wraps `samples`; `None` unless their length is exactly `width * height * channels`
    /// samples of the given size.
    pub fn new(
        width: usize,
        height: usize,
        channels: usize,
        sixteen: bool,
        samples: Vec<u8>,
    ) -> Option<Decoded> {
        let bytes = width
            .checked_mul(height)?
            .checked_mul(channels)?
            .checked_mul(if sixteen { 2 } else { 1 })?;
        (samples.len() == bytes).then_some(Decoded {
            width,
            height,
            channels,
            samples,
            sixteen,
        })
    }

    /// Sample `c` of pixel `i` (row-major), in `[0, 1]`.
    #[inline]
    pub fn get(&self, i: usize, c: usize) -> f32 {
        let k = i * self.channels + c;
        if self.sixteen {
            let s = &self.samples[2 * k..2 * k + 2];
            f32::from(u16::from_be_bytes([s[0], s[1]])) / 65535.0
        } else {
            f32::from(self.samples[k]) / 255.0
        }
    }
}

/// Checks a frame size a header declares, before anything of that size is allocated: both
/// sides non-zero, at most [`MAX_IMAGE_PIXELS`](crate::MAX_IMAGE_PIXELS) pixels, and no
/// more than a file of `file_len` bytes can hold, given that it needs at least one byte per
/// `max_bits_per_byte` bits of `bits_per_pixel`-bit pixels (the format's largest
/// expansion). Returns the number of pixels.
pub(crate) fn check_frame(
    path: &Path,
    format: &str,
    (width, height): (u64, u64),
    bits_per_pixel: u64,
    file_len: u64,
    max_bits_per_byte: u64,
) -> Result<u64, DataError> {
    if width == 0 || height == 0 {
        return Err(DataError::unsupported(
            path,
            format!("a {format} of {width}x{height} pixels"),
        ));
    }
    let what = || format!("the {width}x{height} frame its {format} header declares");
    let pixels = within(path, what, width.checked_mul(height), Limit::ImagePixels)?;
    // pixels <= 2^25 and bits_per_pixel <= 64: no overflow.
    let min_len = (pixels * bits_per_pixel).div_ceil(max_bits_per_byte);
    if file_len < min_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: min_len,
            actual: file_len,
        });
    }
    Ok(pixels)
}
