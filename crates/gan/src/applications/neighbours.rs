//! Memorisation checks and retrieval: generated samples (or a query image) beside their
//! nearest training images, in pixel space, in the feature classifier's space and in a
//! discriminator's.

use agon_autodiff::{no_grad, Tensor};
use agon_metrics::{memorisation, nearest_neighbours, Classifier, Memorisation, Neighbour};
use agon_tensor::NdArray;

use crate::Discriminator;

/// Images per discriminator forward pass when embedding (bounds the activations held).
const DISCRIMINATOR_BATCH: usize = 256;

/// Where distances are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Raw pixels (flattened images in `[-1, 1]`).
    Pixels,
    /// The feature classifier's penultimate activations.
    Features,
    /// A trained discriminator's activations before its last layer
    /// ([`Discriminator::feature_vectors`]).
    Discriminator,
}

impl Space {
    /// Its name in reports: "pixels", "features" or "discriminator".
    pub fn name(self) -> &'static str {
        match self {
            Space::Pixels => "pixels",
            Space::Features => "features",
            Space::Discriminator => "discriminator",
        }
    }
}

/// The networks whose feature spaces [`Space::Features`] and [`Space::Discriminator`] are.
#[derive(Clone, Copy, Default)]
pub struct FeatureNets<'a> {
    /// The feature classifier.
    pub classifier: Option<&'a Classifier>,
    /// A trained discriminator.
    pub discriminator: Option<&'a dyn Discriminator>,
}

/// Images `[N, C, H, W]` as rows of the space: flattened pixels, the classifier's
/// features, or the discriminator's (`None` when `nets` lacks the network of that space, or
/// the discriminator exposes no features).
pub fn embed_in(space: Space, images: &NdArray, nets: FeatureNets<'_>) -> Option<NdArray> {
    match space {
        Space::Pixels => {
            let n = images.shape()[0];
            Some(images.reshape(&[n, images.numel() / n.max(1)]))
        }
        Space::Features => nets.classifier.map(|c| c.embed(images)),
        Space::Discriminator => discriminator_features(nets.discriminator?, images),
    }
}

/// `d`'s features of `images`, in eval mode, in batches, without recording a graph.
fn discriminator_features(d: &dyn Discriminator, images: &NdArray) -> Option<NdArray> {
    let n = images.shape()[0];
    d.eval();
    let parts: Option<Vec<NdArray>> = no_grad(|| {
        (0..n)
            .step_by(DISCRIMINATOR_BATCH)
            .map(|s| {
                let x = Tensor::constant(images.narrow(0, s, DISCRIMINATOR_BATCH.min(n - s)));
                d.feature_vectors(&x).map(|f| f.data().clone())
            })
            .collect()
    });
    d.train();
    let parts = parts?;
    Some(NdArray::concat(&parts.iter().collect::<Vec<_>>(), 0))
}

/// The `k` nearest training images to each of `queries` in `space`.
///
/// ```
/// use agon_gan::applications::{nearest_images, Space};
/// use agon_tensor::NdArray;
/// let train = NdArray::arange(0.0, 32.0, 1.0).reshape(&[8, 1, 2, 2]).map(|v| v / 32.0);
/// let none = Default::default();
/// let nn = nearest_images(&train.narrow(0, 3, 1), &train, 2, Space::Pixels, none).unwrap();
/// assert_eq!(nn[0][0].index, 3); // an image's nearest training image is itself
/// ```
///
/// # Panics
/// As [`nearest_neighbours`]: `k` of 0 or over the training rows, or shapes that differ.
pub fn nearest_images(
    queries: &NdArray,
    train: &NdArray,
    k: usize,
    space: Space,
    nets: FeatureNets<'_>,
) -> Option<Vec<Vec<Neighbour>>> {
    let q = embed_in(space, queries, nets)?;
    let t = embed_in(space, train, nets)?;
    Some(nearest_neighbours(&q, &t, k, None))
}

/// [`memorisation`] of `samples` against `train` in `space` (`reference` training rows set
/// the real-to-real distance).
pub fn memorisation_in(
    space: Space,
    samples: &NdArray,
    train: &NdArray,
    reference: usize,
    nets: FeatureNets<'_>,
) -> Option<Memorisation> {
    let s = embed_in(space, samples, nets)?;
    let t = embed_in(space, train, nets)?;
    Some(memorisation(&s, &t, reference))
}

/// Rows of `[query, its neighbours...]`, one row per query, as one image batch for a grid
/// of `1 + k` columns per space (`spaces` are the neighbour lists, each `[queries][k]`).
pub fn neighbour_rows(
    queries: &NdArray,
    train: &NdArray,
    spaces: &[&Vec<Vec<Neighbour>>],
) -> NdArray {
    let mut parts = Vec::new();
    for i in 0..queries.shape()[0] {
        parts.push(queries.narrow(0, i, 1));
        for nn in spaces {
            parts.extend(nn[i].iter().map(|nb| train.narrow(0, nb.index, 1)));
        }
    }
    NdArray::concat(&parts.iter().collect::<Vec<_>>(), 0)
}
