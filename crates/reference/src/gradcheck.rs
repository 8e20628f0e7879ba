//! Finite-difference checks of `agon-autodiff` gradients, first order ([`gradcheck`]) and
//! second order ([`gradgradcheck`]).
//!
//! # What is compared
//! [`gradcheck`] turns `f` into the scalar `L(x) = <f(x), v>` with a random weighting `v`
//! drawn from a fixed seed (a fixed `v` would let errors cancel; a scalar output is simply
//! weighted too). The engine's answer is `grad(&[f(x)], xs, Some(&[v]), false)`; the
//! numeric one is the central difference `(L(x + h e_k) - L(x - h e_k)) / (2h)` for every
//! element `k` of every input, with `L` accumulated in f64 from the f32 outputs. It also
//! asserts that `create_graph = true` returns the same first-order gradient as `false`
//! (the rules run the same kernels either way, so they must agree to rounding).
//!
//! [`gradgradcheck`] applies the same comparison to
//! `G(x, v) = Σ_i <dL/dx_i, u_i>`, the first-order gradients computed with
//! `create_graph = true` and contracted with fixed random `u_i`. Differentiating `G` goes
//! through the *graph the backward rules recorded*, so this tests every rule at second
//! order. As in PyTorch, `v` (the `grad_outputs`) is one of `G`'s inputs: a rule that used
//! its incoming gradient as a constant would pass a first-order check and fail here. For a
//! linear op `G` does not depend on `x`, so callers should also check `op(x)²` or compose
//! piecewise-linear ops with a smooth one (`relu(x) * x`).
//!
//! # Step and tolerances (f32!)
//! A central difference has two errors:
//! - truncation, `h² |f'''| / 6`: shrinks with `h`;
//! - rounding, about `ulp(L) / h`: grows as `h` shrinks. Every output is an f32, so each
//!   carries a relative error of about `6e-8` (half an ulp, more after a chain of ops), and
//!   the difference of two nearly equal values divided by `2h` amplifies it by `1 / 2h`.
//!
//! With values and derivatives of order 1, balancing `h² / 6 ≈ 6e-8 / h` gives
//! `h ≈ 7e-3`; we take **`eps = 1e-2`** (truncation ≈ `1.7e-5 |f'''|`, rounding ≈ `3e-6`
//! per unit of `|L|`, more for sums of many terms and deep compositions). The check passes
//! when `|analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|)` with
//! **`atol = 1e-3`, `rtol = 1e-2`**: an order of magnitude above both error terms for the
//! small, O(1) inputs the tests use, yet far below what a wrong rule produces (a missing
//! factor, a transposed index, a dropped broadcast term is an O(1) relative error).
//!
//! The step `h` is applied in f32 (`x + eps` rounds); the divisor is the step actually
//! taken, `(x + eps) - (x - eps)` evaluated in f64, so that rounding costs nothing.
//!
//! # Choosing inputs
//! Keep inputs small (every element costs two evaluations of `f`, or of `f` and a backward
//! pass at second order) and keep every element more than `eps` away from kinks and
//! ties: relu / leaky_relu / abs at 0, `clamp` bounds, equal candidates of `max` / `min`
//! / `maximum` / max-pooling. Across a kink the central difference averages two one-sided
//! slopes and the check fails for no fault of the rule.
//!
//! ```
//! use agon_reference::gradcheck::{gradcheck, gradgradcheck, GradcheckOptions};
//! use agon_tensor::NdArray;
//! let x = NdArray::from_vec(vec![0.3, -0.7, 1.1], &[3]).unwrap();
//! let opts = GradcheckOptions::default();
//! gradcheck(|t| t[0].tanh(), &[x.clone()], &opts).unwrap();
//! gradgradcheck(|t| t[0].tanh(), &[x], &opts).unwrap();
//! ```

use std::fmt;

use agon_autodiff::{grad, Tensor};
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Step and tolerances of a check; see the module docs for why the defaults are what they
/// are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// Central-difference half step, applied in f32.
    pub eps: f32,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance, against the larger of the two magnitudes.
    pub rtol: f64,
    /// Seed of the random weightings `v` (outputs) and `u` (first-order gradients).
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-2,
            atol: 1e-3,
            rtol: 1e-2,
            seed: 0x5eed,
        }
    }
}

/// What a derivative was taken with respect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wrt {
    /// The i-th input passed to the check.
    Input(usize),
    /// The output weighting `v` (the `grad_outputs`), an input of the second-order check.
    GradOutput,
}

impl fmt::Display for Wrt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wrt::Input(i) => write!(f, "input {i}"),
            Wrt::GradOutput => write!(f, "grad_output"),
        }
    }
}

/// Why a check failed. `order` is 1 for [`gradcheck`] and 2 for [`gradgradcheck`];
/// `index` is the element's multi-index in its input.
#[derive(Clone, Debug, PartialEq)]
pub enum GradcheckError {
    /// The engine's derivative and the finite difference disagree beyond tolerance. The
    /// worst element is reported, with how many of the checked elements failed.
    Mismatch {
        /// 1 or 2.
        order: u8,
        /// The input the worst element belongs to.
        wrt: Wrt,
        /// The worst element's multi-index.
        index: Vec<usize>,
        /// The engine's value.
        analytic: f64,
        /// The central difference.
        numeric: f64,
        /// Elements out of tolerance.
        mismatches: usize,
        /// Elements checked.
        checked: usize,
    },
    /// A first-order gradient differs between `create_graph = false` and `true`.
    GraphModeMismatch {
        /// The input whose gradient differs.
        wrt: Wrt,
        /// The element.
        index: Vec<usize>,
        /// With `create_graph = false`.
        without_graph: f64,
        /// With `create_graph = true`.
        with_graph: f64,
    },
    /// The engine returned a gradient of the wrong shape.
    Shape {
        /// 1 or 2.
        order: u8,
        /// The input.
        wrt: Wrt,
        /// The input's shape.
        expected: Vec<usize>,
        /// The gradient's shape.
        got: Vec<usize>,
    },
    /// A value, analytic or numeric, is NaN or infinite (a perturbed input left the
    /// function's domain, or a rule divided by zero).
    NonFinite {
        /// 1 or 2.
        order: u8,
        /// The input.
        wrt: Wrt,
        /// The element.
        index: Vec<usize>,
        /// `"analytic"` or `"numeric"`.
        what: &'static str,
    },
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradcheckError::Mismatch {
                order,
                wrt,
                index,
                analytic,
                numeric,
                mismatches,
                checked,
            } => write!(
                f,
                "gradcheck (order {order}): {wrt} element {index:?}: analytic {analytic:.6e} vs \
                 numeric {numeric:.6e} (|diff| {:.3e}); {mismatches} of {checked} elements \
                 out of tolerance",
                (analytic - numeric).abs()
            ),
            GradcheckError::GraphModeMismatch {
                wrt,
                index,
                without_graph,
                with_graph,
            } => write!(
                f,
                "gradcheck: {wrt} element {index:?}: gradient {without_graph:e} with \
                 create_graph = false but {with_graph:e} with create_graph = true"
            ),
            GradcheckError::Shape {
                order,
                wrt,
                expected,
                got,
            } => write!(
                f,
                "gradcheck (order {order}): {wrt} has shape {expected:?} but its gradient {got:?}"
            ),
            GradcheckError::NonFinite {
                order,
                wrt,
                index,
                what,
            } => write!(
                f,
                "gradcheck (order {order}): {wrt} element {index:?}: {what} value is not finite"
            ),
        }
    }
}

impl std::error::Error for GradcheckError {}

/// Checks the engine's first derivatives of `f` at `inputs` against central differences
/// (see the module docs for the method and the tolerances).
///
/// `f` receives one [`Tensor`] per input and returns one tensor of any shape. The inputs
/// are always parameters and recording is on, also for the evaluations behind the finite
/// differences: `f` may take gradients inside (a gradient penalty is such a function).
///
/// # Errors
/// The worst mismatching element, a gradient of the wrong shape, a non-finite value, or
/// a gradient that changes with `create_graph`.
pub fn gradcheck<F>(f: F, inputs: &[NdArray], opts: &GradcheckOptions) -> Result<(), GradcheckError>
where
    F: Fn(&[Tensor]) -> Tensor,
{
    first_order(&f, inputs, opts)
}

/// [`gradcheck`]'s body, compiled once: generic, it was compiled again for every closure
/// of every test that calls it (over a minute of one test file's build).
fn first_order(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[NdArray],
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError> {
    let inputs = dense(inputs);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let out = f(&params(&inputs));
    let v = NdArray::rand_uniform(out.shape(), -1.0, 1.0, &mut rng);
    let v_vec = v.to_vec();

    let analytic = |create_graph: bool| {
        let xs = params(&inputs);
        let y = f(&xs);
        let vt = Tensor::constant(v.clone());
        grad(&[&y], &refs(&xs), Some(&[&vt]), create_graph)
    };
    let plain = flatten_grads(1, &inputs, &analytic(false), Wrt::Input)?;
    let recorded = flatten_grads(1, &inputs, &analytic(true), Wrt::Input)?;
    for (i, (p, r)) in plain.iter().zip(&recorded).enumerate() {
        for (k, (&a, &b)) in p.iter().zip(r).enumerate() {
            if (a - b).abs() > 1e-6 * (1.0 + a.abs().max(b.abs())) {
                return Err(GradcheckError::GraphModeMismatch {
                    wrt: Wrt::Input(i),
                    index: unravel(k, inputs[i].shape()),
                    without_graph: a,
                    with_graph: b,
                });
            }
        }
    }

    let value = |xs: &[NdArray]| {
        let y = f(&params(xs));
        dot(&y.data().to_vec(), &v_vec)
    };
    compare(1, &inputs, &plain, value, opts, Wrt::Input)
}

/// Checks the engine's second derivatives of `f`: [`gradcheck`]'s comparison applied to
/// `G(x, v) = Σ_i <d<f(x), v>/dx_i, u_i>`, whose first derivatives were computed with
/// `create_graph = true`. The derivatives of `G` with respect to every input and to the
/// output weighting `v` ([`Wrt::GradOutput`]) are checked.
///
/// # Errors
/// As [`gradcheck`], with `order: 2`.
pub fn gradgradcheck<F>(
    f: F,
    inputs: &[NdArray],
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError>
where
    F: Fn(&[Tensor]) -> Tensor,
{
    second_order(&f, inputs, opts)
}

/// [`gradgradcheck`]'s body, compiled once (as [`first_order`]).
fn second_order(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    inputs: &[NdArray],
    opts: &GradcheckOptions,
) -> Result<(), GradcheckError> {
    let inputs = dense(inputs);
    let n = inputs.len();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let out_shape = f(&params(&inputs)).shape().to_vec();
    let v = NdArray::rand_uniform(&out_shape, -1.0, 1.0, &mut rng);
    let u: Vec<NdArray> = inputs
        .iter()
        .map(|x| NdArray::rand_uniform(x.shape(), -1.0, 1.0, &mut rng))
        .collect();
    let u_vec: Vec<Vec<f32>> = u.iter().map(NdArray::to_vec).collect();
    // G's inputs: the function's inputs, then v.
    let mut all = inputs.clone();
    all.push(v);
    let wrt = |i: usize| {
        if i < n {
            Wrt::Input(i)
        } else {
            Wrt::GradOutput
        }
    };

    // First-order gradients of <f(x), v> with respect to x.
    let first = |ts: &[Tensor], create_graph: bool| {
        let y = f(&ts[..n]);
        grad(&[&y], &refs(&ts[..n]), Some(&[&ts[n]]), create_graph)
    };

    let analytic = {
        let ts = params(&all);
        let terms: Vec<Tensor> = first(&ts, true)
            .iter()
            .zip(&u)
            .filter_map(|(g, ui)| {
                g.as_ref()
                    .map(|g| g.mul(&Tensor::constant(ui.clone())).sum_all())
            })
            .collect();
        match terms.into_iter().reduce(|a, b| a.add(&b)) {
            Some(big_g) => grad(&[&big_g], &refs(&ts), None, false),
            None => vec![None; n + 1],
        }
    };
    let analytic = flatten_grads(2, &all, &analytic, wrt)?;

    let value = |xs: &[NdArray]| {
        let ts = params(xs);
        first(&ts, false)
            .iter()
            .zip(&u_vec)
            .map(|(g, ui)| g.as_ref().map_or(0.0, |g| dot(&g.data().to_vec(), ui)))
            .sum()
    };
    compare(2, &all, &analytic, value, opts, wrt)
}

/// Central differences of `value` for every element of every input, against `analytic`.
fn compare(
    order: u8,
    inputs: &[NdArray],
    analytic: &[Vec<f64>],
    value: impl Fn(&[NdArray]) -> f64,
    opts: &GradcheckOptions,
    wrt: impl Fn(usize) -> Wrt,
) -> Result<(), GradcheckError> {
    let mut worst: Option<(f64, GradcheckError)> = None;
    let mut mismatches = 0;
    let mut checked = 0;
    for (i, x) in inputs.iter().enumerate() {
        let data = x.to_vec();
        for k in 0..data.len() {
            let at = |delta: f32| {
                let mut d = data.clone();
                d[k] += delta;
                let mut xs = inputs.to_vec();
                xs[i] = NdArray::from_vec(d.clone(), x.shape()).expect("same shape");
                (value(&xs), d[k])
            };
            let (plus, x_plus) = at(opts.eps);
            let (minus, x_minus) = at(-opts.eps);
            let numeric = (plus - minus) / (f64::from(x_plus) - f64::from(x_minus));
            let a = analytic[i][k];
            let non_finite = |what| GradcheckError::NonFinite {
                order,
                wrt: wrt(i),
                index: unravel(k, x.shape()),
                what,
            };
            if !a.is_finite() {
                return Err(non_finite("analytic"));
            }
            if !numeric.is_finite() {
                return Err(non_finite("numeric"));
            }
            checked += 1;
            let excess = (a - numeric).abs() - (opts.atol + opts.rtol * a.abs().max(numeric.abs()));
            if excess > 0.0 {
                mismatches += 1;
                if worst.as_ref().is_none_or(|(w, _)| excess > *w) {
                    let e = GradcheckError::Mismatch {
                        order,
                        wrt: wrt(i),
                        index: unravel(k, x.shape()),
                        analytic: a,
                        numeric,
                        mismatches: 0,
                        checked: 0,
                    };
                    worst = Some((excess, e));
                }
            }
        }
    }
    match worst {
        None => Ok(()),
        Some((_, mut e)) => {
            if let GradcheckError::Mismatch {
                mismatches: m,
                checked: c,
                ..
            } = &mut e
            {
                *m = mismatches;
                *c = checked;
            }
            Err(e)
        }
    }
}

/// The engine's gradients as f64 vectors, zeros where it returned `None` (no dependence).
fn flatten_grads(
    order: u8,
    inputs: &[NdArray],
    grads: &[Option<Tensor>],
    wrt: impl Fn(usize) -> Wrt,
) -> Result<Vec<Vec<f64>>, GradcheckError> {
    inputs
        .iter()
        .zip(grads)
        .enumerate()
        .map(|(i, (x, g))| match g {
            None => Ok(vec![0.0; x.numel()]),
            Some(g) if g.shape() != x.shape() => Err(GradcheckError::Shape {
                order,
                wrt: wrt(i),
                expected: x.shape().to_vec(),
                got: g.shape().to_vec(),
            }),
            Some(g) => Ok(g.data().to_vec().into_iter().map(f64::from).collect()),
        })
        .collect()
}

/// Dense copies, so that perturbing element `k` means perturbing `to_vec()[k]`.
fn dense(inputs: &[NdArray]) -> Vec<NdArray> {
    inputs
        .iter()
        .map(|x| NdArray::from_vec(x.to_vec(), x.shape()).expect("same shape"))
        .collect()
}

fn params(xs: &[NdArray]) -> Vec<Tensor> {
    xs.iter().map(|x| Tensor::param(x.clone())).collect()
}

fn refs(ts: &[Tensor]) -> Vec<&Tensor> {
    ts.iter().collect()
}

/// `Σ a_k b_k` accumulated in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

/// The multi-index of row-major element `k` of `shape`.
fn unravel(mut k: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for a in (0..shape.len()).rev() {
        idx[a] = k % shape[a];
        k /= shape[a];
    }
    idx
}
