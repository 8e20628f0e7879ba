//! Training configuration: one struct, read from TOML, every field with a default.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config_kinds::{by_name, HoleChoice, ModelKind, TaskKind};
use crate::{GanLoss, Upsampling};

/// Everything that defines a training run. One `seed` fixes every random choice.
///
/// The defaults are the README's main job: a small DCGAN on Fashion-MNIST that shows
/// recognisable clothing within a few minutes on two cores.
///
/// ```
/// use agon_gan::trainer::TrainConfig;
/// let cfg = TrainConfig::from_toml_str("steps = 10\n[model]\nwidth = 8\n", "inline").unwrap();
/// assert_eq!(cfg.steps, 10);
/// assert_eq!(cfg.model.width, 8);
/// assert_eq!(cfg.loss.kind, agon_gan::GanLoss::NonSaturating); // untouched: the default
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds weights, noise, batching, augmentation and dropout.
    pub seed: u64,
    /// Training steps (one step = `n_critic` D updates and one G update).
    pub steps: u64,
    /// Samples per batch.
    pub batch_size: usize,
    /// Where samples, logs and checkpoints go.
    pub out_dir: PathBuf,
    /// The GAN task (`agon_gan::tasks`): `unconditional` or `conditional` (labels in G
    /// and D; the same as `model.conditional = true`); `auto` (the default): `conditional`
    /// when `model.conditional` is set, else `unconditional`. The image-to-image tasks
    /// `superres`, `inpaint` and `sketch2image` are set up by [`translate`](Self::translate).
    #[serde(with = "by_name")]
    pub task: TaskKind,
    /// The dataset.
    pub data: DataConfig,
    /// The architecture.
    pub model: ModelConfig,
    /// Loss and penalties.
    pub loss: LossConfig,
    /// Optimisers.
    pub optim: OptimConfig,
    /// Logging, samples and checkpoints.
    pub log: LogConfig,
    /// The image-to-image tasks' settings.
    pub translate: TranslateConfig,
}

/// The image-to-image tasks (`superres`, `inpaint`, `sketch2image`): what G is fed, its
/// size, and the weights of the generator's loss terms,
/// `adv_weight * adversarial + l1_weight * L1 + perceptual_weight * perceptual`.
/// `model.width` is the base width of G and D; `loss.kind` the adversarial loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranslateConfig {
    /// `superres`: the downsampling factor, 2 (28 -> 14 -> 28) or 4 (28 -> 7 -> 28), or 8;
    /// it must divide the image side.
    pub scale: usize,
    /// `inpaint`: the holes cut while training: `mixed` (rectangles and free-form strokes,
    /// half and half), `rectangle`, `strokes` or `centre`.
    #[serde(with = "by_name")]
    pub holes: HoleChoice,
    /// Weight of the adversarial term (0: the generator learns from reconstruction alone
    /// and no discriminator is trained, the baseline that shows what the GAN adds).
    pub adv_weight: f32,
    /// Weight of the L1 distance to the real image (100 in pix2pix).
    pub l1_weight: f32,
    /// Weight of the feature ("perceptual") loss: squared distance between the dataset's
    /// feature classifier's embeddings of output and real image (0 = off; needs the
    /// classifier of `agon eval`).
    pub perceptual_weight: f32,
    /// `inpaint` and `sketch2image`: levels of the U-Net; images are reflection-padded to
    /// a multiple of `2^unet_depth` (28 -> 32 at 4) and cropped back.
    pub unet_depth: usize,
    /// `superres`: residual blocks of the generator.
    pub blocks: usize,
    /// Stride-2 layers of the PatchGAN discriminator (2 judges 34x34-pixel patches).
    pub d_layers: usize,
    /// `cyclegan`: domain A, a comma list of class names or indices of a labelled dataset
    /// (names match ignoring case and punctuation, and either side of a `/`:
    /// `"t-shirt"` is Fashion-MNIST's "T-shirt/top"). A folder with one subfolder per
    /// domain is a labelled dataset whose classes are the subfolders. Empty (the default):
    /// Fashion-MNIST's `"sneaker"`, or with [`a_dir`](Self::a_dir) that folder. A run
    /// records the indices it resolved.
    pub a: String,
    /// `cyclegan`: domain B, as `a` (empty: `"ankle boot"`, or the folder of
    /// [`b_dir`](Self::b_dir)).
    pub b: String,
    /// `cyclegan`: a folder of domain A's PNG / JPEG images (read as an image folder:
    /// flat or in subfolders, brought to `data.image_size` and `data.channels`). Given
    /// with [`b_dir`](Self::b_dir), the two folders are the data, as classes 0 (A) and 1
    /// (B) named after the folders, in place of `data.name` (which the run sets to
    /// `"<a_dir> + <b_dir>"`); `a` and `b` may then be left out.
    pub a_dir: String,
    /// `cyclegan`: a folder of domain B's images, as [`a_dir`](Self::a_dir).
    pub b_dir: String,
    /// `cyclegan`: weight of the cycle-consistency L1 terms, `|G_BA(G_AB(a)) - a|` and
    /// `|G_AB(G_BA(b)) - b|` (10 in CycleGAN).
    pub cycle_weight: f32,
    /// `cyclegan`: weight of the identity L1 terms, `|G_AB(b) - b|` and `|G_BA(a) - a|`
    /// (CycleGAN's 0.5 times the cycle weight).
    pub identity_weight: f32,
    /// `cyclegan`: images each replay buffer keeps of past fakes for its discriminator
    /// (50 in CycleGAN; 0 = D sees only the current fakes).
    pub pool_size: usize,
}

/// Which data to train on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// `fashion-mnist` (the shipped test split, or the full set when installed), `mnist`,
    /// `ring8`, `grid25`, `cifar10`, or a path to an IDX directory, CIFAR-10 batches or a
    /// folder of PNG images.
    pub name: String,
    /// The data directory holding the built-in datasets and feature classifiers; empty
    /// (the default): `AGON_DATA_DIR`, then the `data/` of the checkout the command runs
    /// in (see `agon_data::DataRoot`).
    pub dir: String,
    /// Side of the square images an image folder is brought to (centre crop, then resize);
    /// 0 (the default): the first image's own size. Other image datasets must already be
    /// this size.
    pub image_size: usize,
    /// Channels of an image folder's images: 1 (gray) or 3 (RGB); 0 (the default): from
    /// the first image.
    pub channels: usize,
    /// Use at most this many training samples (0 = all); small runs and tests use it.
    pub limit: usize,
    /// Train on this many labelled images of each class (0 = all): picked by the run's
    /// `seed` from the training part of the data (the train split; without one, the first
    /// 4/5 of an IDX test split, or four images in five of other data), with the same rule
    /// as `agon eval --train-classifier DATA --per-class N --seed S`, so a GAN and a
    /// classifier given the same N and seed see the same images. Labelled data only; not
    /// with `data.limit` or an image-to-image task.
    pub per_class: usize,
    /// DiffAugment policy applied to real and fake batches: "" (none) or a comma list of
    /// `color`, `translation`, `cutout`.
    pub augment: String,
}

/// Which networks to build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// `dcgan` (configurable width; the default), `dcgan28` (docs/architecture.md's reference
    /// workload), or `mlp` (2-D toys and flattened images).
    #[serde(with = "by_name")]
    pub kind: ModelKind,
    /// Base feature count of the DCGAN (both networks scale with it).
    pub width: usize,
    /// How the DCGAN generator upsamples: `nearest` (nearest-neighbour x2 then a 3x3
    /// conv: no checkerboard texture) or `transposed` (stride-2 transposed conv, as the
    /// DCGAN paper).
    #[serde(with = "by_name")]
    pub upsample: Upsampling,
    /// Length of the noise vector.
    pub latent_dim: usize,
    /// Condition on class labels (label embedding in G, projection in D).
    pub conditional: bool,
    /// Add an auxiliary classifier head to D (AC-GAN).
    pub aux_classifier: bool,
    /// Spectral normalisation on D's layers.
    pub spectral_norm: bool,
    /// PacGAN: D judges this many samples at once.
    pub pack: usize,
    /// Hidden width of the MLP models.
    pub mlp_hidden: usize,
}

/// The adversarial loss and the penalties.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// `minimax`, `nonsaturating`, `lsgan`, `wasserstein` or `hinge` (aliases: `ns`,
    /// `wgan`, `least-squares`).
    #[serde(with = "by_name")]
    pub kind: GanLoss,
    /// Weight of the WGAN-GP gradient penalty (0 = off; 10 is the paper's value).
    pub gp_weight: f32,
    /// R1 penalty strength gamma (0 = off): adds gamma/2 * E||grad D(x)||^2 on real data.
    pub r1_gamma: f32,
    /// Apply R1 lazily every this many D steps (weighted by it, as StyleGAN2).
    pub r1_every: u64,
    /// Weight of the AC-GAN class loss.
    pub aux_weight: f32,
    /// WGAN weight clipping (Arjovsky et al. 2017; 0.01 in the paper): after every D
    /// update each of D's parameters is clamped to `[-c, c]`; 0 (the default) = off.
    pub weight_clip: f32,
}

/// Optimisers: Adam for both networks, separate learning rates (TTUR).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Generator learning rate; absent: the model's default,
    /// [`TrainConfig::default_lr`] (read the rate in use with [`TrainConfig::lr_g`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_g: Option<f32>,
    /// Discriminator learning rate; absent: [`TrainConfig::default_lr`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_d: Option<f32>,
    /// Adam beta1 (0.5 for DCGAN).
    pub beta1: f32,
    /// Adam beta2.
    pub beta2: f32,
    /// D updates per G update (5 for WGAN-GP).
    pub n_critic: u64,
    /// Decay every learning rate linearly to zero over the run's last this many steps
    /// (pix2pix's `n_epochs_decay`, in steps; 0 = constant rates).
    pub lr_decay_steps: u64,
    /// Decay of the generator's exponential moving average (0 = no EMA).
    pub ema_decay: f32,
    /// Batches of noise (of `batch_size`) over which the EMA generator's BatchNorm
    /// statistics are recomputed for its averaged weights before it is sampled, scored or
    /// saved (0 = keep the live generator's statistics, copied at every step).
    pub ema_bn_batches: usize,
}

/// How often to report and save.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Append losses to `log.csv` every this many steps.
    pub every: u64,
    /// Write a sample grid every this many steps.
    pub sample_every: u64,
    /// Write a checkpoint every this many steps.
    pub checkpoint_every: u64,
    /// Samples in each grid.
    pub samples: usize,
    /// Draw a progress bar on the terminal.
    pub progress: bool,
    /// Score the generator every this many steps into `eval.csv` (0 = never): mode counts
    /// for the 2-D mixtures, FID-style distance and precision/recall against the real data
    /// for images (needs the dataset's feature classifier in `data/classifiers/`); each row
    /// also gives the seconds of training up to its step (scoring left out).
    pub eval_every: u64,
    /// Generated samples per evaluation.
    pub eval_samples: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 0,
            steps: 5000,
            batch_size: 64,
            out_dir: PathBuf::from("runs/fashion-mnist"),
            task: TaskKind::Auto,
            data: DataConfig::default(),
            model: ModelConfig::default(),
            loss: LossConfig::default(),
            optim: OptimConfig::default(),
            log: LogConfig::default(),
            translate: TranslateConfig::default(),
        }
    }
}

impl Default for TranslateConfig {
    fn default() -> Self {
        TranslateConfig {
            scale: 4,
            holes: HoleChoice::Mixed,
            adv_weight: 1.0,
            l1_weight: 100.0,
            perceptual_weight: 0.0,
            unet_depth: 4,
            blocks: 4,
            d_layers: 2,
            a: String::new(),
            b: String::new(),
            a_dir: String::new(),
            b_dir: String::new(),
            cycle_weight: 10.0,
            identity_weight: 5.0,
            pool_size: 50,
        }
    }
}

impl TrainConfig {
    /// The learning rate of both networks when `optim.lr_g` / `optim.lr_d` are not given:
    /// 4e-4 for the main job's model (`model.kind = "dcgan"`, unconditional), which trained
    /// best with it in the settings search of docs/results.md; 2e-4, the DCGAN and pix2pix
    /// papers' rate, for every other model and task.
    ///
    /// ```
    /// use agon_gan::trainer::{ModelKind, TrainConfig};
    /// let mut cfg = TrainConfig::default();
    /// assert_eq!((cfg.default_lr(), cfg.lr_g()), (4e-4, 4e-4));
    /// cfg.model.kind = ModelKind::Dcgan28;
    /// assert_eq!(cfg.lr_g(), 2e-4);
    /// cfg.optim.lr_g = Some(1e-3);
    /// assert_eq!((cfg.lr_g(), cfg.lr_d()), (1e-3, 2e-4));
    /// ```
    pub fn default_lr(&self) -> f32 {
        let main_model = self.model.kind == ModelKind::Dcgan
            && !self.model.conditional
            && !self.task.is_image_to_image()
            && self.task != TaskKind::Conditional;
        if main_model {
            4e-4
        } else {
            2e-4
        }
    }

    /// The generator's learning rate: `optim.lr_g`, else [`default_lr`](Self::default_lr).
    pub fn lr_g(&self) -> f32 {
        self.optim.lr_g.unwrap_or_else(|| self.default_lr())
    }

    /// The discriminator's learning rate: `optim.lr_d`, else
    /// [`default_lr`](Self::default_lr).
    pub fn lr_d(&self) -> f32 {
        self.optim.lr_d.unwrap_or_else(|| self.default_lr())
    }

    /// Makes the keys a task implies explicit (`task = "conditional"` sets
    /// `model.conditional`; `cyclegan` fills empty `translate.a` / `translate.b` with its
    /// default domains, or with the two folders' classes `0` and `1` and `data.name` with
    /// their [`folders_data_name`](TranslateConfig::folders_data_name)), so that models
    /// built from the saved configuration alone (by resume, `agon sample`, `agon export`)
    /// are the task's.
    pub fn resolve_task(&mut self) {
        // The learning rates in use, written out so a saved configuration states them.
        let lr = self.default_lr();
        self.optim.lr_g.get_or_insert(lr);
        self.optim.lr_d.get_or_insert(lr);
        if self.task == TaskKind::Conditional {
            self.model.conditional = true;
        }
        if self.task == TaskKind::Cyclegan {
            crate::tasks::fill_default_domains(self);
        }
    }
}

impl DataConfig {
    /// [`dir`](Self::dir) as a path, `None` when empty (resolve from the environment).
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        (!self.dir.is_empty()).then(|| std::path::Path::new(&self.dir))
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            name: "fashion-mnist".into(),
            dir: String::new(),
            image_size: 0,
            channels: 0,
            limit: 0,
            per_class: 0,
            augment: String::new(),
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            kind: ModelKind::Dcgan,
            width: 32,
            upsample: Upsampling::NearestConv,
            latent_dim: 64,
            conditional: false,
            aux_classifier: false,
            spectral_norm: false,
            pack: 1,
            mlp_hidden: 128,
        }
    }
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            kind: GanLoss::NonSaturating,
            gp_weight: 0.0,
            r1_gamma: 0.0,
            r1_every: 16,
            aux_weight: 1.0,
            weight_clip: 0.0,
        }
    }
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr_g: None,
            lr_d: None,
            beta1: 0.5,
            beta2: 0.999,
            n_critic: 1,
            lr_decay_steps: 0,
            // Off by default: over a run of a few thousand steps a 0.999 average lags the
            // still-improving generator by about 1,000 steps (FID 103.7 against 91.9 on the
            // main job: docs/results.md). Use 0.999 for long runs.
            ema_decay: 0.0,
            // Statistics gathered by the raw weights belong to other weights than the
            // averaged ones; the cost is 32 forward passes per sampling, not per step.
            ema_bn_batches: 32,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            every: 50,
            sample_every: 250,
            checkpoint_every: 250,
            samples: 64,
            progress: true,
            eval_every: 0,
            eval_samples: 2000,
        }
    }
}

/// The keys a task sets unless the configuration gives them, as TOML. The image-to-image
/// tasks: 2,000 steps of 32 images (3-4 minutes on two cores), `data.limit = 9000` so
/// that the last 1,000 images of the shipped Fashion-MNIST split stay unseen for `agon eval`
/// and `agon sample`, and their own output folder, `runs/<task>`; `cyclegan` 1,500 steps
/// of 16 at `model.width = 16` with the least-squares loss (about 6 minutes). The
/// generation tasks have none.
pub fn task_presets(task: TaskKind) -> toml::Table {
    use super::config_kinds::ConfigChoice;
    use toml::{Table, Value};
    let mut presets = Table::new();
    if !task.is_image_to_image() {
        return presets;
    }
    let table = |entries: &[(&str, Value)]| {
        Value::Table(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    // CycleGAN runs its generators six times a step (there, back, identity; both ways):
    // half the width and half the batch keep its default run near 6 minutes. It uses the
    // least-squares loss, as the reference does.
    let cyclegan = task == TaskKind::Cyclegan;
    let (steps, batch) = if cyclegan { (1500, 16) } else { (2000, 32) };
    presets.insert("steps".into(), Value::Integer(steps));
    presets.insert("batch_size".into(), Value::Integer(batch));
    presets.insert(
        "out_dir".into(),
        Value::String(format!("runs/{}", task.name())),
    );
    presets.insert("data".into(), table(&[("limit", Value::Integer(9000))]));
    if cyclegan {
        presets.insert(
            "loss".into(),
            table(&[("kind", Value::String("lsgan".into()))]),
        );
        presets.insert("model".into(), table(&[("width", Value::Integer(16))]));
    }
    presets
}

/// Copies every leaf of `from` that `into` lacks.
fn fill_missing(into: &mut toml::Table, from: &toml::Table) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(toml::Value::Table(t)), toml::Value::Table(f)) => fill_missing(t, f),
            (Some(_), _) => {}
            (None, v) => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The largest `batch_size` accepted.
pub const MAX_BATCH_SIZE: usize = 4096;
/// The most discriminator updates per step (`optim.n_critic`): more would make one step
/// run for hours.
pub const MAX_N_CRITIC: u64 = 100;
/// The most samples in a sample grid (`log.samples`).
pub const MAX_GRID_SAMPLES: usize = 1024;
/// The fewest generated samples an evaluation accepts (`log.eval_samples`, `agon eval
/// --n`): the k-nearest-neighbour scores need more than k = 5 per set, and a covariance
/// from fewer than this says little.
pub const MIN_EVAL_SAMPLES: usize = 16;
/// The most generated samples an evaluation accepts.
pub const MAX_EVAL_SAMPLES: usize = 100_000;

/// The keys `--resume` may change (a trailing `*`: every key of that table): the step
/// total, the logging cadence, and where the data directory is (on another machine).
pub const RESUME_MAY_CHANGE: [&str; 3] = ["steps", "log.*", "data.dir"];

/// Every leaf of `table` as (dotted key, value).
fn flatten<'a>(prefix: &str, table: &'a toml::Table, out: &mut Vec<(String, &'a toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            leaf => out.push((key, leaf)),
        }
    }
}

/// Every float of the configuration is an `f32`, which serde widens to the `f64` nearest
/// it (`lr = 0.00019999999494757503`); this writes each as the shortest decimal that reads
/// back as the same `f32` (`0.0002`).
fn shortest_f32_floats(table: &mut toml::Table) {
    for (_, v) in table.iter_mut() {
        match v {
            toml::Value::Float(x) => {
                *x = (*x as f32).to_string().parse().unwrap_or(*x);
            }
            toml::Value::Table(t) => shortest_f32_floats(t),
            _ => {}
        }
    }
}

/// The value at dotted `key` in `table`.
fn lookup_mut<'a>(table: &'a mut toml::Table, key: &str) -> Option<&'a mut toml::Value> {
    let mut parts = key.split('.');
    let mut v = table.get_mut(parts.next()?)?;
    for p in parts {
        v = v.as_table_mut()?.get_mut(p)?;
    }
    Some(v)
}

/// A configuration that could not be read or makes no sense, with where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file (or other source) the configuration came from.
    pub source: String,
    /// What is wrong, naming the key.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl TrainConfig {
    /// Parses TOML; `source` names it in errors (a file path, "inline", ...).
    ///
    /// # Errors
    /// Malformed TOML, unknown keys or values of the wrong type (the message names the
    /// key and line), or settings that fail [`validate`](TrainConfig::validate).
    ///
    /// A task's presets ([`task_presets`]) fill the keys `text` leaves out, before the
    /// general defaults: `task = "superres"` alone is a run that fits in minutes.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self, ConfigError> {
        // Type errors are reported against the user's own text, so that their lines match.
        toml::from_str::<TrainConfig>(text).map_err(|e| ConfigError {
            source: source.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let given: toml::Table = text.parse().expect("parsed just above");
        let mut table = given.clone();
        let task = given
            .get("task")
            .and_then(toml::Value::as_str)
            .and_then(|t| t.parse::<TaskKind>().ok());
        if let Some(task) = task {
            fill_missing(&mut table, &task_presets(task));
        }
        let filled = if table == given {
            text.to_string()
        } else {
            toml::to_string(&table).expect("a TOML table always serialises")
        };
        let cfg = Self::from_saved_toml(&filled, source)?;
        cfg.check_keys_used(&given, source)?;
        Ok(cfg)
    }

    /// The default configuration of `task`: [`TrainConfig::default`] with the task's
    /// [`task_presets`].
    ///
    /// ```
    /// use agon_gan::trainer::{TaskKind, TrainConfig};
    /// let sr = TrainConfig::for_task(TaskKind::Superres);
    /// assert_eq!((sr.steps, sr.batch_size, sr.data.limit), (2000, 32, 9000));
    /// let cg = TrainConfig::for_task(TaskKind::Cyclegan);
    /// assert_eq!((cg.steps, cg.batch_size, cg.model.width), (1500, 16, 16));
    /// assert_eq!(cg.loss.kind, agon_gan::GanLoss::LeastSquares);
    /// assert_eq!(cg.out_dir, std::path::PathBuf::from("runs/cyclegan"));
    /// let plain = TrainConfig::for_task(TaskKind::Unconditional);
    /// assert_eq!(plain, TrainConfig { task: TaskKind::Unconditional, ..TrainConfig::default() });
    /// ```
    pub fn for_task(task: TaskKind) -> Self {
        use super::config_kinds::ConfigChoice;
        Self::from_toml_str(&format!("task = \"{}\"", task.name()), "defaults")
            .unwrap_or_else(|e| panic!("the presets of {task} must be valid: {e}"))
    }

    /// As [`from_toml_str`](Self::from_toml_str) without refusing keys the model does not
    /// use: the configuration stored in a checkpoint lists every key.
    pub(crate) fn from_saved_toml(text: &str, source: &str) -> Result<Self, ConfigError> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| ConfigError {
            source: source.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.validate(source)?;
        Ok(cfg)
    }

    /// Refuses keys of `table` (what the user wrote) that this configuration would
    /// silently ignore: `dcgan28` fixes its sizes, the MLP has no `width` or `upsample`,
    /// the DCGAN no `mlp_hidden`, and a few keys only matter beside another.
    ///
    /// # Errors
    /// The first such key, with why it is unused.
    pub fn check_keys_used(&self, table: &toml::Table, source: &str) -> Result<(), ConfigError> {
        let given = |key: &str| {
            let (t, k) = key.split_once('.').expect("a dotted key");
            table
                .get(t)
                .and_then(|v| v.as_table())
                .is_some_and(|t| t.contains_key(k))
        };
        match self.unused_keys().into_iter().find(|(key, _)| given(key)) {
            Some((key, why)) => Err(ConfigError {
                source: source.to_string(),
                message: format!("{key} is not used by this configuration: {why}; remove it"),
            }),
            None => Ok(()),
        }
    }

    /// The keys this configuration ignores, with why.
    fn unused_keys(&self) -> Vec<(&'static str, &'static str)> {
        let kind = self.model.kind;
        let image_to_image = self.task.is_image_to_image();
        let task = self.task;
        let generation_only = "the image-to-image tasks build their own networks (translate.*)";
        let cyclegan = task == TaskKind::Cyclegan;
        let folders = self.translate.folders_data_name();
        let unused: [(&'static str, bool, &'static str); 27] = [
            (
                "data.name",
                folders.as_ref().is_some_and(|n| *n != self.data.name),
                "translate.a_dir and translate.b_dir are the data",
            ),
            (
                "model.width",
                kind != ModelKind::Dcgan && !image_to_image,
                "only model.kind = \"dcgan\" has a width",
            ),
            (
                "model.upsample",
                kind != ModelKind::Dcgan || image_to_image,
                "only model.kind = \"dcgan\" has an upsampling choice",
            ),
            (
                "model.latent_dim",
                kind == ModelKind::Dcgan28 || image_to_image,
                "dcgan28 (latent size 100) and the image-to-image tasks (no noise) fix it",
            ),
            (
                "model.mlp_hidden",
                kind != ModelKind::Mlp || image_to_image,
                "only model.kind = \"mlp\" has a hidden width",
            ),
            ("model.kind", image_to_image, generation_only),
            ("model.pack", image_to_image, generation_only),
            ("model.conditional", image_to_image, generation_only),
            ("model.aux_classifier", image_to_image, generation_only),
            ("model.spectral_norm", image_to_image, generation_only),
            (
                "loss.r1_every",
                self.loss.r1_gamma == 0.0,
                "R1 is off (loss.r1_gamma = 0)",
            ),
            (
                "optim.ema_bn_batches",
                self.optim.ema_decay == 0.0,
                "there is no EMA generator (optim.ema_decay = 0)",
            ),
            (
                "loss.aux_weight",
                !self.model.aux_classifier || image_to_image,
                "there is no AC-GAN head (model.aux_classifier = false)",
            ),
            (
                "translate.scale",
                task != TaskKind::Superres,
                "only task = \"superres\" downsamples",
            ),
            (
                "translate.holes",
                task != TaskKind::Inpaint,
                "only task = \"inpaint\" cuts holes",
            ),
            (
                "translate.blocks",
                !matches!(task, TaskKind::Superres | TaskKind::Cyclegan),
                "only task = \"superres\" and \"cyclegan\" have residual blocks",
            ),
            (
                "translate.unet_depth",
                !matches!(task, TaskKind::Inpaint | TaskKind::Sketch2image),
                "only task = \"inpaint\" and \"sketch2image\" use a U-Net",
            ),
            (
                "translate.adv_weight",
                !image_to_image,
                "only the image-to-image tasks (task = \"superres\", \"inpaint\", \"sketch2image\", \"cyclegan\") read [translate]",
            ),
            (
                "translate.l1_weight",
                !image_to_image || cyclegan,
                "unpaired translation has no target to be near (cyclegan weighs \
                 translate.cycle_weight and identity_weight)",
            ),
            (
                "translate.perceptual_weight",
                cyclegan,
                "unpaired translation has no target to compare features with",
            ),
            ("translate.a", !cyclegan, "only task = \"cyclegan\" has domains"),
            ("translate.b", !cyclegan, "only task = \"cyclegan\" has domains"),
            (
                "translate.a_dir",
                !cyclegan,
                "only task = \"cyclegan\" takes two image folders",
            ),
            (
                "translate.b_dir",
                !cyclegan,
                "only task = \"cyclegan\" takes two image folders",
            ),
            (
                "translate.cycle_weight",
                !cyclegan,
                "only task = \"cyclegan\" translates back",
            ),
            (
                "translate.identity_weight",
                !cyclegan,
                "only task = \"cyclegan\" has identity terms",
            ),
            (
                "translate.pool_size",
                !cyclegan,
                "only task = \"cyclegan\" keeps a replay buffer",
            ),
        ];
        let mut keys: Vec<_> = unused
            .into_iter()
            .filter(|u| u.1)
            .map(|(key, _, why)| (key, why))
            .collect();
        if !image_to_image {
            keys.push((
                "translate.perceptual_weight",
                "only the image-to-image tasks read [translate]",
            ));
            keys.push((
                "translate.d_layers",
                "only the image-to-image tasks read [translate]",
            ));
        }
        keys
    }

    /// Reads a TOML file.
    ///
    /// # Errors
    /// When the file cannot be read, or as [`from_toml_str`](TrainConfig::from_toml_str).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError {
            source: path.display().to_string(),
            message,
        };
        // stat first: opening a FIFO for reading would block.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(err(
                "not a regular file (a directory, FIFO or device)".into()
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read the configuration: {e}")))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// The configuration as TOML (stored in every checkpoint). Keys this configuration
    /// does not use are left out, so that the `config.toml` a run writes can be given back
    /// as `--config`.
    pub fn to_toml(&self) -> String {
        let mut table = toml::Table::try_from(self).expect("a TrainConfig always serialises");
        shortest_f32_floats(&mut table);
        for (key, _) in self.unused_keys() {
            let (t, k) = key.split_once('.').expect("a dotted key");
            if let Some(t) = table.get_mut(t).and_then(|v| v.as_table_mut()) {
                t.remove(k);
            }
        }
        // No folders: the one-dataset form, whose files need not name the folder keys.
        if let Some(t) = table.get_mut("translate").and_then(|v| v.as_table_mut()) {
            t.retain(|k, v| !((k == "a_dir" || k == "b_dir") && v.as_str() == Some("")));
        }
        table.retain(|_, v| v.as_table().is_none_or(|t| !t.is_empty()));
        toml::to_string(&table).expect("a TOML table always serialises")
    }

    /// Applies `overrides` (a TOML table of the keys a user gave with `--resume`: from a
    /// configuration file, `--set` or flags) to the configuration saved in a checkpoint.
    /// The keys [`RESUME_MAY_CHANGE`] names take the new value; any other key must repeat
    /// the saved value, since the weights, optimiser state and batcher position were made
    /// under it.
    ///
    /// ```
    /// use agon_gan::trainer::TrainConfig;
    /// let mut saved = TrainConfig::default();
    /// let more: toml::Table = "steps = 9000\nseed = 0\n[log]\nevery = 10\n".parse().unwrap();
    /// saved.apply_on_resume(&more, "flags").unwrap();
    /// assert_eq!((saved.steps, saved.log.every), (9000, 10));
    /// // An alias of the saved choice is the same choice.
    /// let alias: toml::Table = "[loss]\nkind = \"ns\"\n".parse().unwrap();
    /// saved.apply_on_resume(&alias, "flags").unwrap();
    /// let other: toml::Table = "[model]\nwidth = 64\n".parse().unwrap();
    /// let e = saved.apply_on_resume(&other, "flags").unwrap_err();
    /// assert!(e.message.contains("model.width"));
    /// ```
    ///
    /// # Errors
    /// A key that contradicts the saved configuration (naming it, with both values), an
    /// unknown key, or a result that fails [`validate`](Self::validate).
    pub fn apply_on_resume(
        &mut self,
        overrides: &toml::Table,
        source: &str,
    ) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError {
            source: source.to_string(),
            message,
        };
        let original = toml::Table::try_from(&*self).expect("a TrainConfig always serialises");
        let mut saved = original.clone();
        // A key repeats the saved value when setting it alone changes nothing once parsed:
        // aliases (`ns`), an integer for a float, a decimal that rounds to the same f32.
        let repeats_saved = |key: &str, value: &toml::Value| {
            let mut probe = original.clone();
            match lookup_mut(&mut probe, key) {
                Some(slot) => *slot = value.clone(),
                None => return false,
            }
            probe.try_into::<TrainConfig>().is_ok_and(|c| c == *self)
        };
        let mut leaves = vec![];
        flatten("", overrides, &mut leaves);
        for (key, value) in leaves {
            let may_change = RESUME_MAY_CHANGE
                .iter()
                .any(|k| key == *k || k.strip_suffix('*').is_some_and(|p| key.starts_with(p)));
            let slot =
                lookup_mut(&mut saved, &key).ok_or_else(|| err(format!("unknown key {key}")))?;
            if may_change {
                *slot = value.clone();
            } else if !repeats_saved(&key, value) {
                return Err(err(format!(
                    "{key} = {value} contradicts the checkpoint's {key} = {slot}: a resumed \
                     run keeps its configuration (only {} may change); start a new run in \
                     another --out to change it",
                    RESUME_MAY_CHANGE.join(", ")
                )));
            }
        }
        let cfg: TrainConfig = saved
            .try_into()
            .map_err(|e: toml::de::Error| err(e.to_string().trim_end().to_string()))?;
        cfg.validate(source)?;
        *self = cfg;
        Ok(())
    }

    /// Checks values that parse but cannot work, naming the key.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self, source: &str) -> Result<(), ConfigError> {
        let err = |message: String| {
            Err(ConfigError {
                source: source.to_string(),
                message,
            })
        };
        if self.batch_size == 0 {
            return err("batch_size must be at least 1".into());
        }
        if self.model.pack == 0 || !self.batch_size.is_multiple_of(self.model.pack) {
            return err(format!(
                "model.pack = {} must divide batch_size = {}",
                self.model.pack, self.batch_size
            ));
        }
        if !(0.0..1.0).contains(&self.optim.ema_decay) {
            return err(format!(
                "optim.ema_decay = {} must be in [0, 1) (0 turns EMA off)",
                self.optim.ema_decay
            ));
        }
        for (key, v) in [("optim.lr_g", self.lr_g()), ("optim.lr_d", self.lr_d())] {
            if !(v.is_finite() && v > 0.0) {
                return err(format!("{key} = {v} must be a positive number"));
            }
        }
        for (key, v) in [
            ("optim.beta1", self.optim.beta1),
            ("optim.beta2", self.optim.beta2),
        ] {
            if !(0.0..1.0).contains(&v) {
                return err(format!("{key} = {v} must be in [0, 1)"));
            }
        }
        for (key, v) in [
            ("loss.gp_weight", self.loss.gp_weight),
            ("loss.r1_gamma", self.loss.r1_gamma),
            ("loss.aux_weight", self.loss.aux_weight),
            ("loss.weight_clip", self.loss.weight_clip),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return err(format!(
                    "{key} = {v} must be a finite number >= 0 (0 turns it off)"
                ));
            }
        }
        if self.steps == 0 {
            return err("steps = 0: a run needs at least 1 step".into());
        }
        if self.batch_size > MAX_BATCH_SIZE {
            return err(format!(
                "batch_size = {} is above the {MAX_BATCH_SIZE} Agon accepts",
                self.batch_size
            ));
        }
        if self.data.per_class > 0 && self.data.limit > 0 && !self.task.is_image_to_image() {
            return err(format!(
                "data.per_class = {} and data.limit = {} both choose the training images; set \
                 one of them (the other to 0)",
                self.data.per_class, self.data.limit
            ));
        }
        if self.data.limit > 0 && self.data.limit < self.batch_size {
            return err(format!(
                "data.limit = {} keeps fewer samples than one batch (batch_size = {}); use \
                 0 (all) or at least the batch size",
                self.data.limit, self.batch_size
            ));
        }
        if !(1..=MAX_GRID_SAMPLES).contains(&self.log.samples) {
            return err(format!(
                "log.samples = {} must be in 1..={MAX_GRID_SAMPLES} (the sample grid)",
                self.log.samples
            ));
        }
        if !(MIN_EVAL_SAMPLES..=MAX_EVAL_SAMPLES).contains(&self.log.eval_samples) {
            return err(format!(
                "log.eval_samples = {} must be in {MIN_EVAL_SAMPLES}..={MAX_EVAL_SAMPLES} \
                 (the scores' nearest-neighbour statistics need more samples than neighbours)",
                self.log.eval_samples
            ));
        }
        if self.optim.n_critic == 0 || self.loss.r1_every == 0 {
            return err("optim.n_critic and loss.r1_every must be at least 1".into());
        }
        if self.optim.n_critic > MAX_N_CRITIC {
            return err(format!(
                "optim.n_critic = {} must be at most {MAX_N_CRITIC} (WGAN-GP uses 5): every \
                 step runs that many discriminator updates",
                self.optim.n_critic
            ));
        }
        if ![0, 1, 3].contains(&self.data.channels) {
            return err(format!(
                "data.channels = {} must be 1 (gray), 3 (RGB) or 0 (from the first image)",
                self.data.channels
            ));
        }
        if self.data.image_size > 4096 {
            return err(format!(
                "data.image_size = {} is larger than the 4096 pixels Agon accepts",
                self.data.image_size
            ));
        }
        if self.model.width == 0 || self.model.latent_dim == 0 || self.model.mlp_hidden == 0 {
            return err(
                "model.width, model.latent_dim and model.mlp_hidden must be at least 1".into(),
            );
        }
        if self.log.every == 0 || self.log.sample_every == 0 || self.log.checkpoint_every == 0 {
            return err(
                "log.every, log.sample_every and log.checkpoint_every must be at least 1".into(),
            );
        }
        if let Err(message) = crate::tasks::check_domain_folders(self) {
            return err(message);
        }
        if self.task.is_image_to_image() {
            self.validate_image_to_image(source)?;
        }
        Ok(())
    }

    /// The checks of an image-to-image task's configuration.
    fn validate_image_to_image(&self, source: &str) -> Result<(), ConfigError> {
        let err = |message: String| {
            Err(ConfigError {
                source: source.to_string(),
                message,
            })
        };
        let t = &self.translate;
        let task = self.task;
        for (key, v) in [
            ("translate.adv_weight", t.adv_weight),
            ("translate.l1_weight", t.l1_weight),
            ("translate.perceptual_weight", t.perceptual_weight),
            ("translate.cycle_weight", t.cycle_weight),
            ("translate.identity_weight", t.identity_weight),
        ] {
            if !(v.is_finite() && (0.0..=1e6).contains(&v)) {
                return err(format!(
                    "{key} = {v} must be a number in [0, 1e6] (0 turns the term off)"
                ));
            }
        }
        if task == TaskKind::Cyclegan {
            if t.adv_weight == 0.0 {
                return err(
                    "translate.adv_weight = 0: without its adversarial terms cyclegan has \
                     nothing that pulls the outputs towards the other domain"
                        .into(),
                );
            }
            if t.pool_size > 1000 {
                return err(format!(
                    "translate.pool_size = {} must be at most 1000",
                    t.pool_size
                ));
            }
        } else if t.adv_weight == 0.0 && t.l1_weight == 0.0 && t.perceptual_weight == 0.0 {
            return err(
                "translate.adv_weight, l1_weight and perceptual_weight are all 0: the \
                 generator would learn nothing"
                    .into(),
            );
        }
        if ![2, 4, 8].contains(&t.scale) {
            return err(format!("translate.scale = {} must be 2, 4 or 8", t.scale));
        }
        if !(2..=8).contains(&t.unet_depth) {
            return err(format!(
                "translate.unet_depth = {} must be in 2..=8",
                t.unet_depth
            ));
        }
        if t.blocks > 32 {
            return err(format!(
                "translate.blocks = {} must be at most 32",
                t.blocks
            ));
        }
        if !(1..=5).contains(&t.d_layers) {
            return err(format!(
                "translate.d_layers = {} must be in 1..=5",
                t.d_layers
            ));
        }
        if self.model.width > 512 {
            return err(format!(
                "model.width = {} must be at most 512 for task = \"{task}\"",
                self.model.width
            ));
        }
        // What the generation tasks offer and these do not (yet): refused, not ignored.
        let unsupported = [
            ("model.conditional", self.model.conditional),
            ("model.aux_classifier", self.model.aux_classifier),
            ("model.spectral_norm", self.model.spectral_norm),
            ("model.pack (other than 1)", self.model.pack != 1),
            ("loss.gp_weight", self.loss.gp_weight != 0.0),
            ("loss.r1_gamma", self.loss.r1_gamma != 0.0),
            ("optim.ema_decay", self.optim.ema_decay != 0.0),
            ("data.augment", !self.data.augment.is_empty()),
            ("data.per_class", self.data.per_class != 0),
            ("log.eval_every", self.log.eval_every != 0),
        ];
        if let Some((key, _)) = unsupported.iter().find(|u| u.1) {
            return err(format!(
                "{key} is not available for task = \"{task}\" (generation tasks only); \
                 remove it{}",
                if key.starts_with("log.eval") {
                    " and score the run with `agon eval --checkpoint`"
                } else {
                    ""
                }
            ));
        }
        Ok(())
    }
}
