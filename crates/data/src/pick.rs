//! Picking a few labelled images per class: the small-data experiments' training sets.
//!
//! One rule serves every caller, so a GAN trained with `data.per_class = N` and a
//! classifier trained with `agon eval --train-classifier DATA --per-class N` under the same
//! seed see exactly the same images.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::error::DataError;
use crate::Dataset;

/// Mixed into the seed so that the pick's stream is not any other stream of the same seed.
const PICK_STREAM: u64 = 0x7069_636b_5f70_6572; // "pick_per"

/// The indices (ascending) of `per_class` samples of each class of `dataset`, picked by
/// `seed`: the dataset's indices in one seeded random order (ChaCha, the same on every
/// platform), walked from the start, keeping each sample whose class still has room.
///
/// So the pick for a smaller `per_class` is contained in the pick for a larger one under
/// the same seed (10 per class are among the 50), and each class's pick is a uniform
/// random sample of that class.
///
/// ```
/// use agon_data::{pick_per_class, Dataset};
/// use agon_tensor::NdArray;
/// let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
/// let ds = Dataset::new("toy", NdArray::zeros(&[30, 1, 2, 2]), Some((labels, 3)));
/// let picked = pick_per_class(&ds, 4, 7).unwrap();
/// assert_eq!(ds.subset(&picked).class_counts(), Some(vec![4, 4, 4]));
/// assert_eq!(picked, pick_per_class(&ds, 4, 7).unwrap()); // the same seed, the same pick
/// let two = pick_per_class(&ds, 2, 7).unwrap();
/// assert!(two.iter().all(|i| picked.contains(i)));
/// assert!(pick_per_class(&ds, 11, 7).is_err()); // only 10 of each class
/// ```
///
/// # Errors
/// [`DataError::Invalid`] naming the dataset when it has no labels, when `per_class` is 0,
/// or when a class has fewer than `per_class` samples (naming the class and its count).
pub fn pick_per_class(
    dataset: &Dataset,
    per_class: usize,
    seed: u64,
) -> Result<Vec<usize>, DataError> {
    let name = std::path::Path::new(dataset.name());
    let (Some(labels), Some(k)) = (dataset.labels(), dataset.num_classes()) else {
        return Err(DataError::invalid(
            name,
            "has no labels: picking images per class needs labelled data",
        ));
    };
    if per_class == 0 {
        return Err(DataError::invalid(
            name,
            "0 images per class asked for: pick at least 1",
        ));
    }
    let counts = dataset.class_counts().unwrap_or_default();
    if let Some((class, &have)) = counts.iter().enumerate().find(|&(_, &c)| c < per_class) {
        let named = dataset
            .class_names()
            .and_then(|n| n.get(class))
            .map_or(String::new(), |n| format!(" ({n})"));
        return Err(DataError::invalid(
            name,
            format!(
                "{per_class} images of each class asked for, but class {class}{named} has only \
                 {have} among its {} samples",
                labels.len()
            ),
        ));
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed ^ PICK_STREAM));
    let mut room = vec![per_class; k];
    let mut picked = Vec::with_capacity(per_class.saturating_mul(k).min(labels.len()));
    for i in order {
        let r = &mut room[labels[i]];
        if *r > 0 {
            *r -= 1;
            picked.push(i);
            if picked.len() == per_class * k {
                break;
            }
        }
    }
    picked.sort_unstable();
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_tensor::NdArray;

    fn toy(n: usize, k: usize) -> Dataset {
        let labels: Vec<usize> = (0..n).map(|i| (i * 7 + i / 3) % k).collect();
        let images = NdArray::from_vec((0..n).map(|i| i as f32).collect(), &[n, 1, 1, 1]).unwrap();
        Dataset::new("toy", images, Some((labels, k)))
    }

    #[test]
    fn picks_exactly_n_per_class_and_nests() {
        let ds = toy(200, 5);
        let mut last: Vec<usize> = vec![];
        for n in [1, 3, 10, 20] {
            let picked = pick_per_class(&ds, n, 3).unwrap();
            assert_eq!(ds.subset(&picked).class_counts(), Some(vec![n; 5]));
            assert!(
                picked.windows(2).all(|w| w[0] < w[1]),
                "ascending, no repeats"
            );
            assert!(
                last.iter().all(|i| picked.contains(i)),
                "{n}: contains the smaller pick"
            );
            last = picked;
        }
        // Another seed, another pick.
        assert_ne!(
            pick_per_class(&ds, 3, 3).unwrap(),
            pick_per_class(&ds, 3, 4).unwrap()
        );
        // All of every class: the whole dataset.
        let balanced = ds.subset(&pick_per_class(&ds, 39, 0).unwrap());
        let all = pick_per_class(&balanced, 39, 9).unwrap();
        assert_eq!(all, (0..195).collect::<Vec<_>>());
    }

    #[test]
    fn refuses_what_it_cannot_pick() {
        let ds = toy(200, 5).with_class_names(
            ["a", "b", "c", "d", "e"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        // Classes of 40, 39, 41, 39 and 41 samples.
        let e = pick_per_class(&ds, 40, 0).unwrap_err().to_string();
        assert!(e.contains("class 1 (b) has only 39"), "{e}");
        let e = pick_per_class(&ds, 0, 0).unwrap_err().to_string();
        assert!(e.contains("at least 1"), "{e}");
        let unlabelled = Dataset::new("points", NdArray::zeros(&[4, 2]), None);
        let e = pick_per_class(&unlabelled, 1, 0).unwrap_err().to_string();
        assert!(e.contains("no labels"), "{e}");
        // A class with no samples at all.
        let ds = Dataset::new("gap", NdArray::zeros(&[4, 1]), Some((vec![0, 0, 2, 2], 3)));
        let e = pick_per_class(&ds, 1, 0).unwrap_err().to_string();
        assert!(e.contains("class 1 has only 0"), "{e}");
    }
}
