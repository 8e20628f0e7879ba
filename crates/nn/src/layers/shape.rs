//! Layers that only move or resize data.

use agon_autodiff::{upsample2x_conv3x3, Tensor};

use crate::module::Module;

/// Merges every axis from 1 on: `[N, ...] -> [N, prod(...)]` (PyTorch's `nn.Flatten()`).
pub struct Flatten;

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Tensor {
        if x.ndim() <= 2 {
            return x.clone();
        }
        x.flatten(1, x.ndim() - 1)
    }
}

/// Views each sample with a new shape, keeping the batch axis: `[N, ...] -> [N, shape..]`
/// (dcgan28's `view(-1, 256, 7, 7)`).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_nn::{Module, Reshape};
/// use agon_tensor::NdArray;
/// let y = Reshape(vec![256, 7, 7]).forward(&Tensor::constant(NdArray::zeros(&[4, 12544])));
/// assert_eq!(y.shape(), &[4, 256, 7, 7]);
/// ```
pub struct Reshape(pub Vec<usize>);

impl Module for Reshape {
    /// # Panics
    /// If a sample does not have the target number of elements.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut shape = vec![x.shape()[0]];
        shape.extend_from_slice(&self.0);
        x.reshape(&shape)
    }
}

/// Nearest-neighbour upsampling by an integer factor on both spatial axes.
pub struct Upsample(pub usize);

impl Module for Upsample {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.upsample_nearest2d([self.0, self.0])
    }

    /// x2 upsampling into a plain 3x3, stride-1, padding-1 convolution runs as
    /// [`agon_autodiff::upsample2x_conv3x3`]: four 2x2 convolutions of the small input,
    /// about half the arithmetic, and no upsampled tensor.
    fn forward_fused(&self, next: &dyn Module, x: &Tensor) -> Option<Tensor> {
        let conv = next.as_conv2d()?;
        let p = &conv.params;
        let w = conv.weight.tensor();
        let fusable = self.0 == 2
            && x.ndim() == 4
            && w.shape()[2..] == [3, 3]
            && p.stride == [1, 1]
            && p.padding == [1, 1]
            && p.dilation == [1, 1];
        if !fusable {
            return None;
        }
        let bias = conv.bias.as_ref().map(|b| b.tensor());
        Some(upsample2x_conv3x3(x, &w, bias.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Conv2d, Sequential};
    use agon_tensor::{Conv2dParams, NdArray};
    use rand::SeedableRng;

    /// In a Sequential, Upsample(2) then a 3x3 convolution runs fused (its output comes from
    /// the phase interleave), gives the unfused values, and keeps the parameter names; other
    /// convolutions after an upsample run as written.
    #[test]
    fn upsample_then_conv3x3_runs_fused_in_a_sequential() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let same = Conv2dParams::new().padding(1);
        let net = Sequential::new()
            .push(Upsample(2))
            .push(Conv2d::new(3, 2, 3, same, true, &mut rng));
        let x = Tensor::constant(NdArray::rand_normal(&[2, 3, 5, 6], 0.0, 1.0, &mut rng));
        let y = net.forward(&x);
        assert_eq!(y.op_name(), Some("interleave_phases"));
        let conv = net.get(1).unwrap().as_conv2d().unwrap();
        let bias = conv.bias.as_ref().map(|b| b.tensor());
        let want = x
            .upsample_nearest2d([2, 2])
            .conv2d(&conv.weight.tensor(), bias.as_ref(), &same);
        for (a, b) in y.data().to_vec().iter().zip(want.data().to_vec()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["1.weight", "1.bias"]);
        // A 5x5 convolution is not fused.
        let other = Sequential::new().push(Upsample(2)).push(Conv2d::new(
            3,
            2,
            5,
            Conv2dParams::new().padding(2),
            false,
            &mut rng,
        ));
        assert_ne!(other.forward(&x).op_name(), Some("interleave_phases"));
    }
}
