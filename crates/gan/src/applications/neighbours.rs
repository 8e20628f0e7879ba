//! Memorisation checks and retrieval: generated samples (or a query image) beside their
//! nearest training images, in pixel space and in the feature classifier's space.

use agon_metrics::{memorisation, nearest_neighbours, Classifier, Memorisation, Neighbour};
use agon_tensor::NdArray;

/// Where distances are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Raw pixels (flattened images in `[-1, 1]`).
    Pixels,
    /// The feature classifier's penultimate activations.
    Features,
}

impl Space {
    /// Its name in reports: "pixels" or "features".
    pub fn name(self) -> &'static str {
        match self {
            Space::Pixels => "pixels",
            Space::Features => "features",
        }
    }
}

/// Images `[N, C, H, W]` as rows of the space: flattened pixels, or the classifier's
/// features (`None` when no classifier is given for feature space).
pub fn embed_in(
    space: Space,
    images: &NdArray,
    classifier: Option<&Classifier>,
) -> Option<NdArray> {
    match space {
        Space::Pixels => {
            let n = images.shape()[0];
            Some(images.reshape(&[n, images.numel() / n.max(1)]))
        }
        Space::Features => classifier.map(|c| c.embed(images)),
    }
}

/// The `k` nearest training images to each of `queries` in `space`.
///
/// ```
/// use agon_gan::applications::{nearest_images, Space};
/// use agon_tensor::NdArray;
/// let train = NdArray::arange(0.0, 32.0, 1.0).reshape(&[8, 1, 2, 2]).map(|v| v / 32.0);
/// let nn = nearest_images(&train.narrow(0, 3, 1), &train, 2, Space::Pixels, None).unwrap();
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
    classifier: Option<&Classifier>,
) -> Option<Vec<Vec<Neighbour>>> {
    let q = embed_in(space, queries, classifier)?;
    let t = embed_in(space, train, classifier)?;
    Some(nearest_neighbours(&q, &t, k, None))
}

/// [`memorisation`] of `samples` against `train` in `space` (`reference` training rows set
/// the real-to-real distance).
pub fn memorisation_in(
    space: Space,
    samples: &NdArray,
    train: &NdArray,
    reference: usize,
    classifier: Option<&Classifier>,
) -> Option<Memorisation> {
    let s = embed_in(space, samples, classifier)?;
    let t = embed_in(space, train, classifier)?;
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
