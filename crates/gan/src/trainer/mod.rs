//! One trainer for any generator, discriminator, loss and penalty.
//!
//! Every random choice derives from the configuration's `seed`: weights from the seed,
//! each step's noise and augmentation from `(seed, step)`, batches from the batcher's
//! seeded order, dropout masks from `(seed, calls)`. So the whole random state is the step
//! count, the batcher position and the dropout counters, all saved in the checkpoint:
//! training 2N steps in one go or N steps, stop, resume, N more gives the same bits.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Trainer`]: the models, optimisers, data and one [`train_step`](Trainer::train_step) |
//! | `run_loop.rs` | [`run`]: the cadence of logs, grids, checkpoints and scores; [`start_run`], [`resume_run`] |
//! | `checkpoint.rs` | the checkpoint schema: [`save_checkpoint`](Trainer::save_checkpoint), [`Trainer::resume_with`], [`load_generator`] |
//! | `logs.rs` | `log.csv`, `losses.png`, trimming logs on resume |
//! | `periodic_eval.rs` | [`PeriodicEval`]: `eval.csv` during training |
//! | `config.rs`, `data.rs`, `models.rs`, `plot.rs` | configuration, datasets, model construction, the loss plot |
//!
//! [`run`] is what `agon train` runs. Driving the trainer by hand:
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

mod checkpoint;
mod config;
mod data;
mod logs;
mod models;
mod periodic_eval;
mod plot;
mod run_loop;

use std::fmt;
use std::path::PathBuf;

use agon_autodiff::{no_grad, Tensor};
use agon_data::{Batcher, DiffAugment};
use agon_nn::checkpoint::CheckpointError;
use agon_nn::optim::{Adam, AdamConfig, Optimizer};
use agon_tensor::{Indices, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;

pub use checkpoint::{export_network, load_generator, load_networks, NETWORK_NAMES};
pub use config::{
    ConfigError, DataConfig, LogConfig, LossConfig, ModelConfig, OptimConfig, TrainConfig,
};
pub use data::{load_dataset, LoadedData};
use logs::read_log;
pub use models::{build_models, Models};
pub use periodic_eval::{dataset_identity, matching_classifier, mixture_of, PeriodicEval};
pub use plot::save_loss_curve;
pub use run_loop::{resume_run, run, start_run, Progress, RunOutcome, RunReport};

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
    /// Periodic evaluation could not be prepared (no feature classifier for the data).
    Evaluation {
        /// What is missing and how to make it.
        message: String,
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
            TrainError::Evaluation { message } => write!(f, "evaluation: {message}"),
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
    data_notes: Vec<String>,
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
        let LoadedData {
            dataset: ds,
            notes: data_notes,
        } = load_dataset(&config.data, config.seed)?;
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
            data_notes,
        })
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

    /// What loading the data did that the user should hear of once (images resized or
    /// converted to the configured shape).
    pub fn data_notes(&self) -> &[String] {
        &self.data_notes
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
