//! The dataset a configuration names.

use std::path::Path;

use agon_data::{DataError, DataRoot, Dataset, Mixture};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Samples drawn from the 2-D mixtures: a fixed training set, like an image dataset.
const MIXTURE_SAMPLES: usize = 20_000;

/// Loads the dataset `name` (see [`DataConfig::name`](super::DataConfig::name)), keeping at
/// most `limit` samples when `limit > 0`. The built-in image datasets are read from the
/// data directory that [`DataRoot::resolve`] finds from `data_dir` (`None` or empty:
/// `AGON_DATA_DIR`, then the checkout's `data/`); the 2-D mixtures and paths need none.
///
/// # Errors
/// A [`DataError`] naming the file or directory and the problem.
pub fn load_dataset(
    name: &str,
    data_dir: Option<&Path>,
    limit: usize,
    seed: u64,
) -> Result<Dataset, DataError> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xda7a);
    let root = || DataRoot::resolve(data_dir);
    let ds = match name {
        "fashion-mnist" => agon_data::default_dataset_in(&root()?)?,
        "mnist" => agon_data::mnist(&root()?.join("mnist"))?,
        "ring8" => Mixture::ring8().sample(MIXTURE_SAMPLES, &mut rng),
        "grid25" => Mixture::grid25().sample(MIXTURE_SAMPLES, &mut rng),
        "cifar10" => agon_data::cifar10(&root()?.join("cifar-10-batches-bin"))?,
        path => load_path(Path::new(path))?,
    };
    Ok(if limit > 0 && limit < ds.len() {
        ds.take(limit)
    } else {
        ds
    })
}

/// A directory of IDX files, of CIFAR-10 batches, or of PNG images (28x28 grayscale).
fn load_path(path: &Path) -> Result<Dataset, DataError> {
    if !path.exists() {
        return Err(DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such dataset (expected fashion-mnist, mnist, ring8, grid25, cifar10, \
                 or a path to IDX files, CIFAR-10 batches or a folder of PNG images)",
            ),
        });
    }
    if !agon_data::find_cifar_batches(path, agon_data::Split::Train).is_empty()
        || !agon_data::find_cifar_batches(path, agon_data::Split::Test).is_empty()
    {
        return agon_data::cifar10(path);
    }
    // IDX files present: their errors are the ones to report, not a PNG reader's.
    let has_idx = [agon_data::Split::Train, agon_data::Split::Test]
        .into_iter()
        .any(|s| agon_data::find_idx_pair(path, s).is_some());
    if has_idx {
        agon_data::load_idx_dir(path, None, "idx")
    } else {
        agon_data::image_folder(path, [28, 28], 1)
    }
}
