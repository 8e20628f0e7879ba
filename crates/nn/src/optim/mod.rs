//! Optimisers, learning-rate schedules and clipping.
//!
//! An optimiser is built from named parameters (`module.named_parameters()`); the names
//! key its saved state. A step takes gradients either as a [`Gradients`] map from
//! `backward()` or as the vector `agon_autodiff::grad` returns (one entry per parameter, in
//! construction order), and installs new values with [`Param::set`](crate::Param::set).

use agon_autodiff::{Gradients, Tensor};
use agon_tensor::NdArray;

/// Why optimiser state could not be restored.
#[derive(Debug, Clone, PartialEq)]
pub enum OptimStateError {
    /// A state entry the optimiser needs is absent.
    Missing(String),
    /// A state entry has the wrong shape.
    ShapeMismatch {
        /// The entry's name.
        name: String,
        /// The shape the optimiser needs.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// An entry this optimiser does not know.
    Unexpected(String),
}

impl std::fmt::Display for OptimStateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptimStateError::Missing(n) => write!(f, "optimiser state `{n}` is missing"),
            OptimStateError::ShapeMismatch {
                name,
                expected,
                found,
            } => write!(
                f,
                "optimiser state `{name}` has shape {found:?}, expected {expected:?}"
            ),
            OptimStateError::Unexpected(n) => write!(f, "unexpected optimiser state `{n}`"),
        }
    }
}

impl std::error::Error for OptimStateError {}

/// What every optimiser offers.
pub trait Optimizer: Send {
    /// One update from a gradient map (each parameter's gradient is looked up by its current
    /// leaf tensor; parameters without a gradient are left alone, as in PyTorch).
    fn step(&mut self, grads: &Gradients);

    /// One update from gradients aligned with the parameters (the output of
    /// `agon_autodiff::grad(&[loss], &params, ..)`); `None` entries are skipped.
    ///
    /// # Panics
    /// If `grads` has a different length than the parameter list, or a gradient's shape
    /// differs from its parameter's.
    fn step_grads(&mut self, grads: &[Option<Tensor>]);

    /// The current learning rate.
    fn lr(&self) -> f32;

    /// Sets the learning rate (schedules call this each step).
    fn set_lr(&mut self, lr: f32);

    /// The optimiser's state (step count, moment estimates) by name, for checkpoints.
    fn state_dict(&self) -> Vec<(String, NdArray)>;

    /// Restores state saved by [`state_dict`](Optimizer::state_dict).
    ///
    /// # Errors
    /// When an entry is missing, unexpected or of the wrong shape; nothing is changed then.
    fn load_state_dict(&mut self, state: &[(String, NdArray)]) -> Result<(), OptimStateError>;
}
