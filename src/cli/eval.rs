//! `agon eval`: scores for a checkpoint, or training the feature classifier.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::data::{ClassicAugment, DataRoot, Dataset};
use crate::gan::trainer::{
    dataset_identity, draw_samples, held_out_samples, load_dataset, load_generator, load_task,
    matching_classifier, mixture_of, sample_from, sample_shape, train_test_split, DataConfig,
    TrainConfig, MAX_EVAL_SAMPLES, MIN_EVAL_SAMPLES,
};
use crate::metrics::{
    accuracy, count_modes, density_coverage, inception_score, interior_roughness, kid,
    precision_recall, train_classifier_for_steps, ClassifierTrainConfig, FeatureStats, DC_K, PR_K,
};
use crate::tensor::NdArray;
use clap::{Args, ValueEnum};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The brightness above which a pixel of an image in [-1, 1] counts as part of an object
/// for [`interior_roughness`] (a quarter grey; the shipped datasets' backgrounds are dark).
const ROUGHNESS_THRESHOLD: f32 = -0.5;

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
    /// For --train-classifier: train for this many batches of 64 instead of --epochs
    /// passes: the same number of updates whatever the size of the training set.
    #[arg(long, requires = "train_classifier", conflicts_with_all = ["epochs", "checkpoint"])]
    steps: Option<usize>,
    /// For --train-classifier: train on N labelled images of each class, picked by --seed
    /// from the training part (the rule data.per_class uses for a GAN: the same N and seed
    /// pick the same images), and test on the held-out part as usual. Saves the
    /// classifier only where --classifier says.
    #[arg(
        long,
        value_name = "N",
        requires = "train_classifier",
        conflicts_with = "checkpoint"
    )]
    per_class: Option<usize>,
    /// For --train-classifier: augment every training batch; classic = random left-right
    /// flips and shifts of up to 2 pixels (background fill), shift or flip = one of the
    /// two; none (the default). Saves the classifier only where --classifier says.
    #[arg(
        long,
        value_enum,
        requires = "train_classifier",
        conflicts_with = "checkpoint"
    )]
    augment: Option<Augment>,
    /// For --train-classifier: add --extra-n samples of this conditional GAN checkpoint to
    /// the training images, class-balanced, each labelled with the class it was generated
    /// for. Saves the classifier only where --classifier says.
    #[arg(
        long,
        value_name = "CKPT",
        requires_all = ["train_classifier", "extra_n"],
        conflicts_with = "checkpoint"
    )]
    extra_samples: Option<PathBuf>,
    /// How many --extra-samples to add: a multiple of the number of classes.
    #[arg(
        long,
        value_name = "M",
        requires = "extra_samples",
        conflicts_with = "checkpoint"
    )]
    extra_n: Option<usize>,
    /// Seed for sampling (and classifier training).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the scores as JSON (default: scores.json beside the checkpoint); with
    /// --train-classifier, its held-out accuracy and what it was trained on (default: no
    /// JSON).
    #[arg(long, visible_alias = "json")]
    out: Option<PathBuf>,
}

/// `--augment`: what each training batch of the classifier goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Augment {
    /// Nothing.
    None,
    /// Random left-right flips and shifts of up to 2 pixels ([`ClassicAugment::fashion_mnist`]).
    Classic,
    /// The shifts alone.
    Shift,
    /// The flips alone.
    Flip,
}

impl Augment {
    fn name(self) -> &'static str {
        match self {
            Augment::None => "none",
            Augment::Classic => "classic",
            Augment::Shift => "shift",
            Augment::Flip => "flip",
        }
    }

    fn policy(self) -> Option<ClassicAugment> {
        let classic = ClassicAugment::fashion_mnist();
        match self {
            Augment::None => None,
            Augment::Classic => Some(classic),
            Augment::Shift => Some(ClassicAugment {
                flip: false,
                ..classic
            }),
            Augment::Flip => Some(ClassicAugment {
                max_shift: 0,
                ..classic
            }),
        }
    }
}

/// Most classifier training steps, epochs and generated images a command accepts.
const MAX_CLASSIFIER_STEPS: usize = 1_000_000;
const MAX_CLASSIFIER_EPOCHS: usize = 1000;
const MAX_EXTRA_SAMPLES: usize = 100_000;
/// The sample stream of --extra-samples (apart from anything else seeded by --seed).
const EXTRA_STREAM: u64 = 0xe47a;

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

/// The data options of `--train-classifier DATA` as a data configuration.
fn data_config(a: &EvalArgs, data: &str) -> DataConfig {
    let mut cfg = DataConfig {
        name: data.to_string(),
        image_size: a.image_size.unwrap_or(0),
        channels: a.channels.unwrap_or(0),
        ..DataConfig::default()
    };
    if let Some(d) = &a.data_dir {
        cfg.dir = d.display().to_string();
    }
    cfg
}

/// The flags of `--train-classifier` that need no data to check.
fn check_train_flags(a: &EvalArgs) -> Res<()> {
    match a.steps {
        Some(s) if !(1..=MAX_CLASSIFIER_STEPS).contains(&s) => {
            return Err(format!("--steps {s} must be in 1..={MAX_CLASSIFIER_STEPS}").into());
        }
        None if !(1..=MAX_CLASSIFIER_EPOCHS).contains(&a.epochs) => {
            return Err(format!(
                "--epochs {} must be in 1..={MAX_CLASSIFIER_EPOCHS}",
                a.epochs
            )
            .into());
        }
        _ => {}
    }
    if a.per_class == Some(0) {
        return Err("--per-class 0: pick at least 1 image of each class".into());
    }
    if let Some(m) = a.extra_n
        && !(1..=MAX_EXTRA_SAMPLES).contains(&m)
    {
        return Err(format!(
            "--extra-n {m} must be in 1..={MAX_EXTRA_SAMPLES} (and a multiple of the \
                 number of classes)"
        )
        .into());
    }
    Ok(())
}

/// `m` samples of the conditional generator in `ckpt`, labelled with the classes they were
/// generated for (`i mod k`, so each class gets `m / k`), checked against the real training
/// images `real` (of `data`, `picked` = `(per_class, seed)` when picked per class); with
/// whether the generator was trained on the same images, for the user.
fn generated_images(
    ckpt: &Path,
    m: usize,
    real: &Dataset,
    data: &str,
    picked: Option<(usize, u64)>,
    seed: u64,
) -> Res<(Dataset, String)> {
    let k = real
        .num_classes()
        .ok_or("the training images have no labels")?;
    let (g, cfg) = load_generator(ckpt)?;
    let Some(gk) = g.num_classes() else {
        return Err(format!(
            "--extra-samples {}: an unconditional generator; its samples have no class to \
             label them with (train one with --task conditional)",
            ckpt.display()
        )
        .into());
    };
    if gk != k {
        return Err(format!(
            "--extra-samples {}: a generator of {gk} classes, but the data has {k}",
            ckpt.display()
        )
        .into());
    }
    if !m.is_multiple_of(k) {
        return Err(format!(
            "--extra-n {m} must be a multiple of the {k} classes (the samples are \
             class-balanced)"
        )
        .into());
    }
    let mut rng = crate::gan::applications::sample_rng(seed, EXTRA_STREAM);
    let shape = sample_shape(g.as_ref());
    if shape != *real.image_shape() {
        return Err(format!(
            "--extra-samples {}: makes images of shape {:?}, the data's are {:?}",
            ckpt.display(),
            shape,
            real.image_shape()
        )
        .into());
    }
    let images = draw_samples(g.as_ref(), m, &mut rng);
    let labels: Vec<usize> = (0..m).map(|i| i % k).collect();
    let mut ds = Dataset::new(
        format!("samples of {}", ckpt.display()),
        images,
        Some((labels, k)),
    );
    if let Some(names) = real.class_names() {
        ds = ds.with_class_names(names.to_vec());
    }
    let gan = match cfg.data.per_class {
        0 => format!("all of {}", cfg.data.name),
        n => format!(
            "{n} images of each class of {} picked by seed {}",
            cfg.data.name, cfg.seed
        ),
    };
    let same = cfg.data.name == data && picked == Some((cfg.data.per_class, cfg.seed));
    let note = if same {
        format!("{} was trained on the same images ({gan})", ckpt.display())
    } else {
        format!(
            "{} was trained on {gan}: not the images this classifier is given",
            ckpt.display()
        )
    };
    Ok((ds, note))
}

/// `a` followed by `b` (same image shape and classes).
fn concat(a: &Dataset, b: &Dataset, name: &str) -> Dataset {
    let images = NdArray::concat(&[a.images(), b.images()], 0);
    let labels = [a.labels().unwrap_or(&[]), b.labels().unwrap_or(&[])].concat();
    let k = a
        .num_classes()
        .unwrap_or(0)
        .max(b.num_classes().unwrap_or(0));
    let ds = Dataset::new(name, images, Some((labels, k)));
    match a.class_names() {
        Some(names) => ds.with_class_names(names.to_vec()),
        None => ds,
    }
}

fn train(a: &EvalArgs, data: &str) -> Res<()> {
    check_train_flags(a)?;
    let split = train_test_split(&data_config(a, data), a.seed)?;
    for note in &split.notes {
        say!("note: {note}");
    }
    let mut fields = Fields::new();
    put(&mut fields, "data", data);
    put(&mut fields, "seed", a.seed);
    let (real, mut what) = match a.per_class {
        Some(n) => {
            let picked = crate::data::pick_per_class(&split.train, n, a.seed)
                .map_err(|e| format!("--per-class {n}: {e}"))?;
            put(&mut fields, "per_class", n);
            put(&mut fields, "picked", picked.clone());
            (
                split.train.subset(&picked),
                format!(
                    "{} images, {n} of each class picked by seed {} from the {}",
                    picked.len(),
                    a.seed,
                    split.description
                ),
            )
        }
        None => (split.train.clone(), split.description.clone()),
    };
    put(&mut fields, "real_images", real.len());
    put(
        &mut fields,
        "real_per_class",
        real.class_counts().unwrap_or_default(),
    );
    let train_set = match (&a.extra_samples, a.extra_n) {
        (Some(ckpt), Some(m)) => {
            let picked = a.per_class.map(|n| (n, a.seed));
            let (generated, note) = generated_images(ckpt, m, &real, data, picked, a.seed)?;
            say!("note: {note}");
            put(&mut fields, "extra_note", note);
            what = format!("{what}, and {m} samples of {}", ckpt.display());
            put(&mut fields, "extra_samples", ckpt.display().to_string());
            put(&mut fields, "extra_n", m);
            put(
                &mut fields,
                "extra_per_class",
                generated.class_counts().unwrap_or_default(),
            );
            concat(&real, &generated, data)
        }
        _ => {
            put(&mut fields, "extra_n", 0);
            real
        }
    };
    let augment = a.augment.unwrap_or(Augment::None);
    let aug = augment.policy();
    put(&mut fields, "augment", augment.name());
    let config = ClassifierTrainConfig {
        epochs: a.epochs,
        seed: a.seed,
        ..ClassifierTrainConfig::default()
    };
    let per_epoch = train_set.len().div_ceil(config.batch_size);
    let steps = a.steps.unwrap_or(a.epochs * per_epoch);
    let length = match a.steps {
        Some(s) => format!("{s} steps of {}", config.batch_size),
        None => format!("{} epochs", a.epochs),
    };
    say!(
        "training the feature classifier on the {what} ({length}, augmentation: {}, seed {})",
        augment.name(),
        a.seed
    );
    let started = std::time::Instant::now();
    let mut shown = 0;
    // Progress only, at most ten lines: a closed stderr must not stop the training (the
    // result is reported below, where a failed write does end the command).
    let c = train_classifier_for_steps(
        &train_set,
        &config,
        steps,
        |x, rng| match &aug {
            Some(p) => p.apply(&x, rng),
            None => x,
        },
        |r| {
            if r.steps * 10 / steps > shown || r.steps == steps {
                shown = r.steps * 10 / steps;
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "  epoch {} (step {}): mean loss {:.4}",
                    r.epoch,
                    r.steps,
                    r.mean_loss
                );
            }
        },
    );
    let seconds = started.elapsed().as_secs_f64();
    let acc = accuracy(&c, &split.test);
    put(&mut fields, "trained_on", what.clone());
    put(&mut fields, "train_images", train_set.len());
    put(&mut fields, "steps", steps);
    put(&mut fields, "batch_size", config.batch_size);
    put(&mut fields, "train_seconds", seconds);
    put(&mut fields, "held_out", split.description.clone());
    put(&mut fields, "test_images", split.test.len());
    put(&mut fields, "test_accuracy", acc);
    // A classifier trained on part of the data, augmented or with generated images is an
    // experiment: it never replaces the one in the data directory unless asked to.
    let experiment = a.per_class.is_some() || aug.is_some() || a.extra_samples.is_some();
    let out = match (&a.classifier, experiment) {
        (Some(p), _) => Some(p.clone()),
        (None, false) => Some(default_classifier(data, a.data_dir.as_deref())?),
        (None, true) => None,
    };
    if let Some(out) = &out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut meta = BTreeMap::from([
            ("dataset".to_string(), dataset_identity(data)),
            ("trained_on".to_string(), what.clone()),
            ("steps".to_string(), steps.to_string()),
            ("augment".to_string(), augment.name().to_string()),
            ("seed".to_string(), a.seed.to_string()),
            ("test_accuracy".to_string(), format!("{acc:.4}")),
        ]);
        if a.steps.is_none() {
            meta.insert("epochs".to_string(), a.epochs.to_string());
        }
        c.save(out, &meta)?;
    }
    put(
        &mut fields,
        "classifier",
        out.as_ref().map(|p| p.display().to_string()),
    );
    if let Some(json) = &a.out {
        let text = serde_json::to_string_pretty(&fields)? + "\n";
        crate::data::write_atomic(json, text.as_bytes())?;
    }
    let saved = match &out {
        Some(p) => format!("saved {}", p.display()),
        None => "not saved (give --classifier FILE to keep it)".to_string(),
    };
    out!(
        "test accuracy {:.2}% ({} test images); {saved}",
        100.0 * acc,
        split.test.len()
    );
    if let Some(json) = &a.out {
        say!("wrote {}", json.display());
    }
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
    all.per_class = 0;
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
    // Dark backgrounds in [-1, 1]: "inside an object" is brighter than a quarter grey.
    let rough_fake = interior_roughness(&fake, ROUGHNESS_THRESHOLD);
    let rough_real = interior_roughness(&real_images, ROUGHNESS_THRESHOLD);
    let roughness_ratio = rough_fake.roughness / rough_real.roughness;
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
    out!(
        "interior roughness {:.4} (real {:.4}: {roughness_ratio:.2}x)",
        rough_fake.roughness,
        rough_real.roughness
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
        ("roughness", rough_fake.roughness),
        ("roughness_real", rough_real.roughness),
        ("roughness_ratio", roughness_ratio),
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
