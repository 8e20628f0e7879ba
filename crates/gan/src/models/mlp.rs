//! Multi-layer perceptrons, and the `mlp2d` workload's generator and discriminator.

use agon_autodiff::Tensor;
use agon_nn::{LeakyReLU, Linear, Module, ReLU, Sequential};
use rand::Rng;

/// The nonlinearity between an [`Mlp`]'s linear layers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(x, 0)` (PyTorch `nn.ReLU()`).
    ReLU,
    /// `x` above 0, `slope * x` below (PyTorch `nn.LeakyReLU(slope)`).
    LeakyReLU(f32),
}

/// Linear layers (with biases) joined by an activation, none after the last layer:
/// `Linear, act, Linear, act, ..., Linear`, named as in PyTorch's `nn.Sequential` called
/// `main` (`main.0.weight`, `main.0.bias`, `main.2.weight`, ...; the activations at odd
/// indices hold no parameters).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::{Activation, Mlp};
/// use agon_nn::Module;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let g = Mlp::mlp2d_generator(&mut rng);
/// let d = Mlp::mlp2d_discriminator(&mut rng);
/// let z = Tensor::constant(NdArray::rand_normal(&[256, 2], 0.0, 1.0, &mut rng));
/// assert_eq!(d.forward(&g.forward(&z)).shape(), &[256, 1]);
/// assert_eq!(g.named_parameters()[6].0, "main.6.weight");
///
/// let tiny = Mlp::new(&[3, 4, 1], Activation::LeakyReLU(0.1), &mut rng);
/// assert_eq!(tiny.num_parameters(), 3 * 4 + 4 + 4 + 1);
/// ```
pub struct Mlp {
    main: Sequential,
    sizes: Vec<usize>,
    activation: Activation,
}

impl Mlp {
    /// An MLP through the layer widths `sizes` (input first, output last), with PyTorch's
    /// default initialisation drawn from `rng`.
    ///
    /// # Panics
    /// If `sizes` has fewer than two entries.
    #[track_caller]
    pub fn new<R: Rng + ?Sized>(sizes: &[usize], activation: Activation, rng: &mut R) -> Self {
        assert!(
            sizes.len() >= 2,
            "Mlp::new: need at least an input and an output width, got sizes {sizes:?}"
        );
        let mut main = Sequential::new();
        for (i, pair) in sizes.windows(2).enumerate() {
            if i > 0 {
                main = match activation {
                    Activation::ReLU => main.push(ReLU),
                    Activation::LeakyReLU(slope) => main.push(LeakyReLU(slope)),
                };
            }
            main = main.push(Linear::new(pair[0], pair[1], true, rng));
        }
        Mlp {
            main,
            sizes: sizes.to_vec(),
            activation,
        }
    }

    /// The `mlp2d` generator: 2 -> 128 -> 128 -> 128 -> 2 with ReLU.
    pub fn mlp2d_generator<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::new(&[2, 128, 128, 128, 2], Activation::ReLU, rng)
    }

    /// The `mlp2d` discriminator: 2 -> 128 -> 128 -> 128 -> 1 with LeakyReLU(0.2), giving
    /// one logit per sample.
    pub fn mlp2d_discriminator<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self::new(&[2, 128, 128, 128, 1], Activation::LeakyReLU(0.2), rng)
    }

    /// The layer widths, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The activation between linear layers.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The layers (`main` in parameter names).
    pub fn main(&self) -> &Sequential {
        &self.main
    }
}

impl Module for Mlp {
    /// `[N, sizes[0]]` to `[N, sizes.last()]`.
    ///
    /// # Panics
    /// If `x`'s last axis is not `sizes[0]` (the first matmul names the shapes).
    fn forward(&self, x: &Tensor) -> Tensor {
        self.main.forward(x)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("main".to_string(), &self.main)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_tensor::NdArray;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn mlp2d_names_match_pytorch() {
        let g = Mlp::mlp2d_generator(&mut StdRng::seed_from_u64(0));
        let got: Vec<(String, Vec<usize>)> = g
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.shape()))
            .collect();
        let want: Vec<(String, Vec<usize>)> = [
            ("main.0.weight", vec![128, 2]),
            ("main.0.bias", vec![128]),
            ("main.2.weight", vec![128, 128]),
            ("main.2.bias", vec![128]),
            ("main.4.weight", vec![128, 128]),
            ("main.4.bias", vec![128]),
            ("main.6.weight", vec![2, 128]),
            ("main.6.bias", vec![2]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
        assert_eq!(got, want);
        assert!(g.named_buffers().is_empty());
        let d = Mlp::mlp2d_discriminator(&mut StdRng::seed_from_u64(0));
        assert_eq!(d.named_parameters()[7].1.shape(), vec![1]);
        assert_eq!(d.activation(), Activation::LeakyReLU(0.2));
        assert_eq!(d.sizes(), &[2, 128, 128, 128, 1]);
    }

    #[test]
    fn forward_is_linear_act_linear() {
        // Two layers by hand: y = W2 act(W1 x + b1) + b2.
        let m = Mlp::new(
            &[1, 2, 1],
            Activation::LeakyReLU(0.5),
            &mut StdRng::seed_from_u64(0),
        );
        let ps = m.parameters();
        ps[0].set(NdArray::from_vec(vec![1.0, -1.0], &[2, 1]).unwrap());
        ps[1].set(NdArray::from_vec(vec![0.0, 0.0], &[2]).unwrap());
        ps[2].set(NdArray::from_vec(vec![1.0, 1.0], &[1, 2]).unwrap());
        ps[3].set(NdArray::from_vec(vec![0.5], &[1]).unwrap());
        let x = Tensor::constant(NdArray::from_vec(vec![2.0], &[1, 1]).unwrap());
        // hidden = [2, -2] -> [2, -1]; out = 2 - 1 + 0.5.
        assert_eq!(m.forward(&x).data().to_vec(), vec![1.5]);
    }

    #[test]
    #[should_panic(expected = "Mlp::new")]
    fn one_width_is_rejected() {
        let _ = Mlp::new(&[3], Activation::ReLU, &mut StdRng::seed_from_u64(0));
    }
}
