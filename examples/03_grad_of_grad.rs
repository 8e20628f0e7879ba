//! 03: a gradient penalty on a tiny critic, differentiated through its own gradient.
//!
//! Run: `cargo run --example 03_grad_of_grad`
//!
//! Critic D(x) = v · tanh(W x) with x in R^2, W 2x2, v in R^2. The WGAN-GP style penalty at
//! one point is P = (||dD/dx|| - 1)^2, and training the critic needs dP/dW and dP/dv: the
//! derivative of an expression that contains a derivative. Agon gets them from
//! `grad(.., create_graph = true)` and `backward`; `by_hand` derives them with the chain
//! rule, and the program checks the two agree.

use agon::autodiff::{grad, Tensor};
use agon::tensor::NdArray;

fn main() {
    let w_data = [0.5f32, -0.3, 0.8, 0.2];
    let v_data = [1.5f32, -0.7];
    let x_data = [0.4f32, -1.2];
    let w = Tensor::param(NdArray::from_vec(w_data.to_vec(), &[2, 2]).unwrap());
    let v = Tensor::param(NdArray::from_vec(v_data.to_vec(), &[2]).unwrap());
    let x = Tensor::param(NdArray::from_vec(x_data.to_vec(), &[2]).unwrap());

    let d = v.mul(&w.matmul(&x).tanh()).sum_all();
    // create_graph = true: the gradient is itself a differentiable tensor.
    let dx = grad(&[&d], &[&x], None, true)[0].clone().unwrap();
    let penalty = dx.square().sum_all().sqrt().sub_scalar(1.0).square();
    let grads = penalty.backward();

    let (dw, dv) = by_hand(&w_data, &v_data, &x_data);
    println!("penalty           = {:.6}", penalty.item());
    println!(
        "dP/dv (agon)      = {:?}",
        grads.get(&v).unwrap().data().to_vec()
    );
    println!("dP/dv (by hand)   = {:?}", dv);
    println!(
        "dP/dW (agon)      = {:?}",
        grads.get(&w).unwrap().data().to_vec()
    );
    println!("dP/dW (by hand)   = {:?}", dw);

    let agon: Vec<f32> = [grads.get(&v).unwrap(), grads.get(&w).unwrap()]
        .iter()
        .flat_map(|g| g.data().to_vec())
        .collect();
    let hand = dv.iter().chain(&dw);
    for (a, h) in agon.iter().zip(hand) {
        assert!((*a as f64 - h).abs() < 1e-5, "agon {a} vs by hand {h}");
    }
    println!("agree to 1e-5");
}

/// The same derivatives written out with the chain rule, in f64.
fn by_hand(w: &[f32; 4], v: &[f32; 2], x: &[f32; 2]) -> ([f64; 4], [f64; 2]) {
    let w: Vec<f64> = w.iter().map(|&a| a as f64).collect();
    let (v, x) = ([v[0] as f64, v[1] as f64], [x[0] as f64, x[1] as f64]);
    let z = [w[0] * x[0] + w[1] * x[1], w[2] * x[0] + w[3] * x[1]];
    let h = [z[0].tanh(), z[1].tanh()];
    let s = [1.0 - h[0] * h[0], 1.0 - h[1] * h[1]];
    let u = [v[0] * s[0], v[1] * s[1]]; // dD/dz
    let gx = [w[0] * u[0] + w[2] * u[1], w[1] * u[0] + w[3] * u[1]]; // dD/dx = W^T u
    let n = (gx[0] * gx[0] + gx[1] * gx[1]).sqrt();
    let c = 2.0 * (n - 1.0) / n; // dP/dgx = c * gx
                                 // P depends on W directly (gx = W^T u) and through u (u = v * s(z), z = W x):
                                 // dP/du = W (c gx);  du/dz = v * ds/dz = v * (-2 h s).
    let wg = [w[0] * gx[0] + w[1] * gx[1], w[2] * gx[0] + w[3] * gx[1]]; // W gx
    let du = [c * wg[0], c * wg[1]];
    let dz = [
        du[0] * v[0] * -2.0 * h[0] * s[0],
        du[1] * v[1] * -2.0 * h[1] * s[1],
    ];
    // dP/dW[i][j] = c * u_i * gx_j (direct) + dz_i * x_j (through z).
    let dw = [
        c * u[0] * gx[0] + dz[0] * x[0],
        c * u[0] * gx[1] + dz[0] * x[1],
        c * u[1] * gx[0] + dz[1] * x[0],
        c * u[1] * gx[1] + dz[1] * x[1],
    ];
    // dP/dv_i = dP/du_i * s_i.
    let dv = [du[0] * s[0], du[1] * s[1]];
    (dw, dv)
}
