//! One trainer for any generator, discriminator, loss and penalty.
//!
//! Every random choice derives from the configuration's `seed`: weights from the seed,
//! each step's noise and augmentation from `(seed, step)`, batches from the batcher's
//! seeded order, dropout masks from `(seed, calls)`. So the whole random state is the step
//! count, the batcher position and the dropout counters, all saved in the checkpoint:
//! training 2N steps in one go or N steps, stop, resume, N more gives the same bits.
//!
//! ```no_run
//! use agon_gan::trainer::{TrainConfig, Trainer};
//! let mut cfg = TrainConfig::default();
//! cfg.steps = 100;
//! let mut trainer = Trainer::new(cfg).unwrap();
//! while !trainer.finished() {
//!     let stats = trainer.train_step().unwrap();
//!     println!("step {} d {} g {}", stats.step, stats.d_loss, stats.g_loss);
//! }
//! trainer.save_checkpoint().unwrap();
//! ```

mod config;
mod data;
mod models;
mod plot;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use agon_autodiff::{no_grad, Tensor};
use agon_data::{Batcher, BatcherState, DiffAugment};
use agon_nn::checkpoint::{Checkpoint, CheckpointError};
use agon_nn::optim::{Adam, AdamConfig, Optimizer};
use agon_nn::Module;
use agon_tensor::{Indices, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;

pub use config::{
    ConfigError, DataConfig, LogConfig, LossConfig, ModelConfig, OptimConfig, TrainConfig,
};
pub use data::load_dataset;
pub use models::build_models;
pub use plot::save_loss_curve;

use crate::{ema_update, gradient_penalty, r1_penalty, Discriminator, GanLoss, Generator};

/// The checkpoint file inside the output directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// Why training stopped with an error.
#[derive(Debug)]
pub enum TrainError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The dataset could not be loaded.
    Data(agon_data::DataError),
    /// A checkpoint could not be written or read.
    Checkpoint(CheckpointError),
    /// A file in the output directory could not be written.
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
    /// A loss became NaN or infinite; the last good checkpoint is kept.
    NonFinite {
        /// The step at which it happened (1-based).
        step: u64,
        /// Which quantity.
        what: &'static str,
        /// Its value.
        value: f32,
    },
    /// The checkpoint does not fit this configuration or is missing trainer state.
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Config(e) => write!(f, "configuration error: {e}"),
            TrainError::Data(e) => write!(f, "data error: {e}"),
            TrainError::Checkpoint(e) => write!(f, "checkpoint error: {e}"),
            TrainError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            TrainError::NonFinite { step, what, value } => write!(
                f,
                "training diverged at step {step}: {what} = {value}; stopped without \
                 overwriting the last good checkpoint (try a lower learning rate or a \
                 gradient penalty)"
            ),
            TrainError::BadCheckpoint { path, message } => {
                write!(f, "{}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for TrainError {}

impl From<ConfigError> for TrainError {
    fn from(e: ConfigError) -> Self {
        TrainError::Config(e)
    }
}
impl From<agon_data::DataError> for TrainError {
    fn from(e: agon_data::DataError) -> Self {
        TrainError::Data(e)
    }
}
impl From<CheckpointError> for TrainError {
    fn from(e: CheckpointError) -> Self {
        TrainError::Checkpoint(e)
    }
}

/// What one step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Steps completed, including this one.
    pub step: u64,
    /// Discriminator loss (last D update of the step, penalties included).
    pub d_loss: f32,
    /// Generator loss.
    pub g_loss: f32,
    /// Mean D output on real data: a probability for BCE-type losses, the raw critic value
    /// for Wasserstein and hinge.
    pub d_real: f32,
    /// Mean D output on generated data, likewise.
    pub d_fake: f32,
    /// The gradient penalty or R1 term added to the D loss (0 when off).
    pub penalty: f32,
}

/// A GAN being trained: models, optimisers, data and position.
pub struct Trainer {
    config: TrainConfig,
    g: Box<dyn Generator>,
    d: Box<dyn Discriminator>,
    ema: Option<Box<dyn Generator>>,
    opt_g: Adam,
    opt_d: Adam,
    batcher: Batcher,
    loss: GanLoss,
    augment: DiffAugment,
    probabilities: bool,
    step: u64,
    fixed_z: NdArray,
    fixed_labels: Option<Indices>,
    history: Vec<StepStats>,
}

/// `seed` and `stream` mixed into one well-spread seed (splitmix64's finaliser).
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn adam(params: Vec<(String, agon_nn::Param)>, lr: f32, o: &OptimConfig) -> Adam {
    Adam::new(params, AdamConfig::default().lr(lr).betas(o.beta1, o.beta2))
}

fn mean(t: &Tensor) -> f32 {
    t.data().mean_all().item()
}

impl Trainer {
    /// A fresh run: loads the data and builds the models from `config`.
    ///
    /// # Errors
    /// Invalid configuration or unreadable data.
    pub fn new(config: TrainConfig) -> Result<Self, TrainError> {
        config.validate("configuration")?;
        let ds = load_dataset(&config.data.name, config.data.limit, config.seed)?;
        let (g, d, ema) = build_models(&config, ds.image_shape(), ds.num_classes(), config.seed)?;
        let loss: GanLoss = config
            .loss
            .kind
            .parse()
            .map_err(|e: crate::ParseGanLossError| ConfigError {
                source: "configuration".into(),
                message: format!("loss.kind: {e}"),
            })?;
        let augment: DiffAugment = config.data.augment.parse().map_err(|e| ConfigError {
            source: "configuration".into(),
            message: format!("data.augment: {e}"),
        })?;
        let opt_g = adam(g.named_parameters(), config.optim.lr_g, &config.optim);
        let opt_d = adam(d.named_parameters(), config.optim.lr_d, &config.optim);
        let batcher = Batcher::new(ds, config.batch_size, mix(config.seed, 1)).drop_last(true);
        let mut rng = StdRng::seed_from_u64(mix(config.seed, 2));
        let n = config.log.samples;
        let fixed_z = NdArray::rand_normal(&[n, g.latent_dim()], 0.0, 1.0, &mut rng);
        // Conditional models: rows of the sample grid cycle through the classes.
        let fixed_labels = g
            .num_classes()
            .map(|k| Indices::from_vec((0..n).map(|i| i % k).collect(), &[n]));
        let probabilities = !matches!(loss, GanLoss::Wasserstein | GanLoss::Hinge);
        Ok(Trainer {
            config,
            g,
            d,
            ema,
            opt_g,
            opt_d,
            batcher,
            loss,
            augment,
            probabilities,
            step: 0,
            fixed_z,
            fixed_labels,
            history: vec![],
        })
    }

    /// Continues the run whose checkpoint is in `out_dir`, with `steps` as the new total
    /// (`None` keeps the saved one).
    ///
    /// # Errors
    /// A missing or damaged checkpoint, or one that does not match its own configuration.
    pub fn resume(out_dir: &Path, steps: Option<u64>) -> Result<Self, TrainError> {
        let path = out_dir.join(CHECKPOINT_FILE);
        let ckpt = Checkpoint::read(&path)?;
        let bad = |message: String| TrainError::BadCheckpoint {
            path: path.clone(),
            message,
        };
        let meta = ckpt.metadata();
        let text = meta
            .get("agon.config")
            .ok_or_else(|| bad("no agon.config entry: not a training checkpoint".into()))?;
        let mut config =
            TrainConfig::from_toml_str(text, &format!("{} (agon.config)", path.display()))?;
        config.out_dir = out_dir.to_path_buf();
        if let Some(s) = steps {
            config.steps = s;
        }
        let mut t = Trainer::new(config)?;
        let number = |key: &str| -> Result<u64, TrainError> {
            meta.get(key)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(format!("missing or malformed {key}")))
        };
        t.step = number("agon.step")?;
        t.batcher
            .restore(BatcherState {
                seed: number("agon.batcher.seed")?,
                epoch: number("agon.batcher.epoch")?,
                position: number("agon.batcher.position")? as usize,
            })
            .map_err(|e| bad(format!("batcher state: {e}")))?;
        ckpt.load_module_into("g", t.g.as_ref())?;
        ckpt.load_module_into("d", t.d.as_ref())?;
        if let Some(e) = &t.ema {
            ckpt.load_module_into("ema", e.as_ref())?;
        }
        ckpt.load_optimizer_into("opt_g", &mut t.opt_g)?;
        ckpt.load_optimizer_into("opt_d", &mut t.opt_d)?;
        for (prefix, module) in [("g", t.g.as_ref() as &dyn Module), ("d", t.d.as_ref())] {
            let states =
                parse_rng_states(meta.get(&format!("agon.rng.{prefix}")).map_or("", |s| s));
            module.load_rng_states(&states);
        }
        t.history = read_log(&out_dir.join("log.csv"), t.step);
        Ok(t)
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Steps completed.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// True once `config.steps` steps are done.
    pub fn finished(&self) -> bool {
        self.step >= self.config.steps
    }

    /// The generator being trained.
    pub fn generator(&self) -> &dyn Generator {
        self.g.as_ref()
    }

    /// The generator used for samples: the EMA copy when enabled.
    pub fn sampling_generator(&self) -> &dyn Generator {
        self.ema.as_deref().unwrap_or(self.g.as_ref())
    }

    /// The discriminator.
    pub fn discriminator(&self) -> &dyn Discriminator {
        self.d.as_ref()
    }

    /// Every step's statistics so far (from the log when resumed).
    pub fn history(&self) -> &[StepStats] {
        &self.history
    }

    fn noise(&self, n: usize, rng: &mut StdRng) -> Tensor {
        Tensor::constant(NdArray::rand_normal(
            &[n, self.g.latent_dim()],
            0.0,
            1.0,
            rng,
        ))
    }

    /// DiffAugment when configured (image data only), else the batch itself.
    fn augmented(&self, x: &Tensor, rng: &mut StdRng) -> Tensor {
        if self.augment.is_none() {
            x.clone()
        } else {
            self.augment.apply(x, rng)
        }
    }

    fn check(&self, what: &'static str, value: f32) -> Result<f32, TrainError> {
        if value.is_finite() {
            Ok(value)
        } else {
            Err(TrainError::NonFinite {
                step: self.step + 1,
                what,
                value,
            })
        }
    }

    /// One step: `n_critic` discriminator updates, then one generator update (and the EMA).
    ///
    /// # Errors
    /// [`TrainError::NonFinite`] when a loss is NaN or infinite. The step is abandoned
    /// part-way (D may already have been updated), so stop and resume from the last
    /// checkpoint, which is never written after a non-finite loss.
    pub fn train_step(&mut self) -> Result<StepStats, TrainError> {
        let mut rng = StdRng::seed_from_u64(mix(self.config.seed, 1000 + self.step));
        let cfg = &self.config;
        let (mut d_loss_v, mut d_real_v, mut d_fake_v, mut penalty_v) = (0.0, 0.0, 0.0, 0.0);
        for critic_step in 0..cfg.optim.n_critic {
            let (real, labels) = self.batcher.next_batch();
            let labels = labels
                .filter(|_| self.g.num_classes().is_some() || self.d.num_classes().is_some())
                .map(|l| Indices::from_vec(l.clone(), &[l.len()]));
            let real = Tensor::constant(real);
            let n = real.shape()[0];
            let z = self.noise(n, &mut rng);
            let fake = no_grad(|| self.g.generate(&z, labels.as_ref()));
            let real_aug = self.augmented(&real, &mut rng);
            let fake_aug = self.augmented(&fake, &mut rng);
            let on_real = self.d.judge(&real_aug, labels.as_ref());
            let on_fake = self.d.judge(&fake_aug, labels.as_ref());
            let mut d_loss = self.loss.d_loss(&on_real.logits, &on_fake.logits);
            if let (Some(cl), Some(l)) = (&on_real.class_logits, &labels) {
                d_loss = d_loss.add(&crate::aux_class_loss(cl, l).mul_scalar(cfg.loss.aux_weight));
            }
            let mut penalty = None;
            if cfg.loss.gp_weight > 0.0 {
                let gp = gradient_penalty(self.d.as_ref(), &real, &fake, labels.as_ref(), &mut rng);
                penalty = Some(gp.mul_scalar(cfg.loss.gp_weight));
            }
            let d_updates = self.step * cfg.optim.n_critic + critic_step;
            if cfg.loss.r1_gamma > 0.0 && d_updates.is_multiple_of(cfg.loss.r1_every) {
                // Lazy R1 (StyleGAN2): every k-th D step, weighted by k.
                let r1 = r1_penalty(self.d.as_ref(), &real, labels.as_ref());
                let w = cfg.loss.r1_gamma / 2.0 * cfg.loss.r1_every as f32;
                penalty = Some(r1.mul_scalar(w));
            }
            if let Some(p) = &penalty {
                d_loss = d_loss.add(p);
            }
            d_loss_v = self.check("d_loss", d_loss.item())?;
            penalty_v = penalty.as_ref().map_or(0.0, |p| p.item());
            let squash = |t: &Tensor| {
                if self.probabilities {
                    mean(&t.detach().sigmoid())
                } else {
                    mean(t)
                }
            };
            d_real_v = squash(&on_real.logits);
            d_fake_v = squash(&on_fake.logits);
            self.opt_d.step_grads(&self.d.parameter_grads(&d_loss));
        }

        let labels = self.g.num_classes().map(|k| {
            let l: Vec<usize> = (0..cfg.batch_size)
                .map(|i| (i + self.step as usize) % k)
                .collect();
            Indices::from_vec(l, &[cfg.batch_size])
        });
        let z = self.noise(cfg.batch_size, &mut rng);
        let fake = self.g.generate(&z, labels.as_ref());
        let judged = self
            .d
            .judge(&self.augmented(&fake, &mut rng), labels.as_ref());
        let mut g_loss = self.loss.g_loss(&judged.logits);
        if let (Some(cl), Some(l)) = (&judged.class_logits, &labels) {
            g_loss = g_loss.add(&crate::aux_class_loss(cl, l).mul_scalar(cfg.loss.aux_weight));
        }
        let g_loss_v = self.check("g_loss", g_loss.item())?;
        self.opt_g.step_grads(&self.g.parameter_grads(&g_loss));
        if let Some(e) = &self.ema {
            ema_update(e.as_ref(), self.g.as_ref(), cfg.optim.ema_decay);
        }
        self.step += 1;
        let stats = StepStats {
            step: self.step,
            d_loss: d_loss_v,
            g_loss: g_loss_v,
            d_real: d_real_v,
            d_fake: d_fake_v,
            penalty: penalty_v,
        };
        self.history.push(stats);
        Ok(stats)
    }

    /// `n` samples from the sampling generator (EMA when enabled) in eval mode, with class
    /// `class` for conditional models (cycling through classes when `None`).
    pub fn sample(&self, z: &NdArray, labels: Option<&Indices>) -> NdArray {
        sample_from(self.sampling_generator(), z, labels)
    }

    /// Writes the grid of the fixed latent batch to `samples/step_NNNNNN.png` and
    /// `samples.png`; returns the latter's path.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn save_samples(&self) -> Result<PathBuf, TrainError> {
        let images = self.sample(&self.fixed_z, self.fixed_labels.as_ref());
        let dir = self.config.out_dir.join("samples");
        std::fs::create_dir_all(&dir).map_err(|source| TrainError::Io {
            path: dir.clone(),
            source,
        })?;
        let nrow = self
            .g
            .num_classes()
            .unwrap_or_else(|| (images.shape()[0] as f64).sqrt().ceil() as usize);
        if images.ndim() == 4 {
            agon_data::save_grid(
                &images,
                nrow,
                2,
                &dir.join(format!("step_{:06}.png", self.step)),
            )?;
            agon_data::save_grid(&images, nrow, 2, &self.config.out_dir.join("samples.png"))?;
        }
        Ok(self.config.out_dir.join("samples.png"))
    }

    /// Writes everything needed to resume, atomically, to `checkpoint.safetensors`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save_checkpoint(&self) -> Result<PathBuf, TrainError> {
        let dir = &self.config.out_dir;
        std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut ckpt = Checkpoint::new();
        ckpt.add_module("g", self.g.as_ref())
            .add_module("d", self.d.as_ref());
        if let Some(e) = &self.ema {
            ckpt.add_module("ema", e.as_ref());
        }
        ckpt.add_optimizer("opt_g", &self.opt_g)
            .add_optimizer("opt_d", &self.opt_d);
        let b = self.batcher.state();
        ckpt.set_metadata("agon.config", &self.config.to_toml())
            .set_metadata("agon.step", &self.step.to_string())
            .set_metadata("agon.batcher.seed", &b.seed.to_string())
            .set_metadata("agon.batcher.epoch", &b.epoch.to_string())
            .set_metadata("agon.batcher.position", &b.position.to_string())
            .set_metadata("agon.rng.g", &format_rng_states(&self.g.named_rng_states()))
            .set_metadata("agon.rng.d", &format_rng_states(&self.d.named_rng_states()))
            .set_metadata(
                "agon.data.shape",
                &join(self.batcher.dataset().image_shape()),
            )
            .set_metadata(
                "agon.data.classes",
                &self
                    .batcher
                    .dataset()
                    .num_classes()
                    .map_or(String::new(), |k| k.to_string()),
            );
        let path = dir.join(CHECKPOINT_FILE);
        ckpt.save(&path)?;
        Ok(path)
    }

    /// Appends `stats` to `log.csv` (writing the header first for a new file).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn append_log(&self, stats: &StepStats) -> Result<(), TrainError> {
        let path = self.config.out_dir.join("log.csv");
        let io = |source| TrainError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.config.out_dir).map_err(io)?;
        let new = !path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        if new {
            writeln!(f, "step,d_loss,g_loss,d_real,d_fake,penalty").map_err(io)?;
        }
        writeln!(
            f,
            "{},{},{},{},{},{}",
            stats.step, stats.d_loss, stats.g_loss, stats.d_real, stats.d_fake, stats.penalty
        )
        .map_err(io)
    }

    /// Draws the loss history to `losses.png`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save_loss_curve(&self) -> Result<(), TrainError> {
        let steps: Vec<u64> = self.history.iter().map(|s| s.step).collect();
        let d: Vec<f32> = self.history.iter().map(|s| s.d_loss).collect();
        let g: Vec<f32> = self.history.iter().map(|s| s.g_loss).collect();
        save_loss_curve(&steps, &d, &g, &self.config.out_dir.join("losses.png"))?;
        Ok(())
    }

    /// Rewrites `log.csv` and `eval.csv` to hold only rows up to the current step (after a
    /// resume, rows from beyond the checkpoint belong to the interrupted continuation).
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn truncate_log(&self) -> Result<(), TrainError> {
        for file in ["log.csv", "eval.csv"] {
            let path = self.config.out_dir.join(file);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| {
                    l.split(',')
                        .next()
                        .and_then(|s| s.parse::<u64>().ok())
                        .is_none_or(|s| s <= self.step)
                })
                .collect();
            agon_data::write_atomic(&path, (kept.join("\n") + "\n").as_bytes())?;
        }
        Ok(())
    }
}

fn join(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A trained generator read back from a checkpoint (its EMA weights when the run kept
/// them), with the run's configuration.
///
/// # Errors
/// A missing, damaged or non-training checkpoint.
pub fn load_generator(path: &Path) -> Result<(Box<dyn Generator>, TrainConfig), TrainError> {
    let ckpt = Checkpoint::read(path)?;
    let bad = |message: String| TrainError::BadCheckpoint {
        path: path.to_path_buf(),
        message,
    };
    let meta = ckpt.metadata();
    let text = meta
        .get("agon.config")
        .ok_or_else(|| bad("no agon.config entry: not a training checkpoint".into()))?;
    let config = TrainConfig::from_toml_str(text, &format!("{} (agon.config)", path.display()))?;
    let shape: Vec<usize> = meta
        .get("agon.data.shape")
        .ok_or_else(|| bad("missing agon.data.shape".into()))?
        .split(',')
        .map(|d| {
            d.parse()
                .map_err(|_| bad("malformed agon.data.shape".into()))
        })
        .collect::<Result<_, _>>()?;
    let classes = meta.get("agon.data.classes").and_then(|k| k.parse().ok());
    let (g, _, ema) = build_models(&config, &shape, classes, config.seed)?;
    match ema {
        Some(e) if ckpt.names().iter().any(|n| n.starts_with("ema.")) => {
            ckpt.load_module_into("ema", e.as_ref())?;
            Ok((e, config))
        }
        _ => {
            ckpt.load_module_into("g", g.as_ref())?;
            Ok((g, config))
        }
    }
}

/// Samples from `g` in eval mode (restoring train mode after).
pub fn sample_from(g: &dyn Generator, z: &NdArray, labels: Option<&Indices>) -> NdArray {
    g.eval();
    let x = no_grad(|| g.generate(&Tensor::constant(z.clone()), labels))
        .data()
        .clone();
    g.train();
    x
}

/// `name=seed:calls;...` (names have no `=`, `:` or `;`: they are dotted module paths).
fn format_rng_states(states: &[(String, (u64, u64))]) -> String {
    states
        .iter()
        .map(|(n, (s, c))| format!("{n}={s}:{c}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn parse_rng_states(text: &str) -> Vec<(String, (u64, u64))> {
    text.split(';')
        .filter_map(|item| {
            let (name, rest) = item.split_once('=')?;
            let (s, c) = rest.split_once(':')?;
            Some((name.to_string(), (s.parse().ok()?, c.parse().ok()?)))
        })
        .collect()
}

/// The statistics logged up to `step`, from `log.csv` (rows beyond it are ignored).
fn read_log(path: &Path, step: u64) -> Vec<StepStats> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![];
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            let f = |i: usize| v.get(i)?.parse::<f32>().ok();
            Some(StepStats {
                step: v.first()?.parse().ok()?,
                d_loss: f(1)?,
                g_loss: f(2)?,
                d_real: f(3)?,
                d_fake: f(4)?,
                penalty: f(5)?,
            })
        })
        .filter(|s| s.step <= step)
        .collect()
}
