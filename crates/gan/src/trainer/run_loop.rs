//! The run loop: a [`Trainer`] stepped to its end with the cadence a training run keeps:
//! a `log.csv` row every `log.every` steps, a sample grid and the loss curve every
//! `log.sample_every`, a checkpoint every `log.checkpoint_every`, scores every
//! `log.eval_every` (into `eval.csv`), and all of them at the last step. A stop request
//! (Ctrl-C in the CLI) saves a checkpoint and the grid and returns. A diverged loss (NaN,
//! infinite, or above [`DIVERGED_LOSS`](crate::tasks::DIVERGED_LOSS)), or weights or
//! optimiser state holding NaN or infinite values when a write is due, return the error
//! without writing anything, so the last good checkpoint and grid stay.
//!
//! `agon train` is this loop plus argument parsing and a progress display: a library user
//! calling [`run`] gets the same files.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use agon_gan::trainer::{run, start_run, TrainConfig};
//! let mut cfg = TrainConfig::default();
//! cfg.steps = 200;
//! cfg.out_dir = "runs/library".into();
//! let mut trainer = start_run(cfg).unwrap();
//! let report = run(&mut trainer, &AtomicBool::new(false), &mut |_| {}).unwrap();
//! println!("{:?} after {} steps", report.outcome, report.steps_run);
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{PeriodicEval, StepStats, TrainConfig, TrainError, Trainer};

/// Something the loop did, for a progress display.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A step finished; `logged` when it was also written to `log.csv`.
    Step {
        /// Its statistics.
        stats: &'a StepStats,
        /// The step total.
        total: u64,
        /// Steps run by this call of [`run`] so far, and the time they took (for a rate).
        run_here: u64,
        /// Time since this call of [`run`] began.
        elapsed: Duration,
        /// Whether this step's row went to `log.csv`.
        logged: bool,
    },
    /// Scores were computed and appended to `eval.csv`.
    Eval {
        /// The step.
        step: u64,
        /// The `eval.csv` row.
        row: &'a str,
    },
}

/// How a [`run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// All `config.steps` steps are done; the final checkpoint, grid and logs are written.
    Finished,
    /// A stop was requested; a checkpoint and the grid were saved at the current step.
    Interrupted,
}

/// What a [`run`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// How it ended.
    pub outcome: RunOutcome,
    /// Steps run by this call.
    pub steps_run: u64,
    /// Wall time of this call.
    pub elapsed: Duration,
}

/// A fresh run in `config.out_dir`: validates the configuration, builds the trainer, moves
/// the files of an earlier run there into `earlier-runs/<k>/` (so `--resume` cannot continue
/// the earlier run's checkpoint under this run's configuration, and nothing is lost),
/// removes partial writes a killed run left, and writes `config.toml`.
///
/// # Errors
/// An invalid configuration, unreadable data, or an output directory that cannot be
/// written.
pub fn start_run(config: TrainConfig) -> Result<Trainer, TrainError> {
    config.validate("configuration")?;
    let dir = config.out_dir.clone();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut trainer = Trainer::new(config)?;
    remove_partial_writes(&dir)?;
    if let Some(moved) = trainer.set_aside_earlier_run()? {
        trainer.notes.push(format!(
            "{} held an earlier run; its files are now in {}",
            dir.display(),
            moved.display()
        ));
    }
    agon_data::write_atomic(
        &dir.join("config.toml"),
        trainer.config().to_toml().as_bytes(),
    )?;
    Ok(trainer)
}

/// Removes the temporary files a write killed half-way left in `dir` (the checkpoint's
/// `.checkpoint.safetensors.<pid>-<n>.tmp`, the logs' `<file>.<pid>.tmp`): the files they
/// would have replaced are intact, since every write goes through a rename.
fn remove_partial_writes(dir: &Path) -> Result<(), TrainError> {
    let io = |source| TrainError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = super::RUN_FILES
            .iter()
            .any(|f| name.starts_with(&format!("{f}.")) || name.starts_with(&format!(".{f}.")));
        if ours && name.ends_with(".tmp") && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Continues the run in `out_dir` from its checkpoint, with `edit` applied to the saved
/// configuration (see [`Trainer::resume_with`]), and trims its logs back to the
/// checkpoint's step (rows beyond it came from the interrupted continuation).
///
/// # Errors
/// As [`Trainer::resume_with`]; a step total the checkpoint has already reached; a log
/// that cannot be rewritten.
pub fn resume_run(
    out_dir: &Path,
    edit: impl FnOnce(&mut TrainConfig) -> Result<(), super::ConfigError>,
) -> Result<Trainer, TrainError> {
    remove_partial_writes(out_dir)?;
    let trainer = Trainer::resume_with(out_dir, edit)?;
    if trainer.finished() {
        return Err(TrainError::Config(super::ConfigError {
            source: out_dir.join(super::CHECKPOINT_FILE).display().to_string(),
            message: format!(
                "the run is at step {} and steps = {}: nothing to resume; give a larger step \
                 total (agon train --resume --steps N)",
                trainer.step(),
                trainer.config().steps
            ),
        }));
    }
    trainer.truncate_log()?;
    Ok(trainer)
}

/// Trains until `config.steps` or until `stop` is set, writing logs, grids, checkpoints
/// and scores at the configured cadence (module docs), and telling `progress` after every
/// step and evaluation.
///
/// # Errors
/// [`TrainError::NonFinite`] when a loss diverges (nothing is written for that step, so
/// the last checkpoint is the last good one), a file that cannot be written, or a
/// periodic evaluation that cannot be prepared (no classifier for the data).
pub fn run(
    trainer: &mut Trainer,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<RunReport, TrainError> {
    let cfg = trainer.config().clone();
    let log = &cfg.log;
    let evaluator = if log.eval_every > 0 {
        Some(PeriodicEval::new(&cfg)?)
    } else {
        None
    };
    let (start, first) = (Instant::now(), trainer.step());
    // Time spent scoring, left out of `eval.csv`'s seconds column.
    let mut scoring = Duration::ZERO;
    while !trainer.finished() && !stop.load(Ordering::SeqCst) {
        let stats = trainer.train_step()?;
        let step = stats.step;
        let done = trainer.finished();
        let logged = step.is_multiple_of(log.every) || done;
        if logged {
            trainer.append_log(&stats)?;
        }
        let samples_due = step.is_multiple_of(log.sample_every) || done;
        let checkpoint_due = step.is_multiple_of(log.checkpoint_every) || done;
        if samples_due || checkpoint_due {
            // Weights can diverge while the losses stay finite: nothing poisoned is written.
            trainer.check_finite()?;
        }
        if samples_due {
            trainer.save_samples()?;
            trainer.save_loss_curve()?;
        }
        if checkpoint_due {
            trainer.save_checkpoint()?;
        }
        if let Some(ev) = evaluator
            .as_ref()
            .filter(|_| step.is_multiple_of(log.eval_every))
        {
            let g = trainer
                .sampling_generator()
                .ok_or_else(|| TrainError::Evaluation {
                    message: format!(
                        "log.eval_every scores generation tasks; score a task = \"{}\" run with agon eval --checkpoint",
                        cfg.task
                    ),
                })?;
            let began = Instant::now();
            let seconds = (began - start - scoring).as_secs_f64();
            let row = ev.run(g, &cfg, step, seconds)?;
            scoring += began.elapsed();
            progress(Progress::Eval { step, row: &row });
        }
        progress(Progress::Step {
            stats: &stats,
            total: cfg.steps,
            run_here: step - first,
            elapsed: start.elapsed(),
            logged,
        });
    }
    let outcome = if trainer.finished() {
        RunOutcome::Finished
    } else {
        trainer.check_finite()?;
        trainer.save_checkpoint()?;
        trainer.save_samples()?;
        RunOutcome::Interrupted
    };
    Ok(RunReport {
        outcome,
        steps_run: trainer.step() - first,
        elapsed: start.elapsed(),
    })
}
