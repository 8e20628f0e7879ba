//! What people do with a trained GAN besides sampling: fake detection, nearest-neighbour
//! memorisation checks and retrieval (the `agon detect`, `agon detector` and
//! `agon neighbours` commands are thin shells over these).
//!
//! | module | does | command |
//! |---|---|---|
//! | `detect.rs` | real-vs-generated scores from a discriminator or a standalone CNN | `agon detect`, `agon detector train/eval` |
//! | `edit.rs` | latent directions that change one measured attribute (InterFaceGAN) or follow the main variation (GANSpace) | `agon edit` |
//! | `invert.rs` | the latent code that reconstructs an image (optimisation with restarts, an encoder) | `agon invert` |
//! | `neighbours.rs` | nearest training images in pixel or feature space; the memorisation figure | `agon neighbours` |

mod detect;
mod edit;
mod invert;
mod neighbours;

pub use detect::{detector_metadata, real_vs_generated, train_detector, Detector, DETECTOR_ROLE};

pub use edit::{boundary_direction, edit_codes, measure, principal_directions, Attribute};
pub use invert::{
    encode, encoder_metadata, invert, train_encoder, Inversion, InvertConfig, ENCODER_ROLE,
};
pub use neighbours::{
    embed_in, memorisation_in, nearest_images, neighbour_rows, FeatureNets, Space,
};

use rand::rngs::StdRng;
use rand::SeedableRng;

/// Stream `stream` of seed `seed`, as a generator: the samples a detector trains on and
/// those it is tested on come from different streams of one seed, so they never repeat.
pub fn sample_rng(seed: u64, stream: u64) -> StdRng {
    StdRng::seed_from_u64(crate::trainer::mix(seed, stream))
}

/// The rows of an `n`-image dataset kept for training and those held out for testing:
/// every fifth image held out (so each class, in any order, is in both).
///
/// ```
/// let (train, test) = agon_gan::applications::split_rows(10);
/// assert_eq!(test, vec![4, 9]);
/// assert_eq!(train.len(), 8);
/// ```
pub fn split_rows(n: usize) -> (Vec<usize>, Vec<usize>) {
    (0..n).partition(|i| i % 5 != 4)
}
