//! `agon eval`: scores for a checkpoint, or training the feature classifier.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::{DataRoot, Dataset, Split};
use crate::gan::trainer::{
    dataset_identity, draw_samples, held_out_samples, load_dataset, load_task, matching_classifier,
    mixture_of, sample_from, DataConfig, TrainConfig, MAX_EVAL_SAMPLES, MIN_EVAL_SAMPLES,
};
use crate::metrics::{
    accuracy, count_modes, density_coverage, inception_score, kid, precision_recall,
    train_classifier_with, ClassifierTrainConfig, FeatureStats, DC_K, PR_K,
};
use crate::tensor::NdArray;
use clap::Args;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Options of `agon eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A training checkpoint to score.
    #[arg(long, conflicts_with = "train_classifier")]
    checkpoint: Option<PathBuf>,
    /// Instead of scoring: train the feature classifier on DATA (fashion-mnist, mnist,
    /// cifar10, an IDX directory or a labelled image folder: one subfolder per class),
    /// report its held-out accuracy and save it (see --classifier).
    #[arg(long, value_name = "DATA")]
    train_classifier: Option<String>,
    /// For --train-classifier on an image folder: the side images are resized to (as
    /// data.image_size when training; default: the first image's).
    #[arg(long)]
    image_size: Option<usize>,
    /// For --train-classifier on an image folder: 1 (gray) or 3 (RGB) channels (as
    /// data.channels; default: from the first image).
    #[arg(long)]
    channels: Option<usize>,
    /// The data directory (shipped datasets, classifiers); default: the run's data.dir,
    /// then $AGON_DATA_DIR, then the data/ of the checkout this runs in.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The feature classifier's weights (default: classifiers/<data>.safetensors in the
    /// data directory).
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Generated samples to score (and real samples to compare with).
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Epochs for --train-classifier.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seed for sampling (and classifier training).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the scores as JSON (default: scores.json beside the checkpoint).
    #[arg(long)]
    out: Option<PathBuf>,
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub fn run(a: EvalArgs) -> Res<()> {
    match (&a.checkpoint, &a.train_classifier) {
        (_, Some(data)) => train(&a, data),
        (Some(ckpt), None) => score(&a, ckpt),
        (None, None) => {
            Err("give --checkpoint FILE to score a run, or --train-classifier DATA".into())
        }
    }
}

/// `classifiers/<name>.safetensors` in the data directory `dir` resolves to.
fn default_classifier(data: &str, dir: Option<&Path>) -> Res<PathBuf> {
    Ok(DataRoot::resolve(dir)?.classifier_path(data))
}

/// The dataset's train and test splits as (train, test, description). IDX data without a
/// train split: the first 4/5 of its test split for training, the rest held out; other
/// data (CIFAR-10, image folders) without a test split: every fifth image held out, so each
/// class is in both.
fn splits(a: &EvalArgs, data: &str) -> Res<(Dataset, Dataset, String)> {
    let root = || DataRoot::resolve(a.data_dir.as_deref());
    let idx_dir = match data {
        "fashion-mnist" => Some(
            crate::data::pick_dataset_dir(&crate::data::fashion_mnist_dirs(&root()?))
                .ok_or("no Fashion-MNIST directory found")?,
        ),
        "mnist" => Some(root()?.join("mnist")),
        path if crate::data::find_idx_pair(Path::new(path), Split::Test).is_some()
            || crate::data::find_idx_pair(Path::new(path), Split::Train).is_some() =>
        {
            Some(PathBuf::from(path))
        }
        _ => None,
    };
    let Some(dir) = idx_dir else {
        let mut cfg = DataConfig {
            name: data.to_string(),
            ..DataConfig::default()
        };
        if let Some(d) = &a.data_dir {
            cfg.dir = d.display().to_string();
        }
        cfg.image_size = a.image_size.unwrap_or(0);
        cfg.channels = a.channels.unwrap_or(0);
        let loaded = load_dataset(&cfg, a.seed)?;
        for note in &loaded.notes {
            say!("note: {note}");
        }
        let all = loaded.dataset;
        if all.labels().is_none() || all.image_shape().len() != 3 {
            return Err(format!(
                "{data}: a classifier needs labelled images (an image folder with one \
                 subfolder per class, CIFAR-10, or IDX files with labels)"
            )
            .into());
        }
        let (train, test): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|i| i % 5 != 4);
        if test.is_empty() {
            return Err(format!("{data}: {} images are too few to hold any out", all.len()).into());
        }
        let what = format!(
            "{} of the {} images in {data} (every fifth, {}, held out)",
            train.len(),
            all.len(),
            test.len()
        );
        return Ok((all.subset(&train), all.subset(&test), what));
    };
    let test = crate::data::load_idx_dir(&dir, Some(Split::Test), data)?;
    // Only a missing train split falls back to cutting the test split; a train split that
    // is there but broken is an error, not a silent switch to less data.
    if crate::data::has_idx_split(&dir, Split::Train) {
        let train = crate::data::load_idx_dir(&dir, Some(Split::Train), data)?;
        return Ok((
            train,
            test,
            format!("train split of {}, tested on its test split", dir.display()),
        ));
    }
    let n = test.len();
    if n < 5 {
        return Err(format!(
            "{}: {n} test images and no train split are too few to train and test a              classifier (at least 5)",
            dir.display()
        )
        .into());
    }
    let cut = n * 4 / 5;
    let first: Vec<usize> = (0..cut).collect();
    let rest: Vec<usize> = (cut..n).collect();
    Ok((
        test.subset(&first),
        test.subset(&rest),
        format!(
            "first {cut} of the test split in {}, tested on the other {}",
            dir.display(),
            n - cut
        ),
    ))
}

fn train(a: &EvalArgs, data: &str) -> Res<()> {
    let (train, test, what) = splits(a, data)?;
    say!(
        "training the feature classifier on the {what} ({} epochs, seed {})",
        a.epochs,
        a.seed
    );
    let config = ClassifierTrainConfig {
        epochs: a.epochs,
        seed: a.seed,
        ..ClassifierTrainConfig::default()
    };
    // Progress only: a closed stderr must not stop the training (the result is reported
    // below, where a failed write does end the command).
    let c = train_classifier_with(&train, &config, |r| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "  epoch {}: mean loss {:.4}",
            r.epoch,
            r.mean_loss
        );
    });
    let acc = accuracy(&c, &test);
    let out = match &a.classifier {
        Some(p) => p.clone(),
        None => default_classifier(data, a.data_dir.as_deref())?,
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let meta = BTreeMap::from([
        ("dataset".to_string(), dataset_identity(data)),
        ("trained_on".to_string(), what.clone()),
        ("epochs".to_string(), a.epochs.to_string()),
        ("seed".to_string(), a.seed.to_string()),
        ("test_accuracy".to_string(), format!("{acc:.4}")),
    ]);
    c.save(&out, &meta)?;
    out!(
        "test accuracy {:.2}% ({} test images); saved {}",
        100.0 * acc,
        test.len(),
        out.display()
    );
    Ok(())
}

/// The scores as a flat JSON object, key by key.
type Fields = serde_json::Map<String, serde_json::Value>;

fn put(fields: &mut Fields, key: &str, value: impl Into<serde_json::Value>) {
    fields.insert(key.to_string(), value.into());
}

fn score(a: &EvalArgs, ckpt: &Path) -> Res<()> {
    if !(MIN_EVAL_SAMPLES..=MAX_EVAL_SAMPLES).contains(&a.n) {
        return Err(format!(
            "--n {} must be in {MIN_EVAL_SAMPLES}..={MAX_EVAL_SAMPLES} (the nearest-neighbour \
             scores need more samples than neighbours; the FID floor splits them in two)",
            a.n
        )
        .into());
    }
    let (task, mut cfg) = load_task(ckpt)?;
    if let Some(dir) = &a.data_dir {
        cfg.data.dir = dir.display().to_string();
    }
    let mut rng = StdRng::seed_from_u64(a.seed);
    let mut fields = Fields::new();
    put(&mut fields, "checkpoint", ckpt.display().to_string());
    put(&mut fields, "data", cfg.data.name.clone());
    if let Some(i2i) = task.image_to_image() {
        put(&mut fields, "task", task.name());
        translation_scores(a, i2i, &cfg, &mut fields)?;
    } else if let Some(mixture) = mixture_of(&cfg) {
        let g = task.sampling_generator().ok_or("no generator")?;
        // PacGAN's protocol: 2,500 samples.
        let n = crate::metrics::PACGAN_SAMPLES;
        let z = NdArray::rand_normal(&[n, g.latent_dim()], 0.0, 1.0, &mut rng);
        let r = count_modes(&sample_from(g, &z, None), &mixture);
        out!(
            "modes {}/{}, high quality {:.1}%, reverse KL {:.3}",
            r.modes_captured,
            r.num_modes,
            100.0 * r.high_quality_fraction,
            r.reverse_kl
        );
        put(&mut fields, "modes", r.modes_captured);
        put(&mut fields, "num_modes", r.num_modes);
        put(&mut fields, "high_quality", r.high_quality_fraction);
        put(&mut fields, "reverse_kl", r.reverse_kl);
    } else {
        let g = task.sampling_generator().ok_or("no generator")?;
        image_scores(a, g, &cfg, &mut rng, &mut fields)?;
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| ckpt.with_file_name("scores.json"));
    let text = serde_json::to_string_pretty(&fields)? + "\n";
    crate::data::write_atomic(&out, text.as_bytes())?;
    say!("wrote {}", out.display());
    Ok(())
}

/// An image-to-image model's scores (and its classical baseline's) on `--n` real images,
/// held out from training when the run used `data.limit`.
fn translation_scores(
    a: &EvalArgs,
    task: &dyn crate::gan::tasks::ImageToImage,
    cfg: &TrainConfig,
    fields: &mut Fields,
) -> Res<()> {
    let (real, held_out) = held_out_samples(cfg, a.n)?;
    if real.len() < MIN_EVAL_SAMPLES {
        return Err(format!(
            "{}: {} images to score, fewer than the {MIN_EVAL_SAMPLES} the scores need",
            cfg.data.name,
            real.len()
        )
        .into());
    }
    let classifier = match matching_classifier(cfg, a.classifier.as_deref(), real.image_shape()) {
        Ok((c, _)) => Some(c),
        Err(e) => {
            say!("note: no class accuracy or FID: {e}");
            None
        }
    };
    out!(
        "{} {} images ({})",
        real.len(),
        if held_out { "held-out" } else { "training" },
        if held_out {
            "after the run's data.limit"
        } else {
            "the run used every image: these scores flatter it"
        }
    );
    put(fields, "samples", real.len());
    put(fields, "held_out", held_out);
    let scores = crate::gan::tasks::score_translation(
        task,
        real.images(),
        real.labels(),
        classifier.as_ref(),
        a.seed,
    );
    let mut settings = serde_json::Map::new();
    for s in &scores {
        let mut entry = serde_json::Map::new();
        let rows = [("model", Some(&s.model)), ("baseline", s.baseline.as_ref())];
        for (who, o) in rows {
            let Some(o) = o else { continue };
            let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_string(), f);
            out!(
                "{:<14} {:<8} PSNR {:.2} dB  SSIM {:.4}  hole L1 {}  class accuracy {}  FID {}",
                s.setting,
                who,
                o.psnr,
                o.ssim,
                opt(o.hole_l1, &|v| format!("{v:.4}")),
                opt(o.class_accuracy, &|v| format!("{:.1}%", 100.0 * v)),
                opt(o.fid, &|v| format!("{v:.3}"))
            );
            let mut m = serde_json::Map::new();
            m.insert("psnr".into(), o.psnr.into());
            m.insert("ssim".into(), o.ssim.into());
            for (key, v) in [
                ("hole_l1", o.hole_l1),
                ("class_accuracy", o.class_accuracy),
                ("fid", o.fid),
            ] {
                if let Some(v) = v {
                    m.insert(key.into(), v.into());
                }
            }
            entry.insert(who.into(), m.into());
        }
        settings.insert(s.setting.clone(), entry.into());
    }
    put(fields, "scores", serde_json::Value::Object(settings));
    Ok(())
}

fn image_scores(
    a: &EvalArgs,
    g: &dyn crate::gan::Generator,
    cfg: &TrainConfig,
    rng: &mut StdRng,
    fields: &mut Fields,
) -> Res<()> {
    let mut all = cfg.data.clone();
    all.limit = 0;
    let real = load_dataset(&all, cfg.seed)?.dataset;
    let (c, _) = matching_classifier(cfg, a.classifier.as_deref(), real.image_shape())?;
    let n = a.n.min(real.len());
    if n < MIN_EVAL_SAMPLES {
        return Err(format!(
            "{}: {} real samples, fewer than the {MIN_EVAL_SAMPLES} the scores need",
            cfg.data.name,
            real.len()
        )
        .into());
    }
    let fake = draw_samples(g, n, rng);
    let real_images = real.take(n).images().clone();
    let (ef, er) = (c.embed(&fake), c.embed(&real_images));
    let short = Path::new(&cfg.data.name)
        .file_name()
        .map_or(cfg.data.name.clone(), |n| n.to_string_lossy().into_owned());
    let name = format!("agon-{short} classifier");
    let fid = FeatureStats::new(&er).frechet_distance(&FeatureStats::new(&ef));
    // The floor: two disjoint halves of the real data scored against each other.
    let half = n / 2;
    let floor = FeatureStats::new(&er.narrow(0, 0, half))
        .frechet_distance(&FeatureStats::new(&er.narrow(0, half, n - half)));
    let k = kid(&er, &ef, 50, 1000.min(n), a.seed);
    let pr = precision_recall(&er, &ef, PR_K);
    let dc = density_coverage(&er, &ef, DC_K);
    let is = inception_score(&c.probabilities(&fake), 10.min(n));
    out!("FID ({name}): {fid:.3}   real-vs-real floor: {floor:.3}");
    out!("KID ({name}): {:.5} ± {:.5}", k.mean, k.std);
    out!(
        "precision {:.3}  recall {:.3}  density {:.3}  coverage {:.3}",
        pr.precision,
        pr.recall,
        dc.density,
        dc.coverage
    );
    out!(
        "Inception-style score ({name}): {:.3} ± {:.3}",
        is.mean,
        is.std
    );
    for (key, v) in [
        ("fid", fid),
        ("fid_real_floor", floor),
        ("kid", k.mean),
        ("kid_std", k.std),
        ("precision", pr.precision),
        ("recall", pr.recall),
        ("density", dc.density),
        ("coverage", dc.coverage),
        ("inception_score", is.mean),
    ] {
        put(fields, key, v);
    }
    put(fields, "feature_network", name);
    put(fields, "samples", n);
    // draw_samples cycles the classes: sample i is of class i mod k.
    if let Some(k) = g.num_classes() {
        let predicted = c.predict(&fake);
        let hits = predicted
            .iter()
            .enumerate()
            .filter(|(i, p)| **p == i % k)
            .count();
        let acc = hits as f64 / n as f64;
        out!("class accuracy of generated samples: {:.1}%", 100.0 * acc);
        put(fields, "class_accuracy", acc);
    }
    Ok(())
}
