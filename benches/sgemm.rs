//! Matrix-multiply throughput (docs/architecture.md (reference workloads), workload `sgemm`), on every GEMM path
//! this CPU supports, and the FMA peak each path is measured against.
//!
//! Throughput is declared as `Throughput::Elements(2 * m * n * k)`: one multiply and one add
//! per inner-product term, so the "elements/s" criterion reports are FLOP/s.
//!
//! - `square_<n>/<isa>`: square `n x n @ n x n` products, `Gemm::parallel` on rayon's global
//!   pool (all cores). `<isa>` is `avx512`, `avx2` (Agon's kernels) or `portable` (the
//!   matrixmultiply crate, the reference): the same call, forced onto each path. Each
//!   sample's timed loop runs on a rayon worker (`agon::tensor::on_worker`), as the
//!   trainer's products run and as a caller that wraps its work in `on_worker` runs them:
//!   the calling thread computes beside the other worker, as PyTorch's calling thread is
//!   one of its OpenMP threads. A product called from outside the pool is handed to a
//!   worker and waited for, about 10 us a call on 2 vCPUs (BENCHMARKS.md).
//! - `<layer>/<isa>`: the per-image GEMM of each convolution in the `dcgan28` workload
//!   (batch 64), as one single-threaded call: what each rayon task of the conv kernels runs,
//!   so these numbers bound the convolutions' per-core speed.
//! - `fma_peak/<isa>/<threads>t`: a register-only FMA loop on 1 thread and on every thread:
//!   the practical peak GFLOP/s of the path, for the share-of-peak column in BENCHMARKS.md.
//!
//! dcgan28's per-image GEMM shapes (m x k @ k x n). A Conv2d weight `[Cout, Cin, kh, kw]` is
//! the row-major matrix `[Cout, Cin*kh*kw]`; the im2col matrix is `[Cin*kh*kw, Ho*Wo]`. A
//! ConvTranspose2d weight `[Cin, Cout, kh, kw]` is `[Cin, Cout*kh*kw]`, used transposed
//! (strides swapped, no copy) against the input `[Cin, H*W]`; col2im then scatters the
//! `[Cout*kh*kw, H*W]` result.
//!
//! | layer    | op                          | in       | out      | m    | k    | n   |
//! |----------|-----------------------------|----------|----------|------|------|-----|
//! | d_conv1  | Conv(1,64,k5,s2,p2)         | 1x28x28  | 64x14x14 | 64   | 25   | 196 |
//! | d_conv2  | Conv(64,128,k5,s2,p2)       | 64x14x14 | 128x7x7  | 128  | 1600 | 49  |
//! | g_convt1 | ConvT(256,128,k5,s1,p2)     | 256x7x7  | 128x7x7  | 3200 | 256  | 49  |
//! | g_convt2 | ConvT(128,64,k5,s2,p2,op1)  | 128x7x7  | 64x14x14 | 1600 | 128  | 49  |
//! | g_convt3 | ConvT(64,1,k5,s2,p2,op1)    | 64x14x14 | 1x28x28  | 25   | 64   | 196 |
//!
//! Run with `cargo bench --bench sgemm`; on 2 cores the whole file takes a few minutes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use agon::tensor::gemm::{fma_peak_flops, fma_peak_loop, Gemm, Isa, MatMut, MatRef};
use agon::tensor::on_worker;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

/// A dcgan28 layer's per-image GEMM: `m x k @ k x n`, with A stored transposed for
/// ConvTranspose2d layers (their weight is `[Cin, Cout*kh*kw]`).
struct LayerGemm {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a_transposed: bool,
}

const DCGAN28_LAYERS: [LayerGemm; 5] = [
    LayerGemm {
        name: "d_conv1",
        m: 64,
        k: 25,
        n: 196,
        a_transposed: false,
    },
    LayerGemm {
        name: "d_conv2",
        m: 128,
        k: 1600,
        n: 49,
        a_transposed: false,
    },
    LayerGemm {
        name: "g_convt1",
        m: 3200,
        k: 256,
        n: 49,
        a_transposed: true,
    },
    LayerGemm {
        name: "g_convt2",
        m: 1600,
        k: 128,
        n: 49,
        a_transposed: true,
    },
    LayerGemm {
        name: "g_convt3",
        m: 25,
        k: 64,
        n: 196,
        a_transposed: true,
    },
];

/// Deterministic, non-trivial values (the content does not affect sgemm's speed).
fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn flops(m: usize, k: usize, n: usize) -> Throughput {
    Throughput::Elements((2 * m * k * n) as u64)
}

fn square_products(group: &mut BenchmarkGroup<'_, WallTime>) {
    for n in [64, 128, 256, 512, 1024] {
        let (a, b) = (values(n * n), values(n * n));
        let mut c = vec![0.0f32; n * n];
        group.throughput(flops(n, n, n));
        for isa in Isa::supported() {
            group.bench_function(format!("square_{n}/{}", isa.name()), |bench| {
                bench.iter_custom(|iters| {
                    let c = &mut c;
                    on_worker(|| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            Gemm::new().isa(isa).parallel(true).run(
                                1.0,
                                MatRef::row_major(black_box(&a), n, n),
                                MatRef::row_major(black_box(&b), n, n),
                                0.0,
                                MatMut::row_major(c, n, n),
                            );
                            black_box(&mut *c);
                        }
                        start.elapsed()
                    })
                })
            });
        }
    }
}

fn conv_layer_gemms(group: &mut BenchmarkGroup<'_, WallTime>) {
    for layer in &DCGAN28_LAYERS {
        let (m, k, n) = (layer.m, layer.k, layer.n);
        let (a, b) = (values(m * k), values(k * n));
        let mut c = vec![0.0f32; m * n];
        group.throughput(flops(m, k, n));
        for isa in Isa::supported() {
            group.bench_function(
                format!("{}/{m}x{k}x{n}/{}", layer.name, isa.name()),
                |bench| {
                    bench.iter(|| {
                        let a = if layer.a_transposed {
                            MatRef::row_major(&a, k, m).t()
                        } else {
                            MatRef::row_major(&a, m, k)
                        };
                        let b = MatRef::row_major(black_box(&b), k, n);
                        Gemm::new()
                            .isa(isa)
                            .run(1.0, a, b, 0.0, MatMut::row_major(&mut c, m, n));
                        black_box(&mut c);
                    })
                },
            );
        }
    }
}

/// FMA loop rounds per benchmark iteration: ~25 M FMAs per thread, a few milliseconds, so
/// spawning the threads is noise.
const PEAK_ROUNDS: usize = 1 << 20;

fn fma_peaks(group: &mut BenchmarkGroup<'_, WallTime>) {
    let threads = rayon::current_num_threads();
    for isa in Isa::supported() {
        if fma_peak_flops(isa, 1) == 0 {
            continue;
        }
        for t in [1, threads] {
            group.throughput(Throughput::Elements(
                fma_peak_flops(isa, PEAK_ROUNDS) * t as u64,
            ));
            group.bench_function(format!("fma_peak/{}/{t}t", isa.name()), |bench| {
                // Plain scoped threads, not rayon: the loop must occupy every core for its
                // whole length, and a pool's hand-offs would show up as missing peak.
                bench.iter(|| {
                    std::thread::scope(|s| {
                        let handles: Vec<_> = (0..t)
                            .map(|_| s.spawn(|| fma_peak_loop(isa, black_box(PEAK_ROUNDS))))
                            .collect();
                        handles.into_iter().map(|h| h.join().unwrap()).sum::<f32>()
                    })
                })
            });
        }
    }
}

fn benches(c: &mut Criterion) {
    eprintln!(
        "gemm paths: {:?} (active {}), caches {:?}",
        Isa::supported(),
        Isa::active().name(),
        agon::tensor::gemm::CacheSizes::detected()
    );
    let mut group = c.benchmark_group("sgemm");
    // Short runs keep the file to a few minutes on 2 cores; sgemm timings are stable.
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    fma_peaks(&mut group);
    square_products(&mut group);
    conv_layer_gemms(&mut group);
    group.finish();
}

criterion_group!(sgemm_benches, benches);
criterion_main!(sgemm_benches);
