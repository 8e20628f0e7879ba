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
//! not decode is an error naming it. So is an entry so named that is not a regular file
//! (after following symlinks): a FIFO, device or socket called `x.png` is refused with
//! [`DataError::NotAFile`] rather than skipped, since it is plainly meant as data and
//! reading it would block or never end; a broken symlink so named is an I/O error. Other
//! entries that are neither directories nor image names are never opened.
//!
//! # Memory
//! Each image is checked from its header ([`MAX_IMAGE_PIXELS`](crate::MAX_IMAGE_PIXELS))
//! before it is decoded, and the whole dataset (`N x channels x height x width` `f32`s)
//! against [`MAX_DATASET_BYTES`](crate::MAX_DATASET_BYTES) before its buffer is allocated.
//! Images are resized straight from their 8- or 16-bit samples, so one image in flight
//! costs about its decoded size, not four times it in `f32`.
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
use crate::decoded::Decoded;
use crate::error::DataError;
use crate::files::kind_of;
use crate::jpeg::decode_jpeg;
use crate::limits::{f32_bytes, within, Limit};
use crate::png_decode::decode_png;
use crate::resize::resized;

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
/// [`DataError::Io`] for unreadable directories or files, [`DataError::NotAFile`] for an
/// image name that is a FIFO or device, [`DataError::NotAnImage`] for a file that does not
/// decode, [`DataError::TooLarge`] for an image over
/// [`MAX_IMAGE_PIXELS`](crate::MAX_IMAGE_PIXELS) or a dataset over
/// [`MAX_DATASET_BYTES`](crate::MAX_DATASET_BYTES), [`DataError::Truncated`] for an image
/// whose file cannot hold the size its header declares, [`DataError::Invalid`] when there
/// are no images.
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
    // Checked before the buffer exists; this also bounds every product in `resized`.
    let n = files.len() as u64;
    let what = || {
        format!(
            "{n} images of {channels}x{}x{} as f32 samples",
            size[0], size[1]
        )
    };
    let extents = [n, channels as u64, size[0] as u64, size[1] as u64];
    let total = within(dir, what, f32_bytes(&extents), Limit::DatasetBytes)?;
    let mut pixels = Vec::with_capacity(total as usize / 4);
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
        resized(path, img, size, channels, &mut pixels)?;
    }
    let images =
        NdArray::from_vec(pixels, &[files.len(), channels, size[0], size[1]]).map_err(|e| {
            // Unreachable: every image is resized to the same size.
            DataError::invalid(dir, format!("internal error: {e}"))
        })?;
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

/// Reads one PNG or JPEG (by its extension) as a `[1, channels, H, W]` batch in `[-1, 1]`:
/// at its own size when `size` is `None`, else centre-cropped and resized to `size`;
/// channels converted as the module docs say. What `agon apply` reads a user's image with.
///
/// ```
/// let path = std::env::temp_dir().join(format!("agon-load-image-doc-{}.png", std::process::id()));
/// agon_data::save_png(&agon_tensor::NdArray::zeros(&[3, 5, 7]), &path).unwrap();
/// assert_eq!(agon_data::load_image(&path, 1, None).unwrap().shape(), &[1, 1, 5, 7]);
/// assert_eq!(agon_data::load_image(&path, 3, Some([4, 4])).unwrap().shape(), &[1, 3, 4, 4]);
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// As [`image_folder`] for one file, and [`DataError::Invalid`] for channels other than 1
/// or 3 or a size of 0.
pub fn load_image(
    path: &Path,
    channels: usize,
    size: Option<[usize; 2]>,
) -> Result<NdArray, DataError> {
    if !(channels == 1 || channels == 3) || size.is_some_and(|[h, w]| h == 0 || w == 0) {
        return Err(DataError::invalid(
            path,
            format!(
                "channels {channels} and size {size:?}: need 1 or 3 channels and a non-zero size"
            ),
        ));
    }
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        return Err(DataError::NotAFile {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()).to_string(),
        });
    }
    let img = decode(path)?;
    let size = size.unwrap_or([img.height, img.width]);
    let mut pixels = Vec::with_capacity(channels * size[0] * size[1]);
    resized(path, img, size, channels, &mut pixels)?;
    NdArray::from_vec(pixels, &[1, channels, size[0], size[1]])
        .map_err(|e| DataError::invalid(path, format!("internal error: {e}")))
}

/// The images `agon apply` reads from `path`: the file itself, or the PNG and JPEG files
/// directly inside a folder, in name order.
///
/// # Errors
/// An unreadable path, an image name that is not a regular file, or a folder without
/// images.
pub fn image_files(path: &Path) -> Result<Vec<PathBuf>, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let (_, files) = scan(path)?;
    if files.is_empty() {
        return Err(DataError::invalid(
            path,
            "no .png, .jpg or .jpeg files in this folder",
        ));
    }
    Ok(files)
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

/// Sorted subdirectories and sorted image files of `dir`; an image name that is not a
/// regular file is an error (see the module docs).
fn scan(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DataError> {
    let mut subdirs = Vec::new();
    let mut pngs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        let is_image = has_extension(&path, &["png", "jpg", "jpeg"]);
        // Follows symlinks; never opens the entry.
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if is_image => return Err(DataError::io(&path, e)),
            Err(_) => continue,
        };
        if meta.is_dir() {
            subdirs.push(path);
        } else if is_image {
            if !meta.is_file() {
                return Err(DataError::NotAFile {
                    path,
                    kind: kind_of(meta.file_type()).to_string(),
                });
            }
            pngs.push(path);
        }
    }
    subdirs.sort();
    pngs.sort();
    Ok((subdirs, pngs))
}
