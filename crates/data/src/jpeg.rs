//! JPEG decoding for the image-folder reader, through the `image` crate's decoder (only its
//! `jpeg` feature is enabled). The frame's size is read from the header and checked against
//! [`MAX_PNG_BYTES`] (the same limit as PNG) before any pixel buffer is allocated, and the
//! decoder itself runs under that allocation limit.

use std::io::Cursor;
use std::path::Path;

use image::{ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::error::DataError;
use crate::png_grid::{Decoded, MAX_PNG_BYTES};

/// Decodes the JPEG at `path` to gray (1 channel) or RGB (3), samples in `[0, 1]`.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, [`DataError::NotAnImage`] when it does
/// not decode as a JPEG, [`DataError::Unsupported`] for a frame over the size limit.
pub(crate) fn decode_jpeg(path: &Path) -> Result<Decoded, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let not_image = |e: image::ImageError| DataError::NotAnImage {
        path: path.to_path_buf(),
        reason: format!("JPEG: {e}"),
    };
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PNG_BYTES as u64);
    let mut reader = ImageReader::with_format(Cursor::new(&bytes[..]), ImageFormat::Jpeg);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(not_image)?;
    let (width, height) = decoder.dimensions();
    let (width, height) = (width as usize, height as usize);
    if decoder.total_bytes() > MAX_PNG_BYTES as u64 {
        return Err(DataError::unsupported(
            path,
            format!("a {width}x{height} frame, larger than the {MAX_PNG_BYTES}-byte limit"),
        ));
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(not_image)?;
    let (channels, raw) = if img.color().has_color() {
        (3, img.into_rgb8().into_raw())
    } else {
        (1, img.into_luma8().into_raw())
    };
    Ok(Decoded {
        width,
        height,
        channels,
        data: raw.iter().map(|&b| f32::from(b) / 255.0).collect(),
    })
}
