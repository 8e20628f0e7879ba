//! Convolution kernels on every layer of the `dcgan28` workload (docs/architecture.md,
//! reference workloads), on the default model's two discriminator layers and on two 3x3
//! stride-1 layers (Winograd), at batch 64: for each layer its forward op, its
//! input-gradient op and its weight gradient.
//!
//! Discriminator layers are convolutions: forward `conv2d`, input gradient
//! `conv_transpose2d`. Generator layers are transposed convolutions: forward
//! `conv_transpose2d`, input gradient `conv2d`. The weight gradient is `conv2d_weight` for
//! both (for a generator layer, with the roles of its input and output swapped).
//!
//! Throughput is in FLOPs, the same for all three ops of a layer:
//! FLOPs = 2 * N * Cout * Cin * kh * kw * Ho * Wo, with the conv2d-side shapes (for a
//! generator layer, the conv2d whose adjoint it is: Cin = its output channels, Ho x Wo =
//! its input size). Criterion's "elements/s" is therefore FLOP/s.
//!
//! Each sample's timed loop runs on a rayon worker (`agon::tensor::on_worker`), where
//! the trainer's steps and `sample_from`'s passes run every convolution: the calling
//! thread then computes beside the other worker, as PyTorch's calling thread is one of its
//! OpenMP threads, instead of injecting each call into the pool and sleeping until it is
//! done (two thread wake-ups per call: 3-10% of these calls' time on 2 vCPUs,
//! BENCHMARKS.md).
//!
//! Run: `cargo bench --bench conv` (add `-- --quick` for a fast pass).

use std::time::Duration;

use agon_tensor::{on_worker, Conv2dParams, NdArray};
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Bencher, Criterion, Throughput};

const BATCH: usize = 64;

/// One layer, described by the conv2d it is (D) or is the adjoint of (G).
struct Layer {
    name: &'static str,
    /// True for generator layers (transposed convolutions).
    transposed: bool,
    /// conv2d-side input `[Cin, H, W]`.
    input: [usize; 3],
    /// conv2d-side output channels.
    cout: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

const LAYERS: [Layer; 9] = [
    // D: Conv(1, 64, k5, s2, p2): [1, 28, 28] -> [64, 14, 14].
    Layer {
        name: "D1",
        transposed: false,
        input: [1, 28, 28],
        cout: 64,
        kernel: 5,
        stride: 2,
        padding: 2,
    },
    // D: Conv(64, 128, k5, s2, p2): [64, 14, 14] -> [128, 7, 7].
    Layer {
        name: "D2",
        transposed: false,
        input: [64, 14, 14],
        cout: 128,
        kernel: 5,
        stride: 2,
        padding: 2,
    },
    // G: ConvT(256, 128, k5, s1, p2): [256, 7, 7] -> [128, 7, 7].
    Layer {
        name: "G1",
        transposed: true,
        input: [128, 7, 7],
        cout: 256,
        kernel: 5,
        stride: 1,
        padding: 2,
    },
    // G: ConvT(128, 64, k5, s2, p2, op1): [128, 7, 7] -> [64, 14, 14].
    Layer {
        name: "G2",
        transposed: true,
        input: [64, 14, 14],
        cout: 128,
        kernel: 5,
        stride: 2,
        padding: 2,
    },
    // G: ConvT(64, 1, k5, s2, p2, op1): [64, 14, 14] -> [1, 28, 28].
    Layer {
        name: "G3",
        transposed: true,
        input: [1, 28, 28],
        cout: 64,
        kernel: 5,
        stride: 2,
        padding: 2,
    },
    // The default model's discriminator (`agon train`, width 32):
    // Conv(1, 32, k4, s2, p1): [1, 28, 28] -> [32, 14, 14].
    Layer {
        name: "defD1",
        transposed: false,
        input: [1, 28, 28],
        cout: 32,
        kernel: 4,
        stride: 2,
        padding: 1,
    },
    // Conv(32, 64, k4, s2, p1): [32, 14, 14] -> [64, 7, 7].
    Layer {
        name: "defD2",
        transposed: false,
        input: [32, 14, 14],
        cout: 64,
        kernel: 4,
        stride: 2,
        padding: 1,
    },
    // 3x3 stride-1 layers, which conv2d runs as Winograd F(2x2, 3x3) (its input gradient
    // too, and on maps of 28x28 or more the weight gradient). A U-Net-sized layer:
    // Conv(64, 64, k3, s1, p1): [64, 28, 28] -> [64, 28, 28].
    Layer {
        name: "U3",
        transposed: false,
        input: [64, 28, 28],
        cout: 64,
        kernel: 3,
        stride: 1,
        padding: 1,
    },
    // A CycleGAN residual block's conv at width 32 (4 * 32 channels after two
    // downsamplings of a 28x28 image, on the 9x9 reflection-padded map):
    // Conv(128, 128, k3, s1, p0): [128, 9, 9] -> [128, 7, 7].
    Layer {
        name: "R3",
        transposed: false,
        input: [128, 9, 9],
        cout: 128,
        kernel: 3,
        stride: 1,
        padding: 0,
    },
];

/// Deterministic values in [-1, 1) (a cheap LCG: benches need data, not statistics).
fn filled(shape: &[usize], seed: u64) -> NdArray {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    NdArray::from_vec(data, shape).unwrap()
}

/// Times `iters` calls of `op` in one loop on a rayon worker (module docs).
fn time_on_worker<R>(b: &mut Bencher, op: impl Fn() -> R + Sync) {
    b.iter_custom(|iters| {
        on_worker(|| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(op());
            }
            start.elapsed()
        })
    });
}

fn bench_layers(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(10);
    for l in &LAYERS {
        let [cin, h, w] = l.input;
        let k = l.kernel;
        let p = Conv2dParams::new().stride(l.stride).padding(l.padding);
        let [ho, wo] = p.conv2d_output_hw([h, w], [k, k]);
        // conv_transpose2d back to [h, w] needs this output padding.
        let op: [usize; 2] =
            std::array::from_fn(|a| (l.input[1 + a] + 2 * l.padding - (k - 1) - 1) % l.stride);
        // FLOPs = 2 * N * Cout * Cin * kh * kw * Ho * Wo (conv2d-side shapes).
        let flops = 2 * BATCH * l.cout * cin * k * k * ho * wo;
        group.throughput(Throughput::Elements(flops as u64));

        let x = filled(&[BATCH, cin, h, w], 1); // conv2d-side input
        let y = filled(&[BATCH, l.cout, ho, wo], 2); // conv2d-side output
        let wt = filled(&[l.cout, cin, k, k], 3); // conv2d weight = the ConvT weight [in, out, ..]
                                                  // Forward: D computes x -> y with conv2d; G computes y -> x with conv_transpose2d.
                                                  // Input gradient: the other one of the pair.
        let (fwd, bwd) = if l.transposed {
            ("forward", "input_grad")
        } else {
            ("input_grad", "forward")
        };
        group.bench_function(format!("{}_{}", l.name, fwd), |b| {
            time_on_worker(b, || y.conv_transpose2d(&wt, None, &p, op))
        });
        group.bench_function(format!("{}_{}", l.name, bwd), |b| {
            time_on_worker(b, || x.conv2d(&wt, None, &p))
        });
        group.bench_function(format!("{}_weight_grad", l.name), |b| {
            time_on_worker(b, || x.conv2d_weight(&y, [k, k], &p))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_layers);
criterion_main!(benches);
