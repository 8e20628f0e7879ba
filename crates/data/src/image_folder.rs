//! A folder of PNG and JPEG images as a dataset, resized to the model's size.
//!
//! # Layout
//! - `dir/*.png`, `dir/*.jpg`: an unlabelled dataset.
//! - `dir/<class>/*.png`: a labelled one (torchvision's `ImageFolder`): the subfolders that
//!   hold images, sorted by name, are classes `0, 1, ..`, and their names the class names.
//!   Images directly in `dir` are then ignored.
//!
//! Files are taken in name order; only names ending in `.png`, `.jpg` or `.jpeg` (any case)
//! are read, so a stray `README` or `.DS_Store` is skipped, but a file so named that does
//! not decode is an error naming it.
//!
//! # Size and channels
//! [`image_folder`] takes both; [`image_folder_with`] can instead take them from the first
//! image in name order (its height and width; 1 channel when it is gray, else 3) and
//! reports how many images had to be resized or converted, so a caller can say so once.
//!
//! # Resizing: centre crop, then area (down) or bilinear (up)
//! Each image is first cropped to the target's aspect ratio around its centre (the largest
//! such window), then resized per axis: an axis that shrinks uses **area averaging** (each
//! output pixel is the mean of the source pixels it covers, fractional pixels weighted by
//! their overlap, as OpenCV's `INTER_AREA`: no aliasing when shrinking photos to 32x32); an
//! axis that grows uses **bilinear** interpolation with half-pixel centres (PyTorch's
//! `align_corners = False`). Equal sizes copy exactly.
//!
//! # Channels
//! Gray, gray + alpha, RGB and RGBA files, 8 or 16 bits (palettes and low bit depths
//! expanded), become the requested 1 or 3 channels: alpha is dropped, gray is repeated
//! to RGB, and RGB becomes gray by the ITU-R BT.601 luma `0.299 R + 0.587 G + 0.114 B`
//! (what PIL's `convert("L")` does).

use std::path::{Path, PathBuf};

use agon_tensor::NdArray;

use crate::dataset::Dataset;
use crate::error::DataError;
use crate::jpeg::decode_jpeg;
use crate::png_grid::{decode_png, Decoded};

/// What [`image_folder_with`] read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderReport {
    /// Images read.
    pub images: usize,
    /// The size (`[height, width]`) and channel count they were all brought to.
    pub size: [usize; 2],
    /// Channels of the dataset (1 or 3).
    pub channels: usize,
    /// Images whose own size differed from `size` (centre-cropped and resized).
    pub resized: usize,
    /// Images whose channel count was converted (gray to RGB, RGB to gray, alpha dropped).
    pub converted: usize,
    /// The first resized image and its own `[height, width]`, for a message.
    pub first_resized: Option<(PathBuf, [usize; 2])>,
}

/// Loads the PNGs and JPEGs under `dir` as `[N, channels, size[0], size[1]]` images in
/// `[-1, 1]`, labelled by subfolder when there are class subfolders (see the module docs).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("agon-folder-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let img = agon_tensor::NdArray::zeros(&[3, 40, 20]);
/// agon_data::save_png(&img, &dir.join("a.png")).unwrap();
/// let ds = agon_data::image_folder(&dir, [32, 32], 3).unwrap();
/// assert_eq!(ds.images().shape(), &[1, 3, 32, 32]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// [`DataError::Io`] for unreadable directories or files, [`DataError::NotAnImage`] for a
/// file that does not decode, [`DataError::Unsupported`] for an oversized frame,
/// [`DataError::Invalid`] when there are no images.
///
/// # Panics
/// If `channels` is not 1 or 3, or a target size is 0.
#[track_caller]
pub fn image_folder(dir: &Path, size: [usize; 2], channels: usize) -> Result<Dataset, DataError> {
    assert!(
        (channels == 1 || channels == 3) && size[0] > 0 && size[1] > 0,
        "image_folder: need channels 1 or 3 and a non-zero size, got {channels} and {size:?}"
    );
    Ok(image_folder_with(dir, Some(size), Some(channels))?.0)
}

/// [`image_folder`] with the size and the channel count optional: `None` takes them from
/// the first image (see the module docs). Returns what was read and converted.
///
/// # Errors
/// As [`image_folder`], and [`DataError::Invalid`] for a size of 0 or channels other than
/// 1 or 3.
pub fn image_folder_with(
    dir: &Path,
    size: Option<[usize; 2]>,
    channels: Option<usize>,
) -> Result<(Dataset, FolderReport), DataError> {
    if size.is_some_and(|[h, w]| h == 0 || w == 0) || channels.is_some_and(|c| c != 1 && c != 3) {
        return Err(DataError::invalid(
            dir,
            format!("image size {size:?} and channels {channels:?}: need a non-zero size and 1 or 3 channels"),
        ));
    }
    let (files, classes) = list_images(dir)?;
    let Some((first_path, _)) = files.first() else {
        return Err(DataError::invalid(
            dir,
            "no .png, .jpg or .jpeg files here or in its subfolders",
        ));
    };
    // The first image sets the defaults, and is then the first one resized.
    let decoded = decode(first_path)?;
    let (h0, w0, c0) = (decoded.height, decoded.width, decoded.channels);
    let mut first = Some(decoded);
    let size = size.unwrap_or([h0, w0]);
    let channels = channels.unwrap_or(if c0 >= 3 { 3 } else { 1 });
    let mut report = FolderReport {
        images: files.len(),
        size,
        channels,
        resized: 0,
        converted: 0,
        first_resized: None,
    };
    let per_image = channels * size[0] * size[1];
    let mut pixels = Vec::with_capacity(files.len() * per_image);
    for (path, _) in &files {
        let img = match first.take() {
            Some(img) => img,
            None => decode(path)?,
        };
        if [img.height, img.width] != size {
            report.resized += 1;
            report
                .first_resized
                .get_or_insert_with(|| (path.clone(), [img.height, img.width]));
        }
        if (img.channels >= 3) != (channels == 3) || img.channels % 2 == 0 {
            report.converted += 1;
        }
        pixels.extend(resized(path, img, size, channels)?);
    }
    let images = NdArray::from_vec(pixels, &[files.len(), channels, size[0], size[1]])
        .expect("every image resized to the same size");
    let name = dir.file_name().map_or_else(
        || "images".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let ds = match classes {
        Some(names) => {
            let labels = files.iter().map(|(_, l)| l.unwrap_or(0)).collect();
            Dataset::new(name, images, Some((labels, names.len()))).with_class_names(names)
        }
        None => Dataset::new(name, images, None),
    };
    Ok((ds, report))
}

/// Decodes a PNG or a JPEG, by its extension.
fn decode(path: &Path) -> Result<Decoded, DataError> {
    if has_extension(path, &["png"]) {
        decode_png(path)
    } else {
        decode_jpeg(path)
    }
}

fn has_extension(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

type Listing = (Vec<(PathBuf, Option<usize>)>, Option<Vec<String>>);

/// The image files to read with their labels, and the class names when labelled.
fn list_images(dir: &Path) -> Result<Listing, DataError> {
    let (subdirs, root_pngs) = scan(dir)?;
    let mut files = Vec::new();
    let mut classes = Vec::new();
    for sub in subdirs {
        let (_, pngs) = scan(&sub)?;
        if pngs.is_empty() {
            continue;
        }
        let label = classes.len();
        classes.push(
            sub.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        );
        files.extend(pngs.into_iter().map(|p| (p, Some(label))));
    }
    if classes.is_empty() {
        Ok((root_pngs.into_iter().map(|p| (p, None)).collect(), None))
    } else {
        Ok((files, Some(classes)))
    }
}

/// Sorted subdirectories and sorted image files of `dir`.
fn scan(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DataError> {
    let mut subdirs = Vec::new();
    let mut pngs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if path.is_dir() {
            subdirs.push(path);
        } else if has_extension(&path, &["png", "jpg", "jpeg"]) {
            pngs.push(path);
        }
    }
    subdirs.sort();
    pngs.sort();
    Ok((subdirs, pngs))
}

/// One decoded image: channels converted, centre-cropped, resized, scaled to `[-1, 1]`;
/// CHW order.
fn resized(
    path: &Path,
    img: Decoded,
    size: [usize; 2],
    channels: usize,
) -> Result<Vec<f32>, DataError> {
    let (h0, w0) = (img.height, img.width);
    if h0 == 0 || w0 == 0 {
        return Err(DataError::unsupported(path, format!("a {w0}x{h0} image")));
    }
    let planes = to_planes(&img.data, h0 * w0, img.channels, channels);
    let [h, w] = size;
    // Largest centred window with the target's aspect ratio h:w.
    let (ch, cw) = if w0 * h > h0 * w {
        (h0, ((h0 * w) as f64 / h as f64).round().max(1.0) as usize)
    } else {
        (((w0 * h) as f64 / w as f64).round().max(1.0) as usize, w0)
    };
    let (top, left) = ((h0 - ch) / 2, (w0 - cw) / 2);
    let rows = axis_weights(ch, h);
    let cols = axis_weights(cw, w);
    let mut out = Vec::with_capacity(channels * h * w);
    let mut tmp = vec![0.0f32; h * cw];
    for plane in &planes {
        // Rows first: [ch, cw] window -> [h, cw].
        for (y, taps) in rows.iter().enumerate() {
            for x in 0..cw {
                tmp[y * cw + x] = taps
                    .iter()
                    .map(|&(sy, wt)| wt * plane[(top + sy) * w0 + left + x])
                    .sum();
            }
        }
        // Then columns: [h, cw] -> [h, w], and [0, 1] -> [-1, 1].
        for y in 0..h {
            for taps in &cols {
                let v: f32 = taps.iter().map(|&(sx, wt)| wt * tmp[y * cw + sx]).sum();
                out.push(v * 2.0 - 1.0);
            }
        }
    }
    Ok(out)
}

/// Interleaved `[pixels, from]` samples to `to` planar channels (see the module docs).
fn to_planes(data: &[f32], pixels: usize, from: usize, to: usize) -> Vec<Vec<f32>> {
    let px = |i: usize, c: usize| data[i * from + c];
    let color = from >= 3;
    match (to, color) {
        (1, false) => vec![(0..pixels).map(|i| px(i, 0)).collect()],
        (1, true) => vec![(0..pixels)
            .map(|i| 0.299 * px(i, 0) + 0.587 * px(i, 1) + 0.114 * px(i, 2))
            .collect()],
        (_, false) => {
            let gray: Vec<f32> = (0..pixels).map(|i| px(i, 0)).collect();
            vec![gray.clone(), gray.clone(), gray]
        }
        (_, true) => (0..3)
            .map(|c| (0..pixels).map(|i| px(i, c)).collect())
            .collect(),
    }
}

/// For each of `dst` output positions along an axis, the `(source index, weight)` taps
/// that make it from `src` input positions: area averaging when shrinking, bilinear with
/// half-pixel centres when growing or equal. Weights sum to 1.
fn axis_weights(src: usize, dst: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|i| {
            if src > dst {
                let (lo, hi) = (i as f64 * scale, (i + 1) as f64 * scale);
                let mut taps = Vec::new();
                let mut j = lo.floor() as usize;
                while (j as f64) < hi && j < src {
                    let overlap = hi.min(j as f64 + 1.0) - lo.max(j as f64);
                    if overlap > 0.0 {
                        taps.push((j, (overlap / scale) as f32));
                    }
                    j += 1;
                }
                taps
            } else {
                let x = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
                let j = (x.floor() as usize).min(src - 1);
                let t = (x - j as f64) as f32;
                if t == 0.0 || j + 1 >= src {
                    vec![(j, 1.0)]
                } else {
                    vec![(j, 1.0 - t), (j + 1, t)]
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::axis_weights;

    #[test]
    fn weights_sum_to_one_and_equal_size_is_identity() {
        for (s, d) in [(7, 3), (3, 7), (28, 28), (100, 32), (5, 1)] {
            for taps in axis_weights(s, d) {
                let sum: f32 = taps.iter().map(|t| t.1).sum();
                assert!((sum - 1.0).abs() < 1e-5, "{s}->{d}: {taps:?}");
            }
        }
        let id = axis_weights(4, 4);
        assert!(id.iter().enumerate().all(|(i, t)| t == &vec![(i, 1.0)]));
        // 4 -> 2: each output averages two inputs.
        assert_eq!(axis_weights(4, 2)[1], vec![(2, 0.5), (3, 0.5)]);
    }
}
