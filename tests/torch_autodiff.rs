//! Agon's second-order autodiff against PyTorch: a WGAN-GP and an R1 penalty on a small
//! convolutional critic (gradients of a gradient, w.r.t. every critic parameter), and
//! training-mode batch norm with its running-statistics update.
//!
//! The fixtures (`tests/fixtures/autodiff.safetensors`) are written by
//! `scripts/torch_autodiff_fixtures.py` (see its docstring for the command, the torch
//! version, the critic and the tensor names); this test needs no PyTorch.
//!
//! Tolerance, per tensor: every element must satisfy `|agon - torch| <= 1e-4 * max|torch| +
//! 1e-6`, where `max|torch|` is over the whole reference tensor. Scaling by the tensor's
//! largest magnitude (not each element's) keeps near-zero elements of a gradient, which
//! carry only cancellation noise, from failing; PyTorch's own float32 results are within
//! 4e-7 of float64 on this measure (the script's docstring lists it per tensor), so 1e-4
//! allows a different summation order but not a wrong rule.
//!
//! Every tensor in the file is checked: each test marks the names it reads, asserts at the
//! end that it read every tensor of the cases it owns, and `fixture_file_is_fully_owned`
//! asserts that those cases cover the whole file.

use std::cell::RefCell;
use std::collections::BTreeSet;

use agon_autodiff::{
    batch_norm, grad, instance_norm, pixel_shuffle, reflection_pad2d, BatchNormMode, Tensor,
};
use agon_reference::fixtures::{self, Fixtures};
use agon_tensor::{Conv2dParams, NdArray};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/autodiff.safetensors"
);
const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-6;

/// The critic's parameters in PyTorch `state_dict` order and naming.
const PARAMS: [&str; 8] = [
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
    "fc1.weight",
    "fc1.bias",
    "fc2.weight",
    "fc2.bias",
];

/// Which test reads which tensors: a name prefix per test.
const WGAN_GP_OWNS: [&str; 2] = ["critic.", "wgan_gp."];
const R1_OWNS: [&str; 1] = ["r1."];
const BATCH_NORM_OWNS: [&str; 1] = ["batch_norm."];
const IMAGE_OPS_OWNS: [&str; 3] = ["instance_norm.", "reflection_pad.", "pixel_shuffle."];

/// The fixture file plus a record of which tensors were read and what failed.
struct Checker {
    fx: Fixtures,
    used: RefCell<BTreeSet<String>>,
    failures: RefCell<Vec<String>>,
}

impl Checker {
    fn new() -> Self {
        Checker {
            fx: fixtures::load(PATH),
            used: RefCell::new(BTreeSet::new()),
            failures: RefCell::new(Vec::new()),
        }
    }

    /// The tensor `name`, marked as used.
    #[track_caller]
    fn get(&self, name: &str) -> NdArray {
        let t = self.fx.get(name);
        self.used.borrow_mut().insert(name.to_string());
        t
    }

    /// Compares `got` with the reference `name` under the per-tensor tolerance; a mismatch
    /// is recorded (all are reported together by `finish`).
    #[track_caller]
    fn check(&self, name: &str, got: &NdArray) {
        let want = self.get(name);
        if got.shape() != want.shape() {
            self.failures.borrow_mut().push(format!(
                "{name}: agon shape {:?}, PyTorch {:?}",
                got.shape(),
                want.shape()
            ));
            return;
        }
        let (g, w) = (got.to_vec(), want.to_vec());
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let tol = RTOL * scale + ATOL;
        let mut worst = (0usize, 0.0f32);
        for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
            let d = (a - b).abs();
            if d.is_nan() || d > worst.1 {
                worst = (i, if d.is_nan() { f32::INFINITY } else { d });
            }
        }
        // Visible with `--nocapture`: how close each tensor came.
        eprintln!(
            "{name:40} max|diff| / max|torch| = {:.2e}",
            worst.1 / scale.max(f32::MIN_POSITIVE)
        );
        if worst.1 > tol {
            let i = worst.0;
            self.failures.borrow_mut().push(format!(
                "{name}: element {i} (flat) agon {} vs PyTorch {}: |diff| {:.3e} > tol {:.3e} \
                 (max|torch| {:.3e}, relative {:.3e})",
                g[i],
                w[i],
                worst.1,
                tol,
                scale,
                worst.1 / scale.max(f32::MIN_POSITIVE)
            ));
        }
    }

    /// Panics listing every mismatch, or any tensor of the `owned` prefixes left unread.
    fn finish(self, owned: &[&str]) {
        let used = self.used.into_inner();
        let unread: Vec<&str> = self
            .fx
            .names()
            .filter(|n| owned.iter().any(|p| n.starts_with(p)) && !used.contains(*n))
            .collect();
        let failures = self.failures.into_inner();
        assert!(
            failures.is_empty() && unread.is_empty(),
            "{} mismatches against PyTorch:\n  {}\nunread fixture tensors: {unread:?}",
            failures.len(),
            failures.join("\n  ")
        );
    }
}

/// conv1 -> lrelu -> conv2 -> lrelu -> flatten -> fc1 -> lrelu -> fc2, as the script's
/// `Critic` (stride 2, padding 1, slope 0.2).
struct Critic {
    params: Vec<(&'static str, Tensor)>,
}

impl Critic {
    fn load(c: &Checker) -> Self {
        let params = PARAMS
            .iter()
            .map(|&n| (n, Tensor::param(c.get(&format!("critic.{n}")))))
            .collect();
        Critic { params }
    }

    fn p(&self, name: &str) -> &Tensor {
        &self.params.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let conv = Conv2dParams {
            stride: [2, 2],
            padding: [1, 1],
            dilation: [1, 1],
        };
        let linear = |x: &Tensor, layer: &str| {
            let w = self.p(&format!("{layer}.weight"));
            let b = self.p(&format!("{layer}.bias"));
            x.matmul(&w.transpose(0, 1)).add(b)
        };
        let h = x
            .conv2d(self.p("conv1.weight"), Some(self.p("conv1.bias")), &conv)
            .leaky_relu(0.2);
        let h = h
            .conv2d(self.p("conv2.weight"), Some(self.p("conv2.bias")), &conv)
            .leaky_relu(0.2)
            .flatten(1, 3);
        let h = linear(&h, "fc1").tanh();
        linear(&h, "fc2")
    }

    /// Checks d(penalty)/d(param) for every parameter against `<case>.grad.<param>`. A
    /// parameter the penalty does not depend on gets no gradient in Agon (PyTorch stores
    /// zeros, so that compares as zeros).
    fn check_param_grads(&self, c: &Checker, case: &str, penalty: &Tensor) {
        let grads = penalty.backward();
        for (name, p) in &self.params {
            let g = grads
                .get(p)
                .map(|g| g.data().clone())
                .unwrap_or_else(|| NdArray::zeros(p.shape()));
            c.check(&format!("{case}.grad.{name}"), &g);
        }
    }
}

/// The gradient of `critic(x).sum()` w.r.t. `x`, itself differentiable.
fn input_grad(critic: &Critic, x: &Tensor) -> (Tensor, Tensor) {
    let out = critic.forward(x);
    let g = grad(&[&out.sum_all()], &[x], None, true)[0]
        .clone()
        .expect("the critic's output depends on its input");
    assert!(g.requires_grad(), "create_graph=true must give a graph");
    (out, g)
}

#[test]
fn wgan_gp_penalty_and_its_parameter_gradients_match_pytorch() {
    let c = Checker::new();
    let critic = Critic::load(&c);
    let real = Tensor::constant(c.get("wgan_gp.real"));
    let fake = Tensor::constant(c.get("wgan_gp.fake"));
    let eps = Tensor::constant(c.get("wgan_gp.eps"));
    let mix = eps.mul(&real).add(&eps.neg().add_scalar(1.0).mul(&fake));
    c.check("wgan_gp.x_hat", mix.data());
    let x_hat = Tensor::param(mix.data().clone());

    let (out, g) = input_grad(&critic, &x_hat);
    c.check("wgan_gp.out", out.data());
    c.check("wgan_gp.input_grad", g.data());
    let gnorm = g.flatten(1, 3).square().sum(&[1], false).sqrt();
    c.check("wgan_gp.gnorm", gnorm.data());
    let penalty = gnorm.sub_scalar(1.0).square().mean_all();
    c.check("wgan_gp.penalty", penalty.data());
    critic.check_param_grads(&c, "wgan_gp", &penalty);
    c.finish(&WGAN_GP_OWNS);
}

#[test]
fn r1_penalty_and_its_parameter_gradients_match_pytorch() {
    let c = Checker::new();
    let critic = Critic::load(&c);
    let real = Tensor::param(c.get("wgan_gp.real"));

    let (out, g) = input_grad(&critic, &real);
    c.check("r1.out", out.data());
    c.check("r1.input_grad", g.data());
    // gamma / 2 = 1, as in the fixture.
    let penalty = g.square().flatten(1, 3).sum(&[1], false).mean_all();
    c.check("r1.penalty", penalty.data());
    critic.check_param_grads(&c, "r1", &penalty);
    c.finish(&R1_OWNS);
}

#[test]
fn training_batch_norm_and_running_update_match_pytorch() {
    const MOMENTUM: f32 = 0.1;
    let c = Checker::new();
    let x = Tensor::param(c.get("batch_norm.train.x"));
    let w = Tensor::param(c.get("batch_norm.train.weight"));
    let b = Tensor::param(c.get("batch_norm.train.bias"));
    let g_out = Tensor::constant(c.get("batch_norm.train.grad_out"));

    let (y, stats) = batch_norm(&x, Some(&w), Some(&b), None, BatchNormMode::Train, 1e-5);
    c.check("batch_norm.train.out", y.data());
    let loss = y.mul(&g_out).sum_all();
    let grads = grad(&[&loss], &[&x, &w, &b], None, false);
    for (role, g) in ["dx", "dweight", "dbias"].iter().zip(&grads) {
        let g = g
            .as_ref()
            .expect("batch norm output depends on x, weight and bias");
        c.check(&format!("batch_norm.train.{role}"), g.data());
    }

    // The caller owns the running buffers: running = (1 - m) * running + m * stat.
    let stats = stats.expect("training mode reports batch statistics");
    let update = |running: NdArray, stat: &NdArray| {
        running
            .mul_scalar(1.0 - MOMENTUM)
            .add(&stat.mul_scalar(MOMENTUM))
    };
    let running_mean = update(NdArray::zeros(&[3]), &stats.mean);
    let running_var = update(NdArray::ones(&[3]), &stats.var_unbiased);
    c.check("batch_norm.train.running_mean", &running_mean);
    c.check("batch_norm.train.running_var", &running_var);
    c.finish(&BATCH_NORM_OWNS);
}

/// The image-to-image operations: affine instance norm with its first and second
/// derivatives, reflection padding and pixel shuffle with their gradients.
#[test]
fn instance_norm_reflection_pad_and_pixel_shuffle_match_pytorch() {
    let c = Checker::new();
    let x = Tensor::param(c.get("instance_norm.x"));
    let w = Tensor::param(c.get("instance_norm.weight"));
    let b = Tensor::param(c.get("instance_norm.bias"));
    let g_out = Tensor::constant(c.get("instance_norm.grad_out"));
    let y = instance_norm(&x, Some(&w), Some(&b), 1e-5);
    c.check("instance_norm.out", y.data());
    let grads = grad(&[&y.mul(&g_out).sum_all()], &[&x, &w, &b], None, true);
    let [dx, dw, db] = [0, 1, 2].map(|i| grads[i].clone().expect("out depends on it"));
    c.check("instance_norm.dx", dx.data());
    c.check("instance_norm.dweight", dw.data());
    c.check("instance_norm.dbias", db.data());
    let gg = grad(&[&dx.square().sum_all()], &[&x, &w], None, false);
    c.check("instance_norm.ggx", gg[0].as_ref().unwrap().data());
    c.check("instance_norm.ggweight", gg[1].as_ref().unwrap().data());

    for (case, f) in [
        (
            "reflection_pad",
            (&|t: &Tensor| reflection_pad2d(t, [3, 1, 2, 1])) as &dyn Fn(&Tensor) -> Tensor,
        ),
        ("pixel_shuffle", &|t: &Tensor| pixel_shuffle(t, 2)),
    ] {
        let x = Tensor::param(c.get(&format!("{case}.x")));
        let g_out = Tensor::constant(c.get(&format!("{case}.grad_out")));
        let y = f(&x);
        c.check(&format!("{case}.out"), y.data());
        let dx = grad(&[&y.mul(&g_out).sum_all()], &[&x], None, false);
        c.check(&format!("{case}.dx"), dx[0].as_ref().unwrap().data());
    }
    c.finish(&IMAGE_OPS_OWNS);
}

/// The four tests above own disjoint prefixes that together cover every tensor, so every
/// fixture tensor is read by some test (each test asserts it read all of its own).
#[test]
fn fixture_file_is_fully_owned() {
    let fx = fixtures::load(PATH);
    let owned: Vec<&str> = WGAN_GP_OWNS
        .iter()
        .chain(&R1_OWNS)
        .chain(&BATCH_NORM_OWNS)
        .chain(&IMAGE_OPS_OWNS)
        .copied()
        .collect();
    let names: Vec<&str> = fx.names().collect();
    assert!(names.len() >= 40, "only {} tensors in {PATH}", names.len());
    let stray: Vec<&&str> = names
        .iter()
        .filter(|n| !owned.iter().any(|p| n.starts_with(p)))
        .collect();
    assert!(stray.is_empty(), "tensors no test checks: {stray:?}");
    // The metadata describes every case (the loader's convention), and names the torch.
    assert_eq!(
        fx.cases().len(),
        fx.meta("num_cases").unwrap().parse::<usize>().unwrap()
    );
    assert!(fx.meta("torch_version").is_some());
}
