//! Autodiff benchmarks (docs/architecture.md, reference workloads):
//! - `autodiff/mlp2d_step`: one GAN training step of the `mlp2d` workload, batch 256:
//!   D step on real and fake (BCE with logits), G step (non-saturating), plain SGD update
//!   (Adam arrives with the optimisers; the update is the same in both frameworks here).
//!   This measures per-op overhead: the matrices are small.
//! - `autodiff/critic_grad_{first,create_graph}` and `autodiff/critic_gp_step`: the dcgan28
//!   critic (without dropout) on a batch of 64: dD/dx with `create_graph` off and on, and
//!   the whole gradient-penalty step (penalty and its gradient w.r.t. every critic weight).
//!
//! Each timed call runs on a rayon worker (`agon::autodiff::on_worker`), as the trainer runs
//! its steps and `sample_from` its sampling passes: the calling thread then works beside
//! the other worker, as PyTorch's calling thread is one of its OpenMP threads.
//!
//! `scripts/torch_bench.py` times the same computations in PyTorch under the same names.

use agon::autodiff::{grad, no_grad, on_worker, Reduction, Tensor};
use agon::tensor::{Conv2dParams, NdArray};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::Duration;

/// A stack of linear layers (weight `[out, in]`, bias `[out]`, PyTorch's default init).
struct Mlp {
    params: Vec<Tensor>,
}

impl Mlp {
    fn new(sizes: &[usize], rng: &mut StdRng) -> Self {
        let mut params = vec![];
        for pair in sizes.windows(2) {
            let bound = 1.0 / (pair[0] as f32).sqrt();
            params.push(Tensor::param(NdArray::rand_uniform(
                &[pair[1], pair[0]],
                -bound,
                bound,
                rng,
            )));
            params.push(Tensor::param(NdArray::rand_uniform(
                &[pair[1]],
                -bound,
                bound,
                rng,
            )));
        }
        Mlp { params }
    }

    /// Linear layers with `act` between them (not after the last).
    fn forward(&self, x: &Tensor, act: impl Fn(&Tensor) -> Tensor) -> Tensor {
        let layers = self.params.len() / 2;
        let mut h = x.clone();
        for l in 0..layers {
            let (w, b) = (&self.params[2 * l], &self.params[2 * l + 1]);
            h = h.matmul(&w.transpose(0, 1)).add(b);
            if l + 1 < layers {
                h = act(&h);
            }
        }
        h
    }

    /// `p - lr * g` for each parameter, as fresh leaves.
    fn sgd(&mut self, grads: &[Option<Tensor>], lr: f32) {
        no_grad(|| {
            for (p, g) in self.params.iter_mut().zip(grads) {
                let g = g.as_ref().expect("every parameter gets a gradient");
                *p = Tensor::param(p.data().sub(&g.data().mul_scalar(lr)));
            }
        });
    }
}

fn params(m: &Mlp) -> Vec<&Tensor> {
    m.params.iter().collect()
}

fn mlp2d_step(g: &mut Mlp, d: &mut Mlp, real: &Tensor, z: &Tensor) {
    let relu = |t: &Tensor| t.relu();
    let lrelu = |t: &Tensor| t.leaky_relu(0.2);
    let fake = g.forward(z, relu);
    let (ones, zeros) = (
        real.full_like(1.0).narrow(1, 0, 1),
        real.full_like(0.0).narrow(1, 0, 1),
    );
    let d_loss = d
        .forward(real, lrelu)
        .bce_with_logits(&ones, Reduction::Mean)
        .add(
            &d.forward(&fake.detach(), lrelu)
                .bce_with_logits(&zeros, Reduction::Mean),
        );
    let dg = grad(&[&d_loss], &params(d), None, false);
    d.sgd(&dg, 1e-3);
    let g_loss = d
        .forward(&fake, lrelu)
        .bce_with_logits(&ones, Reduction::Mean);
    let gg = grad(&[&g_loss], &params(g), None, false);
    g.sgd(&gg, 1e-3);
}

fn bench_mlp2d(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut g = Mlp::new(&[2, 128, 128, 128, 2], &mut rng);
    let mut d = Mlp::new(&[2, 128, 128, 128, 1], &mut rng);
    let real = Tensor::constant(NdArray::rand_normal(&[256, 2], 0.0, 1.0, &mut rng));
    let z = Tensor::constant(NdArray::rand_normal(&[256, 2], 0.0, 1.0, &mut rng));
    c.bench_function("autodiff/mlp2d_step", |b| {
        b.iter(|| on_worker(|| mlp2d_step(&mut g, &mut d, &real, &z)))
    });
}

/// dcgan28's discriminator without dropout: conv(1,64,5,s2,p2) - lrelu - conv(64,128,5,s2,p2)
/// - lrelu - linear(6272, 1).
struct Critic {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    w3: Tensor,
    b3: Tensor,
}

impl Critic {
    fn new(rng: &mut StdRng) -> Self {
        let mut p = |shape: &[usize]| Tensor::param(NdArray::rand_normal(shape, 0.0, 0.02, rng));
        Critic {
            w1: p(&[64, 1, 5, 5]),
            b1: p(&[64]),
            w2: p(&[128, 64, 5, 5]),
            b2: p(&[128]),
            w3: p(&[1, 6272]),
            b3: p(&[1]),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let p = Conv2dParams::new().stride(2).padding(2);
        let h = x.conv2d(&self.w1, Some(&self.b1), &p).leaky_relu(0.2);
        let h = h.conv2d(&self.w2, Some(&self.b2), &p).leaky_relu(0.2);
        h.flatten(1, 3)
            .matmul(&self.w3.transpose(0, 1))
            .add(&self.b3)
    }

    fn params(&self) -> Vec<&Tensor> {
        vec![&self.w1, &self.b1, &self.w2, &self.b2, &self.w3, &self.b3]
    }
}

fn bench_critic(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let critic = Critic::new(&mut rng);
    let x = Tensor::param(NdArray::rand_normal(&[64, 1, 28, 28], 0.0, 1.0, &mut rng));
    let mut group = c.benchmark_group("autodiff");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for (name, create_graph) in [
        ("critic_grad_first", false),
        ("critic_grad_create_graph", true),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                on_worker(|| {
                    let out = critic.forward(&x).sum_all();
                    grad(&[&out], &[&x], None, create_graph)
                })
            })
        });
    }
    group.bench_function("critic_gp_step", |b| {
        b.iter(|| {
            on_worker(|| {
                let out = critic.forward(&x).sum_all();
                let dx = grad(&[&out], &[&x], None, true)[0].clone().unwrap();
                let norms = dx.flatten(1, 3).square().sum(&[1], false).sqrt();
                let penalty = norms.sub_scalar(1.0).square().mean_all();
                grad(&[&penalty], &critic.params(), None, false)
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4));
    targets = bench_mlp2d, bench_critic
}
criterion_main!(benches);
