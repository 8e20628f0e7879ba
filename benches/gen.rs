//! Generator forward passes, batch 256, in evaluation mode (BatchNorm on its running
//! statistics, as when sampling) and with no graph recorded:
//! - `gen/gen28_forward_256`: docs/architecture.md's `gen28` workload, dcgan28's generator;
//! - `gen/default_forward_256`: the generator `agon train` builds by default.
//!
//! Each timed call runs on a rayon worker (`agon::autodiff::on_worker`), as the trainer runs
//! its steps and `sample_from` its sampling passes: the calling thread then works beside
//! the other worker, as PyTorch's calling thread is one of its OpenMP threads.
//!
//! `scripts/torch_bench.py` times the same forward passes in PyTorch under the same names.
//! Run: `cargo bench --bench gen`.

use std::hint::black_box;
use std::time::Duration;

use agon::autodiff::{no_grad, on_worker, Tensor};
use agon::gan::trainer::{build_models, TrainConfig};
use agon::gan::{Dcgan28Generator, Generator};
use agon::tensor::NdArray;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;

const BATCH: usize = 256;

fn forward(c: &mut Criterion, name: &str, g: &dyn Generator) {
    g.eval();
    let mut rng = StdRng::seed_from_u64(3);
    let z = Tensor::constant(NdArray::rand_normal(
        &[BATCH, g.latent_dim()],
        0.0,
        1.0,
        &mut rng,
    ));
    let mut group = c.benchmark_group("gen");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function(name, |b| {
        b.iter(|| on_worker(|| no_grad(|| black_box(g.generate(black_box(&z), None)))))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    forward(c, "gen28_forward_256", &Dcgan28Generator::new(&mut rng));
    let (g, _, _) = build_models(&TrainConfig::default(), &[1, 28, 28], None, 0)
        .expect("the default model builds");
    forward(c, "default_forward_256", g.as_ref());
}

criterion_group!(gen_benches, benches);
criterion_main!(gen_benches);
