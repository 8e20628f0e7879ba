//! 02: gradients with agon-autodiff, checked by hand.
//!
//! Run: `cargo run --example 02_autodiff`
//! Set `AGON_TRACE_BACKWARD=1` to watch the engine visit each node.

use agon::autodiff::{Reduction, Tensor};
use agon::tensor::NdArray;

fn main() {
    // Logistic regression on two points: loss = mean BCE(sigmoid(x w + b), y).
    let x = Tensor::constant(NdArray::from_vec(vec![1.0, 2.0, -1.0, 0.5], &[2, 2]).unwrap());
    let y = Tensor::constant(NdArray::from_vec(vec![1.0, 0.0], &[2, 1]).unwrap());
    let w = Tensor::param(NdArray::from_vec(vec![0.1, -0.2], &[2, 1]).unwrap());
    let b = Tensor::param(NdArray::scalar(0.0));

    let logits = x.matmul(&w).add(&b);
    let loss = logits.bce_with_logits(&y, Reduction::Mean);
    let grads = loss.backward();
    let (dw, db) = (grads.get(&w).unwrap(), grads.get(&b).unwrap());

    // By hand: dL/dlogit_i = (sigmoid(logit_i) - y_i) / n; dL/dw = x^T that; dL/db = its sum.
    let z = logits.data().to_vec();
    let r: Vec<f32> = z
        .iter()
        .zip([1.0, 0.0])
        .map(|(z, y)| (1.0 / (1.0 + (-z).exp()) - y) / 2.0)
        .collect();
    let xs = [[1.0, 2.0], [-1.0, 0.5]];
    let dw_hand = [
        xs[0][0] * r[0] + xs[1][0] * r[1],
        xs[0][1] * r[0] + xs[1][1] * r[1],
    ];
    println!("loss  = {:.6}", loss.item());
    println!("dL/dw = {:?}   by hand {:?}", dw.data().to_vec(), dw_hand);
    println!("dL/db = {:?}   by hand {:?}", db.item(), r[0] + r[1]);

    // Gradients are returned, not stored: calling backward again gives the same answer.
    let again = loss.backward();
    assert_eq!(again.get(&w).unwrap().data().to_vec(), dw.data().to_vec());

    // The graph, for Graphviz (`dot -Tsvg`):
    println!("\n{}", loss.to_dot());
}
