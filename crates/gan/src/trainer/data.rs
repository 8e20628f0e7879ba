//! The dataset a configuration names.

use std::path::Path;

use agon_data::{DataError, DataRoot, Dataset, FolderReport, Mixture};
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
    let all = DataConfig {
        limit: 0,
        ..data.clone()
    };
    let ds = load_dataset(&all, cfg.seed)?.dataset;
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
