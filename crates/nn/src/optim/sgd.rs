//! Stochastic gradient descent with momentum: PyTorch's `torch.optim.SGD`.

use agon_autodiff::{Gradients, Tensor};
use agon_tensor::NdArray;

use super::{
    install, param_values, read_step, slice, state_array, step_entry, widen, OptimStateError,
    Optimizer, ParamList, StateSpec,
};
use crate::param::Param;

/// SGD's hyperparameters, with PyTorch's defaults (`lr` 1e-3, everything else 0 or off).
///
/// ```
/// use agon_nn::optim::SgdConfig;
/// let c = SgdConfig::default().lr(0.1).momentum(0.9).nesterov(true);
/// assert_eq!((c.lr, c.momentum, c.dampening, c.nesterov), (0.1, 0.9, 0.0, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor (0: plain SGD, no buffer kept).
    pub momentum: f32,
    /// Dampening of the gradient added to the momentum buffer (after the first step).
    pub dampening: f32,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// L2 penalty: `g += weight_decay * p`.
    pub weight_decay: f32,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    /// Sets the learning rate.
    pub fn lr(mut self, lr: f32) -> Self {
        self.lr = lr;
        self
    }

    /// Sets the momentum factor.
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening.
    pub fn dampening(mut self, dampening: f32) -> Self {
        self.dampening = dampening;
        self
    }

    /// Turns Nesterov momentum on or off.
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// Sets the L2 weight decay.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

/// SGD, exactly as `torch.optim.SGD`. Per element, with gradient `g`:
///
/// ```text
/// g = g + weight_decay p                      (when weight_decay != 0)
/// buf = g                                     (first step with a gradient)
/// buf = momentum buf + (1 - dampening) g      (later steps)
/// g = g + momentum buf  (nesterov)  or  g = buf  (otherwise; only when momentum != 0)
/// p = p - lr g
/// ```
///
/// State entries: `step` (0-d), and with momentum `momentum_buffer.<name>` for each
/// parameter that has received a gradient (PyTorch creates the buffer then, from the
/// gradient itself).
///
/// ```
/// use agon_nn::optim::{Optimizer, Sgd, SgdConfig};
/// use agon_nn::Param;
/// use agon_tensor::NdArray;
/// let p = Param::new(NdArray::from_vec(vec![1.0], &[1]).unwrap());
/// let mut opt = Sgd::new(vec![("w".into(), p.clone())], SgdConfig::default().lr(0.1).momentum(0.9));
/// for _ in 0..2 {
///     opt.step(&p.tensor().sum_all().backward()); // gradient 1
/// }
/// // buf = 1, then 0.9 + 1 = 1.9: p = 1 - 0.1 - 0.19
/// assert!((p.data().to_vec()[0] - 0.71).abs() < 1e-6);
/// ```
pub struct Sgd {
    params: ParamList,
    config: SgdConfig,
    step: u64,
    momentum_buffer: Vec<Option<Vec<f32>>>,
}

impl Sgd {
    /// SGD over `params` (usually `module.named_parameters()`; names key the state).
    ///
    /// # Panics
    /// If a hyperparameter is out of range (negative `lr`, `momentum` or `weight_decay`),
    /// `nesterov` is set without `momentum > 0` and `dampening == 0` (as PyTorch), or a
    /// name or parameter appears twice.
    #[track_caller]
    pub fn new(params: Vec<(String, Param)>, config: SgdConfig) -> Self {
        let SgdConfig {
            lr,
            momentum,
            dampening,
            nesterov,
            weight_decay,
        } = config;
        assert!(lr >= 0.0, "Sgd: invalid learning rate {lr} (need >= 0)");
        assert!(
            momentum >= 0.0,
            "Sgd: invalid momentum {momentum} (need >= 0)"
        );
        assert!(
            weight_decay >= 0.0,
            "Sgd: invalid weight_decay {weight_decay} (need >= 0)"
        );
        assert!(
            !nesterov || (momentum > 0.0 && dampening == 0.0),
            "Sgd: nesterov momentum needs momentum > 0 and dampening == 0 \
             (got momentum {momentum}, dampening {dampening})"
        );
        let params = ParamList::new("Sgd", params);
        let momentum_buffer = vec![None; params.len()];
        Sgd {
            params,
            config,
            step: 0,
            momentum_buffer,
        }
    }

    /// The hyperparameters (with the current learning rate).
    pub fn config(&self) -> SgdConfig {
        self.config
    }

    /// Steps taken so far (the `"step"` state entry).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The parameters with their names, in construction order.
    pub fn named_parameters(&self) -> Vec<(String, Param)> {
        self.params
            .names
            .iter()
            .cloned()
            .zip(self.params.params.iter().cloned())
            .collect()
    }

    /// One update, PyTorch's `_single_tensor_sgd` operation for operation.
    fn update(&mut self, grads: Vec<Option<NdArray>>) {
        self.step += 1;
        let c = &self.config;
        let (lr, momentum) = (widen(c.lr), widen(c.momentum));
        let (dampening, wd) = (widen(c.dampening), widen(c.weight_decay));
        let neg_lr = (-lr) as f32;
        let (mom, keep) = (momentum as f32, (1.0 - dampening) as f32);
        let (use_wd, wd) = (wd != 0.0, wd as f32);
        let (use_momentum, nesterov) = (momentum != 0.0, c.nesterov);

        for (i, g) in grads.iter().enumerate() {
            let Some(g) = g else { continue };
            let param = &self.params.params[i];
            let mut p = param_values(param);
            let g = slice(g);
            if !use_momentum {
                for (p, &g) in p.iter_mut().zip(g) {
                    let g = if use_wd { g + wd * *p } else { g };
                    *p += neg_lr * g;
                }
            } else {
                let first = self.momentum_buffer[i].is_none();
                let buf = self.momentum_buffer[i].get_or_insert_with(|| vec![0.0; p.len()]);
                for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                    let g = if use_wd { g + wd * *p } else { g };
                    *b = if first { g } else { *b * mom + keep * g };
                    let d = if nesterov { g + mom * *b } else { *b };
                    *p += neg_lr * d;
                }
            }
            install(param, p);
        }
    }
}

impl Optimizer for Sgd {
    #[track_caller]
    fn step(&mut self, grads: &Gradients) {
        let g = self.params.grads_from_map("Sgd", grads);
        self.update(g);
    }

    #[track_caller]
    fn step_grads(&mut self, grads: &[Option<Tensor>]) {
        let g = self.params.grads_from_slice("Sgd", grads);
        self.update(g);
    }

    fn lr(&self) -> f32 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f32) {
        self.config.lr = lr;
    }

    fn state_dict(&self) -> Vec<(String, NdArray)> {
        let mut out = vec![step_entry(self.step)];
        for ((name, p), buf) in self
            .params
            .names
            .iter()
            .zip(&self.params.params)
            .zip(&self.momentum_buffer)
        {
            if let Some(buf) = buf {
                out.push((format!("momentum_buffer.{name}"), state_array(buf, p)));
            }
        }
        out
    }

    /// Restores `step` (required) and the momentum buffers (each optional: a parameter
    /// without one has not received a gradient yet, as in PyTorch; with `momentum == 0`
    /// none is expected).
    fn load_state_dict(&mut self, state: &[(String, NdArray)]) -> Result<(), OptimStateError> {
        let mut spec = StateSpec::new();
        spec.required("step".into(), &[]);
        if self.config.momentum != 0.0 {
            for (name, p) in self.params.names.iter().zip(&self.params.params) {
                spec.optional(format!("momentum_buffer.{name}"), &p.shape());
            }
        }
        let found = spec.check(state)?;
        self.step = read_step(found["step"]);
        for (i, name) in self.params.names.iter().enumerate() {
            self.momentum_buffer[i] = found
                .get(format!("momentum_buffer.{name}").as_str())
                .map(|a| a.to_vec());
        }
        Ok(())
    }
}
