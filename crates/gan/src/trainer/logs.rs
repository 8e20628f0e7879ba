//! The logs a training run writes beside its checkpoint: `log.csv` (one row per
//! `log.every` steps), `losses.png` (their curve) and the trimming of both logs back to
//! the checkpoint's step on resume.

use std::io::Write;
use std::path::Path;

use super::{save_loss_curve, StepStats, TrainError, Trainer};

impl Trainer {
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

/// The statistics logged up to `step`, from `log.csv` (rows beyond it are ignored).
pub(super) fn read_log(path: &Path, step: u64) -> Vec<StepStats> {
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
