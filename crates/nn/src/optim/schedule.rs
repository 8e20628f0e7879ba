//! Learning-rate schedules: a factor of the base rate as a function of the step.

use super::Optimizer;

/// A learning-rate schedule: `lr(step) = base_lr * factor(step)`.
///
/// Stateless (a pure function of the step), so resuming from a checkpoint needs only the
/// step count.
///
/// ```
/// use agon_nn::optim::LrSchedule;
/// // Constant for 100 steps, then linearly down to zero at step 200 (pix2pix-style).
/// let s = LrSchedule::LinearDecay { start_step: 100, end_step: 200, final_factor: 0.0 };
/// assert_eq!(s.factor(0), 1.0);
/// assert_eq!(s.factor(150), 0.5);
/// assert_eq!(s.factor(250), 0.0);
/// // Halve every 10 steps, like torch.optim.lr_scheduler.StepLR.
/// let s = LrSchedule::Step { step_size: 10, gamma: 0.5 };
/// assert_eq!((s.factor(9), s.factor(10), s.factor(25)), (1.0, 0.5, 0.25));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LrSchedule {
    /// Factor 1 at every step.
    Constant,
    /// Factor 1 up to `start_step`, then linear to `final_factor` at `end_step`, and
    /// `final_factor` after:
    /// `1 + (final_factor - 1) (step - start_step) / (end_step - start_step)` in between.
    /// With `end_step <= start_step` the factor drops to `final_factor` right after
    /// `start_step`.
    LinearDecay {
        /// Last step at factor 1.
        start_step: u64,
        /// First step at `final_factor`.
        end_step: u64,
        /// The factor reached at `end_step`.
        final_factor: f32,
    },
    /// `gamma^(step / step_size)` (integer division): multiplied by `gamma` every
    /// `step_size` steps, as PyTorch's `StepLR`.
    Step {
        /// Steps between decays.
        step_size: u64,
        /// Multiplier per decay.
        gamma: f32,
    },
}

impl LrSchedule {
    /// The factor of the base learning rate at `step`.
    ///
    /// # Panics
    /// For [`LrSchedule::Step`] with `step_size == 0`.
    #[track_caller]
    pub fn factor(&self, step: u64) -> f32 {
        match *self {
            LrSchedule::Constant => 1.0,
            LrSchedule::LinearDecay {
                start_step,
                end_step,
                final_factor,
            } => {
                if step <= start_step {
                    1.0
                } else if step >= end_step {
                    final_factor
                } else {
                    // f64 so that step counts beyond 2^24 still interpolate smoothly.
                    let frac = (step - start_step) as f64 / (end_step - start_step) as f64;
                    (1.0 + (f64::from(final_factor) - 1.0) * frac) as f32
                }
            }
            LrSchedule::Step { step_size, gamma } => {
                assert!(step_size > 0, "LrSchedule::Step: step_size must be > 0");
                let decays = (step / step_size).min(i32::MAX as u64) as i32;
                gamma.powi(decays)
            }
        }
    }

    /// Sets `opt`'s learning rate to `base_lr * factor(step)`; call it before each step.
    ///
    /// ```
    /// use agon_nn::optim::{LrSchedule, Optimizer, Sgd, SgdConfig};
    /// let mut opt = Sgd::new(vec![], SgdConfig::default().lr(0.1));
    /// let s = LrSchedule::Step { step_size: 5, gamma: 0.1 };
    /// s.apply(&mut opt, 0.1, 5);
    /// assert!((opt.lr() - 0.01).abs() < 1e-7);
    /// ```
    ///
    /// # Panics
    /// As [`factor`](LrSchedule::factor).
    #[track_caller]
    pub fn apply(&self, opt: &mut dyn Optimizer, base_lr: f32, step: u64) {
        opt.set_lr(base_lr * self.factor(step));
    }
}
