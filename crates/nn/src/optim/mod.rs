//! Optimisers, learning-rate schedules and clipping.
//!
//! An optimiser is built from named parameters (`module.named_parameters()`); the names
//! key its saved state. A step takes gradients either as a [`Gradients`] map from
//! `backward()` or as the vector `agon_autodiff::grad` returns (one entry per parameter, in
//! construction order), and installs new values with [`Param::set`](crate::Param::set).
//!
//! ```
//! use agon_nn::optim::{Adam, AdamConfig, Optimizer};
//! use agon_nn::{Linear, Module};
//! use agon_autodiff::Tensor;
//! use agon_tensor::NdArray;
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let net = Linear::new(3, 1, true, &mut rng);
//! let mut opt = Adam::new(net.named_parameters(), AdamConfig::default().lr(1e-2).betas(0.5, 0.999));
//! let x = Tensor::constant(NdArray::ones(&[4, 3]));
//! let first = net.forward(&x).square().mean_all().item();
//! for _ in 0..50 {
//!     let loss = net.forward(&x).square().mean_all();
//!     opt.step(&loss.backward());
//! }
//! assert!(net.forward(&x).square().mean_all().item() < first);
//! ```
//!
//! # Matching PyTorch
//! The update formulas are PyTorch's single-tensor (CPU) implementations, operation for
//! operation, in f32 with the scalar coefficients (`1 - beta2`, bias corrections,
//! `lr / bias_correction1`) computed in f64 as Python computes them, then rounded to f32 as
//! PyTorch's kernels do. Hyperparameters are `f32` in the API (Agon is f32 throughout);
//! PyTorch holds them as Python floats, and `1 - 0.999f32` differs from `1 - 0.999` by
//! 1.3e-5 relative, which would show in `exp_avg_sq`. So each hyperparameter is widened to
//! f64 through its shortest decimal form: `0.999f32` becomes exactly `0.999f64`, the value
//! that was typed. `tests/optim.rs` replays PyTorch's steps from fixtures to 1e-6.
//!
//! # State
//! [`Optimizer::state_dict`] gives `step` (a 0-d f32, as PyTorch stores it: exact up to
//! 2^24 steps) and per-parameter buffers named `<buffer>.<parameter name>`
//! (`exp_avg.net.0.weight`). [`Optimizer::load_state_dict`] checks every entry (known
//! name, given once, right shape, nothing required missing) before changing anything. A
//! `step` value that is not a whole non-negative number is read as its truncation (NaN and
//! negatives as 0), since [`OptimStateError`] has no variant for bad values.
//!
//! One deliberate difference: the step count is one number per optimiser (state entry
//! `"step"`), where PyTorch counts per parameter. They agree whenever every parameter gets
//! a gradient at every step (the normal case); a parameter skipped at some steps (no
//! gradient) is bias-corrected with the optimiser's count.

use std::collections::{HashMap, HashSet};

use agon_autodiff::{Gradients, Tensor};
use agon_tensor::NdArray;

use crate::param::Param;

mod adam;
mod clip;
mod rmsprop;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, clip_weights};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::LrSchedule;
pub use sgd::{Sgd, SgdConfig};

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

/// Gradients for `params` looked up in a [`Gradients`] map, aligned with `params` (`None`
/// where a parameter got none): the form [`clip_grad_norm`] and
/// [`Optimizer::step_grads`] take.
///
/// ```
/// use agon_nn::optim::{clip_grad_norm, grads_for, Optimizer, Sgd, SgdConfig};
/// use agon_nn::Param;
/// use agon_tensor::NdArray;
/// let p = Param::new(NdArray::from_vec(vec![3.0, 4.0], &[2]).unwrap());
/// let loss = p.tensor().square().sum_all(); // gradient 2p = [6, 8], norm 10
/// let mut grads = grads_for(&[p.clone()], &loss.backward());
/// assert_eq!(clip_grad_norm(&mut grads, 1.0), 10.0);
/// let mut opt = Sgd::new(vec![("p".into(), p.clone())], SgdConfig::default().lr(1.0));
/// opt.step_grads(&grads);
/// let v = p.data().to_vec();
/// assert!((v[0] - 2.4).abs() < 1e-5 && (v[1] - 3.2).abs() < 1e-5);
/// ```
pub fn grads_for(params: &[Param], grads: &Gradients) -> Vec<Option<Tensor>> {
    params
        .iter()
        .map(|p| grads.get(&p.tensor()).cloned())
        .collect()
}

/// Widens an `f32` hyperparameter to the `f64` a Python user would have typed: through its
/// shortest round-trip decimal form, so `0.999f32` becomes `0.999f64` (not
/// `0.99900001287...`). See the module docs for why this matters.
pub(crate) fn widen(x: f32) -> f64 {
    // `Display` for floats prints the shortest string that parses back to the same f32.
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// The parameters an optimiser updates, with their names, checked at construction.
pub(crate) struct ParamList {
    pub(crate) names: Vec<String>,
    pub(crate) params: Vec<Param>,
}

impl ParamList {
    /// # Panics
    /// If two entries share a name or a parameter (either would make the update or the
    /// saved state ambiguous; PyTorch refuses a repeated parameter too).
    #[track_caller]
    pub(crate) fn new(who: &str, named: Vec<(String, Param)>) -> Self {
        let mut seen = HashSet::new();
        for (i, (name, p)) in named.iter().enumerate() {
            assert!(
                seen.insert(name.as_str()),
                "{who}: parameter name `{name}` appears twice; names key the optimiser state"
            );
            if let Some((other, _)) = named[..i].iter().find(|(_, q)| q.same_as(p)) {
                panic!("{who}: `{name}` and `{other}` are the same parameter; pass it once");
            }
        }
        let (names, params) = named.into_iter().unzip();
        ParamList { names, params }
    }

    pub(crate) fn len(&self) -> usize {
        self.params.len()
    }

    /// Each parameter's gradient from the map, as dense arrays.
    ///
    /// # Panics
    /// If a gradient's shape differs from its parameter's.
    #[track_caller]
    pub(crate) fn grads_from_map(&self, who: &str, grads: &Gradients) -> Vec<Option<NdArray>> {
        self.params
            .iter()
            .zip(&self.names)
            .map(|(p, name)| {
                grads
                    .get(&p.tensor())
                    .map(|g| dense_grad(who, name, p, g.data()))
            })
            .collect()
    }

    /// The aligned gradients as dense arrays.
    ///
    /// # Panics
    /// If the lengths differ or a gradient's shape differs from its parameter's.
    #[track_caller]
    pub(crate) fn grads_from_slice(
        &self,
        who: &str,
        grads: &[Option<Tensor>],
    ) -> Vec<Option<NdArray>> {
        assert_eq!(
            grads.len(),
            self.len(),
            "{who}::step_grads: {} gradients for {} parameters (pass one entry per parameter, \
             in construction order)",
            grads.len(),
            self.len()
        );
        self.params
            .iter()
            .zip(&self.names)
            .zip(grads)
            .map(|((p, name), g)| g.as_ref().map(|g| dense_grad(who, name, p, g.data())))
            .collect()
    }
}

#[track_caller]
fn dense_grad(who: &str, name: &str, p: &Param, g: &NdArray) -> NdArray {
    let shape = p.shape();
    assert_eq!(
        g.shape(),
        &shape[..],
        "{who}: gradient of `{name}` has shape {:?}, the parameter has {:?}",
        g.shape(),
        shape
    );
    g.contiguous()
}

/// A parameter's current value as a dense row-major buffer (a copy the optimiser can
/// update in place and install with `Param::set`).
pub(crate) fn param_values(p: &Param) -> Vec<f32> {
    p.data().to_vec()
}

/// The elements of a dense array (as produced by `dense_grad`).
pub(crate) fn slice(a: &NdArray) -> &[f32] {
    a.as_slice()
        .expect("optimiser: gradient was made contiguous")
}

/// Installs `values` (row-major, `p`'s shape) as `p`'s new value.
pub(crate) fn install(p: &Param, values: Vec<f32>) {
    let shape = p.shape();
    p.set(NdArray::from_vec(values, &shape).expect("optimiser: update keeps the parameter's size"));
}

/// What a state dict must contain, checked before anything is loaded.
pub(crate) struct StateSpec {
    entries: Vec<(String, Vec<usize>, bool)>,
}

impl StateSpec {
    pub(crate) fn new() -> Self {
        StateSpec { entries: vec![] }
    }

    /// An entry that must be present with `shape`.
    pub(crate) fn required(&mut self, name: String, shape: &[usize]) {
        self.entries.push((name, shape.to_vec(), true));
    }

    /// An entry that may be absent, but has `shape` when present.
    pub(crate) fn optional(&mut self, name: String, shape: &[usize]) {
        self.entries.push((name, shape.to_vec(), false));
    }

    /// Checks `state` against the spec: every name known and given once, every required
    /// entry present, every shape right. Returns the entries by name.
    pub(crate) fn check<'a>(
        &self,
        state: &'a [(String, NdArray)],
    ) -> Result<HashMap<&'a str, &'a NdArray>, OptimStateError> {
        let known: HashMap<&str, &[usize]> = self
            .entries
            .iter()
            .map(|(n, s, _)| (n.as_str(), s.as_slice()))
            .collect();
        let mut found = HashMap::new();
        for (name, value) in state {
            let Some(expected) = known.get(name.as_str()) else {
                return Err(OptimStateError::Unexpected(name.clone()));
            };
            if found.insert(name.as_str(), value).is_some() {
                // Given twice: the second copy is one the optimiser does not expect.
                return Err(OptimStateError::Unexpected(name.clone()));
            }
            if value.shape() != *expected {
                return Err(OptimStateError::ShapeMismatch {
                    name: name.clone(),
                    expected: expected.to_vec(),
                    found: value.shape().to_vec(),
                });
            }
        }
        for (name, _, required) in &self.entries {
            if *required && !found.contains_key(name.as_str()) {
                return Err(OptimStateError::Missing(name.clone()));
            }
        }
        Ok(found)
    }
}

/// The step counter as saved: a 0-d f32, as PyTorch stores it (exact up to 2^24 steps).
pub(crate) fn step_entry(step: u64) -> (String, NdArray) {
    ("step".to_string(), NdArray::scalar(step as f32))
}

/// Reads a saved step counter. A value that is not a whole non-negative number is clamped
/// (negative or NaN reads as 0, a fraction is truncated).
pub(crate) fn read_step(a: &NdArray) -> u64 {
    // `as` saturates and maps NaN to 0.
    a.item() as u64
}

/// A state buffer as a saved array.
pub(crate) fn state_array(values: &[f32], p: &Param) -> NdArray {
    NdArray::from_vec(values.to_vec(), &p.shape())
        .expect("optimiser state has its parameter's size")
}
