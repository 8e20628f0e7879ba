//! PNG images: a grid of samples for looking at training progress ([`save_grid`]), single
//! images ([`save_png`]), and decoding ([`load_png`], also used by the image-folder reader).
//!
//! Arrays are NCHW / CHW with values in `[-1, 1]`; pixels are
//! `round((clamp(x, -1, 1) + 1) * 127.5)`, the inverse of the readers' `b / 127.5 - 1`, so
//! 8-bit images survive a save / load round trip exactly. One channel is written as an 8-bit
//! grayscale PNG, three as 8-bit RGB. Files are written atomically: to a temporary file
//! beside the target, then renamed over it, so a reader never sees half a PNG.

use std::io::Cursor;
use std::path::Path;

use agon_tensor::NdArray;

use crate::error::DataError;

/// The largest decoded frame [`load_png`] accepts: 256 MiB (e.g. 8192 x 8192 RGBA). The
/// header's width and height are checked against it before the buffer is allocated.
pub const MAX_PNG_BYTES: usize = 256 << 20;

/// A decoded PNG: `channels` interleaved samples per pixel, scaled to `[0, 1]`.
pub(crate) struct Decoded {
    pub width: usize,
    pub height: usize,
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    pub channels: usize,
    /// Row-major `[height, width, channels]`.
    pub data: Vec<f32>,
}

/// Decodes any PNG (palette and low bit depths expanded to 8 bits, 16 bits kept) to `[0, 1]`.
pub(crate) fn decode_png(path: &Path) -> Result<Decoded, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let not_image = |e: png::DecodingError| DataError::NotAnImage {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut decoder = png::Decoder::new(Cursor::new(&bytes[..]));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(not_image)?;
    let (width, height) = reader.info().size();
    let size = reader
        .output_buffer_size()
        .filter(|&s| s <= MAX_PNG_BYTES)
        .ok_or_else(|| {
            DataError::unsupported(
                path,
                format!("a {width}x{height} frame, larger than the {MAX_PNG_BYTES}-byte limit"),
            )
        })?;
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
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(not_image)?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    let samples = width * height * channels;
    let data: Vec<f32> = match depth {
        png::BitDepth::Eight => buf[..samples]
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect(),
        png::BitDepth::Sixteen => buf[..2 * samples]
            .chunks_exact(2)
            .map(|c| f32::from(u16::from_be_bytes([c[0], c[1]])) / 65535.0)
            .collect(),
        other => {
            return Err(DataError::unsupported(
                path,
                format!("bit depth {other:?} after expansion"),
            ));
        }
    };
    Ok(Decoded {
        width,
        height,
        channels,
        data,
    })
}

/// Reads a PNG as a `[C, H, W]` array in `[-1, 1]`, `C` as stored (1 gray, 2 gray + alpha,
/// 3 RGB, 4 RGBA; palettes become RGB or RGBA; 8- and 16-bit samples).
///
/// # Errors
/// [`DataError::Io`] when unreadable, [`DataError::NotAnImage`] when not a valid PNG,
/// [`DataError::Unsupported`] when its frame exceeds [`MAX_PNG_BYTES`].
pub fn load_png(path: &Path) -> Result<NdArray, DataError> {
    let d = decode_png(path)?;
    let hwc = NdArray::from_vec(d.data, &[d.height, d.width, d.channels]).expect("decoded size");
    Ok(hwc
        .permute(&[2, 0, 1])
        .contiguous()
        .mul_scalar(2.0)
        .sub_scalar(1.0))
}

/// Tiles `[N, C, H, W]` images into one `[C, H', W']` image, `nrow` images per row
/// (torchvision's `make_grid`), with `padding` pixels of `pad_value` around and between
/// them. `H' = rows * (H + padding) + padding`, likewise `W'` with `min(nrow, N)` columns.
///
/// ```
/// use agon_tensor::NdArray;
/// let grid = agon_data::make_grid(&NdArray::ones(&[5, 1, 2, 2]), 2, 1, 0.0);
/// assert_eq!(grid.shape(), &[1, 3 * 3 + 1, 2 * 3 + 1]);
/// ```
///
/// # Panics
/// If `images` is not 4-D, is empty, or `nrow` is 0.
#[track_caller]
pub fn make_grid(images: &NdArray, nrow: usize, padding: usize, pad_value: f32) -> NdArray {
    assert!(
        images.ndim() == 4 && images.shape()[0] > 0 && nrow > 0,
        "make_grid: need non-empty [N, C, H, W] images and nrow > 0, got shape {:?}, nrow {nrow}",
        images.shape()
    );
    let [n, c, h, w] = [0, 1, 2, 3].map(|a| images.shape()[a]);
    let cols = nrow.min(n);
    let rows = n.div_ceil(cols);
    let (gh, gw) = (
        rows * (h + padding) + padding,
        cols * (w + padding) + padding,
    );
    let mut out = vec![pad_value; c * gh * gw];
    let src = images.contiguous();
    let s = src.as_slice().expect("contiguous");
    for i in 0..n {
        let (y0, x0) = (
            padding + (i / cols) * (h + padding),
            padding + (i % cols) * (w + padding),
        );
        for ch in 0..c {
            for y in 0..h {
                let from = &s[((i * c + ch) * h + y) * w..][..w];
                out[(ch * gh + y0 + y) * gw + x0..][..w].copy_from_slice(from);
            }
        }
    }
    NdArray::from_vec(out, &[c, gh, gw]).expect("grid size")
}

/// Saves `[N, C, H, W]` images in `[-1, 1]` (C = 1 or 3) as one 8-bit PNG grid with `nrow`
/// images per row and `padding` mid-grey pixels between them, atomically.
///
/// ```
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let fake = NdArray::rand_uniform(&[16, 1, 28, 28], -1.0, 1.0, &mut rng);
/// let path = std::env::temp_dir().join(format!("agon-grid-doc-{}.png", std::process::id()));
/// agon_data::save_grid(&fake, 4, 2, &path).unwrap();
/// assert_eq!(agon_data::load_png(&path).unwrap().shape(), &[1, 4 * 30 + 2, 4 * 30 + 2]);
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// [`DataError::Io`] when the file cannot be written.
///
/// # Panics
/// If `images` is not a non-empty `[N, C, H, W]` with C = 1 or 3, or `nrow` is 0.
#[track_caller]
pub fn save_grid(
    images: &NdArray,
    nrow: usize,
    padding: usize,
    path: &Path,
) -> Result<(), DataError> {
    save_png(&make_grid(images, nrow, padding, 0.0), path)
}

/// Saves one `[C, H, W]` image in `[-1, 1]` (C = 1 or 3) as an 8-bit PNG, atomically.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be written.
///
/// # Panics
/// If `image` is not `[C, H, W]` with C = 1 or 3 and H, W > 0.
#[track_caller]
pub fn save_png(image: &NdArray, path: &Path) -> Result<(), DataError> {
    let s = image.shape();
    assert!(
        s.len() == 3 && (s[0] == 1 || s[0] == 3) && s[1] > 0 && s[2] > 0,
        "save_png: need a [C, H, W] image with C = 1 or 3, got shape {s:?}"
    );
    let (c, h, w) = (s[0], s[1], s[2]);
    let pixels: Vec<u8> = image
        .permute(&[1, 2, 0])
        .to_vec()
        .iter()
        .map(|&x| ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8)
        .collect();
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
        enc.set_color(if c == 1 {
            png::ColorType::Grayscale
        } else {
            png::ColorType::Rgb
        });
        enc.set_depth(png::BitDepth::Eight);
        let encode_err = |e: png::EncodingError| {
            DataError::io(path, std::io::Error::other(format!("PNG encoding: {e}")))
        };
        let mut writer = enc.write_header().map_err(encode_err)?;
        writer.write_image_data(&pixels).map_err(encode_err)?;
        writer.finish().map_err(encode_err)?;
    }
    crate::write_atomic(path, &bytes)
}
