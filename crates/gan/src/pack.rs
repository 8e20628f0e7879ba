//! PacGAN packing (Lin et al. 2018): the discriminator judges `m` samples at once, which
//! lets it see a lack of diversity and so penalises mode collapse.
//!
//! Packing groups `m` consecutive samples of a batch along the feature (channel) axis:
//! a batch `[B, C, H, W]` becomes `[B/m, m·C, H, W]`, and `[B, d]` becomes `[B/m, m·d]`.
//! It is a reshape (no copy of contiguous data) and differentiable. A packing
//! discriminator is built with `m` times the input channels or features and packs inside
//! [`judge`](crate::Discriminator::judge), so the trainer hands it ordinary batches.
//!
//! ```
//! use agon_autodiff::Tensor;
//! use agon_gan::pack;
//! use agon_tensor::NdArray;
//! let x = Tensor::constant(NdArray::arange(0.0, 8.0, 1.0).reshape(&[4, 2]));
//! let p = pack(&x, 2);
//! assert_eq!(p.shape(), &[2, 4]);
//! assert_eq!(p.data().to_vec()[..4], [0.0, 1.0, 2.0, 3.0]); // samples 0 and 1 side by side
//! ```

use agon_autodiff::Tensor;

/// `x` `[B, C, ...]` packed `m` at a time: `[B/m, m·C, ...]`, samples `k·m .. k·m + m`
/// forming packed sample `k` (their channels one after the other). `m = 1` returns `x`.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_gan::pack;
/// use agon_tensor::NdArray;
/// let images = Tensor::constant(NdArray::zeros(&[6, 3, 8, 8]));
/// assert_eq!(pack(&images, 3).shape(), &[2, 9, 8, 8]);
/// ```
///
/// # Panics
/// If `x` has fewer than two axes, `m` is 0, or the batch size is not a multiple of `m`.
#[track_caller]
pub fn pack(x: &Tensor, m: usize) -> Tensor {
    assert!(
        x.ndim() >= 2,
        "pack: need a batch [B, C, ...] of at least two axes, got shape {:?}",
        x.shape()
    );
    assert!(m > 0, "pack: packing degree m must be at least 1");
    let b = x.shape()[0];
    assert!(
        b.is_multiple_of(m),
        "pack: batch of {b} samples (shape {:?}) is not a multiple of the packing degree {m}; \
         use a batch size divisible by {m}",
        x.shape()
    );
    if m == 1 {
        return x.clone();
    }
    let mut shape = x.shape().to_vec();
    shape[0] = b / m;
    shape[1] *= m;
    x.reshape(&shape)
}
