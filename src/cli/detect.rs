//! `agon detect` (score images as real or generated) and `agon detector train|eval`.

use std::path::{Path, PathBuf};

use crate::data::{image_files, load_image, Dataset};
use crate::gan::applications::{
    detector_metadata, sample_rng, split_rows, train_detector, Detector,
};
use crate::gan::trainer::{draw_samples, load_dataset, load_generator, sample_shape, DataConfig};
use crate::gan::Generator;
use crate::metrics::{detection_scores, ClassifierTrainConfig, DetectionScores};
use crate::tensor::NdArray;
use clap::{Args, Subcommand};

type Res<T> = Result<T, Box<dyn std::error::Error>>;
/// The `--fake` generators, in order.
type Generators = Vec<Box<dyn Generator>>;

/// The most images `agon detect` reads at once.
const MAX_FILES: usize = 10_000;
/// Sample streams: the generated images a detector trains on, and those it is tested on.
const TRAIN_STREAM: u64 = 1;
const TEST_STREAM: u64 = 2;

/// Options of `agon detect`.
#[derive(Args, Debug)]
pub struct DetectArgs {
    /// A detector from `agon detector train`, or a training checkpoint (its discriminator
    /// judges).
    #[arg(long)]
    checkpoint: PathBuf,
    /// PNG or JPEG files, or folders of them (resized to the detector's input size).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Call an image generated when its probability is above this.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
}

/// `agon detector` subcommands.
#[derive(Subcommand, Debug)]
pub enum DetectorCommand {
    /// Train a standalone real-vs-generated CNN on real images against the samples of
    /// one or more generators.
    Train(DetectorTrainArgs),
    /// Score a detector (or a checkpoint's discriminator) on held-out real images against
    /// fresh samples of each generator: ROC-AUC, average precision, accuracy at 0.5.
    Eval(DetectorEvalArgs),
}

/// The real data and the generators a detector is trained or tested on.
#[derive(Args, Debug)]
pub struct RealAndFake {
    /// The real images: fashion-mnist, mnist, cifar10, an IDX directory or an image
    /// folder. Every fifth image is held out of training for `agon detector eval`.
    #[arg(long, value_name = "DATA")]
    real: String,
    /// Training checkpoints whose generators make the fake images.
    #[arg(long = "fake", value_name = "CKPT", required = true, num_args = 1..)]
    fakes: Vec<PathBuf>,
    /// The data directory the real data is resolved in (default: $AGON_DATA_DIR, then
    /// the data/ of the checkout this runs in).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Real images to use (and as many generated ones, split over the generators).
    #[arg(long, default_value_t = 4000)]
    n: usize,
    /// Seed for the generated samples (and the detector's training).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Options of `agon detector train`.
#[derive(Args, Debug)]
pub struct DetectorTrainArgs {
    #[command(flatten)]
    data: RealAndFake,
    /// Training epochs.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Where to write the detector.
    #[arg(long)]
    out: PathBuf,
}

/// Options of `agon detector eval`.
#[derive(Args, Debug)]
pub struct DetectorEvalArgs {
    /// A detector from `agon detector train`, or a training checkpoint (its discriminator).
    #[arg(long)]
    detector: PathBuf,
    #[command(flatten)]
    data: RealAndFake,
    /// Write the scores as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn detect(a: DetectArgs) -> Res<()> {
    let detector = Detector::load(&a.checkpoint)?;
    let shape = input_shape(&detector, &a.checkpoint)?;
    let mut files = Vec::new();
    for path in &a.images {
        files.extend(image_files(path)?);
        if files.len() > MAX_FILES {
            return Err(
                format!("more than the {MAX_FILES} images agon detect reads at once").into(),
            );
        }
    }
    let images: Vec<NdArray> = files
        .iter()
        .map(|f| load_image(f, shape[0], Some([shape[1], shape[2]])))
        .collect::<Result<_, _>>()?;
    let p = detector.p_generated(&NdArray::concat(&images.iter().collect::<Vec<_>>(), 0));
    out!("p_generated\tverdict\timage");
    for (f, p) in files.iter().zip(&p) {
        let verdict = if *p > a.threshold {
            "generated"
        } else {
            "real"
        };
        out!("{p:.4}\t{verdict}\t{}", f.display());
    }
    let fakes = p.iter().filter(|&&p| p > a.threshold).count();
    say!(
        "{} image(s) scored by the {} of {}: {fakes} called generated (p > {})",
        files.len(),
        detector.kind(),
        a.checkpoint.display(),
        a.threshold
    );
    Ok(())
}

pub fn run(cmd: DetectorCommand) -> Res<()> {
    match cmd {
        DetectorCommand::Train(a) => train(a),
        DetectorCommand::Eval(a) => eval(a),
    }
}

/// `[C, H, W]` a detector takes: a detector file says; a discriminator takes what its
/// run's generator makes.
fn input_shape(detector: &Detector, checkpoint: &Path) -> Res<Vec<usize>> {
    let from_run = match detector {
        Detector::Standalone(_) => None,
        Detector::Discriminator(task) => task.sampling_generator().map(sample_shape),
    };
    let shape = detector.input_shape(from_run.as_deref()).ok_or_else(|| {
        format!(
            "{}: cannot tell what image size it judges",
            checkpoint.display()
        )
    })?;
    if shape.len() != 3 {
        return Err(format!(
            "{}: its samples are points of shape {shape:?}, not images",
            checkpoint.display()
        )
        .into());
    }
    Ok(shape)
}

/// The real data's training and held-out images (every fifth), at `shape` `[C, H, W]`.
fn real_split(d: &RealAndFake, shape: &[usize]) -> Res<(Dataset, Dataset)> {
    let mut cfg = DataConfig {
        name: d.real.clone(),
        image_size: shape[1],
        channels: shape[0],
        ..DataConfig::default()
    };
    if let Some(dir) = &d.data_dir {
        cfg.dir = dir.display().to_string();
    }
    let loaded = load_dataset(&cfg, d.seed)?;
    for note in &loaded.notes {
        say!("note: {note}");
    }
    let all = loaded.dataset;
    if all.image_shape() != shape {
        return Err(format!(
            "{}: images of shape {:?}, but the generators make {shape:?}",
            d.real,
            all.image_shape()
        )
        .into());
    }
    let (train, test) = split_rows(all.len());
    if test.is_empty() {
        return Err(format!(
            "{}: {} images are too few to hold any out",
            d.real,
            all.len()
        )
        .into());
    }
    Ok((all.subset(&train), all.subset(&test)))
}

/// The generators of `d.fakes`, loaded once, with the `[C, H, W]` they all make.
fn generators(d: &RealAndFake) -> Res<(Generators, Vec<usize>)> {
    let mut out = Vec::new();
    let mut shape: Option<Vec<usize>> = None;
    for ckpt in &d.fakes {
        let (g, _) = load_generator(ckpt)?;
        let s = sample_shape(g.as_ref());
        if s.len() != 3 {
            return Err(format!("{}: its samples are points, not images", ckpt.display()).into());
        }
        match &shape {
            Some(first) if *first != s => {
                return Err(format!(
                    "{}: makes samples of shape {s:?}, but {} makes {first:?}",
                    ckpt.display(),
                    d.fakes[0].display()
                )
                .into())
            }
            _ => shape = Some(s),
        }
        out.push(g);
    }
    Ok((out, shape.ok_or("no --fake checkpoints given")?))
}

/// `counts[i]` samples of generator `i` (at least one), from sample stream `stream`.
fn generated(
    gens: &[Box<dyn Generator>],
    counts: &[usize],
    seed: u64,
    stream: u64,
) -> Vec<NdArray> {
    gens.iter()
        .zip(counts)
        .enumerate()
        .map(|(i, (g, &n))| {
            let mut rng = sample_rng(seed, stream * 1_000_000 + i as u64);
            draw_samples(g.as_ref(), n.max(1), &mut rng)
        })
        .collect()
}

fn check_n(n: usize) -> Res<()> {
    if !(2..=100_000).contains(&n) {
        return Err(format!("--n {n} must be in 2..=100000").into());
    }
    Ok(())
}

fn train(a: DetectorTrainArgs) -> Res<()> {
    let d = &a.data;
    check_n(d.n)?;
    if a.epochs == 0 || a.epochs > 1000 {
        return Err(format!("--epochs {} must be in 1..=1000", a.epochs).into());
    }
    let (gens, shape) = generators(d)?;
    let (train_real, _) = real_split(d, &shape)?;
    let n = d.n.min(train_real.len());
    let k = d.fakes.len();
    let counts: Vec<usize> = (0..k).map(|i| n / k + usize::from(i < n % k)).collect();
    let fakes = generated(&gens, &counts, d.seed, TRAIN_STREAM);
    let fake = NdArray::concat(&fakes.iter().collect::<Vec<_>>(), 0);
    let real = train_real.take(n).images().clone();
    say!(
        "training a real-vs-generated detector: {n} real images of {} against {} samples of \
         {k} generator(s), {} epochs",
        d.real,
        fake.shape()[0],
        a.epochs
    );
    let config = ClassifierTrainConfig {
        epochs: a.epochs,
        seed: d.seed,
        ..ClassifierTrainConfig::default()
    };
    let detector = train_detector(&real, &fake, &config);
    let names: Vec<String> = d.fakes.iter().map(|p| p.display().to_string()).collect();
    detector.save(&a.out, &detector_metadata(&d.real, &names))?;
    say!("wrote {}", a.out.display());
    Ok(())
}

fn eval(a: DetectorEvalArgs) -> Res<()> {
    let d = &a.data;
    check_n(d.n)?;
    let detector = Detector::load(&a.detector)?;
    let shape = input_shape(&detector, &a.detector)?;
    let (_, test_real) = real_split(d, &shape)?;
    let n = d.n.min(test_real.len());
    let real = test_real.take(n).images().clone();
    let p_real = detector.p_generated(&real);
    let (gens, made) = generators(d)?;
    if made != shape {
        return Err(
            format!("the generators make {made:?} images, the detector judges {shape:?}").into(),
        );
    }
    let fakes = generated(&gens, &vec![n; gens.len()], d.seed, TEST_STREAM);
    out!("ROC-AUC\tAP\tacc@0.5\tgenerator");
    let mut rows = Vec::new();
    for (ckpt, fake) in d.fakes.iter().zip(&fakes) {
        let scores = [p_real.clone(), detector.p_generated(fake)].concat();
        let is_fake: Vec<bool> = (0..scores.len()).map(|i| i >= n).collect();
        let s: DetectionScores = detection_scores(&scores, &is_fake, 0.5);
        out!(
            "{:.4}\t{:.4}\t{:.4}\t{}",
            s.roc_auc,
            s.average_precision,
            s.accuracy,
            ckpt.display()
        );
        rows.push(serde_json::json!({
            "generator": ckpt.display().to_string(),
            "roc_auc": s.roc_auc,
            "average_precision": s.average_precision,
            "accuracy": s.accuracy,
        }));
    }
    say!(
        "{} ({}) on {n} held-out real images of {} against {n} fresh samples of each generator",
        a.detector.display(),
        detector.kind(),
        d.real
    );
    if let Some(path) = &a.json {
        let doc = serde_json::json!({
            "detector": a.detector.display().to_string(),
            "kind": detector.kind(),
            "real": d.real,
            "n": n,
            "seed": d.seed,
            "scores": rows,
        });
        let text = serde_json::to_string_pretty(&doc)? + "\n";
        crate::data::write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}
