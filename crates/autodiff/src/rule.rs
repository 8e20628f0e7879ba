//! The derivative of one op, as the engine sees it.

use crate::tensor::Tensor;

/// How to push a gradient back through one op.
///
/// `backward` receives the op's inputs, its output and `grad` = dL/d(output), and returns
/// dL/d(input) for each input (`None` where `needs[i]` is false: the engine asks only for
/// what leads to a wanted gradient). It must compute with differentiable [`Tensor`] ops,
/// never by reaching into raw arrays: then the same rule serves first-order training (the
/// engine runs it under [`no_grad`](crate::no_grad), recording nothing) and
/// higher-order gradients (`create_graph = true`, where the returned gradients carry
/// graphs of their own). The one allowed shortcut: a rule may evaluate its formula on raw
/// arrays with fused kernels when [`is_grad_enabled`](crate::is_grad_enabled) is false
/// (nothing is being recorded) as long as it builds the same formula from [`Tensor`] ops
/// otherwise; training-mode batch norm does, and a test holds the two to each other.
///
/// ```
/// use agon_autodiff::{Rule, Tensor};
/// use agon_tensor::NdArray;
///
/// /// y = x^3, dy/dx = 3x^2.
/// struct Cube;
/// impl Rule for Cube {
///     fn name(&self) -> &'static str { "cube" }
///     fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, _needs: &[bool])
///         -> Vec<Option<Tensor>> {
///         let x = &inputs[0];
///         vec![Some(grad.mul(&x.mul(x).mul_scalar(3.0)))]
///     }
/// }
///
/// let x = Tensor::param(NdArray::scalar(2.0));
/// let y = Tensor::from_op(x.data().powf(3.0), Cube, &[&x]);
/// assert_eq!(y.backward().get(&x).unwrap().item(), 12.0);
/// ```
pub trait Rule: Send + Sync {
    /// The op's name, shown in graph exports, traces and panic messages.
    fn name(&self) -> &'static str;

    /// dL/d(inputs) from dL/d(output); one entry per input.
    fn backward(
        &self,
        inputs: &[Tensor],
        output: &Tensor,
        grad: &Tensor,
        needs: &[bool],
    ) -> Vec<Option<Tensor>>;
}
