//! Differentiable ops: each forward computes with `agon-tensor`, each backward rule with
//! differentiable [`Tensor`] ops (so rules can be differentiated again).
//!
//! One file per family. Rules are closures next to their forward code, wrapped in
//! [`FnRule`]; each states its derivative in a comment. Broadcasting ops undo the
//! broadcast in backward with `sum_to`.

mod arith;
mod conv;
mod index;
mod matmul;
mod movement;
mod pool;
mod reduce;
mod unary;

use agon_tensor::NdArray;

use crate::rule::Rule;
use crate::tensor::Tensor;

/// The signature of a backward closure: (inputs, output, grad, needs) -> input grads.
type BackwardFn = dyn Fn(&[Tensor], &Tensor, &Tensor, &[bool]) -> Vec<Option<Tensor>> + Send + Sync;

/// A [`Rule`] made from a name and a closure.
pub(crate) struct FnRule {
    name: &'static str,
    backward: Box<BackwardFn>,
}

impl Rule for FnRule {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(
        &self,
        inputs: &[Tensor],
        output: &Tensor,
        grad: &Tensor,
        needs: &[bool],
    ) -> Vec<Option<Tensor>> {
        (self.backward)(inputs, output, grad, needs)
    }
}

/// Records `data = op(inputs)` with a closure rule.
pub(crate) fn record(
    data: NdArray,
    name: &'static str,
    inputs: &[&Tensor],
    backward: impl Fn(&[Tensor], &Tensor, &Tensor, &[bool]) -> Vec<Option<Tensor>>
        + Send
        + Sync
        + 'static,
) -> Tensor {
    Tensor::from_op(
        data,
        FnRule {
            name,
            backward: Box::new(backward),
        },
        inputs,
    )
}

/// Records a one-input op whose gradient is `d(x, y, g)` (x input, y output, g = dL/dy).
pub(crate) fn unary(
    x: &Tensor,
    data: NdArray,
    name: &'static str,
    d: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor + Send + Sync + 'static,
) -> Tensor {
    record(data, name, &[x], move |i, y, g, _| {
        vec![Some(d(&i[0], y, g))]
    })
}

/// Records a two-input op with one closure per input gradient, each called only when that
/// input needs a gradient: `da(a, b, y, g)`, `db(a, b, y, g)`.
pub(crate) fn binary(
    a: &Tensor,
    b: &Tensor,
    data: NdArray,
    name: &'static str,
    da: impl Fn(&Tensor, &Tensor, &Tensor, &Tensor) -> Tensor + Send + Sync + 'static,
    db: impl Fn(&Tensor, &Tensor, &Tensor, &Tensor) -> Tensor + Send + Sync + 'static,
) -> Tensor {
    record(data, name, &[a, b], move |i, y, g, needs| {
        let (a, b) = (&i[0], &i[1]);
        vec![
            needs[0].then(|| da(a, b, y, g)),
            needs[1].then(|| db(a, b, y, g)),
        ]
    })
}

/// A constant tensor from a mask or other value that carries no gradient.
pub(crate) fn constant(data: NdArray) -> Tensor {
    Tensor::constant(data)
}
