//! The dataset a configuration names.

use std::path::{Path, PathBuf};

use agon_data::{DataError, DataRoot, Dataset, FolderReport, Limit, Mixture, Split};
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
/// With `data.per_class = N > 0` it returns only N images of each class, picked by `seed`
/// from the training part of [`train_test_split`] with [`agon_data::pick_per_class`]: the
/// images `agon eval --train-classifier DATA --per-class N --seed S` trains on.
///
/// # Errors
/// A [`DataError`] naming the file or directory and the problem, including a configured
/// size or channel count that a fixed-shape dataset does not have; with `data.per_class`,
/// unlabelled data or a class with fewer images than that.
pub fn load_dataset(data: &DataConfig, seed: u64) -> Result<LoadedData, DataError> {
    if data.per_class > 0 {
        return load_per_class(data, seed);
    }
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

/// [`load_dataset`] with `data.per_class` set.
fn load_per_class(data: &DataConfig, seed: u64) -> Result<LoadedData, DataError> {
    let n = data.per_class;
    let whole = DataConfig {
        per_class: 0,
        limit: 0,
        ..data.clone()
    };
    let key = format!("data.per_class = {n}");
    let split = train_test_split(&whole, seed).map_err(|e| keyed(e, &key))?;
    let picked = agon_data::pick_per_class(&split.train, n, seed).map_err(|e| keyed(e, &key))?;
    let ds = split.train.subset(&picked);
    let mut notes = split.notes;
    notes.push(format!(
        "data.per_class = {n}: {} images, {n} of each class, picked by seed {seed} from the {}",
        ds.len(),
        split.description
    ));
    let ds = if data.limit > 0 && data.limit < ds.len() {
        ds.take(data.limit)
    } else {
        ds
    };
    Ok(LoadedData { dataset: ds, notes })
}

/// `e` with `key` (what the user set) in front of its reason.
pub(crate) fn keyed(e: DataError, key: &str) -> DataError {
    match e {
        DataError::Invalid { path, reason } => DataError::Invalid {
            path,
            reason: format!("{key}: {reason}"),
        },
        e => e,
    }
}

/// A labelled dataset cut into the images a classifier trains on and those it is tested
/// on, by [`train_test_split`].
#[derive(Clone, Debug)]
pub struct TrainTestSplit {
    /// The training part.
    pub train: Dataset,
    /// The held-out part.
    pub test: Dataset,
    /// Which images each part is, for the user ("train split of data/mnist, its test
    /// split held out").
    pub description: String,
    /// What the user should be told about how the images were read (resized, converted).
    pub notes: Vec<String>,
}

/// The training and held-out images of a labelled dataset named as `data.name` is: the
/// split `agon eval --train-classifier` trains and tests the feature classifier on, and
/// the pool `data.per_class` picks from.
///
/// IDX data (`fashion-mnist`, `mnist`, a directory of IDX files): its train split, tested
/// on its test split; without a train split, the first 4/5 of the test split for training
/// and the rest held out. Other data (CIFAR-10, image folders, the 2-D mixtures): every
/// fifth sample held out, so each class is in both. `data.limit` and `data.per_class` are
/// not applied.
///
/// # Errors
/// A [`DataError`] naming the data: unreadable or unlabelled, a train split that is there
/// but broken (never a silent switch to less data), or too few images to hold any out.
pub fn train_test_split(data: &DataConfig, seed: u64) -> Result<TrainTestSplit, DataError> {
    let name = data.name.as_str();
    let root = || DataRoot::resolve(data.data_dir());
    let (idx_dir, class_names) = match name {
        "fashion-mnist" => {
            let dirs = agon_data::fashion_mnist_dirs(&root()?);
            let dir = agon_data::pick_dataset_dir(&dirs).ok_or_else(|| DataError::NotFound {
                dir: dirs[dirs.len() - 1].clone(),
                looked_for: vec![
                    "train-images-idx3-ubyte.gz".into(),
                    "t10k-images-idx3-ubyte.gz".into(),
                ],
            })?;
            let names = agon_data::FASHION_MNIST_CLASSES.map(String::from).to_vec();
            (Some(dir), Some(names))
        }
        "mnist" => (
            Some(root()?.join("mnist")),
            Some((0..10).map(|d| d.to_string()).collect()),
        ),
        path if agon_data::find_idx_pair(Path::new(path), Split::Test).is_some()
            || agon_data::find_idx_pair(Path::new(path), Split::Train).is_some() =>
        {
            (Some(PathBuf::from(path)), None)
        }
        _ => (None, None),
    };
    let Some(dir) = idx_dir else {
        let whole = DataConfig {
            limit: 0,
            per_class: 0,
            ..data.clone()
        };
        let loaded = load_dataset(&whole, seed)?;
        let all = loaded.dataset;
        if all.labels().is_none() || all.image_shape().len() != 3 {
            return Err(DataError::Invalid {
                path: name.into(),
                reason: "a classifier needs labelled images (an image folder with one \
                         subfolder per class, CIFAR-10, or IDX files with labels)"
                    .into(),
            });
        }
        let (train, test): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|i| i % 5 != 4);
        if test.is_empty() {
            return Err(DataError::Invalid {
                path: name.into(),
                reason: format!("{} images are too few to hold any out", all.len()),
            });
        }
        let description = format!(
            "{} of the {} images in {name} (every fifth, {}, held out)",
            train.len(),
            all.len(),
            test.len()
        );
        return Ok(TrainTestSplit {
            train: all.subset(&train),
            test: all.subset(&test),
            description,
            notes: loaded.notes,
        });
    };
    let named = |ds: Dataset| match &class_names {
        Some(names) => ds.with_class_names(names.clone()),
        None => ds,
    };
    let test = named(agon_data::load_idx_dir(&dir, Some(Split::Test), name)?);
    // Only a missing train split falls back to cutting the test split; a train split that
    // is there but broken is an error, not a silent switch to less data.
    if agon_data::has_idx_split(&dir, Split::Train) {
        let train = named(agon_data::load_idx_dir(&dir, Some(Split::Train), name)?);
        return Ok(TrainTestSplit {
            train,
            test,
            description: format!("train split of {}, its test split held out", dir.display()),
            notes: vec![],
        });
    }
    let n = test.len();
    if n < 5 {
        return Err(DataError::Invalid {
            path: dir.clone(),
            reason: format!(
                "{n} test images and no train split are too few to train and test a \
                 classifier (at least 5)"
            ),
        });
    }
    let cut = n * 4 / 5;
    let first: Vec<usize> = (0..cut).collect();
    let rest: Vec<usize> = (cut..n).collect();
    Ok(TrainTestSplit {
        train: test.subset(&first),
        test: test.subset(&rest),
        description: format!(
            "first {cut} of the test split in {}, the other {} held out",
            dir.display(),
            n - cut
        ),
        notes: vec![],
    })
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
    all.data.per_class = 0;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(per_class: usize) -> DataConfig {
        DataConfig {
            per_class,
            ..DataConfig::default()
        }
    }

    #[test]
    fn per_class_runs_train_on_the_classifiers_pick_from_its_training_part() {
        let split = train_test_split(&shipped(0), 5).unwrap();
        // The shipped test split alone: its first 4/5 to train on, the rest held out.
        assert_eq!((split.train.len(), split.test.len()), (8000, 2000));
        assert_eq!(split.train.class_names().map(<[String]>::len), Some(10));
        let loaded = load_dataset(&shipped(3), 5).unwrap();
        let picked = agon_data::pick_per_class(&split.train, 3, 5).unwrap();
        let expected = split.train.subset(&picked);
        assert_eq!(loaded.dataset.images().to_vec(), expected.images().to_vec());
        assert_eq!(loaded.dataset.labels(), expected.labels());
        assert_eq!(loaded.dataset.class_counts(), Some(vec![3; 10]));
        assert!(
            loaded
                .notes
                .iter()
                .any(|n| n.contains("data.per_class = 3: 30 images")),
            "{:?}",
            loaded.notes
        );
        // Another seed, other images; too many per class, an error naming the key.
        let other = load_dataset(&shipped(3), 6).unwrap().dataset;
        assert_ne!(other.images().to_vec(), expected.images().to_vec());
        let e = load_dataset(&shipped(5000), 5).unwrap_err().to_string();
        assert!(
            e.contains("data.per_class = 5000") && e.contains("has only"),
            "{e}"
        );
    }

    #[test]
    fn per_class_needs_labels_and_a_generation_task_without_data_limit() {
        let ring = DataConfig {
            name: "ring8".into(),
            per_class: 2,
            ..DataConfig::default()
        };
        let e = load_dataset(&ring, 0).unwrap_err().to_string();
        assert!(
            e.contains("data.per_class = 2: a classifier needs labelled images"),
            "{e}"
        );
        let cfg = |extra: &str| {
            TrainConfig::from_toml_str(&format!("[data]\nper_class = 10\n{extra}"), "t.toml")
        };
        assert!(cfg("").is_ok());
        let e = cfg("limit = 500").unwrap_err().to_string();
        assert!(
            e.contains("data.per_class = 10 and data.limit = 500"),
            "{e}"
        );
        let e = TrainConfig::from_toml_str("task = \"superres\"\n[data]\nper_class = 10\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.per_class is not available"), "{e}");
    }
}
