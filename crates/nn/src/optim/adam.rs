//! Adam and AdamW: PyTorch's `torch.optim.Adam` / `torch.optim.AdamW` (no amsgrad).

use agon_autodiff::{Gradients, Tensor};
use agon_tensor::NdArray;
use rayon::prelude::*;

use super::{
    install, read_step, slice, state_array, step_entry, widen, OptimStateError, Optimizer,
    ParamList, StateSpec,
};
use crate::param::Param;

/// Adam's hyperparameters, with PyTorch's defaults (`lr` 1e-3, `betas` (0.9, 0.999),
/// `eps` 1e-8, `weight_decay` 0). Weight decay here is L2: `weight_decay * p` is added to
/// the gradient (use [`AdamW`] for decoupled decay).
///
/// ```
/// use agon_nn::optim::AdamConfig;
/// let c = AdamConfig::default().lr(2e-4).betas(0.5, 0.999);
/// assert_eq!((c.lr, c.betas, c.eps), (2e-4, (0.5, 0.999), 1e-8));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay rates of the first and second moment estimates.
    pub betas: (f32, f32),
    /// Added to the denominator for numerical stability.
    pub eps: f32,
    /// L2 penalty: `g += weight_decay * p` before the moments.
    pub weight_decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamConfig {
    /// Sets the learning rate.
    pub fn lr(mut self, lr: f32) -> Self {
        self.lr = lr;
        self
    }

    /// Sets `(beta1, beta2)`.
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.betas = (beta1, beta2);
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
}

/// AdamW's hyperparameters, with PyTorch's defaults (`lr` 1e-3, `betas` (0.9, 0.999),
/// `eps` 1e-8, `weight_decay` 1e-2). The decay is decoupled: `p *= 1 - lr * weight_decay`
/// before the Adam update, instead of adding to the gradient.
///
/// ```
/// use agon_nn::optim::AdamWConfig;
/// let c = AdamWConfig::default().weight_decay(0.1);
/// assert_eq!((c.lr, c.weight_decay), (1e-3, 0.1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay rates of the first and second moment estimates.
    pub betas: (f32, f32),
    /// Added to the denominator for numerical stability.
    pub eps: f32,
    /// Decoupled decay: `p *= 1 - lr * weight_decay` each step.
    pub weight_decay: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
        }
    }
}

impl AdamWConfig {
    /// Sets the learning rate.
    pub fn lr(mut self, lr: f32) -> Self {
        self.lr = lr;
        self
    }

    /// Sets `(beta1, beta2)`.
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
        self.betas = (beta1, beta2);
        self
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the decoupled weight decay.
    pub fn weight_decay(mut self, weight_decay: f32) -> Self {
        self.weight_decay = weight_decay;
        self
    }
}

/// What Adam and AdamW share: everything but where the weight decay goes.
struct AdamCore {
    who: &'static str,
    params: ParamList,
    config: AdamConfig,
    decoupled: bool,
    step: u64,
    exp_avg: Vec<Vec<f32>>,
    exp_avg_sq: Vec<Vec<f32>>,
}

impl AdamCore {
    #[track_caller]
    fn new(
        who: &'static str,
        named: Vec<(String, Param)>,
        config: AdamConfig,
        decoupled: bool,
    ) -> Self {
        let AdamConfig {
            lr,
            betas: (b1, b2),
            eps,
            weight_decay,
        } = config;
        assert!(lr >= 0.0, "{who}: invalid learning rate {lr} (need >= 0)");
        assert!(eps >= 0.0, "{who}: invalid eps {eps} (need >= 0)");
        for (i, b) in [b1, b2].into_iter().enumerate() {
            assert!(
                (0.0..1.0).contains(&b),
                "{who}: invalid beta{} {b} (need 0 <= beta < 1)",
                i + 1
            );
        }
        assert!(
            weight_decay >= 0.0,
            "{who}: invalid weight_decay {weight_decay} (need >= 0)"
        );
        let params = ParamList::new(who, named);
        let zeros: Vec<Vec<f32>> = params.params.iter().map(|p| vec![0.0; p.numel()]).collect();
        AdamCore {
            who,
            params,
            config,
            decoupled,
            step: 0,
            exp_avg: zeros.clone(),
            exp_avg_sq: zeros,
        }
    }

    /// One update, PyTorch's `_single_tensor_adam` operation for operation: scalars in f64
    /// (Python floats) rounded to f32 where they meet a tensor, elements in f32, one fused
    /// pass per parameter.
    fn update(&mut self, grads: Vec<Option<NdArray>>) {
        self.step += 1;
        let c = &self.config;
        let (lr, b1, b2) = (widen(c.lr), widen(c.betas.0), widen(c.betas.1));
        let (eps, wd) = (widen(c.eps) as f32, widen(c.weight_decay));
        let t = self.step as f64;
        let bias_correction1 = 1.0 - b1.powf(t);
        let bias_correction2 = 1.0 - b2.powf(t);
        let neg_step_size = (-(lr / bias_correction1)) as f32;
        let bias_correction2_sqrt = bias_correction2.powf(0.5) as f32;
        // exp_avg.lerp_(g, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2).
        let w1 = (1.0 - b1) as f32;
        let (b2_f, c2) = (b2 as f32, (1.0 - b2) as f32);
        // AdamW: param.mul_(1 - lr * wd); Adam: grad.add(param, alpha=wd).
        let decay = (1.0 - lr * wd) as f32;
        let (decoupled, l2) = (self.decoupled && wd != 0.0, !self.decoupled && wd != 0.0);
        let wd = wd as f32;

        let k = Scalars {
            decay,
            wd,
            w1,
            b2: b2_f,
            c2,
            bias_correction2_sqrt,
            eps,
            neg_step_size,
        };
        // The branches fixed outside the loop, so that it vectorises (see `Scalars::run`).
        let run_for = match (decoupled, l2, w1.abs() < 0.5) {
            (true, _, true) => Scalars::run::<true, false, true>,
            (true, _, false) => Scalars::run::<true, false, false>,
            (false, true, true) => Scalars::run::<false, true, true>,
            (false, true, false) => Scalars::run::<false, true, false>,
            (false, false, true) => Scalars::run::<false, false, true>,
            (false, false, false) => Scalars::run::<false, false, false>,
        };
        for (i, g) in grads.iter().enumerate() {
            let Some(g) = g else { continue };
            let param = &self.params.params[i];
            let old = param.data().contiguous();
            let old = old.as_slice().expect("contiguous");
            let mut p = vec![0.0f32; old.len()];
            let (m, v) = (&mut self.exp_avg[i], &mut self.exp_avg_sq[i]);
            // Each element's update reads only that element, so splitting a large
            // parameter over the pool changes no bits. (dcgan28's generator has 2.3M
            // parameters, 60+ MB of traffic per step, which one thread did alone.)
            type Chunks<'a> = (
                (((&'a mut [f32], &'a [f32]), &'a [f32]), &'a mut [f32]),
                &'a mut [f32],
            );
            let run = |((((p, old), g), m), v): Chunks<'_>| run_for(&k, p, old, g, m, v);
            if p.len() > PAR_CHUNK {
                p.par_chunks_mut(PAR_CHUNK)
                    .zip(old.par_chunks(PAR_CHUNK))
                    .zip(slice(g).par_chunks(PAR_CHUNK))
                    .zip(m.par_chunks_mut(PAR_CHUNK))
                    .zip(v.par_chunks_mut(PAR_CHUNK))
                    .for_each(run);
            } else {
                run(((((&mut p[..], old), slice(g)), &mut m[..]), &mut v[..]));
            }
            install(param, p);
        }
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
            out.push((format!("exp_avg.{name}"), state_array(&self.exp_avg[i], p)));
            out.push((
                format!("exp_avg_sq.{name}"),
                state_array(&self.exp_avg_sq[i], p),
            ));
        }
        out
    }

    fn load_state_dict(&mut self, state: &[(String, NdArray)]) -> Result<(), OptimStateError> {
        let mut spec = StateSpec::new();
        spec.required("step".into(), &[]);
        for (name, p) in self.params.names.iter().zip(&self.params.params) {
            spec.required(format!("exp_avg.{name}"), &p.shape());
            spec.required(format!("exp_avg_sq.{name}"), &p.shape());
        }
        let found = spec.check(state)?;
        self.step = read_step(found["step"]);
        for (i, name) in self.params.names.iter().enumerate() {
            self.exp_avg[i] = found[format!("exp_avg.{name}").as_str()].to_vec();
            self.exp_avg_sq[i] = found[format!("exp_avg_sq.{name}").as_str()].to_vec();
        }
        Ok(())
    }
}

/// Adam's per-step scalars, as f32 where they meet the elements.
struct Scalars {
    decay: f32,
    wd: f32,
    w1: f32,
    b2: f32,
    c2: f32,
    bias_correction2_sqrt: f32,
    eps: f32,
    neg_step_size: f32,
}

impl Scalars {
    /// `p = old` updated from `g`, `m` and `v` (all the same length), the branches of one
    /// update fixed: `DECOUPLED` (AdamW's decay), `L2` (Adam's), `LOW` (`lerp`'s form for
    /// `|w1| < 0.5`). With no branch and no call left in the loop it vectorises (the SIMD
    /// `sqrt` and division round as the scalar ones do, so the bits are the same); as one
    /// loop over a closure with those branches inside, mlp2d's 67K parameters took 9% of
    /// its one-thread step (Zen 4, 2026-12-07).
    fn run<const DECOUPLED: bool, const L2: bool, const LOW: bool>(
        &self,
        p: &mut [f32],
        old: &[f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        let n = p.len();
        let (old, g, m, v) = (&old[..n], &g[..n], &mut m[..n], &mut v[..n]);
        let one_minus_w1 = 1.0 - self.w1;
        for i in 0..n {
            let mut p_i = old[i];
            if DECOUPLED {
                p_i *= self.decay;
            }
            let g_i = if L2 { g[i] + self.wd * p_i } else { g[i] };
            // lerp(m, g, w1), in the form `lerp` picks for this w1.
            let m_i = if LOW {
                m[i] + self.w1 * (g_i - m[i])
            } else {
                g_i - (g_i - m[i]) * one_minus_w1
            };
            let v_i = v[i] * self.b2 + self.c2 * g_i * g_i;
            let denom = v_i.sqrt() / self.bias_correction2_sqrt + self.eps;
            p[i] = p_i + self.neg_step_size * m_i / denom;
            m[i] = m_i;
            v[i] = v_i;
        }
    }
}

/// Elements per task of the update: parameters up to this size are updated on the calling
/// thread.
const PAR_CHUNK: usize = 1 << 15;

/// PyTorch's `lerp` for a scalar weight: `start + w (end - start)` for `|w| < 0.5`, else
/// `end - (end - start)(1 - w)` (the form that is exact at `w = 1`).
#[inline]
pub(crate) fn lerp(start: f32, end: f32, w: f32) -> f32 {
    if w.abs() < 0.5 {
        start + w * (end - start)
    } else {
        end - (end - start) * (1.0 - w)
    }
}

macro_rules! adam_optimizer_impl {
    ($ty:ident) => {
        impl Optimizer for $ty {
            #[track_caller]
            fn step(&mut self, grads: &Gradients) {
                let g = self.0.params.grads_from_map(self.0.who, grads);
                self.0.update(g);
            }

            #[track_caller]
            fn step_grads(&mut self, grads: &[Option<Tensor>]) {
                let g = self.0.params.grads_from_slice(self.0.who, grads);
                self.0.update(g);
            }

            fn lr(&self) -> f32 {
                self.0.config.lr
            }

            fn set_lr(&mut self, lr: f32) {
                self.0.config.lr = lr;
            }

            fn state_dict(&self) -> Vec<(String, NdArray)> {
                self.0.state_dict()
            }

            fn load_state_dict(
                &mut self,
                state: &[(String, NdArray)],
            ) -> Result<(), OptimStateError> {
                self.0.load_state_dict(state)
            }
        }

        impl $ty {
            /// Steps taken so far (the `"step"` state entry).
            pub fn step_count(&self) -> u64 {
                self.0.step
            }

            /// The parameters with their names, in construction order.
            pub fn named_parameters(&self) -> Vec<(String, Param)> {
                self.0
                    .params
                    .names
                    .iter()
                    .cloned()
                    .zip(self.0.params.params.iter().cloned())
                    .collect()
            }
        }
    };
}

/// Adam (Kingma & Ba), exactly as `torch.optim.Adam` (amsgrad off). Per element, at step
/// `t` with gradient `g` (plus `weight_decay * p` when that is non-zero):
///
/// ```text
/// m = m + (1 - b1) (g - m)                    (= b1 m + (1 - b1) g, PyTorch's lerp)
/// v = b2 v + (1 - b2) g²
/// p = p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
/// ```
///
/// State entries: `step` (0-d), `exp_avg.<name>`, `exp_avg_sq.<name>`.
///
/// ```
/// use agon_nn::optim::{Adam, AdamConfig, Optimizer};
/// use agon_nn::Param;
/// use agon_tensor::NdArray;
/// let p = Param::new(NdArray::from_vec(vec![1.0, -1.0], &[2]).unwrap());
/// let mut opt = Adam::new(vec![("w".into(), p.clone())], AdamConfig::default().lr(0.1));
/// opt.step(&p.tensor().sum_all().backward()); // the first step moves each element by lr
/// let v = p.data().to_vec();
/// assert!((v[0] - 0.9).abs() < 1e-6 && (v[1] + 1.1).abs() < 1e-6);
/// assert_eq!(opt.state_dict()[0].0, "step");
/// ```
pub struct Adam(AdamCore);

impl Adam {
    /// Adam over `params` (usually `module.named_parameters()`; names key the state).
    ///
    /// # Panics
    /// If a hyperparameter is out of range (negative `lr`, `eps` or `weight_decay`, a beta
    /// outside `[0, 1)`), or a name or parameter appears twice.
    #[track_caller]
    pub fn new(params: Vec<(String, Param)>, config: AdamConfig) -> Self {
        Adam(AdamCore::new("Adam", params, config, false))
    }

    /// The hyperparameters (with the current learning rate).
    pub fn config(&self) -> AdamConfig {
        self.0.config
    }
}

/// AdamW (Loshchilov & Hutter), exactly as `torch.optim.AdamW`: Adam with decoupled
/// weight decay, `p = p (1 - lr * weight_decay)` before the [`Adam`] update (which then
/// sees the raw gradient).
///
/// State entries as [`Adam`]'s.
///
/// ```
/// use agon_nn::optim::{AdamW, AdamWConfig, Optimizer};
/// use agon_nn::Param;
/// use agon_tensor::NdArray;
/// let p = Param::new(NdArray::from_vec(vec![2.0], &[1]).unwrap());
/// let mut opt = AdamW::new(vec![("w".into(), p.clone())], AdamWConfig::default().lr(0.1).weight_decay(0.5));
/// opt.step_grads(&[Some(agon_autodiff::Tensor::constant(NdArray::zeros(&[1])))]);
/// assert!((p.data().to_vec()[0] - 2.0 * (1.0 - 0.1 * 0.5)).abs() < 1e-6); // decay alone
/// ```
pub struct AdamW(AdamCore);

impl AdamW {
    /// AdamW over `params` (usually `module.named_parameters()`; names key the state).
    ///
    /// # Panics
    /// As [`Adam::new`].
    #[track_caller]
    pub fn new(params: Vec<(String, Param)>, config: AdamWConfig) -> Self {
        let AdamWConfig {
            lr,
            betas,
            eps,
            weight_decay,
        } = config;
        let shared = AdamConfig {
            lr,
            betas,
            eps,
            weight_decay,
        };
        AdamW(AdamCore::new("AdamW", params, shared, true))
    }

    /// The hyperparameters (with the current learning rate).
    pub fn config(&self) -> AdamWConfig {
        let AdamConfig {
            lr,
            betas,
            eps,
            weight_decay,
        } = self.0.config;
        AdamWConfig {
            lr,
            betas,
            eps,
            weight_decay,
        }
    }
}

adam_optimizer_impl!(Adam);
adam_optimizer_impl!(AdamW);
