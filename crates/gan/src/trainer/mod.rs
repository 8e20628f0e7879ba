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
mod config_kinds;
mod data;
mod logs;
mod models;
mod periodic_eval;
mod plot;
mod run_loop;

use std::fmt;
use std::path::PathBuf;

use agon_autodiff::{no_grad, Tensor};
use agon_data::Batcher;
use agon_nn::checkpoint::CheckpointError;
use agon_nn::optim::LrSchedule;
use agon_tensor::{Indices, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;

pub use checkpoint::{export_network, load_generator, load_networks, load_task};
pub use config::{
    task_presets, ConfigError, DataConfig, LogConfig, LossConfig, ModelConfig, OptimConfig,
    TrainConfig, TranslateConfig, MAX_BATCH_SIZE, MAX_EVAL_SAMPLES, MAX_GRID_SAMPLES, MAX_N_CRITIC,
    MIN_EVAL_SAMPLES, RESUME_MAY_CHANGE,
};
pub use config_kinds::{parse_choice, ConfigChoice, HoleChoice, ModelKind, TaskKind};
pub use data::{held_out_samples, load_dataset, train_test_split, LoadedData, TrainTestSplit};
use logs::read_log;
pub use models::{build_models, model_weight_count, Models, MAX_MODEL_WEIGHTS};
pub use periodic_eval::{dataset_identity, matching_classifier, mixture_of, PeriodicEval};
pub use plot::{save_eval_curves, save_figure, save_loss_curve, Panel, Series};
pub use run_loop::{resume_run, run, start_run, Progress, RunOutcome, RunReport};

use crate::tasks::{build_task, StepContext, Task};
use crate::{Discriminator, Generator};

/// The checkpoint file inside the output directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// Everything a run writes in its output directory (`samples` is a folder).
pub const RUN_FILES: [&str; 9] = [
    CHECKPOINT_FILE,
    "config.toml",
    "log.csv",
    "eval.csv",
    "eval.png",
    "losses.png",
    "samples.png",
    "scores.json",
    "samples",
];

/// Where a fresh run moves an earlier run's files (`<out>/earlier-runs/<k>/`).
pub const EARLIER_RUNS_DIR: &str = "earlier-runs";

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
    /// A loss became NaN, infinite or larger than
    /// [`DIVERGED_LOSS`](crate::tasks::DIVERGED_LOSS); the last good checkpoint is kept.
    NonFinite {
        /// The step at which it happened (1-based).
        step: u64,
        /// Which quantity.
        what: &'static str,
        /// Its value.
        value: f32,
    },
    /// A network's weights or an optimiser's state hold NaN or infinite values (found
    /// before anything is written, so the last good checkpoint and grid are kept).
    NonFiniteState {
        /// Steps completed.
        step: u64,
        /// The first such tensor, by its checkpoint name (`opt_d.exp_avg_sq.3`).
        tensor: String,
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
            TrainError::NonFiniteState { step, tensor } => write!(
                f,
                "training diverged by step {step}: {tensor} holds NaN or infinite values; \
                 stopped without overwriting the last good checkpoint or samples (try a \
                 lower learning rate or a gradient penalty)"
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

/// A GAN being trained: its task (networks, optimisers, losses), data and position.
pub struct Trainer {
    config: TrainConfig,
    task: Box<dyn Task>,
    batcher: Batcher,
    step: u64,
    history: Vec<StepStats>,
    notes: Vec<String>,
    /// Each optimiser's configured learning rate, which `optim.lr_decay_steps` scales.
    base_lrs: Vec<f32>,
}

/// `seed` and `stream` mixed into one well-spread seed (splitmix64's finaliser).
pub(crate) fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Trainer {
    /// A fresh run: loads the data and builds the models from `config`.
    ///
    /// # Errors
    /// Invalid configuration or unreadable data.
    pub fn new(mut config: TrainConfig) -> Result<Self, TrainError> {
        config.validate("configuration")?;
        config.resolve_task();
        let LoadedData {
            dataset: ds,
            mut notes,
        } = data::load_run_data(&config)?;
        let ds = if config.task == TaskKind::Cyclegan {
            notes.push(crate::tasks::resolve_domains(&mut config, &ds)?);
            crate::tasks::select_domains(&config, &ds)?
        } else {
            ds
        };
        if ds.len() < config.batch_size {
            return Err(TrainError::Config(ConfigError {
                source: "configuration".into(),
                message: format!(
                    "batch_size = {} is larger than the dataset {} ({} samples{}); lower \
                     batch_size or add data",
                    config.batch_size,
                    config.data.name,
                    ds.len(),
                    if config.data.limit > 0 {
                        ", after data.limit"
                    } else if config.data.per_class > 0 {
                        ", after data.per_class"
                    } else {
                        ""
                    }
                ),
            }));
        }
        let mut task = build_task(&config, ds.image_shape(), ds.num_classes())?;
        task.prepare_training(&config, &ds)?;
        let batcher = Batcher::new(ds, config.batch_size, mix(config.seed, 1)).drop_last(true);
        let base_lrs = task.optimizers().iter().map(|(_, o)| o.lr()).collect();
        Ok(Trainer {
            config,
            task,
            batcher,
            step: 0,
            history: vec![],
            notes,
            base_lrs,
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

    /// The task being trained.
    pub fn task(&self) -> &dyn Task {
        self.task.as_ref()
    }

    /// The noise-to-sample generator being trained (`None` for image-to-image tasks).
    pub fn generator(&self) -> Option<&dyn Generator> {
        self.task.generator()
    }

    /// The generator used for samples: the EMA copy when enabled.
    pub fn sampling_generator(&self) -> Option<&dyn Generator> {
        self.task.sampling_generator()
    }

    /// The noise-task discriminator (`None` for image-to-image tasks).
    pub fn discriminator(&self) -> Option<&dyn Discriminator> {
        self.task.discriminator()
    }

    /// What the user should hear of once: how loading the data changed it (images resized
    /// or converted to the configured shape), and where [`start_run`] moved an earlier
    /// run's files.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The shape of one training sample: `[C, H, W]` for images, `[D]` for points.
    pub fn sample_shape(&self) -> &[usize] {
        self.batcher.dataset().image_shape()
    }

    /// Every step's statistics so far (from the log when resumed).
    pub fn history(&self) -> &[StepStats] {
        &self.history
    }

    /// One step of the task: for the generation tasks, `n_critic` discriminator updates,
    /// then one generator update (and the EMA).
    ///
    /// # Errors
    /// [`TrainError::NonFinite`] when a loss is NaN or infinite. The step is abandoned
    /// part-way (D may already have been updated), so stop and resume from the last
    /// checkpoint, which is never written after a non-finite loss.
    pub fn train_step(&mut self) -> Result<StepStats, TrainError> {
        let decay = self.config.optim.lr_decay_steps;
        if decay > 0 {
            // A function of the step alone, so a resumed run decays as the straight one.
            let factor = LrSchedule::LinearDecay {
                start_step: self.config.steps.saturating_sub(decay),
                end_step: self.config.steps,
                final_factor: 0.0,
            }
            .factor(self.step);
            for ((_, opt), base) in self.task.optimizers_mut().into_iter().zip(&self.base_lrs) {
                opt.set_lr(base * factor);
            }
        }
        let mut rng = StdRng::seed_from_u64(mix(self.config.seed, 1000 + self.step));
        // On a pool worker, so the step's hundreds of parallel ops fork there instead of
        // each being handed to the pool and waited for (agon_autodiff::on_worker, which
        // keeps the caller's gradient recording on whichever worker runs the step).
        let stats = agon_autodiff::on_worker(|| {
            self.task.train_step(&mut StepContext {
                config: &self.config,
                batcher: &mut self.batcher,
                step: self.step,
                rng: &mut rng,
            })
        })?;
        self.step += 1;
        self.history.push(stats);
        Ok(stats)
    }

    /// Moves the files an earlier run left in the output directory ([`RUN_FILES`]) into
    /// `earlier-runs/<k>/` (the first free `k` from 1); returns that folder, or `None` when
    /// there was nothing to move.
    ///
    /// # Errors
    /// When a file cannot be moved.
    pub fn set_aside_earlier_run(&self) -> Result<Option<PathBuf>, TrainError> {
        let dir = &self.config.out_dir;
        let present: Vec<&str> = RUN_FILES
            .into_iter()
            .filter(|f| dir.join(f).symlink_metadata().is_ok())
            .collect();
        if present.is_empty() {
            return Ok(None);
        }
        let io = |path: PathBuf| move |source| TrainError::Io { path, source };
        let earlier = dir.join(EARLIER_RUNS_DIR);
        let target = (1u64..)
            .map(|k| earlier.join(k.to_string()))
            .find(|p| !p.exists())
            .expect("a free number");
        std::fs::create_dir_all(&target).map_err(io(target.clone()))?;
        for f in present {
            std::fs::rename(dir.join(f), target.join(f)).map_err(io(dir.join(f)))?;
        }
        Ok(Some(target))
    }

    /// Checks every network's parameters and buffers and every optimiser's state for NaN
    /// and infinite values; the run loop calls it before writing samples or a checkpoint.
    ///
    /// # Errors
    /// [`TrainError::NonFiniteState`] naming the first such tensor.
    pub fn check_finite(&self) -> Result<(), TrainError> {
        let bad = |tensor: String| TrainError::NonFiniteState {
            step: self.step,
            tensor,
        };
        for (net, module) in self.task.networks() {
            let params = module
                .named_parameters()
                .into_iter()
                .map(|(n, p)| (n, p.data()));
            let buffers = module
                .named_buffers()
                .into_iter()
                .map(|(n, b)| (n, b.data()));
            for (name, value) in params.chain(buffers) {
                if !value.all_finite() {
                    return Err(bad(format!("{net}.{name}")));
                }
            }
        }
        for (opt, o) in self.task.optimizers() {
            for (name, value) in o.state_dict() {
                if !value.all_finite() {
                    return Err(bad(format!("{opt}.{name}")));
                }
            }
        }
        Ok(())
    }

    /// Samples of noise `z` (and `labels` for conditional models) from the sampling
    /// generator (EMA when enabled) in eval mode; `None` for image-to-image tasks.
    pub fn sample(&self, z: &NdArray, labels: Option<&Indices>) -> Option<NdArray> {
        Some(sample_from(self.sampling_generator()?, z, labels))
    }

    /// Writes the grid of the fixed latent batch to `samples/step_NNNNNN.png` and
    /// `samples.png`; returns the latter's path.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn save_samples(&self) -> Result<PathBuf, TrainError> {
        let dir = self.config.out_dir.join("samples");
        if let Some((images, nrow)) = self.task.sample_grid() {
            std::fs::create_dir_all(&dir).map_err(|source| TrainError::Io {
                path: dir.clone(),
                source,
            })?;
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
    // On a pool worker for the same reason as a training step (agon_autodiff::on_worker).
    let x = agon_autodiff::on_worker(|| {
        no_grad(|| g.generate(&Tensor::constant(z.clone()), labels))
            .data()
            .clone()
    });
    g.train();
    x
}

/// The shape of one of `g`'s samples without the batch axis (`[C, H, W]` for an image
/// generator, `[2]` for a 2-D point one), found by drawing one sample from a fixed seed:
/// what the commands that take images for a model check them against.
///
/// ```
/// use agon_gan::trainer::sample_shape;
/// use agon_gan::Dcgan;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Dcgan { width: 4, latent_dim: 8, ..Dcgan::new(28, 1) }.generator(&mut rng);
/// assert_eq!(sample_shape(&g), vec![1, 28, 28]);
/// ```
pub fn sample_shape(g: &dyn Generator) -> Vec<usize> {
    draw_samples(g, 1, &mut StdRng::seed_from_u64(0)).shape()[1..].to_vec()
}

/// `n` samples of `g` from noise drawn from `rng` (500 at a time, so memory stays bounded),
/// classes cycling `0, 1, ..., k-1, 0, ...` for a conditional generator: the samples the
/// scores, detectors and neighbour searches use.
///
/// ```
/// use agon_gan::trainer::draw_samples;
/// use agon_gan::Dcgan;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Dcgan { width: 4, latent_dim: 8, ..Dcgan::new(28, 1) }.generator(&mut rng);
/// assert_eq!(draw_samples(&g, 3, &mut rng).shape(), &[3, 1, 28, 28]);
/// ```
///
/// # Panics
/// If `n` is 0.
pub fn draw_samples(g: &dyn Generator, n: usize, rng: &mut StdRng) -> NdArray {
    assert!(n > 0, "draw_samples: asked for 0 samples");
    let k = g.num_classes();
    let mut parts = Vec::new();
    for start in (0..n).step_by(500) {
        let m = 500.min(n - start);
        let z = NdArray::rand_normal(&[m, g.latent_dim()], 0.0, 1.0, rng);
        let labels =
            k.map(|k| Indices::from_vec((start..start + m).map(|i| i % k).collect(), &[m]));
        parts.push(sample_from(g, &z, labels.as_ref()));
    }
    NdArray::concat(&parts.iter().collect::<Vec<_>>(), 0)
}
