//! IDX files (MNIST, Fashion-MNIST, KMNIST), gzip-compressed or raw, and the embedded
//! default dataset.
//!
//! # Format
//! An IDX file is a 4-byte magic number `00 00 TT NN` (`TT` the element type, `0x08` for
//! unsigned bytes, the only type these datasets use; `NN` the number of dims), then `NN`
//! big-endian `u32` extents, then the elements in row-major order. Images are
//! `idx3` (`[count, rows, cols]`), labels `idx1` (`[count]`). A file starting with the gzip
//! magic `1f 8b` is decompressed on the fly, whatever its name.
//!
//! # Hostile files
//! The header's extents are multiplied with overflow checks and capped at
//! [`MAX_IDX_BYTES`]. A raw file's length is compared with the header's claim before
//! anything is allocated; a gzip stream is read through a limit of exactly the claimed size
//! (plus one byte, to detect trailing data), so the buffer grows only with bytes that
//! really decompress. Short files, extra bytes, corrupt gzip streams and wrong magic
//! numbers are errors naming the file.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use agon_tensor::NdArray;
use flate2::read::GzDecoder;

use crate::dataset::{u8_to_unit, Dataset};
use crate::error::DataError;
use crate::locate::DataRoot;

/// The largest payload an IDX header may claim: 2 GiB (the MNIST-family files hold at
/// most 47 MB).
pub const MAX_IDX_BYTES: u64 = 1 << 31;

/// The IDX element-type code for unsigned bytes.
const TYPE_U8: u8 = 0x08;

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

/// The contents of one IDX file of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The extents from the header.
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// Which half of a dataset's files to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training split (`train-*`, `data_batch_*`).
    Train,
    /// The test split (`t10k-*`, `test_batch`).
    Test,
}

/// Reads an IDX file of unsigned bytes with exactly `ndims` dims, gzip or raw.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("agon-idx-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("x-idx2-ubyte.gz");
/// agon_data::write_idx(&path, &[2, 3], &[1, 2, 3, 4, 5, 6], true).unwrap();
/// let back = agon_data::read_idx(&path, 2).unwrap();
/// assert_eq!(back.dims, vec![2, 3]);
/// assert_eq!(back.data, vec![1, 2, 3, 4, 5, 6]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// [`DataError::Io`] when the file cannot be opened, [`DataError::BadMagic`] when it is not
/// IDX, [`DataError::Unsupported`] for another element type or number of dims,
/// [`DataError::Truncated`] when it is short, [`DataError::Invalid`] for trailing bytes or a
/// corrupt gzip stream.
pub fn read_idx(path: &Path, ndims: usize) -> Result<IdxArray, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut buffered = BufReader::new(file);
    let gzip = {
        let head = std::io::BufRead::fill_buf(&mut buffered).map_err(|e| DataError::io(path, e))?;
        head.len() >= 2 && head[..2] == [0x1f, 0x8b]
    };
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(GzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };

    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic, path, gzip)?;
    if got < 4 {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: 4,
            actual: got as u64,
        });
    }
    let expected_magic = || format!("0x000008{ndims:02x} (IDX unsigned bytes, {ndims} dims)");
    let known_type = matches!(magic[2], 0x08 | 0x09 | 0x0b | 0x0c | 0x0d | 0x0e);
    if magic[0] != 0 || magic[1] != 0 || !known_type || magic[3] == 0 {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: expected_magic(),
            found: format!("0x{:08x}", u32::from_be_bytes(magic)),
        });
    }
    if magic[2] != TYPE_U8 {
        return Err(DataError::unsupported(
            path,
            format!(
                "IDX element type 0x{:02x}; only unsigned bytes (0x08) are read",
                magic[2]
            ),
        ));
    }
    if usize::from(magic[3]) != ndims {
        let hint = match (ndims, magic[3]) {
            (3, 1) => " (is this a label file?)",
            (1, 3) => " (is this an image file?)",
            _ => "",
        };
        return Err(DataError::unsupported(
            path,
            format!(
                "IDX file with {} dims where {ndims} are needed{hint}",
                magic[3]
            ),
        ));
    }

    let header_len = 4 + 4 * ndims as u64;
    let mut dim_bytes = vec![0u8; 4 * ndims];
    let got = read_up_to(&mut reader, &mut dim_bytes, path, gzip)?;
    if got < dim_bytes.len() {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len,
            actual: 4 + got as u64,
        });
    }
    let dims: Vec<u64> = dim_bytes
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect();
    let payload = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&p| p <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            DataError::unsupported(
                path,
                format!("header claims dims {dims:?}, more than the {MAX_IDX_BYTES}-byte limit"),
            )
        })?;

    let data = if gzip {
        // Grows only as real bytes decompress; stops one byte past the claim.
        let mut data = Vec::new();
        let result = (&mut reader).take(payload + 1).read_to_end(&mut data);
        if let Err(e) = result {
            return Err(stream_error(
                path,
                e,
                header_len + data.len() as u64,
                header_len + payload,
            ));
        }
        data
    } else {
        let needed = header_len + payload;
        if file_len < needed {
            return Err(DataError::Truncated {
                path: path.to_path_buf(),
                expected: needed,
                actual: file_len,
            });
        }
        // The file is long enough: allocating the claimed size is backed by real bytes.
        let mut data = vec![0u8; payload as usize];
        let got = read_up_to(&mut reader, &mut data, path, false)?;
        data.truncate(got);
        let mut extra = [0u8; 1];
        if read_up_to(&mut reader, &mut extra, path, false)? > 0 {
            data.push(extra[0]);
        }
        data
    };
    let got = data.len() as u64;
    if got < payload {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len + payload,
            actual: header_len + got,
        });
    }
    if got > payload {
        return Err(DataError::invalid(
            path,
            format!(
                "trailing bytes after the {payload} data bytes the header (dims {dims:?}) \
                 describes"
            ),
        ));
    }
    Ok(IdxArray {
        dims: dims.iter().map(|&d| d as usize).collect(),
        data,
    })
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to(
    reader: &mut dyn Read,
    buf: &mut [u8],
    path: &Path,
    gzip: bool,
) -> Result<usize, DataError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if gzip => {
                return Err(stream_error(path, e, filled as u64, buf.len() as u64));
            }
            Err(e) => return Err(DataError::io(path, e)),
        }
    }
    Ok(filled)
}

/// Maps a gzip decoding failure to a truncation or a corrupt-stream error.
fn stream_error(path: &Path, e: std::io::Error, actual: u64, expected: u64) -> DataError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual,
        }
    } else {
        DataError::invalid(path, format!("corrupt gzip stream: {e}"))
    }
}

/// Writes `data` (row-major, `dims.iter().product()` bytes) as an IDX file of unsigned
/// bytes, gzip-compressed when `gzip`, atomically (temp file, then rename).
///
/// # Errors
/// [`DataError::Io`] when the file cannot be written.
///
/// # Panics
/// If `data.len()` is not the product of `dims`, or `dims` is empty, longer than 255, or
/// holds an extent above `u32::MAX`.
#[track_caller]
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8], gzip: bool) -> Result<(), DataError> {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "write_idx: dims {dims:?} need {} bytes, got {}",
        dims.iter().product::<usize>(),
        data.len()
    );
    assert!(
        !dims.is_empty() && dims.len() <= 255 && dims.iter().all(|&d| d <= u32::MAX as usize),
        "write_idx: dims {dims:?} cannot be written as IDX"
    );
    let mut bytes = vec![0, 0, TYPE_U8, dims.len() as u8];
    for &d in dims {
        bytes.extend_from_slice(&(d as u32).to_be_bytes());
    }
    bytes.extend_from_slice(data);
    if gzip {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&bytes).map_err(|e| DataError::io(path, e))?;
        bytes = enc.finish().map_err(|e| DataError::io(path, e))?;
    }
    crate::write_atomic(path, &bytes)
}

/// Loads an image file (`idx3`, `[N, rows, cols]`) and a label file (`idx1`, `[N]`) as a
/// dataset of `[N, 1, rows, cols]` images in `[-1, 1]`, named `"idx"`, with
/// `num_classes = max label + 1`.
///
/// # Errors
/// Everything [`read_idx`] reports, and [`DataError::CountMismatch`] when the two files hold
/// different numbers of examples.
pub fn load_idx_pair(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    load_pair(images, labels, None, "idx")
}

fn load_pair(
    images: &Path,
    labels: &Path,
    num_classes: Option<usize>,
    name: &str,
) -> Result<Dataset, DataError> {
    let img = read_idx(images, 3)?;
    let lab = read_idx(labels, 1)?;
    let (n, h, w) = (img.dims[0], img.dims[1], img.dims[2]);
    if n != lab.dims[0] {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            image_count: n,
            labels: labels.to_path_buf(),
            label_count: lab.dims[0],
        });
    }
    if n > 0 && (h == 0 || w == 0) {
        return Err(DataError::unsupported(
            images,
            format!("images of {h}x{w} pixels"),
        ));
    }
    let max = lab.data.iter().copied().max().map_or(0, usize::from);
    let k = num_classes.unwrap_or(max + 1);
    if let Some(i) = lab.data.iter().position(|&l| usize::from(l) >= k) {
        return Err(DataError::invalid(
            labels,
            format!("label {} at index {i} is not below {k}", lab.data[i]),
        ));
    }
    let pixels: Vec<f32> = img.data.iter().map(|&b| u8_to_unit(b)).collect();
    let array = NdArray::from_vec(pixels, &[n, 1, h, w]).expect("length checked by read_idx");
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

fn find_file(dir: &Path, names: &[String]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// The `(images, labels)` files of `split` in `dir`, under the standard names
/// (`train-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`, also with `.idx3-ubyte`),
/// when both exist.
pub fn find_idx_pair(dir: &Path, split: Split) -> Option<(PathBuf, PathBuf)> {
    let images = find_file(dir, &candidate_names(split, "images"))?;
    let labels = find_file(dir, &candidate_names(split, "labels"))?;
    Some((images, labels))
}

/// Loads an MNIST-format directory: `split`, or when `None` the training split if its
/// files are there and the test split otherwise. Ten classes.
///
/// # Errors
/// [`DataError::NotFound`] when the directory holds neither split, and everything
/// [`load_idx_pair`] reports.
pub fn load_idx_dir(dir: &Path, split: Option<Split>, name: &str) -> Result<Dataset, DataError> {
    let splits: &[Split] = match split {
        Some(Split::Train) => &[Split::Train],
        Some(Split::Test) => &[Split::Test],
        None => &[Split::Train, Split::Test],
    };
    for &s in splits {
        if let Some((images, labels)) = find_idx_pair(dir, s) {
            return load_pair(&images, &labels, Some(10), name);
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
