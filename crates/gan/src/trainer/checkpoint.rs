//! The checkpoint schema of a training run: which tensors and metadata keys a run saves,
//! and how a run (or its generator alone) is read back.
//!
//! Tensors: each network of the task under its name (`g.`, `d.`, `ema.` for the
//! generation tasks), each optimiser's state under its name (`opt_g.`, `opt_d.`).
//! Metadata: `agon.config` (the TOML configuration), `agon.task`, `agon.networks` and
//! `agon.optimizers` (the names, comma-separated), `agon.step`,
//! `agon.batcher.{seed,epoch,position}`, `agon.rng.<net>` (dropout streams),
//! `agon.data.shape` and `agon.data.classes` (what the models were built for).

use std::path::{Path, PathBuf};

use agon_nn::checkpoint::Checkpoint;

use super::{
    build_models, model_weight_count, read_log, TrainConfig, TrainError, Trainer, CHECKPOINT_FILE,
};
use crate::tasks::{build_task, Task};
use crate::Generator;
use agon_data::BatcherState;

impl Trainer {
    /// Continues the run whose checkpoint is in `out_dir`, with `steps` as the new total
    /// (`None` keeps the saved one).
    ///
    /// # Errors
    /// A missing or damaged checkpoint, or one that does not match its own configuration.
    pub fn resume(out_dir: &Path, steps: Option<u64>) -> Result<Self, TrainError> {
        Trainer::resume_with(out_dir, |config| {
            if let Some(s) = steps {
                config.steps = s;
            }
            Ok(())
        })
    }

    /// Continues the run whose checkpoint is in `out_dir`, after `edit` has changed its
    /// saved configuration (a new step total, a data directory on another machine; see
    /// [`TrainConfig::apply_on_resume`]). The keys that shape the models and the data must
    /// stay as saved for the weights and the batcher position to fit.
    ///
    /// # Errors
    /// As [`resume`](Self::resume).
    pub fn resume_with(
        out_dir: &Path,
        edit: impl FnOnce(&mut TrainConfig) -> Result<(), super::ConfigError>,
    ) -> Result<Self, TrainError> {
        let path = out_dir.join(CHECKPOINT_FILE);
        let (ckpt, mut config) = read_training_checkpoint(&path)?;
        let bad = |message: String| TrainError::BadCheckpoint {
            path: path.clone(),
            message,
        };
        let meta = ckpt.metadata();
        config.out_dir = out_dir.to_path_buf();
        edit(&mut config)?;
        let (shape, classes) = data_shape(&ckpt, &path)?;
        check_fits_file(&ckpt, &config, &shape, classes, &path)?;
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
        // Every network and optimiser of the task by name, with the networks' dropout
        // streams: what was saved is what the task declares.
        for (name, module) in t.task.networks() {
            ckpt.load_module_into(name, module)?;
            let states = parse_rng_states(meta.get(&format!("agon.rng.{name}")).map_or("", |s| s));
            module.load_rng_states(&states);
        }
        for (name, opt) in t.task.optimizers_mut() {
            ckpt.load_optimizer_into(name, opt)?;
        }
        t.history = read_log(&out_dir.join("log.csv"), t.step);
        Ok(t)
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
        let networks = self.task.networks();
        let optimizers = self.task.optimizers();
        for (name, module) in &networks {
            ckpt.add_module(name, *module);
            ckpt.set_metadata(
                &format!("agon.rng.{name}"),
                &format_rng_states(&module.named_rng_states()),
            );
        }
        for (name, opt) in &optimizers {
            ckpt.add_optimizer(name, *opt);
        }
        let names = |v: Vec<&str>| v.join(",");
        ckpt.set_metadata("agon.task", self.task.name())
            .set_metadata(
                "agon.networks",
                &names(networks.iter().map(|n| n.0).collect()),
            )
            .set_metadata(
                "agon.optimizers",
                &names(optimizers.iter().map(|o| o.0).collect()),
            );
        let b = self.batcher.state();
        ckpt.set_metadata("agon.config", &self.config.to_toml())
            .set_metadata("agon.step", &self.step.to_string())
            .set_metadata("agon.batcher.seed", &b.seed.to_string())
            .set_metadata("agon.batcher.epoch", &b.epoch.to_string())
            .set_metadata("agon.batcher.position", &b.position.to_string())
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
        // The run loop checks before it writes; this keeps a library caller of
        // `save_checkpoint` from replacing a good checkpoint with a poisoned one too.
        if let Some(name) = first_non_finite(&ckpt) {
            return Err(TrainError::NonFiniteState {
                step: self.step,
                tensor: name,
            });
        }
        let path = dir.join(CHECKPOINT_FILE);
        ckpt.save(&path)?;
        Ok(path)
    }
}

/// The sample shape and class count the checkpoint's models were built for
/// (`agon.data.shape`, `agon.data.classes`).
fn data_shape(ckpt: &Checkpoint, path: &Path) -> Result<(Vec<usize>, Option<usize>), TrainError> {
    let bad = |message: &str| TrainError::BadCheckpoint {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let meta = ckpt.metadata();
    let shape = meta
        .get("agon.data.shape")
        .ok_or_else(|| bad("missing agon.data.shape"))?
        .split(',')
        .map(|d| d.parse().map_err(|_| bad("malformed agon.data.shape")))
        .collect::<Result<Vec<usize>, _>>()?;
    if shape.is_empty() || shape.len() > 3 {
        return Err(bad("agon.data.shape must have 1 to 3 dimensions"));
    }
    let classes = match meta.get("agon.data.classes").map(String::as_str) {
        None | Some("") => None,
        Some(k) => Some(
            k.parse()
                .ok()
                .filter(|&k: &usize| k > 0)
                .ok_or_else(|| bad("malformed agon.data.classes"))?,
        ),
    };
    Ok((shape, classes))
}

/// Refuses a stored configuration whose models need more weights than the file holds
/// values, before anything is built: what a checkpoint makes Agon allocate is bounded by
/// the checkpoint's own size.
fn check_fits_file(
    ckpt: &Checkpoint,
    config: &TrainConfig,
    shape: &[usize],
    classes: Option<usize>,
    path: &Path,
) -> Result<(), TrainError> {
    let held: u128 = ckpt
        .names()
        .iter()
        .map(|n| ckpt.shape(n).map_or(0, |s| s.iter().product::<usize>()) as u128)
        .sum();
    match model_weight_count(config, shape, classes) {
        Some(needed) if needed <= held => Ok(()),
        needed => Err(TrainError::BadCheckpoint {
            path: path.to_path_buf(),
            message: format!(
                "agon.config describes models of {} weights (model.width = {}, \
                 model.latent_dim = {}, model.mlp_hidden = {}, data shape {shape:?}), but the \
                 file holds only {held} values",
                needed.map_or("over 2^128".to_string(), |n| n.to_string()),
                config.model.width,
                config.model.latent_dim,
                config.model.mlp_hidden
            ),
        }),
    }
}

/// The name of the first tensor holding NaN or an infinity.
fn first_non_finite(ckpt: &Checkpoint) -> Option<String> {
    ckpt.names()
        .into_iter()
        .find(|n| ckpt.tensor(n).is_some_and(|t| !t.all_finite()))
        .map(str::to_string)
}

fn join(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A checkpoint and the run configuration saved in it (`agon.config`).
fn read_training_checkpoint(path: &Path) -> Result<(Checkpoint, TrainConfig), TrainError> {
    let ckpt = Checkpoint::read(path)?;
    let text = ckpt
        .metadata()
        .get("agon.config")
        .ok_or_else(|| TrainError::BadCheckpoint {
            path: path.to_path_buf(),
            message: "no agon.config entry: not a training checkpoint".into(),
        })?;
    let config = TrainConfig::from_saved_toml(text, &format!("{} (agon.config)", path.display()))?;
    // Training never writes NaN or infinite weights; a file that holds them was damaged or
    // made elsewhere, and would sample blank images or panic in the scores.
    if let Some(name) = first_non_finite(&ckpt) {
        return Err(TrainError::BadCheckpoint {
            path: path.to_path_buf(),
            message: format!("tensor {name} holds NaN or infinite values"),
        });
    }
    Ok((ckpt, config))
}

/// The networks of a training checkpoint, rebuilt from its configuration and loaded with
/// its weights, and that configuration: (G, D, EMA copy when the run kept one).
///
/// # Errors
/// A missing, damaged or non-training checkpoint.
pub fn load_networks(path: &Path) -> Result<(super::models::Models, TrainConfig), TrainError> {
    let (ckpt, mut config) = read_training_checkpoint(path)?;
    config.resolve_task();
    if config.task.is_image_to_image() {
        return Err(TrainError::BadCheckpoint {
            path: path.to_path_buf(),
            message: format!(
                "this is a task = \"{}\" run: its generator takes images, not noise (use \
                 agon apply, agon sample or agon eval with it)",
                config.task
            ),
        });
    }
    let (shape, classes) = data_shape(&ckpt, path)?;
    check_fits_file(&ckpt, &config, &shape, classes, path)?;
    let (g, d, ema) = build_models(&config, &shape, classes, config.seed)?;
    ckpt.load_module_into("g", g.as_ref())?;
    ckpt.load_module_into("d", d.as_ref())?;
    let ema = match ema {
        Some(e) if ckpt.names().iter().any(|n| n.starts_with("ema.")) => {
            ckpt.load_module_into("ema", e.as_ref())?;
            Some(e)
        }
        _ => None,
    };
    Ok(((g, d, ema), config))
}

/// The task of a training checkpoint, rebuilt from its configuration with every network's
/// weights loaded (optimiser state is left as built: this is for using a trained model),
/// and that configuration.
///
/// # Errors
/// A missing, damaged or non-training checkpoint, or one without a network its task has.
pub fn load_task(path: &Path) -> Result<(Box<dyn Task>, TrainConfig), TrainError> {
    let (ckpt, mut config) = read_training_checkpoint(path)?;
    config.resolve_task();
    let (shape, classes) = data_shape(&ckpt, path)?;
    check_fits_file(&ckpt, &config, &shape, classes, path)?;
    let task = build_task(&config, &shape, classes)?;
    for (name, module) in task.networks() {
        ckpt.load_module_into(name, module)?;
    }
    Ok((task, config))
}

/// A trained generator read back from a checkpoint (its EMA weights when the run kept
/// them), with the run's configuration.
///
/// # Errors
/// A missing, damaged or non-training checkpoint.
pub fn load_generator(path: &Path) -> Result<(Box<dyn Generator>, TrainConfig), TrainError> {
    let ((g, _, ema), config) = load_networks(path)?;
    Ok((ema.unwrap_or(g), config))
}

/// Writes one network of a training checkpoint as a plain PyTorch `state_dict` in
/// safetensors: its parameter and buffer names without the trainer's prefix
/// (`main.0.weight`, `main.1.running_mean`, `main.1.num_batches_tracked` as I64), so
/// `model.load_state_dict(safetensors.torch.load_file(path))` loads it into the same
/// layers. The file's metadata records the source checkpoint, the network and the model.
/// Returns the number of tensors written.
///
/// # Errors
/// An unreadable or non-training checkpoint, a `net` it does not hold (naming those it
/// does), or a file that cannot be written.
pub fn export_network(checkpoint: &Path, net: &str, out: &Path) -> Result<usize, TrainError> {
    let (task, config) = load_task(checkpoint)?;
    let networks = task.networks();
    let Some((_, module)) = networks.iter().find(|(name, _)| *name == net) else {
        let held: Vec<&str> = networks.iter().map(|n| n.0).collect();
        return Err(TrainError::BadCheckpoint {
            path: checkpoint.to_path_buf(),
            message: format!(
                "no network named {net:?} here (it holds {})",
                held.join(", ")
            ),
        });
    };
    let model = if config.task.is_image_to_image() {
        format!("{} {net}", config.task)
    } else {
        config.model.kind.to_string()
    };
    let meta = std::collections::BTreeMap::from([
        ("agon.source".to_string(), checkpoint.display().to_string()),
        ("agon.network".to_string(), net.to_string()),
        ("agon.model".to_string(), model),
    ]);
    agon_nn::checkpoint::save_module(*module, out, &meta)?;
    Ok(module.named_parameters().len() + module.named_buffers().len())
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
