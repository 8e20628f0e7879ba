//! Whole GAN training steps on the reference workloads (docs/architecture.md, reference workloads):
//! - `train_step/dcgan28`: `Dcgan28Generator` / `Dcgan28Discriminator`, batch 64,
//!   Adam(2e-4, 0.5, 0.999) for both players.
//! - `train_step/default`: the models `agon train` builds by default (`build_models` on the
//!   default configuration, 28x28 grey images), batch 64, Adam(2e-4, 0.5, 0.999);
//!   `scripts/torch_default_model.py` is the same model in PyTorch.
//! - `train_step/mlp2d`: `Mlp::mlp2d_generator` / `Mlp::mlp2d_discriminator`, batch 256,
//!   Adam(1e-3, 0.5, 0.999) for both players.
//!
//! One step, the same for both workloads:
//! 1. draw `z ~ N(0, 1)` from a seeded RNG (part of the step) and compute `fake = G(z)`;
//! 2. D step: `BCE_logits(D(real), 1) + BCE_logits(D(fake.detach()), 0)`, gradients for
//!    D's parameters, Adam update of D;
//! 3. G step (non-saturating): `BCE_logits(D(fake), 1)` through the updated D, gradients
//!    for G's parameters only, Adam update of G.
//!
//! Both models stay in training mode (BatchNorm on batch statistics and updating its
//! running ones, Dropout active). The real batch is a fixed random tensor made once outside
//! the timed loop: uniform on [-1, 1] images for dcgan28, N(0, 1) points for mlp2d.
//!
//! Each timed call runs on a rayon worker (`agon::autodiff::on_worker`), as the trainer runs
//! its steps and `sample_from` its sampling passes: the calling thread then works beside
//! the other worker, as PyTorch's calling thread is one of its OpenMP threads.
//!
//! `scripts/torch_bench.py` times the same steps in PyTorch under the same names.
//! Run: `cargo bench --bench train_step` (add `-- --quick` for a fast pass).

use std::time::Duration;

use agon::autodiff::{on_worker, Tensor};
use agon::gan::trainer::{build_models, TrainConfig};
use agon::gan::{Dcgan28Discriminator, Dcgan28Generator, Discriminator, GanLoss, Generator, Mlp};
use agon::nn::optim::{Adam, AdamConfig, Optimizer};
use agon::tensor::NdArray;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A generator, a discriminator and their optimisers: everything one step updates.
struct Gan {
    g: Box<dyn Generator>,
    d: Box<dyn Discriminator>,
    g_opt: Adam,
    d_opt: Adam,
    latent_dim: usize,
}

impl Gan {
    fn new(
        g: Box<dyn Generator>,
        d: Box<dyn Discriminator>,
        config: AdamConfig,
        latent_dim: usize,
    ) -> Self {
        g.train();
        d.train();
        let g_opt = Adam::new(g.named_parameters(), config);
        let d_opt = Adam::new(d.named_parameters(), config);
        Gan {
            g,
            d,
            g_opt,
            d_opt,
            latent_dim,
        }
    }

    /// One training step on `real` (see the module docs); returns (D loss, G loss).
    fn step(&mut self, real: &Tensor, rng: &mut StdRng) -> (f32, f32) {
        let loss = GanLoss::NonSaturating;
        let batch = real.shape()[0];
        let z = Tensor::constant(NdArray::rand_normal(
            &[batch, self.latent_dim],
            0.0,
            1.0,
            rng,
        ));
        let fake = self.g.generate(&z, None);
        let judge = |x: &Tensor| self.d.judge(x, None).logits;

        // D step: real labelled 1, the detached fake labelled 0.
        let d_loss = loss.d_loss(&judge(real), &judge(&fake.detach()));
        self.d_opt.step_grads(&self.d.parameter_grads(&d_loss));

        // G step: the fake through the updated D, labelled 1; gradients for G only.
        let g_loss = loss.g_loss(&judge(&fake));
        self.g_opt.step_grads(&self.g.parameter_grads(&g_loss));
        (d_loss.item(), g_loss.item())
    }
}

fn bench_dcgan28(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let g = Box::new(Dcgan28Generator::new(&mut rng));
    let d = Box::new(Dcgan28Discriminator::new(&mut rng, 1));
    let config = AdamConfig::default().lr(2e-4).betas(0.5, 0.999);
    let mut gan = Gan::new(g, d, config, Dcgan28Generator::LATENT_DIM);
    let real = Tensor::constant(NdArray::rand_uniform(&[64, 1, 28, 28], -1.0, 1.0, &mut rng));
    let mut z_rng = StdRng::seed_from_u64(2);
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("dcgan28", |b| {
        b.iter(|| on_worker(|| gan.step(&real, &mut z_rng)))
    });
    group.finish();
}

fn bench_mlp2d(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let g = Box::new(Mlp::mlp2d_generator(&mut rng));
    let d = Box::new(Mlp::mlp2d_discriminator(&mut rng));
    let config = AdamConfig::default().lr(1e-3).betas(0.5, 0.999);
    let mut gan = Gan::new(g, d, config, 2);
    let real = Tensor::constant(NdArray::rand_normal(&[256, 2], 0.0, 1.0, &mut rng));
    let mut z_rng = StdRng::seed_from_u64(2);
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    group.bench_function("mlp2d", |b| {
        b.iter(|| on_worker(|| gan.step(&real, &mut z_rng)))
    });
    group.finish();
}

fn bench_default(c: &mut Criterion) {
    let cfg = TrainConfig::default();
    let (g, d, _) = build_models(&cfg, &[1, 28, 28], None, 0).expect("the default model builds");
    let latent_dim = g.latent_dim();
    let config = AdamConfig::default().lr(2e-4).betas(0.5, 0.999);
    let mut gan = Gan::new(g, d, config, latent_dim);
    let mut rng = StdRng::seed_from_u64(1);
    let real = Tensor::constant(NdArray::rand_uniform(&[64, 1, 28, 28], -1.0, 1.0, &mut rng));
    let mut z_rng = StdRng::seed_from_u64(2);
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("default", |b| {
        b.iter(|| on_worker(|| gan.step(&real, &mut z_rng)))
    });
    group.finish();
}

criterion_group!(benches, bench_dcgan28, bench_default, bench_mlp2d);
criterion_main!(benches);
