//! Where Agon's data files live: one resolver shared by training and evaluation.
//!
//! The shipped datasets (`fashion-mnist/`, `mnist/`), the feature classifiers
//! (`classifiers/`) and optional downloads (`cifar-10-batches-bin/`) sit in one *data
//! directory*. It is found, in this order:
//!
//! 1. the directory given explicitly (the CLI's `--data-dir`, the `data.dir` config key);
//! 2. the environment variable [`DATA_DIR_ENV`] (`AGON_DATA_DIR`);
//! 3. the `data/` directory of an Agon checkout that contains the current directory (the
//!    nearest ancestor holding both `Cargo.toml` and `data/classifiers/`).
//!
//! Nothing is compiled in: a binary copied or installed anywhere finds the same files from
//! the same inputs, and says where it looked when it finds none.

use std::path::{Path, PathBuf};

use crate::DataError;

/// The environment variable naming the data directory when no explicit one is given.
pub const DATA_DIR_ENV: &str = "AGON_DATA_DIR";

/// How a [`DataRoot`] was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootOrigin {
    /// Given explicitly (`--data-dir`, `data.dir`).
    Explicit,
    /// From [`DATA_DIR_ENV`].
    Environment,
    /// The `data/` of the checkout containing the current directory.
    Checkout,
}

/// A resolved data directory.
///
/// ```
/// use agon_data::{DataRoot, RootOrigin};
/// // Doctests run inside the repository, so its data/ is found (unless AGON_DATA_DIR
/// // points elsewhere).
/// let root = DataRoot::resolve(None).unwrap();
/// assert!(root.path().join("classifiers").is_dir());
/// // An explicit directory wins, and must exist.
/// assert!(DataRoot::resolve(Some("/no/such/dir".as_ref())).is_err());
/// let here = DataRoot::resolve(Some(root.path())).unwrap();
/// assert_eq!(here.origin(), RootOrigin::Explicit);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRoot {
    path: PathBuf,
    origin: RootOrigin,
}

impl DataRoot {
    /// Finds the data directory: `explicit`, then [`DATA_DIR_ENV`], then the checkout's
    /// `data/` (see the module docs). An empty `explicit` path counts as none.
    ///
    /// # Errors
    /// [`DataError::Invalid`] when the explicit or environment directory is not a
    /// directory (naming which); [`DataError::NoDataDir`] when none is given and the
    /// current directory is not inside a checkout.
    pub fn resolve(explicit: Option<&Path>) -> Result<DataRoot, DataError> {
        if let Some(dir) = explicit.filter(|p| !p.as_os_str().is_empty()) {
            return checked(
                dir,
                RootOrigin::Explicit,
                "the data directory given (--data-dir)",
            );
        }
        if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
            return checked(
                Path::new(&dir),
                RootOrigin::Environment,
                "the data directory in AGON_DATA_DIR",
            );
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        match checkout_data_dir(&cwd) {
            Some(path) => Ok(DataRoot {
                path,
                origin: RootOrigin::Checkout,
            }),
            None => Err(DataError::NoDataDir { cwd }),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How it was found.
    pub fn origin(&self) -> RootOrigin {
        self.origin
    }

    /// `name` inside the data directory (a dataset's folder, `classifiers/…`).
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// Where the feature classifier for the dataset named `data` is kept:
    /// `classifiers/<last path component of data>.safetensors`.
    ///
    /// ```
    /// let root = agon_data::DataRoot::resolve(None).unwrap();
    /// assert!(root.classifier_path("fashion-mnist").is_file());
    /// assert!(root.classifier_path("my/faces").ends_with("classifiers/faces.safetensors"));
    /// ```
    pub fn classifier_path(&self, data: &str) -> PathBuf {
        let name = Path::new(data)
            .file_name()
            .map_or("classifier".into(), |n| n.to_string_lossy().into_owned());
        self.join("classifiers").join(format!("{name}.safetensors"))
    }
}

fn checked(dir: &Path, origin: RootOrigin, what: &str) -> Result<DataRoot, DataError> {
    if dir.is_dir() {
        Ok(DataRoot {
            path: dir.to_path_buf(),
            origin,
        })
    } else {
        Err(DataError::invalid(
            dir,
            format!("{what} is not a directory"),
        ))
    }
}

/// The `data/` of the nearest ancestor of `start` (itself included) that looks like an
/// Agon checkout: it holds `Cargo.toml` and `data/classifiers/`.
pub fn checkout_data_dir(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|a| a.join("Cargo.toml").is_file() && a.join("data/classifiers").is_dir())
        .map(|a| a.join("data"))
}
