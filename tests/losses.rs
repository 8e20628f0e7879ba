//! `agon_nn::loss`: values and gradients against hand-computed formulas (evaluated in f64),
//! stability at logits of ±1e4, finite-difference gradient checks away from the kinks, and
//! the equivalences between the `Reduction`s of the autodiff composites the losses wrap.

use agon_autodiff::{Reduction, Tensor};
use agon_nn::loss;
use agon_reference::gradcheck::{gradcheck, gradgradcheck, GradcheckOptions};
use agon_tensor::{Indices, NdArray};

fn arr(v: &[f32], shape: &[usize]) -> NdArray {
    NdArray::from_vec(v.to_vec(), shape).unwrap()
}

fn param(v: &[f32]) -> Tensor {
    Tensor::param(arr(v, &[v.len()]))
}

fn constant(v: &[f32]) -> Tensor {
    Tensor::constant(arr(v, &[v.len()]))
}

/// The loss's gradient with respect to `x`.
fn grad_of(loss: &Tensor, x: &Tensor) -> Vec<f32> {
    loss.backward().get(x).unwrap().data().to_vec()
}

#[track_caller]
fn close(got: f32, want: f64, tol: f64) {
    let err = (f64::from(got) - want).abs();
    assert!(
        err <= tol * (1.0 + want.abs()),
        "got {got}, want {want} (|diff| {err:.2e})"
    );
}

#[track_caller]
fn close_all(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (&g, &w) in got.iter().zip(want) {
        close(g, w, tol);
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

const X: [f32; 6] = [-2.5, -0.3, 0.0, 0.4, 1.7, 3.1];
const T: [f32; 6] = [0.0, 1.0, 0.5, 1.0, 0.0, 0.9];

#[test]
fn bce_with_logits_values_and_gradient() {
    let x = param(&X);
    let l = loss::bce_with_logits(&x, &constant(&T));
    assert_eq!(l.shape(), &[] as &[usize]);
    let n = X.len() as f64;
    // -t log σ(x) - (1 - t) log(1 - σ(x)), averaged.
    let want: f64 = X
        .iter()
        .zip(&T)
        .map(|(&x, &t)| {
            let (t, s) = (f64::from(t), sigmoid(f64::from(x)));
            -t * s.ln() - (1.0 - t) * (1.0 - s).ln()
        })
        .sum::<f64>()
        / n;
    close(l.item(), want, 1e-6);
    let g: Vec<f64> = X
        .iter()
        .zip(&T)
        .map(|(&x, &t)| (sigmoid(f64::from(x)) - f64::from(t)) / n)
        .collect();
    close_all(&grad_of(&l, &x), &g, 1e-6);
    // A literal: a logit of 0 costs ln 2 whatever the target.
    let zero = loss::bce_with_logits(&constant(&[0.0]), &constant(&[0.3]));
    close(zero.item(), std::f64::consts::LN_2, 1e-7);
}

#[test]
fn mse_and_l1_values_and_gradients() {
    let x = param(&X);
    let n = X.len() as f64;
    let diffs: Vec<f64> = X
        .iter()
        .zip(&T)
        .map(|(&x, &t)| f64::from(x) - f64::from(t))
        .collect();

    let l = loss::mse(&x, &constant(&T));
    close(l.item(), diffs.iter().map(|d| d * d).sum::<f64>() / n, 1e-6);
    let g: Vec<f64> = diffs.iter().map(|d| 2.0 * d / n).collect();
    close_all(&grad_of(&l, &x), &g, 1e-6);

    let l = loss::l1(&x, &constant(&T));
    close(
        l.item(),
        diffs.iter().map(|d| d.abs()).sum::<f64>() / n,
        1e-6,
    );
    let g: Vec<f64> = diffs.iter().map(|d| d.signum() / n).collect();
    close_all(&grad_of(&l, &x), &g, 1e-6);
    // Literals, and PyTorch's zero gradient where x == t.
    assert_eq!(
        loss::mse(&constant(&[1.0, 3.0]), &constant(&[1.0, 1.0])).item(),
        2.0
    );
    let x = param(&[1.0, 4.0]);
    let l = loss::l1(&x, &constant(&[1.0, 2.0]));
    assert_eq!(l.item(), 1.0);
    assert_eq!(grad_of(&l, &x), vec![0.0, 0.5]);
}

#[test]
fn hinge_values_and_gradients() {
    // Real outputs on both sides of the margin 1, fakes on both sides of -1.
    let real = param(&[2.0, 0.5, -1.0, 1.5]);
    let fake = param(&[-3.0, -0.5, 0.25]);
    let l = loss::hinge_d(&real, &fake);
    assert_eq!(l.shape(), &[] as &[usize]);
    // relu(1 - real) = [0, 0.5, 2, 0] -> 2.5 / 4; relu(1 + fake) = [0, 0.5, 1.25] -> 1.75 / 3
    close(l.item(), 2.5 / 4.0 + 1.75 / 3.0, 1e-7);
    let g = l.backward();
    let gr = g.get(&real).unwrap().data().to_vec();
    let gf = g.get(&fake).unwrap().data().to_vec();
    assert_eq!(gr, vec![0.0, -0.25, -0.25, 0.0]);
    close_all(&gf, &[0.0, 1.0 / 3.0, 1.0 / 3.0], 1e-7);

    let l = loss::hinge_g(&fake);
    close(l.item(), (3.0 + 0.5 - 0.25) / 3.0, 1e-7);
    close_all(&grad_of(&l, &fake), &[-1.0 / 3.0; 3], 1e-7);
}

#[test]
fn wasserstein_values_and_gradients() {
    let real = param(&[2.0, 0.5, -1.0, 1.5]);
    let fake = param(&[-3.0, -0.5, 0.25]);
    let l = loss::wasserstein_d(&real, &fake);
    close(l.item(), -3.25 / 3.0 - 3.0 / 4.0, 1e-7);
    let g = l.backward();
    assert_eq!(g.get(&real).unwrap().data().to_vec(), vec![-0.25; 4]);
    close_all(
        &g.get(&fake).unwrap().data().to_vec(),
        &[1.0 / 3.0; 3],
        1e-7,
    );
    let l = loss::wasserstein_g(&fake);
    close(l.item(), 3.25 / 3.0, 1e-7);
    close_all(&grad_of(&l, &fake), &[-1.0 / 3.0; 3], 1e-7);
    // Batched critic outputs [N, 1] work the same.
    let r = Tensor::constant(arr(&[1.0, 3.0], &[2, 1]));
    let f = Tensor::constant(arr(&[0.0, -2.0], &[2, 1]));
    assert_eq!(loss::wasserstein_d(&r, &f).item(), -1.0 - 2.0);
    assert_eq!(loss::hinge_g(&f).item(), 1.0);
}

#[test]
fn cross_entropy_values_and_gradient() {
    let logits = [0.5f32, -1.0, 2.0, 0.0, 3.0, -0.5, 1.0, 1.0, 1.0];
    let targets = [2usize, 0, 1];
    let x = Tensor::param(arr(&logits, &[3, 3]));
    let l = loss::cross_entropy(&x, &Indices::from_vec(targets.to_vec(), &[3]));
    assert_eq!(l.shape(), &[] as &[usize]);
    let mut want = 0.0;
    let mut g = vec![0.0f64; 9];
    for (n, &t) in targets.iter().enumerate() {
        let row: Vec<f64> = logits[3 * n..3 * n + 3]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
        want += (lse - row[t]) / 3.0;
        for c in 0..3 {
            let onehot = if c == t { 1.0 } else { 0.0 };
            g[3 * n + c] = ((row[c] - lse).exp() - onehot) / 3.0;
        }
    }
    close(l.item(), want, 1e-6);
    close_all(&grad_of(&l, &x), &g, 1e-6);
    // The uniform row of the example: ln 3.
    let u = loss::cross_entropy(
        &Tensor::constant(NdArray::ones(&[1, 3])),
        &Indices::from_vec(vec![1], &[1]),
    );
    close(u.item(), 3f64.ln(), 1e-7);
}

#[test]
fn large_logits_stay_finite() {
    let big = [1e4f32, -1e4, 1e4, -1e4, 1e4, -1e4];
    let tgt = [1.0f32, 1.0, 0.0, 0.0, 0.5, 0.5];
    let x = param(&big);
    let l = loss::bce_with_logits(&x, &constant(&tgt));
    // softplus(x) - x t per element: [0, 1e4, 1e4, 0, 5e3, 5e3], mean 5e3.
    close(l.item(), 5e3, 1e-6);
    let g = grad_of(&l, &x);
    // σ(x) - t, exactly 0 or ±1 or ±0.5 at these logits.
    let want: Vec<f64> = [0.0, -1.0, 1.0, 0.0, 0.5, -0.5]
        .iter()
        .map(|v| v / 6.0)
        .collect();
    close_all(&g, &want, 1e-7);

    // Every loss: finite value and gradients at ±1e4.
    let check = |name: &str, l: Tensor, xs: &[&Tensor]| {
        assert!(l.item().is_finite(), "{name}: loss {}", l.item());
        let g = l.backward();
        for x in xs {
            let gx = g.get(x).unwrap().data().to_vec();
            assert!(gx.iter().all(|v| v.is_finite()), "{name}: gradient {gx:?}");
        }
    };
    let (a, b) = (param(&big), param(&[-1e4, 1e4, 0.0]));
    check("bce", loss::bce_with_logits(&a, &constant(&tgt)), &[&a]);
    check("mse", loss::mse(&a, &constant(&tgt)), &[&a]);
    check("l1", loss::l1(&a, &constant(&tgt)), &[&a]);
    check("hinge_d", loss::hinge_d(&a, &b), &[&a, &b]);
    check("hinge_g", loss::hinge_g(&b), &[&b]);
    check("wasserstein_d", loss::wasserstein_d(&a, &b), &[&a, &b]);
    check("wasserstein_g", loss::wasserstein_g(&b), &[&b]);
    let ce_x = Tensor::param(arr(&[1e4, -1e4, 0.0, -1e4, 1e4, 1e4], &[2, 3]));
    let ce = loss::cross_entropy(&ce_x, &Indices::from_vec(vec![1, 2], &[2]));
    // Row 0: logsumexp = 1e4, picked -1e4 -> 2e4; row 1: ln 2 + 1e4 - 1e4 = ln 2.
    close(ce.item(), (2e4 + std::f64::consts::LN_2) / 2.0, 1e-6);
    check("cross_entropy", ce, &[&ce_x]);
}

#[test]
fn gradcheck_piecewise_linear_losses_away_from_kinks() {
    let opts = GradcheckOptions::default();
    // Every 1 - real and 1 + fake at least 0.1 from 0, so ±eps (1e-2) stays on one side.
    let real = arr(&[1.6, 0.3, -0.7, 0.85], &[4, 1]);
    let fake = arr(&[-1.4, -0.6, 0.2], &[3, 1]);
    gradcheck(
        |t| loss::hinge_d(&t[0], &t[1]),
        &[real.clone(), fake.clone()],
        &opts,
    )
    .unwrap();
    gradcheck(|t| loss::hinge_g(&t[0]), std::slice::from_ref(&fake), &opts).unwrap();
    gradcheck(
        |t| loss::wasserstein_d(&t[0], &t[1]),
        &[real, fake.clone()],
        &opts,
    )
    .unwrap();
    gradcheck(|t| loss::wasserstein_g(&t[0]), &[fake], &opts).unwrap();
    // l1: every x - t at least 0.1 from 0; gradients w.r.t. both arguments.
    let x = arr(&[0.5, -1.2, 2.0, 0.1], &[2, 2]);
    let t = arr(&[0.2, -0.9, 1.5, 0.3], &[2, 2]);
    gradcheck(|v| loss::l1(&v[0], &v[1]), &[x, t], &opts).unwrap();
}

#[test]
fn gradcheck_smooth_losses_to_second_order() {
    let opts = GradcheckOptions::default();
    let x = arr(&[-1.5, -0.2, 0.0, 0.7, 2.2, 1.1], &[3, 2]);
    let t = arr(&[0.0, 1.0, 0.5, 1.0, 0.0, 0.3], &[3, 2]);
    let bce = |v: &[Tensor]| loss::bce_with_logits(&v[0], &v[1]);
    gradcheck(bce, &[x.clone(), t.clone()], &opts).unwrap();
    gradgradcheck(bce, &[x.clone(), t.clone()], &opts).unwrap();
    let mse = |v: &[Tensor]| loss::mse(&v[0], &v[1]);
    gradcheck(mse, &[x.clone(), t.clone()], &opts).unwrap();
    gradgradcheck(mse, &[x.clone(), t], &opts).unwrap();
    let targets = Indices::from_vec(vec![1, 0, 1], &[3]);
    let ce = |v: &[Tensor]| loss::cross_entropy(&v[0], &targets);
    gradcheck(ce, std::slice::from_ref(&x), &opts).unwrap();
    gradgradcheck(ce, &[x], &opts).unwrap();
}

#[test]
fn reductions_agree() {
    let x = Tensor::constant(arr(&X, &[2, 3]));
    let t = Tensor::constant(arr(&T, &[2, 3]));
    let n = X.len() as f32;
    let tol = 1e-6;
    let same = |a: f32, b: f32| assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{a} vs {b}");

    // bce: Mean = Sum / n = mean of None; None keeps the shape; the wrapper is Mean.
    let none = x.bce_with_logits(&t, Reduction::None);
    assert_eq!(none.shape(), &[2, 3]);
    let mean = x.bce_with_logits(&t, Reduction::Mean).item();
    same(mean, x.bce_with_logits(&t, Reduction::Sum).item() / n);
    same(mean, none.mean_all().item());
    assert_eq!(loss::bce_with_logits(&x, &t).item(), mean);
    // A 0-d target broadcasts like a full one.
    assert_eq!(
        loss::bce_with_logits(&x, &Tensor::scalar(1.0)).item(),
        loss::bce_with_logits(&x, &x.full_like(1.0)).item()
    );

    let none = x.mse(&t, Reduction::None);
    assert_eq!(none.shape(), &[2, 3]);
    let mean = x.mse(&t, Reduction::Mean).item();
    same(mean, x.mse(&t, Reduction::Sum).item() / n);
    same(mean, none.mean_all().item());
    assert_eq!(loss::mse(&x, &t).item(), mean);

    let targets = Indices::from_vec(vec![2, 0], &[2]);
    let none = x.cross_entropy(&targets, Reduction::None);
    assert_eq!(none.shape(), &[2]);
    let mean = x.cross_entropy(&targets, Reduction::Mean).item();
    same(mean, x.cross_entropy(&targets, Reduction::Sum).item() / 2.0);
    same(mean, none.mean_all().item());
    assert_eq!(loss::cross_entropy(&x, &targets).item(), mean);

    // l1 and the critic losses as means of their per-element terms.
    same(
        loss::l1(&x, &t).item(),
        x.sub(&t).abs().sum_all().item() / n,
    );
    same(loss::hinge_g(&x).item(), loss::wasserstein_g(&x).item());
    same(
        loss::wasserstein_d(&x, &t).item(),
        t.sum_all().item() / n - x.sum_all().item() / n,
    );
}
