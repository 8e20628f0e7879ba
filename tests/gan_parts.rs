//! agon-gan's parts: adversarial losses on hand-computed logits, gradient penalties on
//! critics whose input gradients are known in closed form (values, finite-difference
//! gradients w.r.t. the critic's weights, packing, the interpolates themselves), EMA
//! arithmetic, packing shapes and panics, and every model's shapes and parameter names.

use std::collections::HashSet;
use std::sync::Mutex;

use agon_autodiff::Tensor;
use agon_gan::{
    aux_class_loss, copy_weights, ema_update, gradient_penalty, lazy_r1_weight, pack, r1_penalty,
    Conditioning, Dcgan, Dcgan28Discriminator, Dcgan28Generator, Discriminator, GanLoss, Generator,
    Judgement, Mlp,
};
use agon_nn::{BatchNorm1d, Linear, Module, ReLU, Sequential};
use agon_reference::gradcheck::{gradcheck, GradcheckOptions};
use agon_tensor::{Indices, NdArray};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn arr(v: &[f32], shape: &[usize]) -> NdArray {
    NdArray::from_vec(v.to_vec(), shape).unwrap()
}

fn constant(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::constant(arr(v, shape))
}

#[track_caller]
fn close(got: f32, want: f64, tol: f64) {
    let err = (f64::from(got) - want).abs();
    assert!(
        err <= tol * want.abs().max(1.0),
        "got {got}, want {want} (error {err:e})"
    );
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

// ---------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------

const REAL: [f32; 3] = [2.0, -1.0, 0.25];
const FAKE: [f32; 3] = [0.5, -3.0, 1.5];

fn real_fake() -> (Tensor, Tensor) {
    (constant(&REAL, &[3, 1]), constant(&FAKE, &[3, 1]))
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

#[test]
fn d_losses_match_hand_computed_values() {
    let (real, fake) = real_fake();
    let (r, f) = (f64s(&REAL), f64s(&FAKE));
    let bce = mean(&r.iter().map(|&x| softplus(-x)).collect::<Vec<_>>())
        + mean(&f.iter().map(|&x| softplus(x)).collect::<Vec<_>>());
    let ls = 0.5 * mean(&r.iter().map(|&x| (x - 1.0).powi(2)).collect::<Vec<_>>())
        + 0.5 * mean(&f.iter().map(|&x| x * x).collect::<Vec<_>>());
    let w = mean(&f) - mean(&r);
    let hinge = mean(&r.iter().map(|&x| (1.0 - x).max(0.0)).collect::<Vec<_>>())
        + mean(&f.iter().map(|&x| (1.0 + x).max(0.0)).collect::<Vec<_>>());
    let want = [
        (GanLoss::Minimax, bce),
        (GanLoss::NonSaturating, bce),
        (GanLoss::LeastSquares, ls),
        (GanLoss::Wasserstein, w),
        (GanLoss::Hinge, hinge),
    ];
    for (loss, value) in want {
        let got = loss.d_loss(&real, &fake);
        assert_eq!(got.shape(), &[] as &[usize], "{loss}");
        close(got.item(), value, 1e-6);
    }
    // Hand arithmetic for two of them: LSGAN 0.5*(1+4+0.5625)/3 + 0.5*(0.25+9+2.25)/3.
    close(
        GanLoss::LeastSquares.d_loss(&real, &fake).item(),
        0.5 * 5.5625 / 3.0 + 0.5 * 11.5 / 3.0,
        1e-6,
    );
    // Hinge: relu(1-r) = [0, 2, 0.75], relu(1+f) = [1.5, 0, 2.5].
    close(
        GanLoss::Hinge.d_loss(&real, &fake).item(),
        2.75 / 3.0 + 4.0 / 3.0,
        1e-6,
    );
}

#[test]
fn g_losses_match_hand_computed_values_and_gradients() {
    let f = f64s(&FAKE);
    let n = f.len() as f64;
    // (loss, value, d loss / d fake_i)
    let cases: Vec<(GanLoss, f64, Vec<f64>)> = vec![
        (
            GanLoss::Minimax,
            -mean(&f.iter().map(|&x| softplus(x)).collect::<Vec<_>>()),
            f.iter().map(|&x| -sigmoid(x) / n).collect(),
        ),
        (
            GanLoss::NonSaturating,
            mean(&f.iter().map(|&x| softplus(-x)).collect::<Vec<_>>()),
            f.iter().map(|&x| (sigmoid(x) - 1.0) / n).collect(),
        ),
        (
            GanLoss::LeastSquares,
            0.5 * mean(&f.iter().map(|&x| (x - 1.0).powi(2)).collect::<Vec<_>>()),
            f.iter().map(|&x| (x - 1.0) / n).collect(),
        ),
        (GanLoss::Wasserstein, -mean(&f), vec![-1.0 / n; 3]),
        (GanLoss::Hinge, -mean(&f), vec![-1.0 / n; 3]),
    ];
    for (loss, value, grad) in cases {
        let fake = Tensor::param(arr(&FAKE, &[3, 1]));
        let l = loss.g_loss(&fake);
        close(l.item(), value, 1e-6);
        let g = l.backward().get(&fake).unwrap().data().to_vec();
        for (got, want) in g.iter().zip(&grad) {
            close(*got, *want, 1e-5);
        }
    }
    // Minimax G = log(1 - sigmoid(x)) on average: -softplus(x).
    let zero = Tensor::constant(NdArray::zeros(&[2, 1]));
    close(GanLoss::Minimax.g_loss(&zero).item(), (0.5f64).ln(), 1e-6);
}

#[test]
fn losses_stay_finite_on_huge_logits() {
    let big = constant(&[1e4, -1e4], &[2, 1]);
    for loss in GanLoss::ALL {
        assert!(loss.d_loss(&big, &big).item().is_finite(), "{loss}");
        assert!(loss.g_loss(&big).item().is_finite(), "{loss}");
    }
}

#[test]
fn loss_names_parse_and_round_trip() {
    let cases = [
        ("minimax", GanLoss::Minimax),
        ("nonsaturating", GanLoss::NonSaturating),
        ("ns", GanLoss::NonSaturating),
        ("Non-Saturating", GanLoss::NonSaturating),
        ("lsgan", GanLoss::LeastSquares),
        ("least-squares", GanLoss::LeastSquares),
        ("least_squares", GanLoss::LeastSquares),
        ("wasserstein", GanLoss::Wasserstein),
        ("wgan", GanLoss::Wasserstein),
        (" hinge ", GanLoss::Hinge),
    ];
    for (name, loss) in cases {
        assert_eq!(name.parse::<GanLoss>().unwrap(), loss, "{name}");
    }
    for name in GanLoss::NAMES {
        assert!(name.parse::<GanLoss>().is_ok(), "{name}");
    }
    for loss in GanLoss::ALL {
        assert_eq!(loss.name().parse::<GanLoss>().unwrap(), loss);
        assert_eq!(loss.to_string(), loss.name());
    }
    let err = "bce".parse::<GanLoss>().unwrap_err();
    assert_eq!(err.name, "bce");
    let msg = err.to_string();
    for valid in [
        "minimax",
        "nonsaturating",
        "ns",
        "lsgan",
        "wasserstein",
        "wgan",
        "hinge",
    ] {
        assert!(msg.contains(valid), "{msg}");
    }
}

#[test]
fn aux_class_loss_is_cross_entropy() {
    let logits = constant(&[2.0, 0.0, -1.0, 0.5, 0.5, 3.0], &[2, 3]);
    let labels = Indices::from_vec(vec![0, 2], &[2]);
    let lse = |v: &[f64]| v.iter().map(|x| x.exp()).sum::<f64>().ln();
    let want = 0.5 * ((lse(&[2.0, 0.0, -1.0]) - 2.0) + (lse(&[0.5, 0.5, 3.0]) - 3.0));
    close(aux_class_loss(&logits, &labels).item(), want, 1e-6);
}

// ---------------------------------------------------------------------------------------
// Gradient penalties
// ---------------------------------------------------------------------------------------

/// `D(x) = Σ_j w_j x_j` (linear) or `Σ_j w_j x_j²` (quadratic) on flattened samples,
/// packed `m` at a time (then `w` has `m` times a sample's size).
struct TestCritic {
    w: Tensor,
    quadratic: bool,
    m: usize,
    seen: Mutex<Option<NdArray>>,
}

impl TestCritic {
    fn linear(w: Tensor, m: usize) -> Self {
        TestCritic {
            w,
            quadratic: false,
            m,
            seen: Mutex::new(None),
        }
    }

    fn quadratic(w: Tensor) -> Self {
        TestCritic {
            quadratic: true,
            ..Self::linear(w, 1)
        }
    }
}

impl Module for TestCritic {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.judge(x, None).logits
    }
}

impl Discriminator for TestCritic {
    fn pack(&self) -> usize {
        self.m
    }

    fn judge(&self, x: &Tensor, _labels: Option<&Indices>) -> Judgement {
        *self.seen.lock().unwrap() = Some(x.data().clone());
        let flat = if x.ndim() > 2 {
            x.flatten(1, x.ndim() - 1)
        } else {
            x.clone()
        };
        let p = pack(&flat, self.m);
        let p = if self.quadratic { p.square() } else { p };
        let d = self.w.numel();
        Judgement {
            logits: p.matmul(&self.w.reshape(&[d, 1])),
            class_logits: None,
        }
    }
}

const W: [f32; 4] = [0.3, -1.2, 0.4, 2.0];

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt()
}

fn batch(seed: u64, shape: &[usize]) -> Tensor {
    Tensor::constant(NdArray::rand_normal(
        shape,
        0.0,
        1.0,
        &mut StdRng::seed_from_u64(seed),
    ))
}

#[test]
fn gradient_penalty_of_a_linear_critic_is_norm_minus_one_squared() {
    let w = Tensor::param(arr(&W, &[4]));
    let d = TestCritic::linear(w.clone(), 1);
    // Images [5, 1, 2, 2]: four features per sample, flattened by the critic.
    let (real, fake) = (batch(1, &[5, 1, 2, 2]), batch(2, &[5, 1, 2, 2]));
    let gp = gradient_penalty(&d, &real, &fake, None, &mut StdRng::seed_from_u64(3));
    let nw = norm(&W);
    close(gp.item(), (nw - 1.0).powi(2), 1e-5);
    // d/dw (|w| - 1)² = 2 (|w| - 1) w / |w|.
    let g = gp.backward().get(&w).unwrap().data().to_vec();
    for (got, &wi) in g.iter().zip(&W) {
        close(*got, 2.0 * (nw - 1.0) * f64::from(wi) / nw, 1e-5);
    }
}

#[test]
fn gradient_penalty_gradient_matches_finite_differences() {
    let (real, fake) = (batch(4, &[3, 4]), batch(5, &[3, 4]));
    let opts = GradcheckOptions::default();
    gradcheck(
        |ts| {
            let d = TestCritic::linear(ts[0].clone(), 1);
            gradient_penalty(&d, &real, &fake, None, &mut StdRng::seed_from_u64(6))
        },
        &[arr(&W, &[4])],
        &opts,
    )
    .unwrap();
    // A critic whose input gradient varies per sample: 2 w ⊙ x.
    gradcheck(
        |ts| {
            let d = TestCritic::quadratic(ts[0].clone());
            gradient_penalty(&d, &real, &fake, None, &mut StdRng::seed_from_u64(6))
        },
        &[arr(&W, &[4])],
        &opts,
    )
    .unwrap();
}

#[test]
fn gradient_penalty_is_per_sample_for_a_quadratic_critic() {
    // real == fake, so every interpolate is the sample itself whatever ε is.
    let x = batch(7, &[4, 4]);
    let d = TestCritic::quadratic(Tensor::param(arr(&W, &[4])));
    let gp = gradient_penalty(&d, &x, &x, None, &mut StdRng::seed_from_u64(8));
    let xs = x.data().to_vec();
    let want = mean(
        &(0..4)
            .map(|i| {
                let g: Vec<f32> = (0..4).map(|j| 2.0 * W[j] * xs[i * 4 + j]).collect();
                (norm(&g) - 1.0).powi(2)
            })
            .collect::<Vec<_>>(),
    );
    close(gp.item(), want, 1e-5);
    // R1 on the same critic: mean |2 w ⊙ x_i|².
    let r1 = r1_penalty(&d, &x, None);
    let want = mean(
        &(0..4)
            .map(|i| {
                (0..4)
                    .map(|j| (2.0 * f64::from(W[j]) * f64::from(xs[i * 4 + j])).powi(2))
                    .sum::<f64>()
            })
            .collect::<Vec<_>>(),
    );
    close(r1.item(), want, 1e-5);
}

#[test]
fn gradient_penalty_interpolates_between_real_and_fake() {
    let (real, fake) = (batch(9, &[6, 3]), batch(10, &[6, 3]));
    for m in [1usize, 2, 3] {
        let d = TestCritic::linear(Tensor::param(NdArray::ones(&[3 * m])), m);
        let _ = gradient_penalty(&d, &real, &fake, None, &mut StdRng::seed_from_u64(11));
        let seen = d.seen.lock().unwrap().clone().unwrap().to_vec();
        let (r, f) = (real.data().to_vec(), fake.data().to_vec());
        let eps: Vec<f32> = (0..6)
            .map(|i| {
                // x̂ = ε r + (1 - ε) f on each feature: one ε per row.
                let e = (seen[i * 3] - f[i * 3]) / (r[i * 3] - f[i * 3]);
                for j in 0..3 {
                    let k = i * 3 + j;
                    let want = e * r[k] + (1.0 - e) * f[k];
                    assert!(
                        (seen[k] - want).abs() < 1e-4,
                        "m {m}, sample {i}, feature {j}"
                    );
                }
                assert!((-1e-4..1.0 + 1e-4).contains(&e), "ε = {e}");
                e
            })
            .collect();
        // One ε per packed sample: equal within groups of m, different across them.
        for g in 0..6 / m {
            for k in 1..m {
                assert!((eps[g * m + k] - eps[g * m]).abs() < 1e-3, "m {m}: {eps:?}");
            }
        }
        assert!((eps[0] - eps[m]).abs() > 1e-4, "m {m}: {eps:?}");
    }
}

#[test]
fn packed_penalties_use_the_packed_gradient() {
    // Packs of 2 samples of 4 features: D(p) = w·p with w of 8, gradient w per packed
    // sample: GP = (|w| - 1)², R1 = |w|² (per packed sample, not per member).
    let w8: Vec<f32> = W.iter().chain(&[0.5, 0.1, -0.7, 1.0]).copied().collect();
    let d = TestCritic::linear(Tensor::param(arr(&w8, &[8])), 2);
    let (real, fake) = (batch(12, &[6, 4]), batch(13, &[6, 4]));
    let gp = gradient_penalty(&d, &real, &fake, None, &mut StdRng::seed_from_u64(14));
    close(gp.item(), (norm(&w8) - 1.0).powi(2), 1e-5);
    close(r1_penalty(&d, &real, None).item(), norm(&w8).powi(2), 1e-5);
}

#[test]
fn r1_of_a_linear_critic_is_the_squared_norm_and_trains_w() {
    let w = Tensor::param(arr(&W, &[4]));
    let d = TestCritic::linear(w.clone(), 1);
    let r1 = r1_penalty(&d, &batch(15, &[5, 4]), None);
    close(r1.item(), norm(&W).powi(2), 1e-5);
    let g = r1.backward().get(&w).unwrap().data().to_vec(); // d|w|²/dw = 2w
    for (got, &wi) in g.iter().zip(&W) {
        close(*got, 2.0 * f64::from(wi), 1e-5);
    }
    assert_eq!(lazy_r1_weight(1.0, 4, 8), Some(2.0));
    assert_eq!(lazy_r1_weight(1.0, 4, 9), None);
}

#[test]
fn penalties_reach_every_weight_of_a_real_discriminator() {
    let mut rng = StdRng::seed_from_u64(16);
    for cfg in [
        Dcgan {
            width: 4,
            spectral_norm: true,
            ..Dcgan::new(28, 1)
        },
        Dcgan {
            width: 4,
            num_classes: Some(3),
            ..Dcgan::new(32, 3)
        },
    ] {
        let d = cfg.discriminator(&mut rng);
        let s = cfg.image_size;
        let real = batch(17, &[4, cfg.channels, s, s]);
        let fake = batch(18, &[4, cfg.channels, s, s]);
        let y = Indices::from_vec(vec![0, 1, 2, 0], &[4]);
        let labels = cfg.num_classes.map(|_| &y);
        for p in [
            gradient_penalty(&d, &real, &fake, labels, &mut rng),
            r1_penalty(&d, &real, labels),
        ] {
            assert!(p.item().is_finite());
            let grads = p.backward();
            // Every weight shapes the input gradient; biases only move the LeakyReLU
            // kinks, whose derivative is zero almost everywhere, so they get none.
            for (name, param) in d.named_parameters() {
                let g = grads.get(&param.tensor());
                if name.ends_with("bias") {
                    continue;
                }
                let g = g.unwrap_or_else(|| panic!("no gradient for {name}"));
                assert!(g.data().to_vec().iter().all(|v| v.is_finite()), "{name}");
            }
        }
    }
}

#[test]
#[should_panic(expected = "not a multiple of the discriminator's packing 2")]
fn penalty_rejects_a_batch_that_does_not_pack() {
    let d = TestCritic::linear(Tensor::param(NdArray::ones(&[8])), 2);
    let x = batch(19, &[5, 4]);
    let _ = gradient_penalty(&d, &x, &x, None, &mut StdRng::seed_from_u64(0));
}

#[test]
#[should_panic(expected = "must match to be interpolated")]
fn penalty_rejects_mismatched_batches() {
    let d = TestCritic::linear(Tensor::param(NdArray::ones(&[4])), 1);
    let _ = gradient_penalty(
        &d,
        &batch(20, &[4, 4]),
        &batch(21, &[3, 4]),
        None,
        &mut StdRng::seed_from_u64(0),
    );
}

// ---------------------------------------------------------------------------------------
// EMA
// ---------------------------------------------------------------------------------------

fn linear_bn(rng: &mut StdRng) -> Sequential {
    Sequential::new()
        .push(Linear::new(2, 2, true, rng))
        .push(BatchNorm1d::new(2))
}

#[test]
fn ema_update_blends_parameters_and_copies_buffers() {
    let mut rng = StdRng::seed_from_u64(22);
    let (target, source) = (linear_bn(&mut rng), linear_bn(&mut rng));
    // Give the source's BatchNorm running statistics of its own.
    let _ = source.forward(&batch(23, &[8, 2]));
    let before: Vec<Vec<f32>> = target
        .parameters()
        .iter()
        .map(|p| p.data().to_vec())
        .collect();
    ema_update(&target, &source, 0.9);
    for ((t, s), old) in target
        .parameters()
        .iter()
        .zip(source.parameters())
        .zip(&before)
    {
        let (t, s) = (t.data().to_vec(), s.data().to_vec());
        for k in 0..t.len() {
            close(t[k], 0.9 * f64::from(old[k]) + 0.1 * f64::from(s[k]), 1e-6);
        }
    }
    for ((n, t), (_, s)) in target.named_buffers().iter().zip(source.named_buffers()) {
        assert_eq!(t.data().to_vec(), s.data().to_vec(), "{n}");
    }
    // decay 1 keeps the target, decay 0 copies the source.
    let kept = target.state_dict();
    ema_update(&target, &source, 1.0);
    assert_eq!(target.state_dict()[0].1.to_vec(), kept[0].1.to_vec());
    ema_update(&target, &source, 0.0);
    assert_eq!(
        target.state_dict()[0].1.to_vec(),
        source.state_dict()[0].1.to_vec()
    );
}

#[test]
fn copy_weights_copies_everything() {
    let mut rng = StdRng::seed_from_u64(24);
    let cfg = Dcgan {
        width: 4,
        num_classes: Some(2),
        ..Dcgan::new(28, 1)
    };
    let (a, b) = (cfg.generator(&mut rng), cfg.generator(&mut rng));
    let _ = b.generate(
        &batch(25, &[4, 100]),
        Some(&Indices::from_vec(vec![0, 1, 1, 0], &[4])),
    );
    copy_weights(&a, &b);
    for ((n, x), (_, y)) in a.state_dict().iter().zip(b.state_dict()) {
        assert_eq!(x.to_vec(), y.to_vec(), "{n}");
    }
}

#[test]
#[should_panic(expected = "\"main.0.weight\" has shape [3, 2] in the target but [4, 2]")]
fn ema_update_names_a_parameter_whose_shape_differs() {
    let mut rng = StdRng::seed_from_u64(26);
    let a = Mlp::new(&[2, 3, 1], agon_gan::Activation::ReLU, &mut rng);
    let b = Mlp::new(&[2, 4, 1], agon_gan::Activation::ReLU, &mut rng);
    ema_update(&a, &b, 0.5);
}

#[test]
#[should_panic(expected = "parameter \"0.weight\" of the target model is missing from the source")]
fn ema_update_names_a_missing_parameter() {
    let mut rng = StdRng::seed_from_u64(27);
    let a = Sequential::new().push(Linear::new(2, 2, true, &mut rng));
    let b = Sequential::new()
        .push(ReLU)
        .push(Linear::new(2, 2, true, &mut rng));
    ema_update(&a, &b, 0.5);
}

#[test]
#[should_panic(expected = "decay 1.5 is outside [0, 1]")]
fn ema_update_rejects_a_bad_decay() {
    let mut rng = StdRng::seed_from_u64(28);
    let a = linear_bn(&mut rng);
    ema_update(&a, &a, 1.5);
}

// ---------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------

#[test]
fn pack_shapes_and_order() {
    let x = Tensor::constant(NdArray::arange(0.0, 96.0, 1.0).reshape(&[6, 1, 4, 4]));
    let p = pack(&x, 3);
    assert_eq!(p.shape(), &[2, 3, 4, 4]);
    // Packed sample 1 holds samples 3, 4, 5 as its channels.
    assert_eq!(p.data().to_vec()[48], 48.0);
    assert_eq!(pack(&x, 1).shape(), &[6, 1, 4, 4]);
    assert_eq!(pack(&batch(29, &[6, 3, 2, 2]), 2).shape(), &[3, 6, 2, 2]);
    let v = constant(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    let p = pack(&v, 3);
    assert_eq!(p.shape(), &[1, 6]);
    assert_eq!(p.data().to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // Differentiable: the gradient flows back to each sample.
    let x = Tensor::param(NdArray::ones(&[4, 2]));
    let g = pack(&x, 2).square().sum_all().backward();
    assert_eq!(g.get(&x).unwrap().shape(), &[4, 2]);
}

#[test]
#[should_panic(expected = "batch of 5 samples")]
fn pack_rejects_a_batch_that_does_not_divide() {
    let _ = pack(&batch(30, &[5, 2]), 2);
}

#[test]
#[should_panic(expected = "at least 1")]
fn pack_rejects_zero() {
    let _ = pack(&batch(31, &[4, 2]), 0);
}

#[test]
#[should_panic(expected = "at least two axes")]
fn pack_rejects_a_vector() {
    let _ = pack(&batch(32, &[4]), 2);
}

// ---------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------

/// Names are dotted lower-case identifiers or indices (PyTorch `state_dict` keys), and
/// parameter and buffer names are unique together.
#[track_caller]
fn check_names(m: &dyn Module) -> Vec<String> {
    let names: Vec<String> = m.state_dict().into_iter().map(|(n, _)| n).collect();
    let unique: HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "duplicate names in {names:?}");
    for n in &names {
        assert!(
            n.split('.').all(|part| !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')),
            "{n} is not a PyTorch-style name"
        );
    }
    names
}

fn labels(n: usize, k: usize) -> Indices {
    Indices::from_vec((0..n).map(|i| i % k).collect(), &[n])
}

#[test]
fn dcgan_shapes_for_every_size_and_channel_count() {
    let mut rng = StdRng::seed_from_u64(33);
    for size in [28, 32, 64] {
        for channels in [1, 3] {
            let cfg = Dcgan {
                width: 4,
                latent_dim: 16,
                ..Dcgan::new(size, channels)
            };
            let (g, d) = (cfg.generator(&mut rng), cfg.discriminator(&mut rng));
            assert_eq!(g.latent_dim(), 16);
            assert_eq!(g.num_classes(), None);
            assert_eq!(Discriminator::pack(&d), 1);
            let z = batch(34, &[3, 16]);
            let x = g.generate(&z, None);
            assert_eq!(x.shape(), &[3, channels, size, size], "{cfg:?}");
            assert!(x.data().to_vec().iter().all(|v| v.abs() <= 1.0));
            let j = d.judge(&x, None);
            assert_eq!(j.logits.shape(), &[3, 1], "{cfg:?}");
            assert!(j.class_logits.is_none());
            assert_eq!(d.forward(&x).shape(), &[3, 1]);
            let gn = check_names(&g);
            let dn = check_names(&d);
            assert_eq!(gn[0], "main.0.weight");
            assert!(gn.contains(&"main.1.running_mean".to_string()));
            assert_eq!(
                dn.last().unwrap(),
                &format!("main.{}.bias", 2 * cfg.doublings() + 1)
            );
        }
    }
}

#[test]
fn dcgan_conditional_variants() {
    let mut rng = StdRng::seed_from_u64(35);
    for conditioning in [Conditioning::Projection, Conditioning::Concat] {
        let cfg = Dcgan {
            width: 4,
            latent_dim: 8,
            num_classes: Some(5),
            conditioning,
            ..Dcgan::new(32, 3)
        };
        let (g, d) = (cfg.generator(&mut rng), cfg.discriminator(&mut rng));
        assert_eq!(Generator::num_classes(&g), Some(5));
        assert_eq!(Discriminator::num_classes(&d), Some(5));
        let z = batch(36, &[4, 8]);
        let y = labels(4, 5);
        let x = g.generate(&z, Some(&y));
        assert_eq!(x.shape(), &[4, 3, 32, 32]);
        // The label changes the sample (same noise).
        let other = g.generate(&z, Some(&Indices::from_vec(vec![4, 3, 2, 1], &[4])));
        assert_ne!(x.data().to_vec(), other.data().to_vec());
        let j = d.judge(&x, Some(&y));
        assert_eq!(j.logits.shape(), &[4, 1]);
        let j2 = d.judge(&x, Some(&Indices::from_vec(vec![4, 3, 2, 1], &[4])));
        assert_ne!(j.logits.data().to_vec(), j2.logits.data().to_vec());
        let gn = check_names(&g);
        assert!(gn.contains(&"embed.weight".to_string()));
        let dn = check_names(&d);
        assert!(dn.contains(&"embed.weight".to_string()));
        let embed_shape = d
            .named_parameters()
            .into_iter()
            .find(|(n, _)| n == "embed.weight")
            .unwrap()
            .1
            .shape();
        match conditioning {
            Conditioning::Projection => assert_eq!(embed_shape, vec![5, cfg.features()]),
            Conditioning::Concat => {
                assert_eq!(embed_shape, vec![5, 32 * 32]);
                assert_eq!(d.named_parameters()[0].1.shape(), vec![4, 4, 4, 4]);
            }
        }
    }
}

#[test]
#[should_panic(expected = "this model is conditional")]
fn conditional_generator_needs_labels() {
    let cfg = Dcgan {
        width: 4,
        num_classes: Some(3),
        ..Dcgan::new(28, 1)
    };
    let g = cfg.generator(&mut StdRng::seed_from_u64(0));
    let _ = g.forward(&batch(37, &[2, 100]));
}

#[test]
#[should_panic(expected = "labels have shape [3], expected [2]")]
fn conditional_discriminator_checks_label_count() {
    let cfg = Dcgan {
        width: 4,
        num_classes: Some(3),
        ..Dcgan::new(28, 1)
    };
    let d = cfg.discriminator(&mut StdRng::seed_from_u64(0));
    let _ = d.judge(&batch(38, &[2, 1, 28, 28]), Some(&labels(3, 3)));
}

#[test]
#[should_panic(expected = "expected [N, 3, 32, 32]")]
fn discriminator_checks_image_shape() {
    let d = Dcgan::new(32, 3).discriminator(&mut StdRng::seed_from_u64(0));
    let _ = d.judge(&batch(39, &[2, 1, 32, 32]), None);
}

#[test]
fn dcgan_packed_spectral_and_aux_variants() {
    let mut rng = StdRng::seed_from_u64(40);
    // Packed, spectrally normalised.
    let cfg = Dcgan {
        width: 4,
        pack: 3,
        spectral_norm: true,
        ..Dcgan::new(28, 1)
    };
    let d = cfg.discriminator(&mut rng);
    assert_eq!(Discriminator::pack(&d), 3);
    let x = batch(41, &[6, 1, 28, 28]);
    assert_eq!(d.judge(&x, None).logits.shape(), &[2, 1]);
    let names = check_names(&d);
    for want in [
        "main.0.weight_orig",
        "main.0.bias",
        "main.0.weight_u",
        "main.0.weight_v",
        "main.5.weight_orig",
    ] {
        assert!(names.contains(&want.to_string()), "{want} not in {names:?}");
    }
    assert_eq!(d.named_parameters()[0].1.shape(), vec![4, 3, 4, 4]);
    assert!(!names.iter().any(|n| n.ends_with(".weight")));

    // AC-GAN head, with spectral norm: aux sees the features, labels are not needed.
    let cfg = Dcgan {
        width: 4,
        num_classes: Some(7),
        aux_classifier: true,
        spectral_norm: true,
        ..Dcgan::new(64, 3)
    };
    let (g, d) = (cfg.generator(&mut rng), cfg.discriminator(&mut rng));
    let x = g.generate(&batch(42, &[2, 100]), Some(&labels(2, 7)));
    let j = d.judge(&x, None);
    assert_eq!(j.logits.shape(), &[2, 1]);
    assert_eq!(j.class_logits.as_ref().unwrap().shape(), &[2, 7]);
    let loss = aux_class_loss(j.class_logits.as_ref().unwrap(), &labels(2, 7));
    assert!(loss.item().is_finite());
    let names = check_names(&d);
    assert!(names.contains(&"aux.weight_orig".to_string()));
    assert!(names.contains(&"aux.bias".to_string()));
    assert!(!names.contains(&"embed.weight".to_string()));
}

#[test]
fn dcgan_same_seed_same_weights() {
    let cfg = Dcgan {
        width: 4,
        num_classes: Some(3),
        ..Dcgan::new(32, 1)
    };
    let a = cfg.discriminator(&mut StdRng::seed_from_u64(43));
    let b = cfg.discriminator(&mut StdRng::seed_from_u64(43));
    for ((n, x), (_, y)) in a.state_dict().iter().zip(b.state_dict()) {
        assert_eq!(x.to_vec(), y.to_vec(), "{n}");
    }
}

#[test]
fn reference_models_play_their_roles() {
    let mut rng = StdRng::seed_from_u64(44);
    let g = Dcgan28Generator::new(&mut rng);
    let d = Dcgan28Discriminator::new(&mut rng, 0);
    assert_eq!(g.latent_dim(), 100);
    assert_eq!(Generator::num_classes(&g), None);
    let x = g.generate(&batch(45, &[2, 100]), None);
    assert_eq!(x.shape(), &[2, 1, 28, 28]);
    assert_eq!(d.judge(&x, None).logits.shape(), &[2, 1]);
    assert_eq!(Discriminator::pack(&d), 1);
    check_names(&g);
    check_names(&d);
}

#[test]
fn mlp_plays_both_roles_packed_or_not() {
    let mut rng = StdRng::seed_from_u64(46);
    let g = Mlp::mlp2d_generator(&mut rng);
    assert_eq!(g.latent_dim(), 2);
    let pts = g.generate(&batch(47, &[8, 2]), None);
    assert_eq!(pts.shape(), &[8, 2]);
    let d = Mlp::mlp2d_discriminator(&mut rng);
    assert_eq!(d.judge(&pts, None).logits.shape(), &[8, 1]);
    let d4 = Mlp::mlp2d_packed_discriminator(4, &mut rng);
    assert_eq!(d4.sizes()[0], 8);
    assert_eq!(Discriminator::pack(&d4), 4);
    assert_eq!(d4.judge(&pts, None).logits.shape(), &[2, 1]);
    check_names(&d4);

    let g = Mlp::image_generator(32, &[64, 64], [1, 28, 28], &mut rng);
    assert_eq!(g.latent_dim(), 32);
    let x = g.generate(&batch(48, &[4, 32]), None);
    assert_eq!(x.shape(), &[4, 1, 28, 28]);
    assert!(x.data().to_vec().iter().all(|v| v.abs() <= 1.0));
    let d = Mlp::image_discriminator([1, 28, 28], &[64], 2, false, &mut rng);
    assert_eq!(d.sizes()[0], 2 * 784);
    assert_eq!(d.judge(&x, None).logits.shape(), &[2, 1]);
    let names = check_names(&g);
    assert_eq!(
        names,
        [
            "main.0.weight",
            "main.0.bias",
            "main.2.weight",
            "main.2.bias",
            "main.4.weight",
            "main.4.bias"
        ]
    );
}

#[test]
#[should_panic(expected = "expected 1568")]
fn packed_mlp_names_the_width_it_expects() {
    let d = Mlp::image_discriminator([1, 28, 28], &[8], 2, false, &mut StdRng::seed_from_u64(0));
    // 2 samples of 14x14 packed: 392 entries, not 2 x 784.
    let _ = d.judge(&batch(49, &[2, 1, 14, 14]), None);
}

#[test]
fn losses_and_penalty_train_a_dcgan_discriminator_step() {
    // The parts together: one WGAN-GP critic loss through a packed, spectrally
    // normalised DCGAN discriminator, gradients on every parameter.
    let mut rng = StdRng::seed_from_u64(50);
    let cfg = Dcgan {
        width: 4,
        latent_dim: 8,
        pack: 2,
        spectral_norm: true,
        ..Dcgan::new(28, 1)
    };
    let (g, d) = (cfg.generator(&mut rng), cfg.discriminator(&mut rng));
    let real = batch(51, &[4, 1, 28, 28]);
    let fake = g.generate(&batch(52, &[4, 8]), None);
    let loss = GanLoss::Wasserstein.d_loss(
        &d.judge(&real, None).logits,
        &d.judge(&fake.detach(), None).logits,
    );
    let total = loss.add(&gradient_penalty(&d, &real, &fake, None, &mut rng).mul_scalar(10.0));
    let grads = total.backward();
    for (name, p) in d.named_parameters() {
        assert!(grads.get(&p.tensor()).is_some(), "{name}");
    }
    // The penalty does not reach the generator (its interpolates are fresh leaves).
    let gp = gradient_penalty(&d, &real, &fake, None, &mut rng);
    let grads = gp.backward();
    assert!(g
        .parameters()
        .iter()
        .all(|p| grads.get(&p.tensor()).is_none()));
    let g_loss = GanLoss::Hinge.g_loss(&d.judge(&fake, None).logits);
    let grads = g_loss.backward();
    assert!(g
        .parameters()
        .iter()
        .all(|p| grads.get(&p.tensor()).is_some()));
}
