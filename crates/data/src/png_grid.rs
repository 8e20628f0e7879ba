//! PNG images: a grid of samples for looking at training progress ([`save_grid`]), single
//! images ([`save_png`]), and reading one ([`load_png`]; the decoder, shared with the
//! image-folder reader, is in `png_decode`).
//!
//! Arrays are NCHW / CHW with values in `[-1, 1]`; pixels are
//! `round((clamp(x, -1, 1) + 1) * 127.5)`, the inverse of the readers' `b / 127.5 - 1`, so
//! 8-bit images survive a save / load round trip exactly. One channel is written as an 8-bit
//! grayscale PNG, three as 8-bit RGB. Files are written atomically: to a temporary file
//! beside the target, then renamed over it, so a reader never sees half a PNG.

use std::path::Path;

use agon_tensor::NdArray;

use crate::error::DataError;
use crate::png_decode::decode_png;

/// Reads a PNG as a `[C, H, W]` array in `[-1, 1]`, `C` as stored (1 gray, 2 gray + alpha,
/// 3 RGB, 4 RGBA; palettes become RGB or RGBA; 8- and 16-bit samples).
///
/// The frame's size is checked from its header before it is decoded: at most
/// [`MAX_IMAGE_PIXELS`](crate::MAX_IMAGE_PIXELS) pixels and what the file can hold.
///
/// # Errors
/// [`DataError::Io`] when unreadable, [`DataError::NotAFile`] for a FIFO, device or
/// directory, [`DataError::NotAnImage`] when not a valid PNG, [`DataError::TooLarge`] when
/// the file or its frame exceeds [`MAX_IMAGE_FILE_BYTES`](crate::MAX_IMAGE_FILE_BYTES),
/// [`MAX_IMAGE_PIXELS`](crate::MAX_IMAGE_PIXELS) or [`MAX_PNG_BYTES`](crate::MAX_PNG_BYTES),
/// [`DataError::Truncated`] when the header declares a frame the file is too short to hold.
pub fn load_png(path: &Path) -> Result<NdArray, DataError> {
    let d = decode_png(path)?;
    let (c, pixels) = (d.channels, d.width * d.height);
    // Straight from the 8- or 16-bit samples to planar [-1, 1]: one f32 buffer, no
    // interleaved copy to permute.
    let mut chw = Vec::with_capacity(c * pixels);
    for ch in 0..c {
        chw.extend((0..pixels).map(|i| d.get(i, ch) * 2.0 - 1.0));
    }
    NdArray::from_vec(chw, &[c, d.height, d.width]).map_err(|e| {
        // Unreachable: `Decoded` holds exactly height * width * channels samples.
        DataError::invalid(path, format!("internal error: {e}"))
    })
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
