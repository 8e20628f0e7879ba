//! [`Dataset`]: samples in one array (images `[N, C, H, W]` in `[-1, 1]`, or points
//! `[N, D]`), optional class labels, and a name.

use std::sync::Arc;

use agon_tensor::{Indices, NdArray};

/// A dataset held in memory: `N` samples stacked in one contiguous array, plus optional
/// labels. Cloning is cheap (the samples and labels are reference-counted).
///
/// Image datasets have shape `[N, C, H, W]` with values in `[-1, 1]` (the range of a
/// `tanh` generator); the 2-D mixtures have shape `[N, 2]`.
///
/// ```
/// use agon_data::Dataset;
/// use agon_tensor::NdArray;
/// let images = NdArray::zeros(&[4, 1, 2, 2]);
/// let ds = Dataset::new("tiny", images, Some((vec![0, 1, 1, 0], 2)));
/// assert_eq!(ds.len(), 4);
/// assert_eq!(ds.image_shape(), &[1, 2, 2]);
/// let half = ds.subset(&[1, 2]);
/// assert_eq!(half.labels(), Some(&[1, 1][..]));
/// ```
#[derive(Clone, Debug)]
pub struct Dataset {
    name: String,
    samples: NdArray,
    labels: Option<Arc<[usize]>>,
    num_classes: Option<usize>,
    class_names: Option<Arc<[String]>>,
}

impl Dataset {
    /// A dataset over `samples` (`[N, ..]`, made contiguous) with optional `(labels,
    /// num_classes)`.
    ///
    /// # Panics
    /// If `samples` has no axes, the label count differs from `N`, or a label is not below
    /// `num_classes` (programmer errors: readers validate file contents before calling this).
    #[track_caller]
    pub fn new(
        name: impl Into<String>,
        samples: NdArray,
        labels: Option<(Vec<usize>, usize)>,
    ) -> Self {
        assert!(
            samples.ndim() >= 1,
            "Dataset::new: samples need a leading example axis, got shape {:?}",
            samples.shape()
        );
        let n = samples.shape()[0];
        let (labels, num_classes) = match labels {
            Some((labels, k)) => {
                assert_eq!(
                    labels.len(),
                    n,
                    "Dataset::new: {} labels for {n} samples",
                    labels.len()
                );
                if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
                    panic!("Dataset::new: label {bad} is not below num_classes {k}");
                }
                (Some(Arc::from(labels)), Some(k))
            }
            None => (None, None),
        };
        Dataset {
            name: name.into(),
            samples: samples.contiguous(),
            labels,
            num_classes,
            class_names: None,
        }
    }

    /// The same dataset with human-readable class names (`names[k]` names label `k`).
    ///
    /// # Panics
    /// If the dataset has no labels or `names.len()` differs from the number of classes.
    #[track_caller]
    pub fn with_class_names(mut self, names: Vec<String>) -> Self {
        assert_eq!(
            Some(names.len()),
            self.num_classes,
            "with_class_names: {} names for {:?} classes",
            names.len(),
            self.num_classes
        );
        self.class_names = Some(Arc::from(names));
        self
    }

    /// The same dataset under another name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The dataset's name (e.g. `"fashion-mnist"`, `"ring8"`, a folder name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of samples `N`.
    pub fn len(&self) -> usize {
        self.samples.shape()[0]
    }

    /// True when the dataset holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape of one sample: `[C, H, W]` for images, `[D]` for points.
    pub fn image_shape(&self) -> &[usize] {
        &self.samples.shape()[1..]
    }

    /// All samples, `[N, ..]`, contiguous.
    pub fn images(&self) -> &NdArray {
        &self.samples
    }

    /// The labels, one per sample, when the dataset has them.
    pub fn labels(&self) -> Option<&[usize]> {
        self.labels.as_deref()
    }

    /// The number of classes, when the dataset has labels.
    pub fn num_classes(&self) -> Option<usize> {
        self.num_classes
    }

    /// Class names, when known (`class_names()[k]` names label `k`).
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The samples at `indices` (in that order, repeats allowed) with their labels:
    /// what a batch is made of. The images are a fresh contiguous `[indices.len(), ..]`.
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn gather(&self, indices: &[usize]) -> (NdArray, Option<Vec<usize>>) {
        let idx = Indices::from_vec(indices.to_vec(), &[indices.len()]);
        let images = self.samples.index_select(0, &idx);
        let labels = self
            .labels
            .as_ref()
            .map(|l| indices.iter().map(|&i| l[i]).collect());
        (images, labels)
    }

    /// A new dataset of the samples at `indices` (same name, classes and class names).
    ///
    /// # Panics
    /// If an index is out of range.
    #[track_caller]
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let (samples, labels) = self.gather(indices);
        Dataset {
            name: self.name.clone(),
            samples,
            labels: labels.map(Arc::from),
            num_classes: self.num_classes,
            class_names: self.class_names.clone(),
        }
    }

    /// The first `min(n, len)` samples.
    pub fn take(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx)
    }

    /// How many samples carry each label (`None` without labels).
    ///
    /// ```
    /// use agon_data::Dataset;
    /// let ds = Dataset::new("d", agon_tensor::NdArray::zeros(&[3, 2]), Some((vec![0, 2, 2], 3)));
    /// assert_eq!(ds.class_counts(), Some(vec![1, 0, 2]));
    /// ```
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        let labels = self.labels.as_ref()?;
        let mut counts = vec![0; self.num_classes.unwrap_or(0)];
        for &l in labels.iter() {
            counts[l] += 1;
        }
        Some(counts)
    }
}

/// Bytes `0..=255` to `[-1, 1]`: `x / 127.5 - 1` (0 -> -1, 255 -> 1 exactly).
pub(crate) fn u8_to_unit(x: u8) -> f32 {
    f32::from(x) / 127.5 - 1.0
}
