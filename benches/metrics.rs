//! The k-NN and kernel scores on evaluation-sized feature sets (issue 10): two sets of
//! 10,000 x 128 features, the size `agon eval` scores with a 10,000-image sample.
//!
//! - `metrics/kid_full_10000x128`: [`kid_full`], three 10,000 x 10,000 kernel sums.
//! - `metrics/precision_recall_10000x128`: [`precision_recall`] with `k` = [`PR_K`] (the
//!   value `agon eval` uses): two k-th-neighbour radius passes and two membership passes,
//!   each over a 10,000 x 10,000 distance matrix.
//!
//! Both run on rayon's global pool (all cores). Each call takes seconds, so the sample
//! count is criterion's minimum. Run with `cargo bench --bench metrics`.

use std::hint::black_box;
use std::time::Duration;

use agon::metrics::{kid_full, precision_recall, PR_K};
use agon::tensor::NdArray;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Rows per feature set and feature width.
const N: usize = 10_000;
const D: usize = 128;

/// `n x d` features, uniform in `[shift, shift + 1)`: non-negative with a common offset,
/// like the ReLU features of the classifier.
fn features(n: usize, d: usize, shift: f32, seed: u64) -> NdArray {
    let mut rng = StdRng::seed_from_u64(seed);
    let data = (0..n * d).map(|_| shift + rng.random::<f32>()).collect();
    NdArray::from_vec(data, &[n, d]).expect("n * d values")
}

fn benches(c: &mut Criterion) {
    let real = features(N, D, 0.0, 1);
    let fake = features(N, D, 0.05, 2);
    let mut group = c.benchmark_group("metrics");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("kid_full_10000x128", |b| {
        b.iter(|| kid_full(black_box(&real), black_box(&fake)))
    });
    group.bench_function("precision_recall_10000x128", |b| {
        b.iter(|| precision_recall(black_box(&real), black_box(&fake), PR_K))
    });
    group.finish();
}

criterion_group!(metrics_benches, benches);
criterion_main!(metrics_benches);
