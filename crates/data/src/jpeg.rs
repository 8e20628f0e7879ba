//! JPEG decoding for the image-folder reader, through the `image` crate's decoder (only its
//! `jpeg` feature is enabled).
//!
//! The frame's size is read from the header and checked by [`check_frame`] before any
//! pixel buffer is allocated: at most [`MAX_IMAGE_PIXELS`](crate::MAX_IMAGE_PIXELS), and no
//! more than the file can hold. Huffman-coded JPEG spends at least one bit on every 8x8
//! block (its DC code) in baseline and progressive alike, so a file of `n` bytes holds at
//! most `512 n` pixels; twice that is allowed for margin. The decoder also runs under
//! `image::Limits` (width, height, allocation).
//!
//! The decoder is lenient: a JPEG cut short after its header decodes, the missing blocks
//! filled in. Only a stream too short for its declared size (above) is refused.

use std::io::Cursor;
use std::path::Path;

use image::{ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::decoded::{check_frame, Decoded};
use crate::error::DataError;
use crate::files::read_regular;
use crate::limits::{Limit, MAX_IMAGE_PIXELS, MAX_PNG_BYTES};

/// Pixels one byte of a JPEG file may account for (see the module docs).
const MAX_PIXELS_PER_BYTE: u64 = 512;

/// Decodes the JPEG at `path` to gray (1 channel) or RGB (3).
///
/// # Errors
/// [`DataError::Io`] / [`DataError::NotAFile`] when the file cannot be read,
/// [`DataError::TooLarge`] for a file or frame over the limits, [`DataError::Truncated`] for
/// a frame the file is too short to hold, [`DataError::NotAnImage`] when it does not decode
/// as a JPEG.
pub(crate) fn decode_jpeg(path: &Path) -> Result<Decoded, DataError> {
    let bytes = read_regular(path, Limit::ImageFileBytes)?;
    check_complete(path, &bytes)?;
    let not_image = |e: image::ImageError| DataError::NotAnImage {
        path: path.to_path_buf(),
        reason: format!("JPEG: {e}"),
    };
    // Enforced by the decoder too, in case a frame's size is not the header's.
    let side = MAX_IMAGE_PIXELS.min(u64::from(u32::MAX)) as u32;
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(MAX_PNG_BYTES as u64);
    let mut reader = ImageReader::with_format(Cursor::new(&bytes[..]), ImageFormat::Jpeg);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(not_image)?;
    let (width, height) = decoder.dimensions();
    check_frame(
        path,
        "JPEG",
        (u64::from(width), u64::from(height)),
        1,
        bytes.len() as u64,
        MAX_PIXELS_PER_BYTE,
    )?;
    let img = image::DynamicImage::from_decoder(decoder).map_err(not_image)?;
    drop(bytes);
    let (channels, raw) = if img.color().has_color() {
        (3, img.into_rgb8().into_raw())
    } else {
        (1, img.into_luma8().into_raw())
    };
    let (width, height) = (width as usize, height as usize);
    Decoded::new(width, height, channels, false, raw).ok_or_else(|| DataError::NotAnImage {
        path: path.to_path_buf(),
        reason: format!("JPEG: the decoder returned a frame of unexpected size ({width}x{height})"),
    })
}

/// Walks the marker segments of `jpeg` (and the entropy-coded data after each SOS) up to
/// its end-of-image marker: [`DataError::Truncated`] when the file ends first. Anything
/// else odd is left for the decoder to judge, and bytes after the end-of-image marker
/// (some cameras append a video there) are ignored.
fn check_complete(path: &Path, jpeg: &[u8]) -> Result<(), DataError> {
    let truncated = || DataError::Truncated {
        path: path.to_path_buf(),
        // At least the 2-byte end-of-image marker is missing.
        expected: jpeg.len() as u64 + 2,
        actual: jpeg.len() as u64,
    };
    if !jpeg.starts_with(&[0xff, 0xd8]) {
        return Ok(()); // not a JPEG: the decoder says so
    }
    let mut pos = 2;
    loop {
        if pos >= jpeg.len() {
            return Err(truncated());
        }
        if jpeg[pos] != 0xff {
            return Ok(()); // not at a marker: the decoder's call
        }
        while pos < jpeg.len() && jpeg[pos] == 0xff {
            pos += 1; // fill bytes
        }
        let Some(&marker) = jpeg.get(pos) else {
            return Err(truncated());
        };
        pos += 1;
        match marker {
            0xd9 => return Ok(()),
            0x01 | 0xd0..=0xd7 => continue, // standalone markers
            0xc0..=0xfe => {}
            _ => return Ok(()), // not a marker: the decoder's call
        }
        let Some(len) = jpeg.get(pos..pos + 2) else {
            return Err(truncated());
        };
        pos += usize::from(u16::from_be_bytes([len[0], len[1]]));
        if pos > jpeg.len() {
            return Err(truncated());
        }
        if marker == 0xda {
            // Entropy-coded data: 0xff is stuffed as ff 00; ff d0..d7 are restarts. It ends
            // at the next other marker.
            loop {
                match jpeg.get(pos..pos + 2) {
                    None => return Err(truncated()),
                    Some([0xff, 0x00 | 0xd0..=0xd7]) => pos += 2,
                    Some([0xff, 0xff]) => pos += 1,
                    Some([0xff, _]) => break,
                    Some(_) => pos += 1,
                }
            }
        }
    }
}
