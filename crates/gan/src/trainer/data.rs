//! The dataset a configuration names.

use std::path::{Path, PathBuf};

use agon_data::{DataError, DataRoot, Dataset, FolderReport, Limit, Mixture};
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::{DataConfig, TaskKind, TrainConfig, TrainError};

/// Samples drawn from the 2-D mixtures: a fixed training set, like an image dataset.
const MIXTURE_SAMPLES: usize = 20_000;

/// A loaded dataset and what a user should be told about how it was read (images resized
/// or converted to the configured shape), once.
#[derive(Clone, Debug)]
pub struct LoadedData {
    /// The samples.
    pub dataset: Dataset,
    /// Lines for the user, e.g. "resized 12 of 40 images to 32x32".
    pub notes: Vec<String>,
}

/// Loads the dataset `data.name` (see [`DataConfig::name`]), keeping at most `data.limit`
/// samples when it is positive. The built-in image datasets are read from the data
/// directory that [`DataRoot::resolve`] finds from `data.dir` (empty: `AGON_DATA_DIR`,
/// then the checkout's `data/`); the 2-D mixtures and paths need none.
///
/// Image folders are brought to `data.image_size` and `data.channels` (0: the first
/// image's), centre-cropped to the target's aspect ratio and resized (area averaging down,
/// bilinear up); the other image datasets must already have the configured shape.
///
/// # Errors
/// A [`DataError`] naming the file or directory and the problem, including a configured
/// size or channel count that a fixed-shape dataset does not have.
pub fn load_dataset(data: &DataConfig, seed: u64) -> Result<LoadedData, DataError> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xda7a);
    let root = || DataRoot::resolve(data.data_dir());
    let mut notes = vec![];
    let ds = match data.name.as_str() {
        "fashion-mnist" => agon_data::default_dataset_in(&root()?)?,
        "mnist" => agon_data::mnist(&root()?.join("mnist"))?,
        "ring8" => Mixture::ring8().sample(MIXTURE_SAMPLES, &mut rng),
        "grid25" => Mixture::grid25().sample(MIXTURE_SAMPLES, &mut rng),
        "cifar10" => agon_data::cifar10(&root()?.join("cifar-10-batches-bin"))?,
        path => load_path(Path::new(path), data, &mut notes)?,
    };
    check_shape(&ds, data)?;
    let ds = if data.limit > 0 && data.limit < ds.len() {
        ds.take(data.limit)
    } else {
        ds
    };
    Ok(LoadedData { dataset: ds, notes })
}

/// The data a run trains on: for `cyclegan` with `translate.a_dir` and `translate.b_dir`,
/// the two folders ([`load_domain_folders`]), else [`load_dataset`] of `cfg.data`.
///
/// # Errors
/// As those two.
pub(crate) fn load_run_data(cfg: &TrainConfig) -> Result<LoadedData, DataError> {
    match cfg.translate.domain_folders() {
        Some(folders) if cfg.task == TaskKind::Cyclegan => load_domain_folders(&folders, &cfg.data),
        _ => load_dataset(&cfg.data, cfg.seed),
    }
}

/// Two image folders as one dataset of two classes: domain A's images (label 0) and domain
/// B's (label 1), each class named as `folders` says, interleaved (A, B, A, B, .., then the
/// rest of the larger) so that `data.limit` and the held-out tail take from both. Each
/// folder is read as an image folder (flat or in subfolders, whose labels are dropped);
/// the first brings its images to `data.image_size` and `data.channels` (0: its first
/// image's), the second to the shape the first took. At most `data.limit` samples are kept
/// when it is positive.
///
/// # Errors
/// A folder that is missing, not a folder, holds no images, or the same as the other,
/// naming its key (`translate.a_dir`, `translate.b_dir`) and its path; any error reading
/// its images; both together over [`MAX_DATASET_BYTES`](agon_data::MAX_DATASET_BYTES).
pub(crate) fn load_domain_folders(
    folders: &[(PathBuf, String); 2],
    data: &DataConfig,
) -> Result<LoadedData, DataError> {
    const KEYS: [&str; 2] = ["translate.a_dir", "translate.b_dir"];
    let mut size = (data.image_size > 0).then_some([data.image_size; 2]);
    let mut channels = (data.channels > 0).then_some(data.channels);
    let (a_path, b_path) = (&folders[0].0, &folders[1].0);
    check_folder(KEYS[0], a_path)?;
    check_folder(KEYS[1], b_path)?;
    if std::fs::canonicalize(a_path).ok() == std::fs::canonicalize(b_path).ok() {
        return Err(DataError::Invalid {
            path: b_path.clone(),
            reason: format!(
                "translate.b_dir is the same folder as translate.a_dir = {:?}: the two domains \
                 need two folders",
                a_path.display().to_string()
            ),
        });
    }
    let mut notes = vec![];
    let mut parts = vec![];
    for ((dir, _), key) in folders.iter().zip(KEYS) {
        let (ds, report) =
            agon_data::image_folder_with(dir, size, channels).map_err(|e| match e {
                // The folder's own complaint (no images in it) names the key too.
                DataError::Invalid { path, reason } if path == *dir => DataError::Invalid {
                    path,
                    reason: format!("{key}: {reason}"),
                },
                e => e,
            })?;
        // One dataset, one shape: the second folder takes the first one's.
        size = Some(report.size);
        channels = Some(report.channels);
        notes.extend(folder_notes(dir, &report));
        parts.push(ds);
    }
    let (a, b) = (&parts[0], &parts[1]);
    let shape = a.image_shape().to_vec();
    let per_image: usize = shape.iter().product();
    let n = a.len() + b.len();
    let bytes = (n as u64)
        .saturating_mul(per_image as u64)
        .saturating_mul(4);
    if bytes > agon_data::MAX_DATASET_BYTES {
        return Err(DataError::TooLarge {
            path: b_path.clone(),
            what: format!(
                "{n} images of {shape:?} as f32 samples, with translate.a_dir = {:?}",
                a_path.display().to_string()
            ),
            claimed: Some(bytes),
            limit: Limit::DatasetBytes,
        });
    }
    let (a_px, b_px) = (contiguous(a), contiguous(b));
    let mut pixels = Vec::with_capacity(n * per_image);
    let mut labels = Vec::with_capacity(n);
    for i in 0..a.len().max(b.len()) {
        for (label, (px, len)) in [(a_px, a.len()), (b_px, b.len())].into_iter().enumerate() {
            if i < len {
                pixels.extend_from_slice(&px[i * per_image..(i + 1) * per_image]);
                labels.push(label);
            }
        }
    }
    let images = NdArray::from_vec(pixels, &[&[n][..], &shape].concat()).map_err(|e| {
        DataError::Invalid {
            path: b_path.clone(),
            reason: format!("internal error: {e}"),
        }
    })?;
    let name = format!("{} + {}", a_path.display(), b_path.display());
    let ds = Dataset::new(name, images, Some((labels, 2)))
        .with_class_names(folders.iter().map(|(_, n)| n.clone()).collect());
    let ds = if data.limit > 0 && data.limit < ds.len() {
        ds.take(data.limit)
    } else {
        ds
    };
    Ok(LoadedData { dataset: ds, notes })
}

/// A dataset's samples as one slice.
fn contiguous(ds: &Dataset) -> &[f32] {
    ds.images()
        .as_slice()
        .expect("a Dataset holds its samples contiguously")
}

/// `dir`, the folder `key` names, exists and is a folder.
fn check_folder(key: &str, dir: &Path) -> Result<(), DataError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(DataError::Invalid {
            path: dir.to_path_buf(),
            reason: format!("{key} names a file, not a folder of PNG / JPEG images"),
        }),
        Err(e) => {
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                "no such folder"
            } else {
                "cannot read the folder"
            };
            Err(DataError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(e.kind(), format!("{key}: {what} ({e})")),
            })
        }
    }
}

/// Up to `n` images to score or show a trained model on, and whether they are held out:
/// the samples after the first `data.limit` (which training used) when there are any, else
/// the first `n` training samples themselves (`false`).
///
/// # Errors
/// As [`load_dataset`].
///
/// For `cyclegan` (whose configuration holds resolved domains) only the images of its two
/// domains count.
pub fn held_out_samples(cfg: &TrainConfig, n: usize) -> Result<(Dataset, bool), TrainError> {
    let data = &cfg.data;
    let mut all = cfg.clone();
    all.data.limit = 0;
    let ds = load_run_data(&all)?.dataset;
    let start = if data.limit > 0 && data.limit < ds.len() {
        data.limit
    } else {
        0
    };
    let rest: Vec<usize> = (start..ds.len()).collect();
    let mut rest = ds.subset(&rest);
    if cfg.task == TaskKind::Cyclegan {
        rest = crate::tasks::select_domains(cfg, &rest)?;
    }
    let picked: Vec<usize> = (0..rest.len()).take(n).collect();
    Ok((rest.subset(&picked), start > 0))
}

/// A configured size or channel count must match a dataset that was not resized to it.
fn check_shape(ds: &Dataset, data: &DataConfig) -> Result<(), DataError> {
    let shape = ds.image_shape();
    let fits = match shape {
        &[c, h, w] => {
            (data.image_size == 0 || [h, w] == [data.image_size; 2])
                && (data.channels == 0 || c == data.channels)
        }
        _ => data.image_size == 0 && data.channels == 0,
    };
    if fits {
        Ok(())
    } else {
        Err(DataError::Invalid {
            path: data.name.clone().into(),
            reason: format!(
                "the data has samples of shape {shape:?}, but data.image_size = {} and \
                 data.channels = {} ask for another; only image folders are resized (set \
                 both to 0 to take the data's own shape)",
                data.image_size, data.channels
            ),
        })
    }
}

/// A directory of IDX files, of CIFAR-10 batches, or of PNG / JPEG images.
fn load_path(
    path: &Path,
    data: &DataConfig,
    notes: &mut Vec<String>,
) -> Result<Dataset, DataError> {
    if !path.exists() {
        return Err(DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "data.name = {:?} is no such dataset (expected fashion-mnist, mnist, \
                     ring8, grid25, cifar10, or a path to IDX files, CIFAR-10 batches or a \
                     folder of PNG / JPEG images)",
                    data.name
                ),
            ),
        });
    }
    if !agon_data::find_cifar_batches(path, agon_data::Split::Train).is_empty()
        || !agon_data::find_cifar_batches(path, agon_data::Split::Test).is_empty()
    {
        return agon_data::cifar10(path);
    }
    // IDX files present: their errors are the ones to report, not an image reader's.
    if agon_data::has_idx_files(path) {
        return agon_data::load_idx_dir(path, None, "idx");
    }
    let size = (data.image_size > 0).then_some([data.image_size; 2]);
    let channels = (data.channels > 0).then_some(data.channels);
    let (ds, report) = agon_data::image_folder_with(path, size, channels)?;
    notes.extend(folder_notes(path, &report));
    Ok(ds)
}

/// What the user is told about an image folder, once per run.
fn folder_notes(path: &Path, r: &FolderReport) -> Vec<String> {
    let [h, w] = r.size;
    let mut notes = vec![format!(
        "{}: {} images as {}x{h}x{w}",
        path.display(),
        r.images,
        r.channels
    )];
    if let Some((first, [fh, fw])) = &r.first_resized {
        notes.push(format!(
            "resized {} of {} images to {h}x{w} (centre crop to the aspect ratio, then area \
             averaging down / bilinear up; the first was {} at {fh}x{fw}); set \
             data.image_size to choose the size",
            r.resized,
            r.images,
            first.display()
        ));
    }
    if r.converted > 0 {
        notes.push(format!(
            "converted {} of {} images to {} channel(s) (alpha dropped; gray repeated to RGB \
             or RGB to BT.601 luma); set data.channels to choose",
            r.converted, r.images, r.channels
        ));
    }
    notes
}
