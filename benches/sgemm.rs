//! Matrix-multiply throughput (DESIGN.md section 6, workload `sgemm`).
//!
//! Throughput is declared as `Throughput::Elements(2 * m * n * k)`: one multiply and one add
//! per inner-product term, so the "elements/s" criterion reports are FLOP/s.
//!
//! - `matmul/<n>`: square `n x n @ n x n` products through `NdArray::matmul` on contiguous
//!   inputs, on rayon's global pool (all cores; row blocks in parallel).
//! - `<layer>`: the per-image GEMM of each convolution in the `dcgan28` workload (batch 64),
//!   as one single-threaded `gemm::sgemm` call: that is exactly what each rayon task of the
//!   conv kernels runs, so these numbers bound the convolutions' per-core speed.
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
//! Run with `cargo bench --bench sgemm`; on 2 cores the whole file takes about a minute.

use std::hint::black_box;
use std::time::Duration;

use agon::tensor::gemm::{sgemm, MatMut, MatRef};
use agon::tensor::NdArray;
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

fn square_matmuls(group: &mut BenchmarkGroup<'_, WallTime>) {
    for n in [64, 128, 256, 512, 1024] {
        let a = NdArray::from_vec(values(n * n), &[n, n]).unwrap();
        let b = NdArray::from_vec(values(n * n), &[n, n]).unwrap();
        group.throughput(flops(n, n, n));
        group.bench_function(format!("matmul/{n}"), |bench| {
            bench.iter(|| black_box(a.matmul(black_box(&b))))
        });
    }
}

fn conv_layer_gemms(group: &mut BenchmarkGroup<'_, WallTime>) {
    for layer in &DCGAN28_LAYERS {
        let (m, k, n) = (layer.m, layer.k, layer.n);
        let (a, b) = (values(m * k), values(k * n));
        let mut c = vec![0.0f32; m * n];
        group.throughput(flops(m, k, n));
        group.bench_function(format!("{}/{m}x{k}x{n}", layer.name), |bench| {
            bench.iter(|| {
                let a = if layer.a_transposed {
                    MatRef::row_major(&a, k, m).t()
                } else {
                    MatRef::row_major(&a, m, k)
                };
                let b = MatRef::row_major(black_box(&b), k, n);
                sgemm(1.0, a, b, 0.0, MatMut::row_major(&mut c, m, n));
                black_box(&mut c);
            })
        });
    }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgemm");
    // Short runs keep the file to about a minute on 2 cores; sgemm timings are stable.
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    square_matmuls(&mut group);
    conv_layer_gemms(&mut group);
    group.finish();
}

criterion_group!(sgemm_benches, benches);
criterion_main!(sgemm_benches);
