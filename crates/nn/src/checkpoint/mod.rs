//! Checkpoints: module and optimiser state in [safetensors](https://huggingface.co/docs/safetensors)
//! files, the format PyTorch users share weights in.
//!
//! Names are PyTorch `state_dict` names (`0.weight`, `bn.running_mean`), values are F32,
//! except counter buffers (BatchNorm's `num_batches_tracked`), which are I64 as in PyTorch.
//! So a file saved here loads with `safetensors.torch.load_file` + `load_state_dict`, and a
//! PyTorch file (F32, F16, BF16 or F64) loads here.
//!
//! - [`save_module`] / [`load_module`]: one module per file, with a metadata block.
//! - [`Checkpoint`]: several modules, optimisers and loose tensors in one file, for trainers.
//!
//! Loading is strict and transactional: every name must be present with the right shape and
//! no name may be extra; all of it is checked before the first value is set, so a failed load
//! changes nothing. Saving is atomic: a crash mid-write leaves the previous file intact.
//! A damaged or hostile file yields a [`CheckpointError`] naming the file and the tensor; it
//! never panics and never allocates more than a small multiple of the file's real size.
//!
//! ```
//! use std::collections::BTreeMap;
//! use agon_nn::checkpoint::{load_module, save_module};
//! use agon_nn::{BatchNorm1d, Linear, Module, Sequential};
//! use rand::SeedableRng;
//!
//! let dir = std::env::temp_dir().join(format!("agon-doc-checkpoint-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("model.safetensors");
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let net = Sequential::new()
//!     .push(Linear::new(4, 3, true, &mut rng))
//!     .push(BatchNorm1d::new(3));
//! let meta = BTreeMap::from([("step".to_string(), "1000".to_string())]);
//! save_module(&net, &path, &meta).unwrap();
//!
//! let copy = Sequential::new()
//!     .push(Linear::new(4, 3, true, &mut rng))
//!     .push(BatchNorm1d::new(3));
//! let meta = load_module(&copy, &path).unwrap();
//! assert_eq!(meta["step"], "1000");
//! assert_eq!(meta["format"], "agon");
//! assert_eq!(copy.state_dict()[0].1.to_vec(), net.state_dict()[0].1.to_vec());
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod dtype;
mod error;
mod load;
mod save;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use agon_tensor::NdArray;
use safetensors::Dtype;

pub use dtype::{bf16_to_f32, f16_to_f32};
pub use error::CheckpointError;

use crate::module::Module;
use crate::optim::Optimizer;
use crate::param::BufferKind;

/// The path shown in errors about a checkpoint that was not read from a file.
const IN_MEMORY: &str = "<memory>";

/// One named tensor of a checkpoint.
#[derive(Clone)]
pub(crate) struct Entry {
    /// The dtype in the file read (or I64 / F32 for tensors added in memory).
    dtype: Dtype,
    /// The shape (also kept for raw entries).
    shape: Vec<usize>,
    value: Value,
}

#[derive(Clone)]
pub(crate) enum Value {
    /// Converted to f32 (floats, and integers for counters).
    Float(NdArray),
    /// A dtype Agon does not convert, kept byte for byte so a re-save preserves it.
    Raw(Vec<u8>),
}

/// Writes `module`'s parameters and buffers to a safetensors file at `path`, atomically.
///
/// Names are the module's dotted `state_dict` names. Values are F32, except
/// [`BufferKind::Count`] buffers, written as I64 (PyTorch's `num_batches_tracked`). The
/// header's metadata holds `metadata` plus `"format" = "agon"` and `"agon_version"` (these
/// two win over caller keys of the same name).
///
/// # Errors
/// [`CheckpointError::Io`] when the file cannot be written; the previous file at `path`, if
/// any, is then left as it was, and no temporary file remains.
///
/// ```
/// use std::collections::BTreeMap;
/// use agon_nn::checkpoint::{save_module, Checkpoint};
/// use agon_nn::BatchNorm2d;
///
/// let dir = std::env::temp_dir().join(format!("agon-doc-save-module-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("bn.safetensors");
/// let meta = BTreeMap::from([("config".to_string(), "bn(8)".to_string())]);
/// save_module(&BatchNorm2d::new(8), &path, &meta).unwrap();
///
/// let ck = Checkpoint::read(&path).unwrap();
/// assert_eq!(ck.names(), ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]);
/// assert_eq!(ck.dtype("num_batches_tracked"), Some("I64"));
/// assert_eq!(ck.metadata()["config"], "bn(8)");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn save_module(
    module: &dyn Module,
    path: impl AsRef<Path>,
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let mut ck = Checkpoint::new();
    ck.add_module("", module);
    for (k, v) in metadata {
        ck.set_metadata(k, v);
    }
    ck.save(path)
}

/// Loads a file written by [`save_module`] (or by PyTorch's `safetensors.torch.save_file`
/// of a `state_dict`) into `module`, and returns the file's metadata.
///
/// Strict: every parameter and buffer must be in the file with its shape, and the file may
/// hold nothing else. F32 is taken as is; F16, BF16 and F64 are converted to f32; I64 and
/// I32 are accepted only for counter buffers. All checks run before any value is set, so on
/// error the module is unchanged.
///
/// # Errors
/// [`CheckpointError::Io`] (unreadable), [`Malformed`](CheckpointError::Malformed) (not a
/// valid safetensors file), [`MissingTensors`](CheckpointError::MissingTensors),
/// [`UnexpectedTensors`](CheckpointError::UnexpectedTensors),
/// [`ShapeMismatch`](CheckpointError::ShapeMismatch),
/// [`UnsupportedDtype`](CheckpointError::UnsupportedDtype).
///
/// ```
/// use std::collections::BTreeMap;
/// use agon_nn::checkpoint::{load_module, save_module, CheckpointError};
/// use agon_nn::{Linear, Module};
/// use rand::SeedableRng;
///
/// let dir = std::env::temp_dir().join(format!("agon-doc-load-module-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("linear.safetensors");
/// let mut rng = rand::rngs::StdRng::seed_from_u64(1);
/// save_module(&Linear::new(3, 2, true, &mut rng), &path, &BTreeMap::new()).unwrap();
///
/// let wide = Linear::new(4, 2, true, &mut rng);
/// let before = wide.state_dict()[1].1.to_vec();
/// match load_module(&wide, &path) {
///     Err(CheckpointError::ShapeMismatch { name, expected, found, .. }) => {
///         assert_eq!((name.as_str(), expected, found), ("weight", vec![2, 4], vec![2, 3]));
///     }
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(wide.state_dict()[1].1.to_vec(), before); // nothing changed
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load_module(
    module: &dyn Module,
    path: impl AsRef<Path>,
) -> Result<BTreeMap<String, String>, CheckpointError> {
    let ck = Checkpoint::read(path)?;
    ck.load_module_into("", module)?;
    Ok(ck.metadata)
}

/// A set of named tensors plus string metadata, saved as one safetensors file: the
/// container a trainer uses to keep generator, discriminator, both optimisers and its own
/// counters together.
///
/// Names join a prefix and the dotted state names: `add_module("generator", &g)` stores
/// `generator.0.weight`, `add_optimizer("opt_g", &opt)` stores `opt_g.<state name>`.
///
/// ```
/// use agon_nn::checkpoint::Checkpoint;
/// use agon_nn::{Linear, Module};
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
///
/// let dir = std::env::temp_dir().join(format!("agon-doc-checkpoint-struct-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("train.safetensors");
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(2);
/// let (g, d) = (Linear::new(2, 2, true, &mut rng), Linear::new(2, 1, true, &mut rng));
/// let mut ck = Checkpoint::new();
/// ck.add_module("generator", &g)
///     .add_module("discriminator", &d)
///     .add_tensor("fixed_noise", NdArray::ones(&[4, 2]))
///     .set_metadata("step", "500");
/// ck.save(&path).unwrap();
///
/// let back = Checkpoint::read(&path).unwrap();
/// let g2 = Linear::new(2, 2, true, &mut rng);
/// back.load_module_into("generator", &g2).unwrap();
/// assert_eq!(g2.state_dict()[0].1.to_vec(), g.state_dict()[0].1.to_vec());
/// assert_eq!(back.tensor("fixed_noise").unwrap().shape(), &[4, 2]);
/// assert_eq!(back.metadata()["step"], "500");
/// assert!(back.names().contains(&"discriminator.weight"));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct Checkpoint {
    entries: BTreeMap<String, Entry>,
    metadata: BTreeMap<String, String>,
    /// The file this was read from, for error messages.
    source: PathBuf,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint::new()
    }
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tensors: BTreeMap<&str, String> = self
            .entries
            .iter()
            .map(|(n, e)| (n.as_str(), format!("{} {:?}", e.dtype, e.shape)))
            .collect();
        f.debug_struct("Checkpoint")
            .field("source", &self.source)
            .field("tensors", &tensors)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl Checkpoint {
    /// An empty checkpoint.
    pub fn new() -> Self {
        Checkpoint {
            entries: BTreeMap::new(),
            metadata: BTreeMap::new(),
            source: PathBuf::from(IN_MEMORY),
        }
    }

    /// Adds `module`'s parameters and buffers as `prefix.<dotted name>` (the bare dotted
    /// names when `prefix` is empty), replacing entries of the same name. Counter buffers
    /// are stored as I64, everything else as F32. Values are copied now.
    pub fn add_module(&mut self, prefix: &str, module: &dyn Module) -> &mut Self {
        for (name, p) in module.named_parameters() {
            self.insert(load::join(prefix, &name), Dtype::F32, p.data());
        }
        for (name, b) in module.named_buffers() {
            let dtype = match b.kind() {
                BufferKind::Count => Dtype::I64,
                BufferKind::Float => Dtype::F32,
            };
            self.insert(load::join(prefix, &name), dtype, b.data());
        }
        self
    }

    /// Adds the optimiser's [`state_dict`](Optimizer::state_dict) as `prefix.<state name>`
    /// (F32), replacing entries of the same name.
    pub fn add_optimizer(&mut self, prefix: &str, opt: &dyn Optimizer) -> &mut Self {
        for (name, a) in opt.state_dict() {
            self.insert(load::join(prefix, &name), Dtype::F32, a);
        }
        self
    }

    /// Adds one F32 tensor (fixed noise for sample grids, a loss history), replacing an
    /// entry of the same name.
    ///
    /// # Panics
    /// If `name` is `__metadata__`, which safetensors reserves for the metadata block.
    #[track_caller]
    pub fn add_tensor(&mut self, name: &str, value: NdArray) -> &mut Self {
        self.insert(name.to_string(), Dtype::F32, value);
        self
    }

    /// Sets a metadata entry (model configuration, step, seed). `format` and
    /// `agon_version` are always written by [`save`](Checkpoint::save) and override keys of
    /// those names.
    pub fn set_metadata(&mut self, key: &str, value: &str) -> &mut Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    #[track_caller]
    fn insert(&mut self, name: String, dtype: Dtype, value: NdArray) {
        assert!(
            name != "__metadata__",
            "Checkpoint: the tensor name `__metadata__` is reserved by safetensors"
        );
        let entry = Entry {
            dtype,
            shape: value.shape().to_vec(),
            value: Value::Float(value),
        };
        self.entries.insert(name, entry);
    }

    /// The file as safetensors bytes (what [`save`](Checkpoint::save) writes).
    ///
    /// # Errors
    /// [`CheckpointError::Io`] only if the safetensors encoder refuses the header (over
    /// 100 MB of names).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        let mut metadata = self.metadata.clone();
        metadata.insert("format".into(), "agon".into());
        metadata.insert("agon_version".into(), env!("CARGO_PKG_VERSION").into());
        save::encode(&self.entries, &metadata).map_err(|source| CheckpointError::Io {
            path: self.source.clone(),
            source,
        })
    }

    /// Writes the checkpoint to `path` atomically (temporary file in the same directory,
    /// fsync, rename, fsync of the directory): readers see the old file or the new one,
    /// never a mixture, even across a crash.
    ///
    /// # Errors
    /// [`CheckpointError::Io`] naming `path`; the old file is then untouched.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
        let path = path.as_ref();
        let bytes = self.to_bytes().map_err(|e| match e {
            CheckpointError::Io { source, .. } => CheckpointError::Io {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })?;
        save::write_atomic(path, &bytes)
    }

    /// Reads a safetensors file (Agon's or PyTorch's).
    ///
    /// The whole file is read into memory and parsed there, so its real size bounds all
    /// work. Tensors of dtypes Agon does not convert (I8, U8, ...) are kept as raw bytes:
    /// they are listed by [`names`](Checkpoint::names) but refused when loaded.
    ///
    /// # Errors
    /// [`CheckpointError::Io`] if the file cannot be read or is not a regular file,
    /// [`CheckpointError::Malformed`] if it is not a valid safetensors file.
    pub fn read(path: impl AsRef<Path>) -> Result<Checkpoint, CheckpointError> {
        let path = path.as_ref();
        let io = |source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        };
        // A FIFO or device would block the read (or never end): only regular files, checked
        // with stat, which does not open the file.
        let meta = std::fs::metadata(path).map_err(io)?;
        if !meta.is_file() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a directory, FIFO or device); a checkpoint is a \
                 .safetensors file",
            )));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Self::parse(&bytes, path)
    }

    /// Parses safetensors bytes already in memory (errors name the path `<memory>`).
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] if `bytes` are not a valid safetensors file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        Self::parse(bytes, Path::new(IN_MEMORY))
    }

    fn parse(bytes: &[u8], path: &Path) -> Result<Checkpoint, CheckpointError> {
        let (entries, metadata) = load::parse(bytes, path)?;
        Ok(Checkpoint {
            entries,
            metadata,
            source: path.to_path_buf(),
        })
    }

    /// Loads the tensors under `prefix` (all tensors when `prefix` is empty) into `module`,
    /// as strictly as [`load_module`]: names under the prefix must match the module's
    /// exactly, shapes must agree, I64 / I32 only for counters. Nothing is set unless
    /// everything checks out.
    ///
    /// # Errors
    /// [`MissingTensors`](CheckpointError::MissingTensors),
    /// [`UnexpectedTensors`](CheckpointError::UnexpectedTensors),
    /// [`ShapeMismatch`](CheckpointError::ShapeMismatch),
    /// [`UnsupportedDtype`](CheckpointError::UnsupportedDtype), with full names.
    pub fn load_module_into(
        &self,
        prefix: &str,
        module: &dyn Module,
    ) -> Result<(), CheckpointError> {
        load::apply_module(&self.entries, &self.source, prefix, module)
    }

    /// Restores `opt` from the tensors under `prefix` (names stripped of `prefix.`), through
    /// [`Optimizer::load_state_dict`], which changes nothing on error. Any convertible dtype
    /// is accepted.
    ///
    /// # Errors
    /// [`CheckpointError::Optimizer`] wrapping the optimiser's reason, or
    /// [`UnsupportedDtype`](CheckpointError::UnsupportedDtype).
    pub fn load_optimizer_into(
        &self,
        prefix: &str,
        opt: &mut dyn Optimizer,
    ) -> Result<(), CheckpointError> {
        load::apply_optimizer(&self.entries, &self.source, prefix, opt)
    }

    /// The tensor called `name` as f32 (converted from its stored dtype), or `None` when
    /// absent or of a dtype Agon does not convert.
    pub fn tensor(&self, name: &str) -> Option<&NdArray> {
        match &self.entries.get(name)?.value {
            Value::Float(a) => Some(a),
            Value::Raw(_) => None,
        }
    }

    /// The safetensors dtype name of tensor `name` (`"F32"`, `"I64"`, `"BF16"`, ...): as read
    /// from the file, or as it will be written for tensors added here.
    pub fn dtype(&self, name: &str) -> Option<&'static str> {
        self.entries.get(name).map(|e| dtype_name(e.dtype))
    }

    /// The shape of tensor `name`.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.entries.get(name).map(|e| e.shape.as_slice())
    }

    /// The metadata (after [`read`](Checkpoint::read): the file's, including `format`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }
}

/// The safetensors name of `dtype` as a `'static` string.
fn dtype_name(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::BOOL => "BOOL",
        Dtype::U8 => "U8",
        Dtype::I8 => "I8",
        Dtype::I16 => "I16",
        Dtype::U16 => "U16",
        Dtype::F16 => "F16",
        Dtype::BF16 => "BF16",
        Dtype::I32 => "I32",
        Dtype::U32 => "U32",
        Dtype::F32 => "F32",
        Dtype::F64 => "F64",
        Dtype::I64 => "I64",
        Dtype::U64 => "U64",
        Dtype::C64 => "C64",
        Dtype::F4 => "F4",
        Dtype::F6_E2M3 => "F6_E2M3",
        Dtype::F6_E3M2 => "F6_E3M2",
        Dtype::F8_E5M2 => "F8_E5M2",
        Dtype::F8_E4M3 => "F8_E4M3",
        Dtype::F8_E8M0 => "F8_E8M0",
        Dtype::F8_E4M3FNUZ => "F8_E4M3FNUZ",
        Dtype::F8_E5M2FNUZ => "F8_E5M2FNUZ",
        _ => "unknown",
    }
}
