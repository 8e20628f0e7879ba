//! Fake detection: telling real images from generated ones.
//!
//! Two kinds of detector, scored the same way ([`Detector::p_generated`]):
//! - a trained GAN's own discriminator: `p_generated = σ(-D(x))`, since D's logit says
//!   "real". A conditional D judges an image with a label; without one, the image is
//!   judged under every class and the most real-looking verdict counts (an image is real
//!   if it is a real image of some class). A packing (PacGAN) D judges several images at
//!   once and cannot score one image, so it is refused.
//! - a standalone real-vs-generated CNN ([`train_detector`]): agon-metrics' LeNet-style
//!   [`Classifier`] with two classes (0 real, 1 generated), trained on real images against
//!   the samples of one or more generators, as in Wang et al. 2020; `p_generated` is its
//!   softmax probability of class 1.

use std::collections::BTreeMap;
use std::path::Path;

use agon_autodiff::{no_grad, Tensor};
use agon_data::Dataset;
use agon_metrics::{train_classifier_with, Classifier, ClassifierTrainConfig};
use agon_nn::checkpoint::Checkpoint;
use agon_tensor::{Indices, NdArray};

use crate::tasks::Task;
use crate::trainer::{load_task, TrainError};

/// `model` metadata of a detector file (with `role` = [`DETECTOR_ROLE`]).
pub const DETECTOR_ROLE: &str = "real-vs-generated";

/// Images scored per forward pass.
const CHUNK: usize = 256;

/// A real-vs-generated detector loaded from a file.
pub enum Detector {
    /// A training checkpoint's discriminator (the task that holds it).
    Discriminator(Box<dyn Task>),
    /// A standalone detector saved by `agon detector train`.
    Standalone(Classifier),
}

impl Detector {
    /// Loads `path`: a detector file (a [`Classifier`] whose metadata has
    /// `role = real-vs-generated`) or a training checkpoint, whose discriminator is used.
    ///
    /// # Errors
    /// An unreadable file, a checkpoint whose task has no noise-task discriminator (the
    /// image-to-image tasks), or a packing discriminator.
    pub fn load(path: &Path) -> Result<Detector, TrainError> {
        let ckpt = Checkpoint::read(path)?;
        if ckpt.metadata().get("role").map(String::as_str) == Some(DETECTOR_ROLE) {
            let (c, _) = Classifier::load(path)?;
            if c.num_classes() != 2 {
                return Err(bad(
                    path,
                    format!("a detector has 2 classes, this one {}", c.num_classes()),
                ));
            }
            return Ok(Detector::Standalone(c));
        }
        let (task, _) = load_task(path)?;
        let Some(d) = task.discriminator() else {
            return Err(bad(
                path,
                format!(
                    "task {} has no real-vs-generated discriminator to detect with (the \
                     noise-to-image tasks do; or train one with agon detector train)",
                    task.name()
                ),
            ));
        };
        if d.pack() > 1 {
            return Err(bad(
                path,
                format!(
                    "its discriminator judges packs of {} images (PacGAN) and cannot score \
                     one image; use agon detector train",
                    d.pack()
                ),
            ));
        }
        Ok(Detector::Discriminator(task))
    }

    /// `[C, H, W]` of the images it scores, when fixed (the discriminators and the
    /// detector CNN all take one size).
    pub fn input_shape(&self, checkpoint_shape: Option<&[usize]>) -> Option<Vec<usize>> {
        match self {
            Detector::Standalone(c) => Some(c.input_shape().to_vec()),
            Detector::Discriminator(_) => checkpoint_shape.map(<[usize]>::to_vec),
        }
    }

    /// What it is, for reports: "discriminator" or "standalone CNN".
    pub fn kind(&self) -> &'static str {
        match self {
            Detector::Discriminator(_) => "discriminator",
            Detector::Standalone(_) => "standalone CNN",
        }
    }

    /// The probability that each image of `images` `[N, C, H, W]` is generated.
    ///
    /// # Panics
    /// If the images are not the shape the detector takes.
    pub fn p_generated(&self, images: &NdArray) -> Vec<f64> {
        let n = images.shape()[0];
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(CHUNK) {
            let x = images.narrow(0, start, CHUNK.min(n - start));
            match self {
                Detector::Standalone(c) => {
                    let p = c.probabilities(&x);
                    out.extend(p.to_vec().chunks(2).map(|row| f64::from(row[1])));
                }
                Detector::Discriminator(task) => {
                    let d = task.discriminator().expect("checked at load");
                    out.extend(realness(d, &x).iter().map(|&l| sigmoid(-l)));
                }
            }
        }
        out
    }
}

/// D's logits for `x`, in eval mode; for a conditional D the largest over all classes.
fn realness(d: &dyn crate::Discriminator, x: &NdArray) -> Vec<f64> {
    let m = x.shape()[0];
    d.eval();
    let xt = Tensor::constant(x.clone());
    let logits = no_grad(|| match d.num_classes() {
        None => d.judge(&xt, None).logits.data().to_vec(),
        Some(k) => (0..k)
            .map(|c| {
                d.judge(&xt, Some(&Indices::from_vec(vec![c; m], &[m])))
                    .logits
                    .data()
                    .to_vec()
            })
            .reduce(|a, b| a.iter().zip(&b).map(|(x, y)| x.max(*y)).collect())
            .unwrap_or_default(),
    });
    d.train();
    logits.into_iter().map(f64::from).collect()
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

fn bad(path: &Path, message: String) -> TrainError {
    TrainError::BadCheckpoint {
        path: path.to_path_buf(),
        message,
    }
}

/// Real images against generated ones as a two-class dataset (0 real, 1 generated), in
/// that order.
///
/// # Panics
/// If the two sets differ in image shape.
pub fn real_vs_generated(real: &NdArray, generated: &NdArray) -> Dataset {
    assert_eq!(
        &real.shape()[1..],
        &generated.shape()[1..],
        "real_vs_generated: real images {:?} and generated {:?} differ in shape",
        real.shape(),
        generated.shape()
    );
    let (nr, ng) = (real.shape()[0], generated.shape()[0]);
    let labels = [vec![0; nr], vec![1; ng]].concat();
    Dataset::new(
        "real-vs-generated",
        NdArray::concat(&[real, generated], 0),
        Some((labels, 2)),
    )
    .with_class_names(vec!["real".into(), "generated".into()])
}

/// Trains a standalone detector on `real` images against `generated` ones (the caller
/// balances the two and mixes generators as it likes).
///
/// ```
/// use agon_gan::applications::{real_vs_generated, train_detector, Detector};
/// use agon_metrics::ClassifierTrainConfig;
/// use agon_tensor::NdArray;
/// // Real images dark, "generated" ones bright: easy to tell apart.
/// let real = NdArray::full(&[32, 1, 28, 28], -0.8);
/// let fake = NdArray::full(&[32, 1, 28, 28], 0.8);
/// let cfg = ClassifierTrainConfig { epochs: 2, batch_size: 16, ..Default::default() };
/// let det = Detector::Standalone(train_detector(&real, &fake, &cfg));
/// let p = det.p_generated(&NdArray::concat(&[&real.narrow(0, 0, 1), &fake.narrow(0, 0, 1)], 0));
/// assert!(p[0] < 0.5 && p[1] > 0.5);
/// ```
///
/// # Panics
/// As [`real_vs_generated`].
pub fn train_detector(
    real: &NdArray,
    generated: &NdArray,
    config: &ClassifierTrainConfig,
) -> Classifier {
    train_classifier_with(&real_vs_generated(real, generated), config, |_| {})
}

/// The metadata a detector file carries: its role, and what it was trained on.
pub fn detector_metadata(real: &str, generators: &[String]) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("role".to_string(), DETECTOR_ROLE.to_string()),
        ("real".to_string(), real.to_string()),
        ("generators".to_string(), generators.join(",")),
    ])
}
