//! Agon's optimisers, schedules and clipping.
//!
//! Against PyTorch: `tests/fixtures/optim.safetensors`, written by
//! `scripts/torch_optim_fixtures.py` (see its docstring for the command, the torch version,
//! the cases and the tensor names), holds two parameters, five steps of gradients, and for
//! each optimiser configuration the parameters after every step and the final state. The
//! test replays the same gradients with `step_grads` and compares every tensor with
//! `|agon - torch| <= 1e-6 * max|torch|` (per tensor; PyTorch's own float32 results are
//! within 2e-7 of float64 on that measure). Every tensor of the file is read.
//!
//! Also: state-dict round trips mid-run continue bit-exactly, load errors change nothing,
//! schedules at their boundary steps, weight clipping, the `Gradients`-map path.

mod common;
use common::on_threads;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use agon_autodiff::Tensor;
use agon_nn::optim::{
    clip_grad_norm, clip_weights, grads_for, Adam, AdamConfig, AdamW, AdamWConfig, LrSchedule,
    OptimStateError, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use agon_nn::Param;
use agon_reference::fixtures::{self, Case, Fixtures};
use agon_tensor::NdArray;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/optim.safetensors"
);
const RTOL: f32 = 1e-6;
const PARAMS: [&str; 2] = ["w", "b"];

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

    #[track_caller]
    fn get(&self, name: &str) -> NdArray {
        let t = self.fx.get(name);
        self.used.borrow_mut().insert(name.to_string());
        t
    }

    /// Compares `got` with the reference `name`: `|diff| <= RTOL * max|torch|`.
    fn check(&self, name: &str, got: &NdArray) {
        let want = self.get(name);
        if got.shape() != want.shape() {
            self.fail(format!(
                "{name}: agon shape {:?}, PyTorch {:?}",
                got.shape(),
                want.shape()
            ));
            return;
        }
        let (g, w) = (got.to_vec(), want.to_vec());
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let mut worst = (0usize, 0.0f32);
        for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
            let d = (a - b).abs();
            let d = if d.is_nan() { f32::INFINITY } else { d };
            if d > worst.1 {
                worst = (i, d);
            }
        }
        let rel = worst.1 / scale.max(f32::MIN_POSITIVE);
        eprintln!("{name:45} max|diff| / max|torch| = {rel:.2e}");
        if worst.1 > RTOL * scale {
            let i = worst.0;
            self.fail(format!(
                "{name}: element {i} agon {} vs PyTorch {} (relative {rel:.2e})",
                g[i], w[i]
            ));
        }
    }

    fn fail(&self, msg: String) {
        self.failures.borrow_mut().push(msg);
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

fn arr(v: &[f32], shape: &[usize]) -> NdArray {
    NdArray::from_vec(v.to_vec(), shape).unwrap()
}

fn f32_param(case: &Case, key: &str) -> Option<f32> {
    case.params.get(key).map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{}: {key}={v} is not a number", case.name))
    })
}

fn pair_param(case: &Case, key: &str) -> Option<(f32, f32)> {
    case.params.get(key).map(|v| {
        let (a, b) = v.split_once(',').expect("a pair `a,b`");
        (a.parse().unwrap(), b.parse().unwrap())
    })
}

/// The optimiser a fixture case describes: Agon's defaults, overridden by every key the
/// case lists (the script records the constructor's arguments).
fn build(case: &Case, named: Vec<(String, Param)>) -> Box<dyn Optimizer> {
    let f = |k: &str| f32_param(case, k);
    let known: &[&str] = match case.param("opt") {
        "sgd" => &["lr", "momentum", "dampening", "nesterov", "weight_decay"],
        "adam" | "adamw" => &["lr", "betas", "eps", "weight_decay"],
        "rmsprop" => &["lr", "alpha", "eps", "weight_decay", "momentum", "centered"],
        other => panic!("{}: unknown optimiser {other}", case.name),
    };
    for k in case.params.keys().filter(|k| *k != "opt") {
        assert!(
            known.contains(&k.as_str()),
            "{}: unhandled key {k}",
            case.name
        );
    }
    match case.param("opt") {
        "sgd" => {
            let d = SgdConfig::default();
            let c = SgdConfig {
                lr: f("lr").unwrap_or(d.lr),
                momentum: f("momentum").unwrap_or(d.momentum),
                dampening: f("dampening").unwrap_or(d.dampening),
                nesterov: case.params.contains_key("nesterov") && case.flag("nesterov"),
                weight_decay: f("weight_decay").unwrap_or(d.weight_decay),
            };
            Box::new(Sgd::new(named, c))
        }
        "adam" => {
            let d = AdamConfig::default();
            let c = AdamConfig {
                lr: f("lr").unwrap_or(d.lr),
                betas: pair_param(case, "betas").unwrap_or(d.betas),
                eps: f("eps").unwrap_or(d.eps),
                weight_decay: f("weight_decay").unwrap_or(d.weight_decay),
            };
            Box::new(Adam::new(named, c))
        }
        "adamw" => {
            let d = AdamWConfig::default();
            let c = AdamWConfig {
                lr: f("lr").unwrap_or(d.lr),
                betas: pair_param(case, "betas").unwrap_or(d.betas),
                eps: f("eps").unwrap_or(d.eps),
                weight_decay: f("weight_decay").unwrap_or(d.weight_decay),
            };
            Box::new(AdamW::new(named, c))
        }
        _ => {
            let d = RmsPropConfig::default();
            let c = RmsPropConfig {
                lr: f("lr").unwrap_or(d.lr),
                alpha: f("alpha").unwrap_or(d.alpha),
                eps: f("eps").unwrap_or(d.eps),
                weight_decay: f("weight_decay").unwrap_or(d.weight_decay),
                momentum: f("momentum").unwrap_or(d.momentum),
                centered: case.params.contains_key("centered") && case.flag("centered"),
            };
            Box::new(RmsProp::new(named, c))
        }
    }
}

fn optimiser_cases(fx: &Fixtures) -> Vec<Case> {
    fx.cases()
        .into_iter()
        .filter(|c| c.params.contains_key("opt"))
        .collect()
}

/// Fresh parameters holding the fixture's initial values, with their names.
fn fresh_params(ck: &Checker) -> Vec<(String, Param)> {
    PARAMS
        .iter()
        .map(|n| {
            (
                n.to_string(),
                Param::new(ck.get(&format!("init.params.{n}"))),
            )
        })
        .collect()
}

/// Step `k`'s gradients, aligned with `PARAMS`.
fn step_grads(ck: &Checker, k: usize) -> Vec<Option<Tensor>> {
    PARAMS
        .iter()
        .map(|n| {
            let seq = ck.get(&format!("grads.seq.{n}"));
            let shape = seq.shape()[1..].to_vec();
            Some(Tensor::constant(
                seq.narrow(0, k, 1).contiguous().reshape(&shape),
            ))
        })
        .collect()
}

#[test]
fn optimisers_match_pytorch_step_by_step() {
    let ck = Checker::new();
    let steps: usize = ck.fx.meta("steps").unwrap().parse().unwrap();
    let cases = optimiser_cases(&ck.fx);
    assert_eq!(cases.len(), 10, "cases: {:?}", ck.fx.meta("cases"));
    for case in &cases {
        let named = fresh_params(&ck);
        let params: Vec<Param> = named.iter().map(|(_, p)| p.clone()).collect();
        let mut opt = build(case, named);
        let mut after: Vec<Vec<f32>> = vec![vec![]; PARAMS.len()];
        for k in 0..steps {
            opt.step_grads(&step_grads(&ck, k));
            for (i, p) in params.iter().enumerate() {
                after[i].extend(p.data().to_vec());
            }
        }
        for (i, (n, p)) in PARAMS.iter().zip(&params).enumerate() {
            let shape: Vec<usize> = [steps].into_iter().chain(p.shape()).collect();
            ck.check(&format!("{}.after_{n}", case.name), &arr(&after[i], &shape));
        }
        // The final state, entry by entry: `exp_avg.w` <-> `state_exp_avg_w`.
        let state = opt.state_dict();
        let mut expected: BTreeSet<String> = ck
            .fx
            .names()
            .filter_map(|t| t.strip_prefix(&format!("{}.state_", case.name)))
            .map(String::from)
            .collect();
        for (name, value) in &state {
            let role = name.replace('.', "_");
            if name == "step" && !expected.contains("step") {
                // PyTorch's SGD keeps no step count; Agon's counts the calls.
                assert_eq!(value.item(), steps as f32, "{}: step", case.name);
                continue;
            }
            assert!(
                expected.remove(&role),
                "{}: Agon state `{name}` has no PyTorch counterpart",
                case.name
            );
            ck.check(&format!("{}.state_{role}", case.name), value);
        }
        assert!(
            expected.is_empty(),
            "{}: PyTorch state {expected:?} missing from Agon's state_dict",
            case.name
        );
    }
    ck.finish(&["sgd.", "adam.", "adamw.", "rmsprop.", "init.", "grads."]);
}

#[test]
fn clip_grad_norm_matches_pytorch() {
    let ck = Checker::new();
    let cases: Vec<Case> = ck
        .fx
        .cases()
        .into_iter()
        .filter(|c| c.op() == "clip")
        .collect();
    assert_eq!(cases.len(), 2);
    for case in &cases {
        let max_norm = f32_param(case, "max_norm").unwrap();
        let mut grads: Vec<Option<Tensor>> = (0..3)
            .map(|i| Some(Tensor::constant(ck.get(&format!("{}.g{i}", case.name)))))
            .collect();
        grads.insert(1, None); // skipped, as a parameter without a gradient
        let norm = clip_grad_norm(&mut grads, max_norm);
        ck.check(&format!("{}.norm", case.name), &NdArray::scalar(norm));
        assert!(grads[1].is_none());
        let outs: Vec<&Tensor> = grads.iter().flatten().collect();
        for (i, g) in outs.iter().enumerate() {
            assert!(!g.requires_grad());
            ck.check(&format!("{}.out{i}", case.name), g.data());
        }
    }
    ck.finish(&["clip."]);
}

#[test]
fn defaults_are_pytorchs() {
    let fx = fixtures::load(PATH);
    let parse = |opt: &str| -> BTreeMap<String, String> {
        fx.meta(&format!("defaults.{opt}"))
            .unwrap()
            .split(';')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    };
    let num = |m: &BTreeMap<String, String>, k: &str| -> f32 { m[k].parse().unwrap() };
    let flag = |m: &BTreeMap<String, String>, k: &str| m[k] == "1";
    let pair = |m: &BTreeMap<String, String>, k: &str| -> (f32, f32) {
        let (a, b) = m[k].split_once(',').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };

    let m = parse("sgd");
    let c = SgdConfig::default();
    assert_eq!(
        (c.lr, c.momentum, c.dampening, c.nesterov, c.weight_decay),
        (
            num(&m, "lr"),
            num(&m, "momentum"),
            num(&m, "dampening"),
            flag(&m, "nesterov"),
            num(&m, "weight_decay")
        )
    );
    let m = parse("adam");
    let c = AdamConfig::default();
    assert_eq!(
        (c.lr, c.betas, c.eps, c.weight_decay),
        (
            num(&m, "lr"),
            pair(&m, "betas"),
            num(&m, "eps"),
            num(&m, "weight_decay")
        )
    );
    let m = parse("adamw");
    let c = AdamWConfig::default();
    assert_eq!(
        (c.lr, c.betas, c.eps, c.weight_decay),
        (
            num(&m, "lr"),
            pair(&m, "betas"),
            num(&m, "eps"),
            num(&m, "weight_decay")
        )
    );
    let m = parse("rmsprop");
    let c = RmsPropConfig::default();
    assert_eq!(
        (c.lr, c.alpha, c.eps, c.weight_decay, c.momentum, c.centered),
        (
            num(&m, "lr"),
            num(&m, "alpha"),
            num(&m, "eps"),
            num(&m, "weight_decay"),
            num(&m, "momentum"),
            flag(&m, "centered")
        )
    );
}

// ---------------------------------------------------------------------------------------
// State dicts.

/// Builds an optimiser over the given parameters.
type MakeOptimizer = fn(Vec<(String, Param)>) -> Box<dyn Optimizer>;

/// Every configuration worth round-tripping (every state layout), with a label.
fn configs() -> Vec<(&'static str, MakeOptimizer)> {
    vec![
        ("sgd", |p| {
            Box::new(Sgd::new(p, SgdConfig::default().lr(0.1)))
        }),
        ("sgd_momentum", |p| {
            Box::new(Sgd::new(
                p,
                SgdConfig::default()
                    .lr(0.05)
                    .momentum(0.9)
                    .nesterov(true)
                    .weight_decay(0.01),
            ))
        }),
        ("adam", |p| {
            Box::new(Adam::new(
                p,
                AdamConfig::default().lr(0.05).betas(0.5, 0.999),
            ))
        }),
        ("adamw", |p| {
            Box::new(AdamW::new(p, AdamWConfig::default().lr(0.05)))
        }),
        ("rmsprop", |p| {
            Box::new(RmsProp::new(p, RmsPropConfig::default()))
        }),
        ("rmsprop_centered_momentum", |p| {
            Box::new(RmsProp::new(
                p,
                RmsPropConfig::default()
                    .momentum(0.9)
                    .centered(true)
                    .weight_decay(0.01),
            ))
        }),
    ]
}

/// Deterministic pseudo-random values (no RNG dependency in the assertions).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = (i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(seed * 40503);
            ((x >> 8) as f32 / (1u32 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn named_from(vals: &[Vec<f32>]) -> Vec<(String, Param)> {
    let shapes: [&[usize]; 2] = [&[3, 4], &[4]];
    vals.iter()
        .zip(shapes)
        .zip(["net.0.weight", "net.0.bias"])
        .map(|((v, s), n)| (n.to_string(), Param::new(arr(v, s))))
        .collect()
}

fn grads_at(step: u32) -> Vec<Option<Tensor>> {
    vec![
        Some(Tensor::constant(arr(&values(12, 100 + step), &[3, 4]))),
        Some(Tensor::constant(arr(&values(4, 200 + step), &[4]))),
    ]
}

fn snapshot(named: &[(String, Param)]) -> Vec<Vec<f32>> {
    named.iter().map(|(_, p)| p.data().to_vec()).collect()
}

fn bits(state: &[(String, NdArray)]) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    state
        .iter()
        .map(|(n, a)| {
            let b = a.to_vec().iter().map(|v| v.to_bits()).collect();
            (n.clone(), a.shape().to_vec(), b)
        })
        .collect()
}

#[test]
fn state_dict_round_trip_continues_bit_exactly() {
    for (label, make) in configs() {
        let init = vec![values(12, 1), values(4, 2)];
        let a_params = named_from(&init);
        let mut a = make(a_params.clone());
        for s in 0..2 {
            a.step_grads(&grads_at(s));
        }
        // Save after 2 steps; restore into a fresh optimiser over fresh parameters.
        let saved = a.state_dict();
        let b_params = named_from(&snapshot(&a_params));
        let mut b = make(b_params.clone());
        b.load_state_dict(&saved)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(
            bits(&b.state_dict()),
            bits(&saved),
            "{label}: reloaded state"
        );
        for s in 2..5 {
            a.step_grads(&grads_at(s));
            b.step_grads(&grads_at(s));
        }
        let to_bits = |v: Vec<Vec<f32>>| -> Vec<Vec<u32>> {
            v.into_iter()
                .map(|x| x.into_iter().map(f32::to_bits).collect())
                .collect()
        };
        assert_eq!(
            to_bits(snapshot(&a_params)),
            to_bits(snapshot(&b_params)),
            "{label}: parameters after continuing"
        );
        assert_eq!(
            bits(&a.state_dict()),
            bits(&b.state_dict()),
            "{label}: state"
        );
        assert_eq!(
            a.state_dict()[0],
            ("step".to_string(), NdArray::scalar(5.0))
        );
    }
}

#[test]
fn load_errors_change_nothing() {
    for (label, make) in configs() {
        let named = named_from(&[values(12, 3), values(4, 4)]);
        let mut opt = make(named.clone());
        opt.step_grads(&grads_at(0));
        let good = opt.state_dict();
        let before = bits(&good);

        // Missing: drop each entry in turn (SGD's momentum buffers are optional).
        for i in 0..good.len() {
            let mut bad = good.clone();
            let (name, _) = bad.remove(i);
            let r = opt.load_state_dict(&bad);
            if label.starts_with("sgd") && name != "step" {
                assert_eq!(r, Ok(()), "{label}: momentum buffers are optional");
                opt.load_state_dict(&good).unwrap();
            } else {
                assert_eq!(r, Err(OptimStateError::Missing(name)), "{label}");
            }
            assert_eq!(
                bits(&opt.state_dict()),
                before,
                "{label}: changed by a failed load"
            );
        }
        // Unexpected: an extra entry, a foreign parameter's entry, a duplicate.
        let mut bad = good.clone();
        bad.push((
            "max_exp_avg_sq.net.0.weight".into(),
            NdArray::zeros(&[3, 4]),
        ));
        assert_eq!(
            opt.load_state_dict(&bad),
            Err(OptimStateError::Unexpected(
                "max_exp_avg_sq.net.0.weight".into()
            )),
            "{label}"
        );
        let mut bad = good.clone();
        bad.push(good.last().unwrap().clone());
        assert_eq!(
            opt.load_state_dict(&bad),
            Err(OptimStateError::Unexpected(good.last().unwrap().0.clone())),
            "{label}: duplicate"
        );
        // Shape mismatch, on the last entry (so everything before it was fine).
        let mut bad = good.clone();
        let (name, value) = bad.pop().unwrap();
        bad.push((name.clone(), NdArray::zeros(&[value.numel() + 1])));
        assert_eq!(
            opt.load_state_dict(&bad),
            Err(OptimStateError::ShapeMismatch {
                name,
                expected: value.shape().to_vec(),
                found: vec![value.numel() + 1],
            }),
            "{label}"
        );
        let mut bad = good.clone();
        bad[0].1 = NdArray::zeros(&[1]);
        assert!(
            matches!(opt.load_state_dict(&bad), Err(OptimStateError::ShapeMismatch { ref name, .. }) if name == "step"),
            "{label}: step must be 0-d"
        );
        assert_eq!(
            bits(&opt.state_dict()),
            before,
            "{label}: changed by a failed load"
        );

        // The optimiser still continues exactly like an untouched twin.
        let twin_params = named_from(&snapshot(&named));
        let mut twin = make(twin_params.clone());
        twin.load_state_dict(&good).unwrap();
        opt.step_grads(&grads_at(1));
        twin.step_grads(&grads_at(1));
        assert_eq!(snapshot(&named), snapshot(&twin_params), "{label}");
    }
}

#[test]
fn error_messages_name_the_entry() {
    let e = OptimStateError::ShapeMismatch {
        name: "exp_avg.w".into(),
        expected: vec![3],
        found: vec![4],
    };
    assert_eq!(
        e.to_string(),
        "optimiser state `exp_avg.w` has shape [4], expected [3]"
    );
    assert!(OptimStateError::Missing("step".into())
        .to_string()
        .contains("`step`"));
}

#[test]
fn sgd_momentum_buffer_starts_from_the_first_gradient() {
    let p = Param::new(arr(&[1.0], &[1]));
    let mut opt = Sgd::new(
        vec![("p".into(), p.clone())],
        SgdConfig::default().lr(1.0).momentum(0.5).dampening(0.5),
    );
    assert_eq!(
        opt.state_dict().len(),
        1,
        "no buffer before the first gradient"
    );
    opt.step_grads(&[Some(Tensor::constant(arr(&[2.0], &[1])))]);
    // buf = g = 2 (no dampening on the first step): p = 1 - 2
    assert_eq!(p.data().to_vec(), vec![-1.0]);
    opt.step_grads(&[Some(Tensor::constant(arr(&[2.0], &[1])))]);
    // buf = 0.5 * 2 + 0.5 * 2 = 2
    assert_eq!(p.data().to_vec(), vec![-3.0]);
    let state = opt.state_dict();
    assert_eq!(state[1].0, "momentum_buffer.p");
    assert_eq!(state[1].1.to_vec(), vec![2.0]);
    // Loading a state without buffers forgets them: the next step starts over.
    opt.load_state_dict(&state[..1]).unwrap();
    assert_eq!(opt.state_dict().len(), 1);
    // With momentum 0 no buffer is expected.
    let mut plain = Sgd::new(vec![("p".into(), p.clone())], SgdConfig::default());
    assert_eq!(
        plain.load_state_dict(&state),
        Err(OptimStateError::Unexpected("momentum_buffer.p".into()))
    );
}

// ---------------------------------------------------------------------------------------
// Stepping.

#[test]
fn gradient_map_and_aligned_gradients_agree() {
    for (label, make) in configs() {
        let a_params = named_from(&[values(12, 5), values(4, 6)]);
        let b_params = named_from(&snapshot(&a_params));
        let (mut a, mut b) = (make(a_params.clone()), make(b_params.clone()));
        for s in 0..3 {
            let g = grads_at(s);
            a.step_grads(&g);
            // The same gradients through the map: loss = sum(p * g).
            let loss = b_params
                .iter()
                .zip(&g)
                .map(|((_, p), g)| p.tensor().mul(g.as_ref().unwrap()).sum_all())
                .reduce(|x, y| x.add(&y))
                .unwrap();
            b.step(&loss.backward());
        }
        assert_eq!(snapshot(&a_params), snapshot(&b_params), "{label}");
    }
}

#[test]
fn parameters_without_gradients_are_left_alone() {
    for (label, make) in configs() {
        let named = named_from(&[values(12, 7), values(4, 8)]);
        let mut opt = make(named.clone());
        let before = snapshot(&named);
        let mut g = grads_at(0);
        g[1] = None;
        opt.step_grads(&g);
        let after = snapshot(&named);
        assert_ne!(after[0], before[0], "{label}");
        assert_eq!(after[1], before[1], "{label}");
        // The map path: a loss that does not reach the bias.
        let loss = named[0].1.tensor().sum_all();
        opt.step(&loss.backward());
        assert_eq!(snapshot(&named)[1], before[1], "{label}");
    }
}

#[test]
fn adamw_without_decay_is_adam() {
    let a_params = named_from(&[values(12, 9), values(4, 10)]);
    let b_params = named_from(&snapshot(&a_params));
    let mut a = Adam::new(a_params.clone(), AdamConfig::default().lr(0.01));
    let mut b = AdamW::new(
        b_params.clone(),
        AdamWConfig::default().lr(0.01).weight_decay(0.0),
    );
    for s in 0..3 {
        a.step_grads(&grads_at(s));
        b.step_grads(&grads_at(s));
    }
    assert_eq!(snapshot(&a_params), snapshot(&b_params));
    assert_eq!(a.step_count(), 3);
    assert_eq!(b.config().weight_decay, 0.0);
}

#[test]
fn learning_rate_can_be_changed() {
    let p = Param::new(arr(&[0.0], &[1]));
    let mut opt = Sgd::new(vec![("p".into(), p.clone())], SgdConfig::default().lr(0.5));
    assert_eq!(opt.lr(), 0.5);
    opt.set_lr(0.25);
    assert_eq!(opt.lr(), 0.25);
    opt.step_grads(&[Some(Tensor::constant(arr(&[1.0], &[1])))]);
    assert_eq!(p.data().to_vec(), vec![-0.25]);
}

#[test]
#[should_panic(expected = "2 gradients for 1 parameters")]
fn step_grads_checks_the_length() {
    let p = Param::new(NdArray::zeros(&[2]));
    let mut opt = Adam::new(vec![("p".into(), p)], AdamConfig::default());
    opt.step_grads(&[None, None]);
}

#[test]
#[should_panic(expected = "gradient of `p` has shape [3]")]
fn step_grads_checks_shapes() {
    let p = Param::new(NdArray::zeros(&[2]));
    let mut opt = RmsProp::new(vec![("p".into(), p)], RmsPropConfig::default());
    opt.step_grads(&[Some(Tensor::constant(NdArray::zeros(&[3])))]);
}

#[test]
#[should_panic(expected = "appears twice")]
fn duplicate_names_are_refused() {
    let (p, q) = (
        Param::new(NdArray::zeros(&[1])),
        Param::new(NdArray::zeros(&[1])),
    );
    Sgd::new(vec![("p".into(), p), ("p".into(), q)], SgdConfig::default());
}

#[test]
#[should_panic(expected = "same parameter")]
fn duplicate_parameters_are_refused() {
    let p = Param::new(NdArray::zeros(&[1]));
    Adam::new(
        vec![("a".into(), p.clone()), ("b".into(), p)],
        AdamConfig::default(),
    );
}

#[test]
#[should_panic(expected = "nesterov")]
fn nesterov_needs_momentum() {
    Sgd::new(vec![], SgdConfig::default().nesterov(true));
}

#[test]
#[should_panic(expected = "beta2")]
fn betas_are_checked() {
    Adam::new(vec![], AdamConfig::default().betas(0.9, 1.0));
}

#[test]
fn non_contiguous_gradients_are_accepted() {
    let p = Param::new(NdArray::zeros(&[2, 3]));
    let mut opt = Sgd::new(vec![("p".into(), p.clone())], SgdConfig::default().lr(1.0));
    let g = NdArray::arange(0.0, 6.0, 1.0)
        .reshape(&[3, 2])
        .transpose(0, 1);
    assert!(!g.is_contiguous());
    opt.step_grads(&[Some(Tensor::constant(g.clone()))]);
    assert_eq!(p.data().to_vec(), g.neg().to_vec());
}

// ---------------------------------------------------------------------------------------
// Schedules and clipping.

#[test]
fn schedule_factors_at_boundaries() {
    assert_eq!(LrSchedule::Constant.factor(0), 1.0);
    assert_eq!(LrSchedule::Constant.factor(u64::MAX), 1.0);

    let s = LrSchedule::LinearDecay {
        start_step: 10,
        end_step: 20,
        final_factor: 0.2,
    };
    assert_eq!(s.factor(0), 1.0);
    assert_eq!(s.factor(10), 1.0);
    assert!((s.factor(11) - 0.92).abs() < 1e-6);
    assert!((s.factor(15) - 0.6).abs() < 1e-6);
    assert!((s.factor(19) - 0.28).abs() < 1e-6);
    assert_eq!(s.factor(20), 0.2);
    assert_eq!(s.factor(1_000_000), 0.2);
    // Monotone in between.
    let f: Vec<f32> = (10..=20).map(|k| s.factor(k)).collect();
    assert!(f.windows(2).all(|w| w[1] < w[0]), "{f:?}");
    // Degenerate: a drop right after start_step.
    let jump = LrSchedule::LinearDecay {
        start_step: 5,
        end_step: 5,
        final_factor: 0.0,
    };
    assert_eq!((jump.factor(5), jump.factor(6)), (1.0, 0.0));

    let s = LrSchedule::Step {
        step_size: 3,
        gamma: 0.1,
    };
    assert_eq!(s.factor(0), 1.0);
    assert_eq!(s.factor(2), 1.0);
    assert_eq!(s.factor(3), 0.1);
    assert_eq!(s.factor(5), 0.1);
    assert!((s.factor(6) - 0.01).abs() < 1e-9);
    assert_eq!(s.factor(u64::MAX), 0.0);
}

#[test]
fn schedule_applies_to_any_optimiser() {
    let p = Param::new(NdArray::zeros(&[1]));
    let mut opts: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd::new(
            vec![("p".into(), p.clone())],
            SgdConfig::default(),
        )),
        Box::new(Adam::new(
            vec![("p".into(), p.clone())],
            AdamConfig::default(),
        )),
        Box::new(AdamW::new(
            vec![("p".into(), p.clone())],
            AdamWConfig::default(),
        )),
        Box::new(RmsProp::new(
            vec![("p".into(), p)],
            RmsPropConfig::default(),
        )),
    ];
    let s = LrSchedule::Step {
        step_size: 10,
        gamma: 0.5,
    };
    for opt in &mut opts {
        s.apply(opt.as_mut(), 2e-4, 25);
        assert_eq!(opt.lr(), 5e-5);
    }
}

#[test]
#[should_panic(expected = "step_size must be > 0")]
fn step_schedule_needs_a_step_size() {
    LrSchedule::Step {
        step_size: 0,
        gamma: 0.5,
    }
    .factor(1);
}

#[test]
fn weight_clipping_clamps_every_parameter() {
    let a = Param::new(arr(&[-1.0, -0.01, 0.0, 0.005, 0.02], &[5]));
    let b = Param::new(arr(&[3.0, -3.0], &[2, 1]));
    clip_weights(&[a.clone(), b.clone()], 0.01);
    assert_eq!(a.data().to_vec(), vec![-0.01, -0.01, 0.0, 0.005, 0.01]);
    assert_eq!(b.data().to_vec(), vec![0.01, -0.01]);
    assert_eq!(b.shape(), vec![2, 1]);
    // A new leaf: gradients of the next forward pass are keyed by it.
    let loss = b.tensor().sum_all();
    assert!(loss.backward().get(&b.tensor()).is_some());
}

#[test]
fn clip_grad_norm_edge_cases() {
    // Exactly at the bound: PyTorch's coefficient max / (norm + 1e-6) is just below 1, so
    // the gradients shrink by that factor (by ~1e-6 relative).
    let mut g = vec![Some(Tensor::constant(arr(&[3.0, 4.0], &[2])))];
    assert_eq!(clip_grad_norm(&mut g, 5.0), 5.0);
    let v = g[0].as_ref().unwrap().data().to_vec();
    assert!(v[0] < 3.0 && (v[0] - 3.0).abs() < 1e-5, "{v:?}");
    // Nothing to clip.
    let mut none: Vec<Option<Tensor>> = vec![None, None];
    assert_eq!(clip_grad_norm(&mut none, 1.0), 0.0);
    // A non-finite norm is reported and the gradients left alone.
    let mut g = vec![Some(Tensor::constant(arr(&[f32::INFINITY, 1.0], &[2])))];
    assert_eq!(clip_grad_norm(&mut g, 1.0), f32::INFINITY);
    assert_eq!(
        g[0].as_ref().unwrap().data().to_vec(),
        vec![f32::INFINITY, 1.0]
    );
}

#[test]
fn clipping_between_backward_and_step() {
    let p = Param::new(arr(&[3.0, 4.0], &[2]));
    let loss = p.tensor().square().sum_all().mul_scalar(0.5); // gradient p, norm 5
    let mut grads = grads_for(std::slice::from_ref(&p), &loss.backward());
    assert_eq!(clip_grad_norm(&mut grads, 0.5), 5.0);
    let mut opt = Sgd::new(vec![("p".into(), p.clone())], SgdConfig::default().lr(1.0));
    opt.step_grads(&grads);
    let v = p.data().to_vec();
    assert!(
        (v[0] - 2.7).abs() < 1e-5 && (v[1] - 3.6).abs() < 1e-5,
        "{v:?}"
    );
}

/// Adam splits parameters above 32K elements over the pool and runs a branch-free loop
/// per case. One thread and four give the same bits on a 100,003-element parameter (a
/// chunk boundary every 32,768), and every element and its first moment follow PyTorch's
/// update written out here for one element (f64 scalars rounded to f32 where they meet a
/// tensor), with both of `lerp`'s forms (`1 - beta1` below and at 0.5), Adam's L2 decay and
/// AdamW's decoupled one.
#[test]
fn adam_on_a_large_parameter_is_exact_on_any_thread_count() {
    let n = 100_003;
    let start = values(n, 7);
    let (lr, b2, eps) = (1e-3f32, 0.999f32, 1e-8f32);
    // As the optimisers widen hyperparameters: through the shortest decimal form.
    let widen = |x: f32| -> f64 { x.to_string().parse().unwrap() };
    for (b1, wd, decoupled) in [
        (0.9f32, 0.0f32, false),
        (0.5, 0.0, false),
        (0.5, 0.1, false),
        (0.9, 0.1, true),
    ] {
        let run = |threads: usize| {
            on_threads(threads, || {
                let p = Param::new(arr(&start, &[n]));
                let named = vec![("p".to_string(), p.clone())];
                let mut opt: Box<dyn Optimizer> = if decoupled {
                    let c = AdamWConfig::default().lr(lr).betas(b1, b2).weight_decay(wd);
                    Box::new(AdamW::new(named, c))
                } else {
                    let c = AdamConfig::default().lr(lr).betas(b1, b2).weight_decay(wd);
                    Box::new(Adam::new(named, c))
                };
                for s in 0..2 {
                    opt.step_grads(&[Some(Tensor::constant(arr(&values(n, 50 + s), &[n])))]);
                }
                let state = opt.state_dict();
                let exp_avg = state.iter().find(|(k, _)| k == "exp_avg.p").unwrap();
                (p.data().to_vec(), exp_avg.1.to_vec())
            })
        };
        let ((one, m_one), (four, m_four)) = (run(1), run(4));
        let case = format!("beta1 {b1}, weight decay {wd}, decoupled {decoupled}");
        let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same(&one, &four) && same(&m_one, &m_four), "{case}");
        let w1 = (1.0 - widen(b1)) as f32;
        let lerp = |start: f32, end: f32| {
            if w1.abs() < 0.5 {
                start + w1 * (end - start)
            } else {
                end - (end - start) * (1.0 - w1)
            }
        };
        let grads = [values(n, 50), values(n, 51)];
        for i in 0..n {
            let (mut p, mut m, mut v) = (start[i], 0.0f32, 0.0f32);
            for s in 0..2u32 {
                let mut g = grads[s as usize][i];
                let t = f64::from(s + 1);
                if decoupled {
                    p *= (1.0 - widen(lr) * widen(wd)) as f32;
                } else {
                    g += wd * p;
                }
                let bc1 = 1.0 - widen(b1).powf(t);
                let bc2_sqrt = (1.0 - widen(b2).powf(t)).powf(0.5) as f32;
                m = lerp(m, g);
                v = v * b2 + (1.0 - widen(b2)) as f32 * g * g;
                p += (-(widen(lr) / bc1)) as f32 * m / (v.sqrt() / bc2_sqrt + eps);
            }
            assert_eq!((one[i], m_one[i]), (p, m), "{case}: element {i}");
        }
    }
}
