//! IDX datasets (MNIST, Fashion-MNIST, KMNIST): image and label file pairs, the standard
//! file names in a directory, and the default dataset. The file format itself is read by
//! [`read_idx`](crate::read_idx).
//!
//! # Hostile files
//! Both headers are read first, and what they claim is checked before any payload is read:
//! equal counts, at least one image, non-zero rows and columns, and the `f32` samples
//! within [`MAX_DATASET_BYTES`](crate::MAX_DATASET_BYTES). A directory holding the images of a split without its
//! labels (or the reverse) is reported as [`DataError::Incomplete`], naming both.

use std::path::{Path, PathBuf};

use agon_tensor::NdArray;

use crate::dataset::{u8_to_unit, Dataset};
use crate::error::DataError;
use crate::idx_format::read_header;
use crate::limits::{f32_bytes, within, Limit};
use crate::locate::DataRoot;

/// Where the full Fashion-MNIST is installed by Debian's `dataset-fashion-mnist` package.
pub const SYSTEM_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The Fashion-MNIST class names, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The KMNIST class names (romanised hiragana), by label.
pub const KMNIST_CLASSES: [&str; 10] = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"];

/// Which half of a dataset's files to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training split (`train-*`, `data_batch_*`).
    Train,
    /// The test split (`t10k-*`, `test_batch`).
    Test,
}

/// Loads an image file (`idx3`, `[N, rows, cols]`) and a label file (`idx1`, `[N]`) as a
/// dataset of `[N, 1, rows, cols]` images in `[-1, 1]`, named `"idx"`, with
/// `num_classes = max label + 1`.
///
/// # Errors
/// Everything [`read_idx`](crate::read_idx) reports, [`DataError::CountMismatch`] when the
/// two files hold different numbers of examples, [`DataError::Invalid`] when they hold
/// none, [`DataError::Unsupported`] for images of 0 rows or columns, and
/// [`DataError::TooLarge`] when the images would take more than [`MAX_DATASET_BYTES`](crate::MAX_DATASET_BYTES) as
/// `f32` (checked from the headers, before the payloads are read).
pub fn load_idx_pair(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    load_pair(images, labels, None, "idx")
}

fn load_pair(
    images: &Path,
    labels: &Path,
    num_classes: Option<usize>,
    name: &str,
) -> Result<Dataset, DataError> {
    let img = read_header(images, 3)?;
    let lab = read_header(labels, 1)?;
    let [n, h, w] = [img.dims[0], img.dims[1], img.dims[2]];
    if n != lab.dims[0] {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            image_count: n as usize,
            labels: labels.to_path_buf(),
            label_count: lab.dims[0] as usize,
        });
    }
    if n == 0 {
        return Err(DataError::invalid(
            images,
            "holds no images (its header's count is 0); a dataset needs at least one",
        ));
    }
    if h == 0 || w == 0 {
        return Err(DataError::unsupported(
            images,
            format!("images of {h}x{w} pixels"),
        ));
    }
    let what = || format!("{n} images of {h}x{w} as f32 samples");
    within(images, what, f32_bytes(&[n, h, w]), Limit::DatasetBytes)?;
    let img = img.read_payload()?;
    let lab = lab.read_payload()?;
    let max = lab.data.iter().copied().max().map_or(0, usize::from);
    let k = num_classes.unwrap_or(max + 1);
    if let Some(i) = lab.data.iter().position(|&l| usize::from(l) >= k) {
        return Err(DataError::invalid(
            labels,
            format!("label {} at index {i} is not below {k}", lab.data[i]),
        ));
    }
    let pixels: Vec<f32> = img.data.iter().map(|&b| u8_to_unit(b)).collect();
    drop(img);
    let (n, h, w) = (n as usize, h as usize, w as usize);
    let array = NdArray::from_vec(pixels, &[n, 1, h, w]).map_err(|e| {
        // Unreachable: read_payload returned exactly n * h * w bytes.
        DataError::invalid(images, format!("internal error: {e}"))
    })?;
    let labels = lab.data.iter().map(|&l| usize::from(l)).collect();
    Ok(Dataset::new(name, array, Some((labels, k))))
}

fn prefix(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Test => "t10k",
    }
}

/// The file names tried for `kind` (`"images"` / `"labels"`) of `split`, in order.
fn candidate_names(split: Split, kind: &str) -> Vec<String> {
    let n = if kind == "images" { 3 } else { 1 };
    let p = prefix(split);
    let mut names = Vec::new();
    for sep in ['-', '.'] {
        for ext in [".gz", ""] {
            names.push(format!("{p}-{kind}{sep}idx{n}-ubyte{ext}"));
        }
    }
    names
}

/// The first of `names` present in `dir`. Anything present counts, not only regular files,
/// so a FIFO or directory under a dataset's name is reported by the reader rather than
/// silently skipped.
fn find_file(dir: &Path, names: &[String]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.exists())
}

/// The `(images, labels)` files of `split` in `dir`, under the standard names
/// (`train-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`, also with `.idx3-ubyte`),
/// when both exist.
pub fn find_idx_pair(dir: &Path, split: Split) -> Option<(PathBuf, PathBuf)> {
    let images = find_file(dir, &candidate_names(split, "images"))?;
    let labels = find_file(dir, &candidate_names(split, "labels"))?;
    Some((images, labels))
}

/// Whether `dir` holds any IDX image or label file under a standard name, of either split
/// (complete or not): then [`load_idx_dir`] is the reader whose errors to report.
pub fn has_idx_files(dir: &Path) -> bool {
    [Split::Train, Split::Test]
        .into_iter()
        .any(|s| has_idx_split(dir, s))
}

/// Whether `dir` holds the image or the label file of `split` under a standard name
/// (complete or not): then loading that split is what to do, and its errors to report.
pub fn has_idx_split(dir: &Path, split: Split) -> bool {
    ["images", "labels"]
        .into_iter()
        .any(|kind| find_file(dir, &candidate_names(split, kind)).is_some())
}

/// Loads an MNIST-format directory: `split`, or when `None` the training split if any of
/// its files are there and the test split otherwise. Ten classes.
///
/// # Errors
/// [`DataError::Incomplete`] when the split to load has its images file but not its labels
/// file or the reverse (naming the file found and the names tried for the other),
/// [`DataError::NotFound`] when the directory holds neither split, and everything
/// [`load_idx_pair`] reports.
pub fn load_idx_dir(dir: &Path, split: Option<Split>, name: &str) -> Result<Dataset, DataError> {
    let splits: &[Split] = match split {
        Some(Split::Train) => &[Split::Train],
        Some(Split::Test) => &[Split::Test],
        None => &[Split::Train, Split::Test],
    };
    for &s in splits {
        let names = |kind| candidate_names(s, kind);
        match (
            find_file(dir, &names("images")),
            find_file(dir, &names("labels")),
        ) {
            (Some(images), Some(labels)) => return load_pair(&images, &labels, Some(10), name),
            // Half a split is an error, not a reason to fall back to the other split.
            (Some(found), None) => return Err(incomplete(dir, found, "labels", names("labels"))),
            (None, Some(found)) => return Err(incomplete(dir, found, "images", names("images"))),
            (None, None) => {}
        }
    }
    let mut looked_for = Vec::new();
    for &s in splits {
        looked_for.push(candidate_names(s, "images")[0].clone());
        looked_for.push(candidate_names(s, "labels")[0].clone());
    }
    looked_for.push("(each also without .gz)".into());
    Err(DataError::NotFound {
        dir: dir.to_path_buf(),
        looked_for,
    })
}

fn incomplete(dir: &Path, found: PathBuf, kind: &str, looked_for: Vec<String>) -> DataError {
    DataError::Incomplete {
        dir: dir.to_path_buf(),
        found,
        wanted: format!("its {kind} file"),
        looked_for,
    }
}

/// MNIST digits from `dir` (training split when present, else test), class names `"0"`..`"9"`.
///
/// # Errors
/// As [`load_idx_dir`].
pub fn mnist(dir: &Path) -> Result<Dataset, DataError> {
    let names = (0..10).map(|d| d.to_string()).collect();
    Ok(load_idx_dir(dir, None, "mnist")?.with_class_names(names))
}

/// Fashion-MNIST from `dir` (training split when present, else test), with class names.
///
/// ```
/// let ds = agon_data::fashion_mnist(&agon_data::shipped_fashion_mnist_dir()).unwrap();
/// assert_eq!(ds.image_shape(), &[1, 28, 28]);
/// assert_eq!(ds.class_names().unwrap()[9], "Ankle boot");
/// ```
///
/// # Errors
/// As [`load_idx_dir`].
pub fn fashion_mnist(dir: &Path) -> Result<Dataset, DataError> {
    Ok(load_idx_dir(dir, None, "fashion-mnist")?.with_class_names(names(&FASHION_MNIST_CLASSES)))
}

/// KMNIST (Kuzushiji-MNIST, MNIST-format files) from `dir`, with class names.
///
/// # Errors
/// As [`load_idx_dir`].
pub fn kmnist(dir: &Path) -> Result<Dataset, DataError> {
    Ok(load_idx_dir(dir, None, "kmnist")?.with_class_names(names(&KMNIST_CLASSES)))
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The Fashion-MNIST test split shipped in the repository: `fashion-mnist/` in the data
/// directory [`DataRoot::resolve`] finds (`AGON_DATA_DIR`, or the checkout's `data/`),
/// otherwise `./data/fashion-mnist`.
pub fn shipped_fashion_mnist_dir() -> PathBuf {
    DataRoot::resolve(None).map_or_else(
        |_| PathBuf::from("data/fashion-mnist"),
        |r| r.join("fashion-mnist"),
    )
}

/// Where [`default_dataset_in`] looks, in order: the system-wide full dataset
/// ([`SYSTEM_FASHION_MNIST_DIR`]), then `fashion-mnist/` in `root`.
pub fn fashion_mnist_dirs(root: &DataRoot) -> Vec<PathBuf> {
    vec![
        PathBuf::from(SYSTEM_FASHION_MNIST_DIR),
        root.join("fashion-mnist"),
    ]
}

/// Where [`default_dataset`] looks, in order: the system-wide full dataset
/// ([`SYSTEM_FASHION_MNIST_DIR`]), then the shipped test split
/// ([`shipped_fashion_mnist_dir`]).
pub fn default_dataset_dirs() -> Vec<PathBuf> {
    vec![
        PathBuf::from(SYSTEM_FASHION_MNIST_DIR),
        shipped_fashion_mnist_dir(),
    ]
}

/// The first of `candidates` that holds a complete MNIST-format split (train or test).
///
/// ```
/// use std::path::PathBuf;
/// let shipped = agon_data::shipped_fashion_mnist_dir();
/// let picked = agon_data::pick_dataset_dir(&[PathBuf::from("/no/such/dir"), shipped.clone()]);
/// assert_eq!(picked, Some(shipped));
/// ```
pub fn pick_dataset_dir(candidates: &[PathBuf]) -> Option<PathBuf> {
    candidates
        .iter()
        .find(|d| {
            find_idx_pair(d, Split::Train).is_some() || find_idx_pair(d, Split::Test).is_some()
        })
        .cloned()
}

/// Agon's default dataset: Fashion-MNIST. The full training split (60,000 images) when
/// installed at [`SYSTEM_FASHION_MNIST_DIR`] (Debian's `dataset-fashion-mnist`), otherwise
/// the 10,000-image test split shipped in the data directory's `fashion-mnist/` (the
/// repository's `data/`, or wherever `AGON_DATA_DIR` points: see [`DataRoot`]). Images
/// `[N, 1, 28, 28]` in `[-1, 1]`, labels 0-9.
///
/// # Errors
/// [`DataError::NoDataDir`] when there is no data directory and no system-wide copy (a
/// binary run away from the repository without `AGON_DATA_DIR`), [`DataError::NotFound`]
/// when neither directory holds the files, and any read error.
pub fn default_dataset() -> Result<Dataset, DataError> {
    match DataRoot::resolve(None) {
        Ok(root) => default_dataset_in(&root),
        Err(e) => match pick_dataset_dir(&[PathBuf::from(SYSTEM_FASHION_MNIST_DIR)]) {
            Some(dir) => fashion_mnist(&dir),
            None => Err(e),
        },
    }
}

/// [`default_dataset`] with the data directory given: the system-wide training split when
/// installed, else `fashion-mnist/` in `root`.
///
/// # Errors
/// [`DataError::NotFound`] when neither directory holds the files, and any read error.
pub fn default_dataset_in(root: &DataRoot) -> Result<Dataset, DataError> {
    let dirs = fashion_mnist_dirs(root);
    match pick_dataset_dir(&dirs) {
        Some(dir) => fashion_mnist(&dir),
        None => Err(DataError::NotFound {
            dir: dirs[dirs.len() - 1].clone(),
            looked_for: vec![
                format!("{SYSTEM_FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz"),
                "t10k-images-idx3-ubyte.gz".into(),
            ],
        }),
    }
}
