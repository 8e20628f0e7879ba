//! The feature network of Agon's scores: a small LeNet-style CNN, trained with Agon's own
//! stack on the dataset it scores (Inception-v3 weights cannot be downloaded here). For the
//! 28x28 grayscale input of the shipped classifiers:
//!
//! ```text
//! features: Conv(1, 32, k5, p2) -> ReLU -> MaxPool(2)     [N, 32, 14, 14]
//!           Conv(32, 64, k5, p2) -> ReLU -> MaxPool(2)    [N, 64, 7, 7]
//!           Flatten -> Linear(3136, 128) -> ReLU          [N, 128]   <- FID features
//! head:     Linear(128, K)                                [N, K]     logits
//! ```
//!
//! Any other input `[C, H, W]` ([`Classifier::for_shape`]) takes C channels in the first
//! convolution and, while the map is still larger than 8 on a side after the two pools,
//! adds `Conv(64, 64, k3, p1) -> ReLU -> MaxPool(2)` blocks before the flatten, so the
//! feature layer stays small (a 64x64 RGB image: one extra block, `Linear(4096, 128)`).
//! The input shape is recorded in the saved file (`input_shape`, absent = 1,28,28).
//!
//! Parameter names follow PyTorch (`features.0.weight`, `features.3.weight`,
//! `features.7.weight`, `head.weight`, with biases), so the same network written in PyTorch
//! as `features = nn.Sequential(...)`, `head = nn.Linear(128, K)` loads the same file.
//! Scores computed on these features are named for the classifier, e.g.
//! "FID (agon-fmnist classifier)", never "FID".

use std::collections::BTreeMap;
use std::path::Path;

use agon_autodiff::{no_grad, on_worker, Tensor};
use agon_data::{Batcher, Dataset};
use agon_nn::checkpoint::{save_module, Checkpoint, CheckpointError};
use agon_nn::optim::{Adam, AdamConfig, Optimizer};
use agon_nn::{Conv2d, Flatten, Linear, Module, ReLU, Sequential};
use agon_tensor::{Conv2dParams, Indices, NdArray, Pool2dParams};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Width of the penultimate layer: the feature vectors the scores compare.
pub const FEATURE_DIM: usize = 128;
/// The input of [`Classifier::new`] and the shipped classifiers: one channel of 28 x 28
/// pixels in `[-1, 1]`.
pub const INPUT_SHAPE: [usize; 3] = [1, 28, 28];
/// Images per forward pass in the batched, gradient-free helpers ([`Classifier::embed`],
/// [`accuracy`], ...): large enough to amortise per-op overhead, small enough to keep the
/// activations (about 100 KB per image) near 50 MB.
const EVAL_BATCH: usize = 500;

/// 2x2 max pooling as a layer (agon-nn has the op on tensors, not a layer).
struct MaxPool2d(Pool2dParams);

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.max_pool2d(&self.0).0
    }
}

/// The LeNet-style classifier whose penultimate activations are Agon's image features.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_metrics::Classifier;
/// use agon_tensor::NdArray;
/// let c = Classifier::new(10, 0);
/// let x = NdArray::zeros(&[2, 1, 28, 28]);
/// assert_eq!(c.embed(&x).shape(), &[2, 128]);
/// assert_eq!(c.logits(&Tensor::constant(x)).shape(), &[2, 10]);
/// assert_eq!(c.num_classes(), 10);
/// ```
pub struct Classifier {
    features: Sequential,
    head: Linear,
    num_classes: usize,
    input_shape: [usize; 3],
}

impl Classifier {
    /// A fresh classifier for `num_classes` classes, weights initialised as PyTorch does
    /// from an RNG seeded with `seed`.
    ///
    /// # Panics
    /// If `num_classes` is 0.
    #[track_caller]
    pub fn new(num_classes: usize, seed: u64) -> Self {
        Classifier::for_shape(INPUT_SHAPE, num_classes, seed)
    }

    /// A fresh classifier for images of `input_shape` (`[C, H, W]`, see the module docs).
    ///
    /// ```
    /// use agon_metrics::Classifier;
    /// use agon_tensor::NdArray;
    /// let c = Classifier::for_shape([3, 32, 32], 4, 0);
    /// assert_eq!(c.input_shape(), [3, 32, 32]);
    /// assert_eq!(c.embed(&NdArray::zeros(&[2, 3, 32, 32])).shape(), &[2, 128]);
    /// ```
    ///
    /// # Panics
    /// If `num_classes` is 0, or a side of the image is below 4 or above 4096.
    #[track_caller]
    pub fn for_shape(input_shape: [usize; 3], num_classes: usize, seed: u64) -> Self {
        assert!(num_classes > 0, "Classifier: need at least one class");
        let [c, h, w] = input_shape;
        assert!(
            c > 0 && (4..=4096).contains(&h) && (4..=4096).contains(&w),
            "Classifier: images {input_shape:?} are not supported (sides 4 to 4096)"
        );
        let mut rng = StdRng::seed_from_u64(seed);
        let same = Conv2dParams::new().padding(2);
        let pool = Pool2dParams::new(2);
        let mut features = Sequential::new()
            .push(Conv2d::new(c, 32, 5, same, true, &mut rng))
            .push(ReLU)
            .push(MaxPool2d(pool))
            .push(Conv2d::new(32, 64, 5, same, true, &mut rng))
            .push(ReLU)
            .push(MaxPool2d(pool));
        let (mut fh, mut fw) = (h / 4, w / 4);
        while fh.max(fw) > 8 && fh.min(fw) >= 2 {
            features = features
                .push(Conv2d::new(
                    64,
                    64,
                    3,
                    Conv2dParams::new().padding(1),
                    true,
                    &mut rng,
                ))
                .push(ReLU)
                .push(MaxPool2d(pool));
            (fh, fw) = (fh / 2, fw / 2);
        }
        let features = features
            .push(Flatten)
            .push(Linear::new(64 * fh * fw, FEATURE_DIM, true, &mut rng))
            .push(ReLU);
        let head = Linear::new(FEATURE_DIM, num_classes, true, &mut rng);
        Classifier {
            features,
            head,
            num_classes,
            input_shape,
        }
    }

    /// The image shape `[C, H, W]` it takes.
    pub fn input_shape(&self) -> [usize; 3] {
        self.input_shape
    }

    /// Number of classes (width of the logits).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Penultimate activations `[N, 128]` of images `[N, 1, 28, 28]` (differentiable).
    ///
    /// # Panics
    /// If `x` is not `[N, 1, 28, 28]`.
    #[track_caller]
    pub fn features(&self, x: &Tensor) -> Tensor {
        self.check_images("Classifier::features", x.shape());
        self.features.forward(x)
    }

    /// Class logits `[N, K]` of images `[N, 1, 28, 28]` (differentiable).
    ///
    /// # Panics
    /// If `x` is not `[N, 1, 28, 28]`.
    #[track_caller]
    pub fn logits(&self, x: &Tensor) -> Tensor {
        self.head.forward(&self.features(x))
    }

    /// Applies `f` to batches of `images` under `no_grad` and stacks the results, on a
    /// rayon worker (`on_worker`: the ops of each batch fork there instead of each being
    /// injected into the pool and waited for, as in the trainer).
    fn batched(&self, images: &NdArray, f: impl Fn(&Tensor) -> Tensor + Sync) -> NdArray {
        self.check_images("Classifier", images.shape());
        let n = images.shape()[0];
        on_worker(|| {
            no_grad(|| {
                let parts: Vec<NdArray> = (0..n)
                    .step_by(EVAL_BATCH)
                    .map(|s| {
                        let x = Tensor::constant(images.narrow(0, s, EVAL_BATCH.min(n - s)));
                        f(&x).data().clone()
                    })
                    .collect();
                NdArray::concat(&parts.iter().collect::<Vec<_>>(), 0)
            })
        })
    }

    /// Feature vectors `[N, 128]` of images `[N, 1, 28, 28]` in `[-1, 1]`, computed in
    /// batches without recording a graph: the input of
    /// [`frechet_distance_features`](crate::frechet_distance_features), [`kid`](crate::kid)
    /// and the k-NN scores.
    ///
    /// # Panics
    /// If `images` is not `[N, 1, 28, 28]` with `N > 0`.
    #[track_caller]
    pub fn embed(&self, images: &NdArray) -> NdArray {
        self.batched(images, |x| self.features.forward(x))
    }

    /// Class probabilities `[N, K]` (softmax of the logits), batched and gradient-free:
    /// the input of [`inception_score`](crate::inception_score).
    ///
    /// # Panics
    /// If `images` is not `[N, 1, 28, 28]` with `N > 0`.
    #[track_caller]
    pub fn probabilities(&self, images: &NdArray) -> NdArray {
        self.batched(images, |x| self.forward(x).softmax(1))
    }

    /// The most likely class of each image.
    ///
    /// # Panics
    /// If `images` is not `[N, 1, 28, 28]` with `N > 0`.
    #[track_caller]
    pub fn predict(&self, images: &NdArray) -> Vec<usize> {
        self.batched(images, |x| self.forward(x))
            .argmax(1, false)
            .as_slice()
            .to_vec()
    }

    /// Saves the weights to a safetensors file with `metadata` (plus `model` and
    /// `num_classes` entries), atomically.
    ///
    /// # Errors
    /// [`CheckpointError::Io`] when the file cannot be written.
    pub fn save(
        &self,
        path: impl AsRef<Path>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), CheckpointError> {
        let mut meta = metadata.clone();
        meta.insert("model".into(), "agon-lenet".into());
        let [c, h, w] = self.input_shape;
        meta.insert("input_shape".into(), format!("{c},{h},{w}"));
        meta.insert("num_classes".into(), self.num_classes.to_string());
        save_module(self, path, &meta)
    }

    /// Loads a classifier saved by [`save`](Classifier::save) (the number of classes is read
    /// from the shape of `head.weight`) and returns it with the file's metadata.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use agon_metrics::Classifier;
    /// use agon_tensor::NdArray;
    /// let path = std::env::temp_dir().join(format!("agon-doc-clf-{}.safetensors", std::process::id()));
    /// let c = Classifier::new(3, 7);
    /// let meta = BTreeMap::from([("dataset".to_string(), "toy".to_string())]);
    /// c.save(&path, &meta).unwrap();
    /// let (back, meta) = Classifier::load(&path).unwrap();
    /// assert_eq!((back.num_classes(), meta["dataset"].as_str()), (3, "toy"));
    /// let x = NdArray::ones(&[1, 1, 28, 28]);
    /// assert_eq!(back.embed(&x).to_vec(), c.embed(&x).to_vec());
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    ///
    /// # Errors
    /// Any [`CheckpointError`]: unreadable or malformed file, missing or extra tensors,
    /// shapes that are not this architecture's.
    pub fn load(
        path: impl AsRef<Path>,
    ) -> Result<(Classifier, BTreeMap<String, String>), CheckpointError> {
        let path = path.as_ref();
        let ck = Checkpoint::read(path)?;
        let num_classes = match ck.shape("head.weight") {
            Some(&[k, FEATURE_DIM]) if k > 0 => k,
            _ => 10, // loading then reports the missing or misshapen tensor by name
        };
        let shape = ck
            .metadata()
            .get("input_shape")
            .map_or(Some(INPUT_SHAPE), |s| {
                let dims: Vec<usize> = s.split(',').filter_map(|d| d.trim().parse().ok()).collect();
                match dims[..] {
                    [c, h, w] if c > 0 && (4..=4096).contains(&h) && (4..=4096).contains(&w) => {
                        Some([c, h, w])
                    }
                    _ => None,
                }
            });
        let Some(shape) = shape else {
            return Err(CheckpointError::Malformed {
                path: path.to_path_buf(),
                reason: format!(
                    "metadata input_shape = {:?} is not C,H,W with sides 4 to 4096",
                    ck.metadata()["input_shape"]
                ),
            });
        };
        let classifier = Classifier::for_shape(shape, num_classes, 0);
        ck.load_module_into("", &classifier)?;
        Ok((classifier, ck.metadata().clone()))
    }
}

impl Module for Classifier {
    /// The logits.
    fn forward(&self, x: &Tensor) -> Tensor {
        self.logits(x)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("features".to_string(), &self.features as &dyn Module),
            ("head".to_string(), &self.head as &dyn Module),
        ]
    }
}

impl Classifier {
    #[track_caller]
    fn check_images(&self, op: &str, shape: &[usize]) {
        let [c, h, w] = self.input_shape;
        assert!(
            shape.len() == 4 && shape[1..] == self.input_shape && shape[0] > 0,
            "{op}: need images [N, {c}, {h}, {w}] with N > 0 (the classifier's input), got \
             {shape:?}"
        );
    }
}

/// How [`train_classifier_with`] trains.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassifierTrainConfig {
    /// Passes over the dataset.
    pub epochs: usize,
    /// Images per step (the last batch of an epoch may be shorter).
    pub batch_size: usize,
    /// Adam's learning rate (betas 0.9, 0.999).
    pub lr: f32,
    /// Seeds the weights and the batch order.
    pub seed: u64,
}

impl Default for ClassifierTrainConfig {
    /// 5 epochs of batch 64 at Adam 1e-3, seed 0.
    fn default() -> Self {
        ClassifierTrainConfig {
            epochs: 5,
            batch_size: 64,
            lr: 1e-3,
            seed: 0,
        }
    }
}

/// What [`train_classifier_with`] reports after each epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// The epoch just finished (1-based).
    pub epoch: usize,
    /// Steps taken so far.
    pub steps: usize,
    /// The mean training cross-entropy over the epoch's batches.
    pub mean_loss: f64,
}

#[track_caller]
fn check_dataset(op: &str, classifier: Option<&Classifier>, dataset: &Dataset) -> usize {
    let shape = [&[dataset.len()][..], dataset.image_shape()].concat();
    if let Some(c) = classifier {
        c.check_images(op, &shape);
    } else {
        assert!(
            shape.len() == 4 && shape[0] > 0,
            "{op}: need a non-empty dataset of images [C, H, W], got samples {:?}",
            dataset.image_shape()
        );
    }
    match (dataset.labels(), dataset.num_classes()) {
        (Some(_), Some(k)) => k,
        _ => panic!(
            "{op}: dataset '{}' has no labels; a classifier needs labelled images",
            dataset.name()
        ),
    }
}

/// Trains a fresh [`Classifier`] on the labelled images of `dataset` (`[N, C, H, W]` in
/// `[-1, 1]`; the classifier takes that shape) with Adam and cross-entropy for `epochs` passes, batch 64, lr 1e-3; weights
/// and batch order from `seed`. Deterministic for a given seed.
///
/// ```no_run
/// use agon_data::{fashion_mnist, shipped_fashion_mnist_dir};
/// use agon_metrics::{accuracy, train_classifier};
/// let data = fashion_mnist(&shipped_fashion_mnist_dir()).unwrap();
/// let classifier = train_classifier(&data, 5, 0);
/// println!("accuracy {:.3}", accuracy(&classifier, &data));
/// ```
///
/// # Panics
/// If the dataset is unlabelled or its images are not `[1, 28, 28]`.
#[track_caller]
pub fn train_classifier(dataset: &Dataset, epochs: usize, seed: u64) -> Classifier {
    let config = ClassifierTrainConfig {
        epochs,
        seed,
        ..ClassifierTrainConfig::default()
    };
    train_classifier_with(dataset, &config, |_| {})
}

/// [`train_classifier`] with every setting explicit, calling `on_epoch` after each epoch
/// (to print progress).
///
/// ```
/// use agon_data::Dataset;
/// use agon_metrics::{train_classifier_with, ClassifierTrainConfig};
/// use agon_tensor::NdArray;
/// // Two classes: dark and bright images.
/// let images = NdArray::from_vec(
///     (0..8).flat_map(|i| vec![if i % 2 == 0 { -0.5 } else { 0.5 }; 784]).collect(),
///     &[8, 1, 28, 28],
/// ).unwrap();
/// let data = Dataset::new("toy", images, Some(((0..8).map(|i| i % 2).collect(), 2)));
/// let config = ClassifierTrainConfig { epochs: 2, batch_size: 4, lr: 1e-3, seed: 0 };
/// let mut losses = Vec::new();
/// let c = train_classifier_with(&data, &config, |r| losses.push(r.mean_loss));
/// assert_eq!((losses.len(), c.num_classes()), (2, 2));
/// ```
///
/// # Panics
/// If the dataset is unlabelled or not of images, or `batch_size` is 0.
#[track_caller]
pub fn train_classifier_with(
    dataset: &Dataset,
    config: &ClassifierTrainConfig,
    on_epoch: impl FnMut(&EpochReport),
) -> Classifier {
    let per_epoch = dataset.len().div_ceil(config.batch_size.max(1));
    fit(
        dataset,
        config,
        config.epochs * per_epoch,
        |x, _| x,
        on_epoch,
    )
}

/// [`train_classifier_with`] for a fixed number of `steps` (batches) whatever the size of
/// the dataset, each batch passed through `augment` (with an RNG of its own, seeded from
/// `config.seed`) before the classifier sees it; `config.epochs` is not used. `on_epoch` is
/// called after each pass over the data and after the last step (the last report's `epoch`
/// counts a partial pass as one).
///
/// This is how the small-data comparison trains (`agon eval --train-classifier --steps`):
/// the same number of updates on 100 real images as on 100 real and 1,000 generated ones.
///
/// ```
/// use agon_data::{ClassicAugment, Dataset};
/// use agon_metrics::{train_classifier_for_steps, ClassifierTrainConfig};
/// use agon_tensor::NdArray;
/// let images = NdArray::from_vec(
///     (0..8).flat_map(|i| vec![if i % 2 == 0 { -0.5 } else { 0.5 }; 784]).collect(),
///     &[8, 1, 28, 28],
/// ).unwrap();
/// let data = Dataset::new("toy", images, Some(((0..8).map(|i| i % 2).collect(), 2)));
/// let config = ClassifierTrainConfig { batch_size: 4, ..Default::default() };
/// let aug = ClassicAugment::fashion_mnist();
/// let mut steps = vec![];
/// let c = train_classifier_for_steps(&data, &config, 5, |x, rng| aug.apply(&x, rng), |r| {
///     steps.push(r.steps)
/// });
/// assert_eq!((steps, c.num_classes()), (vec![2, 4, 5], 2));
/// ```
///
/// # Panics
/// If the dataset is unlabelled or not of images, or `batch_size` is 0.
#[track_caller]
pub fn train_classifier_for_steps(
    dataset: &Dataset,
    config: &ClassifierTrainConfig,
    steps: usize,
    augment: impl FnMut(NdArray, &mut StdRng) -> NdArray,
    on_epoch: impl FnMut(&EpochReport),
) -> Classifier {
    fit(dataset, config, steps, augment, on_epoch)
}

/// Seeds the augmentation's RNG apart from the weights' and the batch order's.
const AUGMENT_STREAM: u64 = 0x6175_676d_656e_7473; // "augments"

#[track_caller]
fn fit(
    dataset: &Dataset,
    config: &ClassifierTrainConfig,
    steps: usize,
    mut augment: impl FnMut(NdArray, &mut StdRng) -> NdArray,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Classifier {
    let num_classes = check_dataset("train_classifier", None, dataset);
    let s = dataset.image_shape();
    let classifier = Classifier::for_shape([s[0], s[1], s[2]], num_classes, config.seed);
    let mut opt = Adam::new(
        classifier.named_parameters(),
        AdamConfig::default().lr(config.lr),
    );
    let mut batches = Batcher::new(dataset.clone(), config.batch_size, config.seed);
    let mut aug_rng = StdRng::seed_from_u64(config.seed ^ AUGMENT_STREAM);
    let per_epoch = batches.batches_per_epoch();
    let (mut total, mut in_epoch) = (0.0, 0);
    for step in 1..=steps {
        let (x, labels) = batches.next_batch();
        let labels = labels.expect("checked: the dataset is labelled");
        let target = Indices::from_vec(labels, &[x.shape()[0]]);
        let x = augment(x, &mut aug_rng);
        let loss = classifier
            .logits(&Tensor::constant(x))
            .cross_entropy(&target, agon_autodiff::Reduction::Mean);
        total += f64::from(loss.item());
        opt.step(&loss.backward());
        in_epoch += 1;
        if in_epoch == per_epoch || step == steps {
            on_epoch(&EpochReport {
                epoch: step.div_ceil(per_epoch),
                steps: step,
                mean_loss: total / in_epoch as f64,
            });
            (total, in_epoch) = (0.0, 0);
        }
    }
    classifier
}

/// The fraction of `dataset`'s images that `classifier` labels correctly: test accuracy
/// on a test split, or, on generated images labelled with the class they were asked for,
/// the class accuracy of a conditional generator.
///
/// ```
/// use agon_data::Dataset;
/// use agon_metrics::{accuracy, Classifier};
/// use agon_tensor::NdArray;
/// let data = Dataset::new("z", NdArray::zeros(&[4, 1, 28, 28]), Some((vec![0, 1, 2, 3], 4)));
/// let a = accuracy(&Classifier::new(4, 0), &data);
/// assert_eq!(a, 0.25); // identical images, one prediction: right once in four
/// ```
///
/// # Panics
/// If the dataset is unlabelled or its images are not `[1, 28, 28]`.
#[track_caller]
pub fn accuracy(classifier: &Classifier, dataset: &Dataset) -> f64 {
    check_dataset("accuracy", Some(classifier), dataset);
    let labels = dataset.labels().expect("checked: the dataset is labelled");
    let predicted = classifier.predict(dataset.images());
    let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    correct as f64 / labels.len() as f64
}

/// The mean cross-entropy of `classifier` on `dataset` (batched, no graph).
///
/// # Panics
/// If the dataset is unlabelled, its images are not `[1, 28, 28]`, or a label is not below
/// the classifier's number of classes.
#[track_caller]
pub fn mean_loss(classifier: &Classifier, dataset: &Dataset) -> f64 {
    let k = check_dataset("mean_loss", Some(classifier), dataset);
    assert!(
        k <= classifier.num_classes,
        "mean_loss: dataset '{}' has {k} classes, the classifier {}",
        dataset.name(),
        classifier.num_classes
    );
    let labels = dataset.labels().expect("checked: the dataset is labelled");
    let log_probs = classifier.batched(dataset.images(), |x| classifier.forward(x).log_softmax(1));
    let k = classifier.num_classes;
    let values = log_probs.to_vec();
    let total: f64 = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| -f64::from(values[i * k + l]))
        .sum();
    total / labels.len() as f64
}
