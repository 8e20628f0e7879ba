//! PNG decoding for [`load_png`](crate::load_png) and the image-folder reader.
//!
//! The header (IHDR) is read on its own first and its width and height checked by
//! [`check_frame`]: at most [`MAX_IMAGE_PIXELS`](crate::MAX_IMAGE_PIXELS), and no more than
//! the file can hold at deflate's largest expansion (1032:1), so a small file declaring
//! 16384 x 16384 is refused before its 256 MiB buffer exists. The decoder's own buffers
//! (rows, text and ICC chunks) run under `png::Limits`. The file is streamed, not read
//! into memory whole, and must be a regular file.

use std::io::BufReader;
use std::path::Path;

use crate::decoded::{check_frame, Decoded};
use crate::error::DataError;
use crate::files::open_regular;
use crate::limits::{within, Limit, DEFLATE_MAX_RATIO, MAX_PNG_BYTES};

/// What the png crate may allocate besides the frame: enough for rows of the widest frame
/// the pixel limit admits, and metadata chunks; 64 MiB, its default.
const DECODER_BYTES: usize = 64 << 20;

/// Decodes any PNG (palette and low bit depths expanded to 8 bits, 16 bits kept).
///
/// # Errors
/// [`DataError::Io`] / [`DataError::NotAFile`] when it cannot be opened,
/// [`DataError::TooLarge`] for a file or frame over the limits, [`DataError::Truncated`]
/// for a frame the file is too short to hold, [`DataError::NotAnImage`] when it does not
/// decode.
pub(crate) fn decode_png(path: &Path) -> Result<Decoded, DataError> {
    let (file, file_len) = open_regular(path)?;
    within(
        path,
        || "the file".into(),
        Some(file_len),
        Limit::ImageFileBytes,
    )?;
    let not_image = |e: png::DecodingError| DataError::NotAnImage {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let limits = png::Limits {
        bytes: DECODER_BYTES,
    };
    let mut decoder = png::Decoder::new_with_limits(BufReader::new(file), limits);
    decoder.set_transformations(png::Transformations::EXPAND);
    let info = decoder.read_header_info().map_err(not_image)?;
    let (width, height) = info.size();
    let bits = info.bits_per_pixel() as u64;
    // The IDAT data holds each row's pixels (at least width * bits / 8 bytes per row).
    check_frame(
        path,
        "PNG",
        (u64::from(width), u64::from(height)),
        bits,
        file_len,
        8 * DEFLATE_MAX_RATIO,
    )?;
    let mut reader = decoder.read_info().map_err(not_image)?;
    let size = reader.output_buffer_size();
    let what = || format!("the decoded {width}x{height} frame");
    let size = within(path, what, size.map(|s| s as u64), Limit::PngBytes)? as usize;
    debug_assert!(size <= MAX_PNG_BYTES);
    let (color, depth) = reader.output_color_type();
    let channels = match color {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(DataError::unsupported(path, "an unexpanded palette image"));
        }
    };
    let sixteen = match depth {
        png::BitDepth::Eight => false,
        png::BitDepth::Sixteen => true,
        other => {
            return Err(DataError::unsupported(
                path,
                format!("bit depth {other:?} after expansion"),
            ));
        }
    };
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(not_image)?;
    buf.truncate(frame.buffer_size());
    let (width, height) = (frame.width as usize, frame.height as usize);
    Decoded::new(width, height, channels, sixteen, buf).ok_or_else(|| DataError::NotAnImage {
        path: path.to_path_buf(),
        reason: format!("the decoder returned a frame of unexpected size ({width}x{height})"),
    })
}
