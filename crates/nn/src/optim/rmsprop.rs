//! RMSprop: PyTorch's `torch.optim.RMSprop`.

use agon_autodiff::{Gradients, Tensor};
use agon_tensor::NdArray;

use super::adam::lerp;
use super::{
    install, param_values, read_step, slice, state_array, step_entry, widen, OptimStateError,
    Optimizer, ParamList, StateSpec,
};
use crate::param::Param;

/// RMSprop's hyperparameters, with PyTorch's defaults (`lr` 1e-2, `alpha` 0.99, `eps`
/// 1e-8, `weight_decay` 0, `momentum` 0, `centered` off).
///
/// ```
/// use agon_nn::optim::RmsPropConfig;
/// let c = RmsPropConfig::default().lr(5e-5); // WGAN's critic optimiser
/// assert_eq!((c.lr, c.alpha, c.momentum, c.centered), (5e-5, 0.99, 0.0, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate.
    pub lr: f32,
    /// Smoothing constant of the squared-gradient average.
    pub alpha: f32,
    /// Added to the denominator for numerical stability.
    pub eps: f32,
    /// L2 penalty: `g += weight_decay * p`.
    pub weight_decay: f32,
    /// Momentum factor (0: no buffer kept).
    pub momentum: f32,
    /// Normalise by the variance estimate `E[g²] - E[g]²` instead of `E[g²]`.
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmsPropConfig {
    /// Sets the learning rate.
    pub fn lr(mut self, lr: f32) -> Self {
        self.lr = lr;
        self
    }

    /// Sets the smoothing constant.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the L2 weight decay.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the momentum factor.
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Turns the centred variant on or off.
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }
}

/// RMSprop, exactly as `torch.optim.RMSprop`. Per element, with gradient `g` (plus
/// `weight_decay * p` when that is non-zero):
///
/// ```text
/// s = alpha s + (1 - alpha) g²
/// a = g_avg + (1 - alpha) (g - g_avg);  d = sqrt(s - a²) + eps   (centered)
/// d = sqrt(s) + eps                                                 (otherwise)
/// buf = momentum buf + g / d;  p = p - lr buf                      (momentum > 0)
/// p = p - lr g / d                                                  (otherwise)
/// ```
///
/// State entries: `step` (0-d), `square_avg.<name>`, and `momentum_buffer.<name>` with
/// momentum, `grad_avg.<name>` when centred (all start at zero).
///
/// ```
/// use agon_nn::optim::{Optimizer, RmsProp, RmsPropConfig};
/// use agon_nn::Param;
/// use agon_tensor::NdArray;
/// let p = Param::new(NdArray::from_vec(vec![1.0], &[1]).unwrap());
/// let mut opt = RmsProp::new(vec![("w".into(), p.clone())], RmsPropConfig::default());
/// opt.step(&p.tensor().mul_scalar(3.0).sum_all().backward()); // gradient 3
/// // s = 0.01 * 9, p = 1 - 0.01 * 3 / (0.3 + 1e-8)
/// assert!((p.data().to_vec()[0] - 0.9).abs() < 1e-6);
/// let names: Vec<String> = opt.state_dict().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["step", "square_avg.w"]);
/// ```
pub struct RmsProp {
    params: ParamList,
    config: RmsPropConfig,
    step: u64,
    square_avg: Vec<Vec<f32>>,
    momentum_buffer: Vec<Vec<f32>>,
    grad_avg: Vec<Vec<f32>>,
}

impl RmsProp {
    /// RMSprop over `params` (usually `module.named_parameters()`; names key the state).
    ///
    /// # Panics
    /// If a hyperparameter is out of range (negative `lr`, `eps`, `alpha`, `momentum` or
    /// `weight_decay`, as PyTorch checks), or a name or parameter appears twice.
    #[track_caller]
    pub fn new(params: Vec<(String, Param)>, config: RmsPropConfig) -> Self {
        let RmsPropConfig {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            ..
        } = config;
        for (what, v) in [
            ("learning rate", lr),
            ("alpha", alpha),
            ("eps", eps),
            ("weight_decay", weight_decay),
            ("momentum", momentum),
        ] {
            assert!(v >= 0.0, "RmsProp: invalid {what} {v} (need >= 0)");
        }
        let params = ParamList::new("RmsProp", params);
        let zeros = |on: bool| -> Vec<Vec<f32>> {
            params
                .params
                .iter()
                .map(|p| if on { vec![0.0; p.numel()] } else { vec![] })
                .collect()
        };
        RmsProp {
            square_avg: zeros(true),
            momentum_buffer: zeros(momentum > 0.0),
            grad_avg: zeros(config.centered),
            params,
            config,
            step: 0,
        }
    }

    /// The hyperparameters (with the current learning rate).
    pub fn config(&self) -> RmsPropConfig {
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

    fn has_momentum(&self) -> bool {
        self.config.momentum > 0.0
    }

    /// One update, PyTorch's `_single_tensor_rmsprop` operation for operation.
    fn update(&mut self, grads: Vec<Option<NdArray>>) {
        self.step += 1;
        let c = self.config;
        let (lr, alpha, eps) = (widen(c.lr), widen(c.alpha), widen(c.eps) as f32);
        let (wd, momentum) = (widen(c.weight_decay), widen(c.momentum));
        let (alpha_f, one_minus_alpha) = (alpha as f32, (1.0 - alpha) as f32);
        let (use_wd, wd) = (wd != 0.0, wd as f32);
        let (use_momentum, mom) = (momentum > 0.0, momentum as f32);
        let neg_lr = (-lr) as f32;

        for (i, g) in grads.iter().enumerate() {
            let Some(g) = g else { continue };
            let param = &self.params.params[i];
            let mut p = param_values(param);
            let g = slice(g);
            let s = &mut self.square_avg[i];
            let b = &mut self.momentum_buffer[i];
            let a = &mut self.grad_avg[i];
            for (k, (p, &g)) in p.iter_mut().zip(g).enumerate() {
                let g = if use_wd { g + wd * *p } else { g };
                let sk = s[k] * alpha_f + one_minus_alpha * g * g;
                s[k] = sk;
                let avg = if c.centered {
                    let ak = lerp(a[k], g, one_minus_alpha);
                    a[k] = ak;
                    // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
                    (sk - ak * ak).sqrt()
                } else {
                    sk.sqrt()
                } + eps;
                if use_momentum {
                    b[k] = b[k] * mom + g / avg;
                    *p += neg_lr * b[k];
                } else {
                    *p += neg_lr * g / avg;
                }
            }
            install(param, p);
        }
    }
}

impl Optimizer for RmsProp {
    #[track_caller]
    fn step(&mut self, grads: &Gradients) {
        let g = self.params.grads_from_map("RmsProp", grads);
        self.update(g);
    }

    #[track_caller]
    fn step_grads(&mut self, grads: &[Option<Tensor>]) {
        let g = self.params.grads_from_slice("RmsProp", grads);
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
        for (i, (name, p)) in self
            .params
            .names
            .iter()
            .zip(&self.params.params)
            .enumerate()
        {
            out.push((
                format!("square_avg.{name}"),
                state_array(&self.square_avg[i], p),
            ));
            if self.has_momentum() {
                let buf = &self.momentum_buffer[i];
                out.push((format!("momentum_buffer.{name}"), state_array(buf, p)));
            }
            if self.config.centered {
                out.push((
                    format!("grad_avg.{name}"),
                    state_array(&self.grad_avg[i], p),
                ));
            }
        }
        out
    }

    fn load_state_dict(&mut self, state: &[(String, NdArray)]) -> Result<(), OptimStateError> {
        let mut spec = StateSpec::new();
        spec.required("step".into(), &[]);
        for (name, p) in self.params.names.iter().zip(&self.params.params) {
            spec.required(format!("square_avg.{name}"), &p.shape());
            if self.has_momentum() {
                spec.required(format!("momentum_buffer.{name}"), &p.shape());
            }
            if self.config.centered {
                spec.required(format!("grad_avg.{name}"), &p.shape());
            }
        }
        let found = spec.check(state)?;
        self.step = read_step(found["step"]);
        let get = |prefix: &str, name: &str| found[format!("{prefix}.{name}").as_str()].to_vec();
        for (i, name) in self.params.names.iter().enumerate() {
            self.square_avg[i] = get("square_avg", name);
            if self.has_momentum() {
                self.momentum_buffer[i] = get("momentum_buffer", name);
            }
            if self.config.centered {
                self.grad_avg[i] = get("grad_avg", name);
            }
        }
        Ok(())
    }
}
