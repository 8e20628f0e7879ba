//! 01: arrays, views and kernels in agon-tensor.
//!
//! Run: `cargo run --example 01_tensors`

use agon::tensor::{Conv2dParams, NdArray, Pool2dParams};
use rand::SeedableRng;

fn main() {
    // Arrays are f32, row-major, with shared storage.
    let a = NdArray::arange(0.0, 6.0, 1.0).reshape(&[2, 3]);
    println!("a = {:?}", a);

    // Views copy nothing: a transpose is new strides over the same storage.
    let t = a.transpose(0, 1);
    println!(
        "a^T shape {:?}, strides {:?} (a's were {:?})",
        t.shape(),
        t.strides(),
        a.strides()
    );
    println!("same storage: {}", std::ptr::eq(a.storage(), t.storage()));

    // Broadcasting follows NumPy: [2, 3] + [3] adds the row to each row.
    let row = NdArray::from_vec(vec![10.0, 20.0, 30.0], &[3]).unwrap();
    println!("a + row = {:?}", a.add(&row));

    // Reductions over any axes; matmul through SIMD sgemm.
    println!("sum over rows = {:?}", a.sum(&[0], false));
    println!("a @ a^T = {:?}", a.matmul(&t));

    // Convolution and pooling, NCHW, PyTorch semantics, seeded randomness.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let images = NdArray::rand_normal(&[4, 1, 28, 28], 0.0, 1.0, &mut rng);
    let filters = NdArray::rand_normal(&[8, 1, 5, 5], 0.0, 0.1, &mut rng);
    let p = Conv2dParams::new().stride(2).padding(2);
    let features = images.conv2d(&filters, None, &p).relu();
    let (pooled, _argmax) = features.max_pool2d(&Pool2dParams::new(2));
    println!(
        "conv: {:?} -> {:?} -> pooled {:?}",
        images.shape(),
        features.shape(),
        pooled.shape()
    );
}
