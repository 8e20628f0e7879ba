//! The `Module` trait: forward, and the structure that gives parameters their names.

use agon_autodiff::Tensor;
use agon_tensor::NdArray;

use crate::param::{Buffer, Param};

/// A layer or a model: a forward function plus named state.
///
/// A module lists only its *own* parameters and buffers and its direct children; the
/// provided methods walk the tree and build PyTorch `state_dict` names by joining with dots
/// (`main.0.weight`, `bn1.running_mean`), so weights move between Agon and PyTorch by name.
///
/// ```
/// use agon_nn::{Linear, Module, ReLU, Sequential};
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let net = Sequential::new()
///     .push(Linear::new(2, 8, true, &mut rng))
///     .push(ReLU)
///     .push(Linear::new(8, 1, true, &mut rng));
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// assert_eq!(net.num_parameters(), 2 * 8 + 8 + 8 + 1);
/// ```
pub trait Module: Send + Sync {
    /// The layer's computation.
    fn forward(&self, x: &Tensor) -> Tensor;

    /// This module and `next` as one computation, where the pair has a faster fused form
    /// (nearest x2 [`Upsample`](crate::Upsample) then a 3x3 [`Conv2d`](crate::Conv2d):
    /// [`agon_autodiff::upsample2x_conv3x3`]; an evaluation-mode
    /// [`BatchNorm`](crate::BatchNorm) then a ReLU or LeakyReLU:
    /// [`agon_autodiff::batch_norm_inference`]), else `None`.
    /// [`Sequential`](crate::Sequential) asks each layer about the one after it. A fusion
    /// gives the pair's values and gradients up to rounding and changes no parameter or its
    /// name.
    fn forward_fused(&self, _next: &dyn Module, _x: &Tensor) -> Option<Tensor> {
        None
    }

    /// The module as a plain [`Conv2d`](crate::Conv2d), for fusions that need its
    /// parameters (`None` for every other module, wrapped convolutions included).
    fn as_conv2d(&self) -> Option<&crate::Conv2d> {
        None
    }

    /// The rectifier this module applies, if it is exactly a [`ReLU`](crate::ReLU) or a
    /// [`LeakyReLU`](crate::LeakyReLU): what a batch norm before it may fuse into its pass.
    fn as_rectifier(&self) -> Option<agon_tensor::Rectifier> {
        None
    }

    /// This module's own parameters (not its children's), with local names.
    fn params(&self) -> Vec<(String, Param)> {
        vec![]
    }

    /// This module's own buffers, with local names.
    fn buffers(&self) -> Vec<(String, Buffer)> {
        vec![]
    }

    /// Direct children with their names (`"0"`, `"1"` in a [`Sequential`](crate::Sequential)).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![]
    }

    /// Switches this module's own behaviour (not its children's) between training and
    /// evaluation. Only modes that matter override it (BatchNorm, Dropout, spectral norm).
    fn set_own_training(&self, _training: bool) {}

    /// With `true`, restarts this module's own running statistics as a plain average of
    /// the training-mode batches that follow (PyTorch's `momentum = None`); with `false`,
    /// returns to the momentum average from where that left them. Only
    /// [`BatchNorm`](crate::BatchNorm) overrides it.
    fn set_own_cumulative_stats(&self, _cumulative: bool) {}

    /// This module's own random-number state, if it draws random numbers (Dropout:
    /// `(seed, calls)`). Kept out of the state dict, which must match PyTorch's names;
    /// trainers save it beside the weights so a resumed run draws the same numbers.
    fn own_rng_state(&self) -> Option<(u64, u64)> {
        None
    }

    /// Restores what [`own_rng_state`](Module::own_rng_state) returned.
    fn set_own_rng_state(&self, _state: (u64, u64)) {}

    /// Every random-number state in the tree, by dotted module name.
    fn named_rng_states(&self) -> Vec<(String, (u64, u64))> {
        let mut out: Vec<(String, (u64, u64))> = self
            .own_rng_state()
            .map(|s| (String::new(), s))
            .into_iter()
            .collect();
        for (name, child) in self.children() {
            out.extend(child.named_rng_states().into_iter().map(|(n, s)| {
                let full = if n.is_empty() {
                    name.clone()
                } else {
                    format!("{name}.{n}")
                };
                (full, s)
            }));
        }
        out
    }

    /// Restores states from [`named_rng_states`](Module::named_rng_states); names not in
    /// the tree are ignored.
    fn load_rng_states(&self, states: &[(String, (u64, u64))]) {
        for (name, state) in states {
            if name.is_empty() {
                self.set_own_rng_state(*state);
            }
        }
        for (child_name, child) in self.children() {
            let prefix = format!("{child_name}.");
            let inner: Vec<(String, (u64, u64))> = states
                .iter()
                .filter_map(|(n, s)| {
                    if n == &child_name {
                        Some((String::new(), *s))
                    } else {
                        n.strip_prefix(&prefix).map(|rest| (rest.to_string(), *s))
                    }
                })
                .collect();
            if !inner.is_empty() {
                child.load_rng_states(&inner);
            }
        }
    }

    /// Every parameter in the tree, with dotted names, in definition order.
    fn named_parameters(&self) -> Vec<(String, Param)> {
        let mut out = self.params();
        for (name, child) in self.children() {
            out.extend(
                child
                    .named_parameters()
                    .into_iter()
                    .map(|(n, p)| (format!("{name}.{n}"), p)),
            );
        }
        out
    }

    /// Every buffer in the tree, with dotted names.
    fn named_buffers(&self) -> Vec<(String, Buffer)> {
        let mut out = self.buffers();
        for (name, child) in self.children() {
            out.extend(
                child
                    .named_buffers()
                    .into_iter()
                    .map(|(n, b)| (format!("{name}.{n}"), b)),
            );
        }
        out
    }

    /// The parameters alone, in the order of [`named_parameters`](Module::named_parameters).
    fn parameters(&self) -> Vec<Param> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// `∂loss/∂p` for every parameter, aligned with [`parameters`](Module::parameters)
    /// (`None` where `loss` does not depend on it), ready for
    /// [`Optimizer::step_grads`](crate::optim::Optimizer::step_grads). No graph is recorded
    /// for the gradients (`create_graph = false`): this is the ordinary training step.
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_nn::{Linear, Module};
    /// use agon_tensor::NdArray;
    /// use rand::SeedableRng;
    /// let net = Linear::new(2, 1, true, &mut rand::rngs::StdRng::seed_from_u64(0));
    /// let loss = net.forward(&Tensor::constant(NdArray::ones(&[4, 2]))).sum_all();
    /// let grads = net.parameter_grads(&loss);
    /// // d(sum of 4 outputs)/d(bias) = 4; /d(weight) = the summed inputs, 4 each.
    /// assert_eq!(grads[1].as_ref().unwrap().data().to_vec(), vec![4.0]);
    /// assert_eq!(grads[0].as_ref().unwrap().data().to_vec(), vec![4.0, 4.0]);
    /// ```
    fn parameter_grads(&self, loss: &Tensor) -> Vec<Option<Tensor>> {
        let leaves: Vec<Tensor> = self.parameters().iter().map(|p| p.tensor()).collect();
        agon_autodiff::grad(&[loss], &leaves.iter().collect::<Vec<_>>(), None, false)
    }

    /// Training mode for the whole tree (BatchNorm uses batch statistics, Dropout drops).
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode for the whole tree.
    fn eval(&self) {
        self.set_training(false);
    }

    /// Sets training or evaluation mode on this module and all its descendants.
    fn set_training(&self, training: bool) {
        self.set_own_training(training);
        for (_, child) in self.children() {
            child.set_training(training);
        }
    }

    /// [`set_own_cumulative_stats`](Module::set_own_cumulative_stats) on the whole tree:
    /// how running statistics are recomputed for weights they were not gathered with (an
    /// averaged generator's "standing statistics").
    ///
    /// ```
    /// use agon_autodiff::Tensor;
    /// use agon_nn::{BatchNorm1d, Module};
    /// use agon_tensor::NdArray;
    /// let bn = BatchNorm1d::new(1);
    /// bn.set_cumulative_stats(true);
    /// for batch in [[0.0f32, 2.0], [4.0, 6.0]] {
    ///     bn.forward(&Tensor::constant(NdArray::from_vec(batch.to_vec(), &[2, 1]).unwrap()));
    /// }
    /// bn.set_cumulative_stats(false);
    /// assert_eq!(bn.running_mean.data().to_vec(), vec![3.0]); // (1 + 5) / 2
    /// assert_eq!(bn.running_var.data().to_vec(), vec![2.0]); // both batches' unbiased 2
    /// ```
    fn set_cumulative_stats(&self, cumulative: bool) {
        self.set_own_cumulative_stats(cumulative);
        for (_, child) in self.children() {
            child.set_cumulative_stats(cumulative);
        }
    }

    /// Number of learnable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Param::numel).sum()
    }

    /// Parameters and buffers by name, as PyTorch's `state_dict()` (values copied out).
    fn state_dict(&self) -> Vec<(String, NdArray)> {
        let mut out: Vec<(String, NdArray)> = self
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.data()))
            .collect();
        out.extend(self.named_buffers().into_iter().map(|(n, b)| (n, b.data())));
        out
    }
}
