//! The image-to-image networks' operations (pix2pix, CycleGAN, SRGAN): instance
//! normalisation, reflection padding and sub-pixel upsampling (pixel shuffle). Each is a
//! composition of primitives, so its derivatives of every order come from theirs.

use agon_tensor::Indices;

use crate::Tensor;

/// Instance normalisation of `x` `[N, C, H, W]` (`F.instance_norm` without running
/// statistics): each (sample, channel) plane is centred and scaled by its own mean and
/// biased variance over `H x W`, `y = (x - mean) / sqrt(var + eps)`, then `y * weight + bias`
/// per channel when given (`[C]` each).
///
/// ```
/// use agon_autodiff::{instance_norm, Tensor};
/// use agon_tensor::NdArray;
/// let x = Tensor::constant(NdArray::arange(0.0, 16.0, 1.0).reshape(&[1, 2, 2, 4]));
/// let y = instance_norm(&x, None, None, 1e-5).data().clone();
/// // Each 2x4 plane has mean 0 and variance 1 afterwards.
/// assert!(y.narrow(1, 0, 1).mean_all().item().abs() < 1e-6);
/// assert!((y.narrow(1, 1, 1).mul(&y.narrow(1, 1, 1)).mean_all().item() - 1.0).abs() < 1e-4);
/// ```
///
/// # Panics
/// If `x` is not 4-D, or `weight` / `bias` are not `[C]`.
#[track_caller]
pub fn instance_norm(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f32,
) -> Tensor {
    assert_eq!(
        x.ndim(),
        4,
        "instance_norm: input must be [N, C, H, W], got {:?}",
        x.shape()
    );
    let c = x.shape()[1];
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            assert_eq!(
                t.shape(),
                [c],
                "instance_norm: {name} must be [C] = [{c}], got {:?}",
                t.shape()
            );
        }
    }
    let centred = x.sub(&x.mean(&[2, 3], true));
    let var = centred.square().mean(&[2, 3], true);
    let y = centred.div(&var.add_scalar(eps).sqrt());
    let y = match weight {
        Some(w) => y.mul(&w.reshape(&[1, c, 1, 1])),
        None => y,
    };
    match bias {
        Some(b) => y.add(&b.reshape(&[1, c, 1, 1])),
        None => y,
    }
}

/// The source index of each output position when padding an axis of `len` by `before` and
/// `after` with reflection (the edge not repeated: `[a b c d]` padded by 2 is
/// `c b [a b c d] c b`).
fn reflected(len: usize, before: usize, after: usize) -> Indices {
    let idx: Vec<usize> = (0..before + len + after)
        .map(|i| {
            let j = i as isize - before as isize;
            let last = len as isize - 1;
            let r = if j < 0 {
                -j
            } else if j > last {
                2 * last - j
            } else {
                j
            };
            r as usize
        })
        .collect();
    let n = idx.len();
    Indices::from_vec(idx, &[n])
}

/// Reflection padding of the last two axes of `x` (`[.., H, W]`), by `[left, right, top,
/// bottom]` as `nn.ReflectionPad2d`. Built from `index_select` along W then H, so the
/// gradient adds each output's gradient back onto the pixel it mirrors (`index_add`).
///
/// ```
/// use agon_autodiff::{reflection_pad2d, Tensor};
/// use agon_tensor::NdArray;
/// let x = Tensor::constant(NdArray::arange(0.0, 4.0, 1.0).reshape(&[1, 1, 1, 4]));
/// let y = reflection_pad2d(&x, [2, 1, 0, 0]).data().clone();
/// assert_eq!(y.to_vec(), vec![2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0]);
/// ```
///
/// # Panics
/// If `x` has fewer than 2 axes, or a padding is not smaller than its axis (PyTorch's
/// rule: reflection needs a pixel to mirror).
#[track_caller]
pub fn reflection_pad2d(x: &Tensor, pad: [usize; 4]) -> Tensor {
    let nd = x.ndim();
    assert!(
        nd >= 2,
        "reflection_pad2d: need [.., H, W], got {:?}",
        x.shape()
    );
    let (h, w) = (x.shape()[nd - 2], x.shape()[nd - 1]);
    let [left, right, top, bottom] = pad;
    assert!(
        left < w && right < w && top < h && bottom < h,
        "reflection_pad2d: padding {pad:?} must be smaller than the input's {h}x{w}"
    );
    let x = if left + right > 0 {
        x.index_select(nd - 1, &reflected(w, left, right))
    } else {
        x.clone()
    };
    if top + bottom > 0 {
        x.index_select(nd - 2, &reflected(h, top, bottom))
    } else {
        x
    }
}

/// Sub-pixel upsampling (`nn.PixelShuffle`, Shi et al. 2016): `[N, C r^2, H, W]` to
/// `[N, C, H r, W r]`, where output pixel `(c, h r + i, w r + j)` is input channel
/// `c r^2 + i r + j` at `(h, w)`. A reshape and a permutation, so its adjoint (the
/// gradient) is the inverse rearrangement.
///
/// ```
/// use agon_autodiff::{pixel_shuffle, Tensor};
/// use agon_tensor::NdArray;
/// // Four 1x1 channels become one 2x2 image, row by row.
/// let x = Tensor::constant(NdArray::arange(0.0, 4.0, 1.0).reshape(&[1, 4, 1, 1]));
/// let y = pixel_shuffle(&x, 2).data().clone();
/// assert_eq!((y.shape(), y.to_vec()), (&[1, 1, 2, 2][..], vec![0.0, 1.0, 2.0, 3.0]));
/// ```
///
/// # Panics
/// If `x` is not 4-D, `r` is 0, or the channels are not a multiple of `r^2`.
#[track_caller]
pub fn pixel_shuffle(x: &Tensor, r: usize) -> Tensor {
    assert!(
        x.ndim() == 4 && r > 0 && x.shape()[1].is_multiple_of(r * r),
        "pixel_shuffle: need [N, C*r^2, H, W] with r = {r} >= 1, got {:?}",
        x.shape()
    );
    let (n, c, h, w) = (
        x.shape()[0],
        x.shape()[1] / (r * r),
        x.shape()[2],
        x.shape()[3],
    );
    x.reshape(&[n, c, r, r, h, w])
        .permute(&[0, 1, 4, 2, 5, 3])
        .reshape(&[n, c, h * r, w * r])
}

#[cfg(test)]
mod tests {
    use super::*;
    use agon_tensor::NdArray;

    #[test]
    fn reflected_indices_mirror_without_repeating_the_edge() {
        assert_eq!(reflected(4, 2, 2).as_slice(), [2, 1, 0, 1, 2, 3, 2, 1]);
        assert_eq!(reflected(3, 0, 0).as_slice(), [0, 1, 2]);
    }

    #[test]
    fn pixel_shuffle_places_channel_c_r2_plus_i_r_plus_j_at_offset_i_j() {
        let (r, c, h, w) = (3, 2, 2, 3);
        let x =
            NdArray::arange(0.0, (c * r * r * h * w) as f32, 1.0).reshape(&[1, c * r * r, h, w]);
        let y = pixel_shuffle(&Tensor::constant(x.clone()), r)
            .data()
            .clone();
        for ci in 0..c {
            for hi in 0..h * r {
                for wi in 0..w * r {
                    let src = ci * r * r + (hi % r) * r + wi % r;
                    let want = x.get(&[0, src, hi / r, wi / r]);
                    assert_eq!(y.get(&[0, ci, hi, wi]), want, "{ci} {hi} {wi}");
                }
            }
        }
    }
}
