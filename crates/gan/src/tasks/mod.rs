//! Tasks: what a batch holds, what G is fed and D judges, and which networks and optimisers
//! take part. The run loop ([`crate::trainer::run`]) owns the cadence (logs, grids,
//! checkpoints, evaluation, resume, the divergence stop) and knows no task; a task owns its
//! networks and optimisers by name and turns a step's batch into their updates, following
//! the model class of the pix2pix/CycleGAN reference code (networks, optimisers and
//! visuals declared by name, "optimise" called by the loop).
//!
//! | `task` | file | networks | optimisers |
//! |---|---|---|---|
//! | `unconditional` | `generation.rs` | `g`, `d`, `ema` (when `optim.ema_decay > 0`) | `opt_g`, `opt_d` |
//! | `conditional` | `generation.rs` (labels in G and D) | as above | as above |
//! | `superres`, `inpaint`, `sketch2image` | `translation/` (an image in, an image out; [`ImageToImage`]) | `g`, `d` | `opt_g`, `opt_d` |
//! | `cyclegan` | `translation/cycle.rs` (unpaired, both directions) | `g_ab`, `g_ba`, `d_a`, `d_b`, `pool_a`, `pool_b` (replay buffers) | `opt_g` (both G), `opt_d` (both D) |
//!
//! A new task is a file here plus a line in [`build_task`]. Checkpoints save every network
//! under `<name>.` and every optimiser under `<name>.`, so a task with more networks needs no
//! change to the checkpoint code; `agon inspect` lists them.

mod generation;
mod translation;

pub use generation::Generation;
pub(crate) use translation::{check_domain_folders, fill_default_domains};
pub use translation::{
    parse_domain, resolve_domains, rows_in, score_translation, select_domains, triplet_grid,
    weight_count, CycleGan, ImageToImage, OutputScores, Translation, TranslationInput,
    TranslationScores,
};

use agon_data::{Batcher, Dataset};
use agon_nn::optim::Optimizer;
use agon_nn::Module;
use agon_tensor::NdArray;
use rand::rngs::StdRng;

use crate::trainer::{ConfigChoice, ConfigError, StepStats, TaskKind, TrainConfig, TrainError};
use crate::{Discriminator, Generator};

/// What the run loop hands a task for one step.
pub struct StepContext<'a> {
    /// The run's configuration.
    pub config: &'a TrainConfig,
    /// The training data, in the run's seeded order.
    pub batcher: &'a mut Batcher,
    /// Steps completed before this one.
    pub step: u64,
    /// This step's random stream, seeded from `(seed, step)`: every draw a task makes
    /// comes from it, so a resumed run repeats the same draws.
    pub rng: &'a mut StdRng,
}

/// A GAN task (see the module docs). `Send`, because [`Trainer::train_step`](crate::trainer::Trainer::train_step)
/// runs each step on a rayon worker ([`agon_autodiff::on_worker`]).
pub trait Task: Send {
    /// Its name in the registry (`task` in the configuration).
    fn name(&self) -> &'static str;
    /// Every network, by the name it is saved under.
    fn networks(&self) -> Vec<(&'static str, &dyn Module)>;
    /// Every optimiser, by the name it is saved under.
    fn optimizers(&self) -> Vec<(&'static str, &dyn Optimizer)>;
    /// The same optimisers, for loading their state.
    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut dyn Optimizer)>;
    /// One training step; returns its statistics (with `step` = `ctx.step + 1`).
    ///
    /// # Errors
    /// [`TrainError::NonFinite`] when a loss is NaN or infinite (the step is abandoned).
    fn train_step(&mut self, ctx: &mut StepContext<'_>) -> Result<StepStats, TrainError>;
    /// Readies a freshly built task for training on `data` (the run loop calls it once,
    /// before the first step or after resuming): the fixed inputs of the sample grid, files
    /// a loss term needs. Nothing by default.
    ///
    /// # Errors
    /// A file the task needs that is missing (the feature classifier of a perceptual loss).
    fn prepare_training(&mut self, config: &TrainConfig, data: &Dataset) -> Result<(), TrainError> {
        let _ = (config, data);
        Ok(())
    }
    /// The noise-to-sample generator being trained (generation tasks; `None` for the
    /// image-to-image tasks).
    fn generator(&self) -> Option<&dyn Generator> {
        None
    }
    /// The generator samples and scores come from (an EMA copy when kept).
    fn sampling_generator(&self) -> Option<&dyn Generator> {
        None
    }
    /// The noise-task discriminator.
    fn discriminator(&self) -> Option<&dyn Discriminator> {
        None
    }
    /// The image-to-image side, for the tasks that turn an image into another.
    fn image_to_image(&self) -> Option<&dyn ImageToImage> {
        None
    }
    /// The sample grid of the task's fixed inputs and its row length, or `None` when the
    /// samples are not images (2-D points).
    fn sample_grid(&self) -> Option<(NdArray, usize)>;
}

/// The task a configuration names: `task`, or when `auto` `conditional` if
/// `model.conditional` is set and `unconditional` otherwise.
pub fn task_name(config: &TrainConfig) -> &'static str {
    match config.task {
        TaskKind::Auto if config.model.conditional => "conditional",
        TaskKind::Auto => "unconditional",
        named => named.name(),
    }
}

/// Builds the task `config` names for data of sample shape `shape` with `classes` classes
/// (what a checkpoint records as `agon.data.shape` and `agon.data.classes`).
///
/// # Errors
/// A task the configuration contradicts, or models that cannot be built for the data.
pub fn build_task(
    config: &TrainConfig,
    shape: &[usize],
    classes: Option<usize>,
) -> Result<Box<dyn Task>, TrainError> {
    let err = |message: String| {
        TrainError::Config(ConfigError {
            source: "configuration".into(),
            message,
        })
    };
    let conditional = config.model.conditional;
    match config.task {
        TaskKind::Unconditional if conditional => Err(err(
            "task = \"unconditional\" contradicts model.conditional = true".into(),
        )),
        TaskKind::Conditional if !conditional => Err(err(
            "task = \"conditional\" needs model.conditional = true (TrainConfig::resolve_task sets it)".into(),
        )),
        TaskKind::Cyclegan => Ok(Box::new(CycleGan::new(config, shape, classes)?)),
        kind if kind.is_image_to_image() => Ok(Box::new(Translation::new(config, shape)?)),
        _ => Ok(Box::new(Generation::new(
            task_name(config),
            config,
            shape,
            classes,
        )?)),
    }
}

/// A loss whose magnitude passes this has diverged, even while finite: the losses Agon
/// trains with are O(1) to O(100) in a healthy run (a Wasserstein critic's drift included),
/// and f32 weights driven by gradients of this size are garbage long before they overflow.
pub const DIVERGED_LOSS: f32 = 1e12;

/// `value` when finite and below [`DIVERGED_LOSS`] in magnitude, else the divergence error
/// for step `step + 1`.
pub(crate) fn check(step: u64, what: &'static str, value: f32) -> Result<f32, TrainError> {
    if value.is_finite() && value.abs() <= DIVERGED_LOSS {
        Ok(value)
    } else {
        Err(TrainError::NonFinite {
            step: step + 1,
            what,
            value,
        })
    }
}
