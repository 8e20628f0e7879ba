//! Same inputs, same bits, whatever the thread count: every parallel kernel splits work in
//! fixed-size chunks and combines partials in a fixed order. This runs a small network's
//! worth of kernels, sized to cross every parallel threshold, in a 1-thread and a 2-thread
//! (and 3-thread, to catch splits by thread count) rayon pool and compares the bits.

mod common;
use common::on_threads;

use agon_reference::strategies::random_array;
use agon_tensor::{Conv2dParams, Pool2dParams};

fn pipeline() -> Vec<Vec<u32>> {
    // Batch 32: the [32, 16, 14, 14] activations (100,352 elements) cross the elementwise
    // parallel threshold (65,536).
    let x = random_array(&[32, 8, 28, 28], 1);
    let w = random_array(&[16, 8, 5, 5], 2);
    let p = Conv2dParams {
        stride: [2, 2],
        padding: [2, 2],
        dilation: [1, 1],
    };
    let h = x.conv2d(&w, None, &p); // [32, 16, 14, 14]
    let bias = random_array(&[1, 16, 1, 1], 3);
    let a = h.add(&bias).leaky_relu(0.2);
    let mean = a.mean(&[0, 2, 3], true);
    let var = a.var(&[0, 2, 3], true, 0);
    let normed = a.sub(&mean).div(&var.add_scalar(1e-5).sqrt());
    let (pooled, _) = normed.max_pool2d(&Pool2dParams {
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
    });
    let flat = pooled.reshape(&[32, 16 * 7 * 7]);
    let lin = flat.matmul(&random_array(&[784, 300], 4));
    let back = h.conv_transpose2d(&w, None, &p, [1, 1]);
    let dw = x.conv2d_weight(&h, [5, 5], &p);
    let big_sum = random_array(&[3, 100_000], 5).sum(&[1], false);
    let total = normed.sum_all();
    [a, mean, var, normed, lin, back, dw, big_sum, total]
        .iter()
        .map(|t| t.to_vec().iter().map(|v| v.to_bits()).collect())
        .collect()
}

fn run_with_threads(n: usize) -> Vec<Vec<u32>> {
    on_threads(n, pipeline)
}

#[test]
fn results_are_bit_identical_for_1_2_and_3_threads() {
    let one = run_with_threads(1);
    assert_eq!(one, run_with_threads(2), "1 vs 2 threads differ");
    assert_eq!(one, run_with_threads(3), "1 vs 3 threads differ");
}
