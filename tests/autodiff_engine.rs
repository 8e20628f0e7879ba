//! The autodiff engine's behaviour, independent of any one rule: repeatable backward,
//! accumulation, pruning, constants and `no_grad`, deep graphs, higher order, gradient
//! penalties, and the panics on misuse.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use agon_autodiff::{grad, is_grad_enabled, no_grad, Rule, Tensor};
use agon_reference::gradcheck::{gradcheck, GradcheckOptions};
use agon_tensor::NdArray;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn arr(data: &[f32], shape: &[usize]) -> NdArray {
    NdArray::from_vec(data.to_vec(), shape).unwrap()
}

fn param(data: &[f32]) -> Tensor {
    Tensor::param(arr(data, &[data.len()]))
}

fn values(t: &Tensor) -> Vec<f32> {
    t.data().to_vec()
}

#[test]
fn backward_twice_gives_identical_gradients_and_writes_nothing() {
    let w = param(&[1.0, -2.0, 0.5]);
    let x = Tensor::constant(arr(&[0.3, 0.7, -1.1], &[3]));
    let loss = w.mul(&x).tanh().sum_all();
    let before = (values(&w), w.requires_grad(), w.is_leaf(), values(&loss));
    let g1 = loss.backward();
    let g2 = loss.backward();
    assert_eq!(values(g1.get(&w).unwrap()), values(g2.get(&w).unwrap()));
    assert_eq!(g1.len(), 1);
    assert_eq!(g2.len(), 1);
    // Nothing about the tensors changed.
    let after = (values(&w), w.requires_grad(), w.is_leaf(), values(&loss));
    assert_eq!(before, after);
    // A third call after the first results are dropped still agrees.
    let first = values(g1.get(&w).unwrap());
    drop((g1, g2));
    assert_eq!(values(loss.backward().get(&w).unwrap()), first);
}

#[test]
fn a_tensor_used_twice_accumulates() {
    // y = x*x + 3x + x  =>  dy/dx = 2x + 4
    let x = param(&[1.0, -2.0]);
    let y = x.mul(&x).add(&x.mul_scalar(3.0)).add(&x).sum_all();
    assert_eq!(values(y.backward().get(&x).unwrap()), vec![6.0, 0.0]);
    // Two branches that meet again: z = exp(x) * sin-free tanh(x) through a shared node.
    let h = x.mul_scalar(0.5);
    let z = h.exp().mul(&h.tanh()).sum_all();
    let g = values(z.backward().get(&x).unwrap());
    for (gi, xi) in g.iter().zip([1.0f32, -2.0]) {
        let h = 0.5 * xi;
        let expect = 0.5 * (h.exp() * h.tanh() + h.exp() * (1.0 - h.tanh() * h.tanh()));
        assert!((gi - expect).abs() < 1e-6, "{gi} vs {expect}");
    }
}

#[test]
fn grad_of_an_unused_input_is_none() {
    let x = param(&[1.0, 2.0]);
    let unused = param(&[3.0]);
    let y = x.square().sum_all();
    let g = grad(&[&y], &[&x, &unused], None, false);
    assert_eq!(values(g[0].as_ref().unwrap()), vec![2.0, 4.0]);
    assert!(g[1].is_none());
    // Also when the output does not depend on anything that needs a gradient.
    let c = Tensor::constant(arr(&[1.0], &[1])).sum_all();
    assert!(grad(&[&c], &[&x], None, false)[0].is_none());
}

#[test]
fn constants_and_detached_tensors_get_no_gradient() {
    let x = param(&[2.0, 3.0]);
    let c = Tensor::constant(arr(&[5.0, 7.0], &[2]));
    let d = x.detach();
    assert!(!d.requires_grad() && d.is_leaf());
    // y = x * detach(x) * c: the detached factor is a constant, so dy/dx = x * c, not 2xc.
    let y = x.mul(&d).mul(&c).sum_all();
    let g = y.backward();
    assert_eq!(values(g.get(&x).unwrap()), vec![10.0, 21.0]);
    assert!(g.get(&c).is_none());
    assert!(g.get(&d).is_none());
    assert_eq!(g.len(), 1);
    let via_grad = grad(&[&y], &[&x, &c, &d], None, false);
    assert!(via_grad[0].is_some() && via_grad[1].is_none() && via_grad[2].is_none());
}

#[test]
fn no_grad_builds_no_graph_and_is_restored_after_a_panic() {
    let w = param(&[1.0, 2.0]);
    assert!(is_grad_enabled());
    let y = no_grad(|| {
        assert!(!is_grad_enabled());
        w.mul(&w).exp().sum_all()
    });
    assert!(!y.requires_grad() && y.is_leaf() && y.op_name().is_none());
    assert!(is_grad_enabled());

    let caught = catch_unwind(AssertUnwindSafe(|| {
        no_grad(|| {
            let _ = w.mul(&w);
            panic!("inside no_grad");
        })
    }));
    assert!(caught.is_err());
    assert!(
        is_grad_enabled(),
        "no_grad must restore recording after a panic"
    );
    let z = w.mul(&w);
    assert!(z.requires_grad() && !z.is_leaf());
}

/// Records the `needs` flags the engine passes; d(a * b) as usual.
struct RecordingMul {
    seen: Arc<Mutex<Vec<Vec<bool>>>>,
}

impl Rule for RecordingMul {
    fn name(&self) -> &'static str {
        "recording_mul"
    }

    fn backward(
        &self,
        inputs: &[Tensor],
        _output: &Tensor,
        grad: &Tensor,
        needs: &[bool],
    ) -> Vec<Option<Tensor>> {
        self.seen.lock().unwrap().push(needs.to_vec());
        vec![
            needs[0].then(|| grad.mul(&inputs[1])),
            needs[1].then(|| grad.mul(&inputs[0])),
        ]
    }
}

fn recording_mul(a: &Tensor, b: &Tensor, seen: &Arc<Mutex<Vec<Vec<bool>>>>) -> Tensor {
    let rule = RecordingMul { seen: seen.clone() };
    Tensor::from_op(a.data().mul(b.data()), rule, &[a, b])
}

#[test]
fn inputs_that_need_no_gradient_are_skipped() {
    let seen = Arc::new(Mutex::new(vec![]));
    let a = param(&[2.0, 3.0]);
    let c = Tensor::constant(arr(&[4.0, 5.0], &[2]));
    let y = recording_mul(&a, &c, &seen).sum_all();
    assert_eq!(values(y.backward().get(&a).unwrap()), vec![4.0, 5.0]);
    assert_eq!(*seen.lock().unwrap(), vec![vec![true, false]]);

    // A parameter that is not among the wanted inputs of `grad` is skipped too.
    seen.lock().unwrap().clear();
    let b = param(&[4.0, 5.0]);
    let y = recording_mul(&a, &b, &seen).sum_all();
    let g = grad(&[&y], &[&b], None, false);
    assert_eq!(values(g[0].as_ref().unwrap()), vec![2.0, 3.0]);
    assert_eq!(*seen.lock().unwrap(), vec![vec![false, true]]);

    // backward wants every leaf: both flags set.
    seen.lock().unwrap().clear();
    let gs = y.backward();
    assert!(gs.get(&a).is_some() && gs.get(&b).is_some());
    assert_eq!(*seen.lock().unwrap(), vec![vec![true, true]]);
}

#[test]
fn a_chain_of_100000_ops_neither_overflows_in_backward_nor_in_drop() {
    const N: usize = 100_000;
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let x = param(&[1.0, -1.0]);
            let mut y = x.clone();
            for k in 0..N {
                y = if k % 2 == 0 {
                    y.add_scalar(1e-3)
                } else {
                    y.mul_scalar(1.0)
                };
            }
            let loss = y.sum_all();
            let g = loss.backward();
            assert_eq!(values(g.get(&x).unwrap()), vec![1.0, 1.0]);
            let g2 = grad(&[&loss], &[&x], None, true);
            assert_eq!(values(g2[0].as_ref().unwrap()), vec![1.0, 1.0]);
            // Drop the chain (and the recorded backward graph) while x is still alive, then x.
            drop((g, g2, y, loss));
            drop(x);
        })
        .unwrap();
    handle
        .join()
        .expect("deep chain must not overflow the stack");
}

#[test]
fn third_derivative_of_x4() {
    for (name, f) in [
        (
            "mul chain",
            (|x: &Tensor| x.square().square()) as fn(&Tensor) -> Tensor,
        ),
        ("powf", |x: &Tensor| x.powf(4.0)),
    ] {
        let x = Tensor::param(NdArray::scalar(1.5));
        let y = f(&x);
        let d1 = grad(&[&y], &[&x], None, true)[0].clone().unwrap();
        let d2 = grad(&[&d1], &[&x], None, true)[0].clone().unwrap();
        let d3 = grad(&[&d2], &[&x], None, false)[0].clone().unwrap();
        let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * b.abs();
        assert!(
            close(d1.item(), 4.0 * 1.5f32.powi(3)),
            "{name}: {}",
            d1.item()
        );
        assert!(close(d2.item(), 12.0 * 1.5 * 1.5), "{name}: {}", d2.item());
        assert!(close(d3.item(), 24.0 * 1.5), "{name}: {}", d3.item());
        // And the fourth is the constant 24, the fifth zero (no dependence left, or 0).
        let d3g = grad(&[&d2], &[&x], None, true)[0].clone().unwrap();
        let d4 = grad(&[&d3g], &[&x], None, true)[0].clone().unwrap();
        assert!(close(d4.item(), 24.0), "{name}: {}", d4.item());
        let d5 = grad(&[&d4], &[&x], None, false)[0].clone();
        assert!(d5.is_none_or(|t| t.item() == 0.0), "{name}");
    }
}

#[test]
fn gradients_without_create_graph_do_not_require_grad() {
    let x = param(&[0.5, -0.5]);
    let y = x.tanh().square().sum_all();
    let plain = grad(&[&y], &[&x], None, false)[0].clone().unwrap();
    assert!(!plain.requires_grad() && plain.is_leaf());
    let bw = y.backward();
    assert!(!bw.get(&x).unwrap().requires_grad());
    let recorded = grad(&[&y], &[&x], None, true)[0].clone().unwrap();
    assert!(recorded.requires_grad() && !recorded.is_leaf());
    assert_eq!(values(&plain), values(&recorded));
}

/// A tiny tanh MLP critic D: [B, 2] -> [B, 1].
fn critic(x: &Tensor, w1: &Tensor, b1: &Tensor, w2: &Tensor, b2: &Tensor) -> Tensor {
    x.matmul(w1).add(b1).tanh().matmul(w2).add(b2)
}

/// The WGAN-GP penalty mean((||dD/dx(x_hat)||_2 - 1)^2), as a function of the weights.
fn penalty(x_hat: &NdArray, w: &[Tensor]) -> Tensor {
    let x = Tensor::param(x_hat.clone());
    let d = critic(&x, &w[0], &w[1], &w[2], &w[3]);
    let ones = Tensor::constant(NdArray::ones(d.shape()));
    let gx = grad(&[&d], &[&x], Some(&[&ones]), true)[0].clone().unwrap();
    let norm = gx.square().sum(&[1], false).add_scalar(1e-12).sqrt();
    norm.sub_scalar(1.0).square().mean_all()
}

#[test]
fn wgan_gp_penalty_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(7);
    let x_hat = NdArray::rand_uniform(&[3, 2], -1.0, 1.0, &mut rng);
    let weights = [
        NdArray::rand_normal(&[2, 4], 0.0, 1.0, &mut rng),
        NdArray::rand_normal(&[4], 0.0, 0.5, &mut rng),
        NdArray::rand_normal(&[4, 1], 0.0, 1.0, &mut rng),
        NdArray::rand_normal(&[1], 0.0, 0.5, &mut rng),
    ];
    // The engine's gradient of the penalty w.r.t. the critic weights, against finite
    // differences of the penalty itself.
    gradcheck(
        |w| penalty(&x_hat, w),
        &weights,
        &GradcheckOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // The penalty does not depend on the output bias: the engine says so with None.
    let ws: Vec<Tensor> = weights.iter().cloned().map(Tensor::param).collect();
    let p = penalty(&x_hat, &ws);
    assert!(p.item() > 0.0);
    let g = grad(&[&p], &ws.iter().collect::<Vec<_>>(), None, false);
    assert!(g[..3].iter().all(Option::is_some));
    assert!(g[3].is_none());
}

#[test]
#[should_panic(expected = "backward")]
fn backward_on_a_non_scalar_panics() {
    let x = param(&[1.0, 2.0]);
    let _ = x.mul_scalar(2.0).backward();
}

#[test]
#[should_panic(expected = "grad_output")]
fn grad_outputs_of_the_wrong_shape_panic() {
    let x = param(&[1.0, 2.0]);
    let y = x.mul_scalar(2.0);
    let wrong = Tensor::constant(NdArray::ones(&[3]));
    let _ = grad(&[&y], &[&x], Some(&[&wrong]), false);
}

#[test]
#[should_panic(expected = "grad")]
fn grad_without_grad_outputs_on_a_non_scalar_panics() {
    let x = param(&[1.0, 2.0]);
    let _ = grad(&[&x.mul_scalar(2.0)], &[&x], None, false);
}
