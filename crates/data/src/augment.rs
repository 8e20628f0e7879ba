//! Differentiable augmentation (DiffAugment; Zhao, Liu, Lin, Zhu and Han, "Differentiable
//! Augmentation for Data-Efficient GAN Training", NeurIPS 2020).
//!
//! The discriminator sees `T(x)` for real batches and `T(G(z))` for fake ones, with a
//! fresh random `T` per call, and the generator's loss back-propagates *through* `T`. Every
//! transform here is a composition of differentiable [`Tensor`] ops whose random
//! parameters are constants, so gradients reach the input (and, through it, G's weights):
//!
//! | transform | per image | ops |
//! |---|---|---|
//! | brightness | `x + (u - 0.5)`, `u ~ U(0, 1)` | add |
//! | saturation | `(x - m) * 2u + m`, `m` = mean over channels at each pixel | mean, sub, mul, add |
//! | contrast | `(x - m) * (u + 0.5) + m`, `m` = mean over the image | mean, sub, mul, add |
//! | translation | shift by up to `ratio * size` (1/8) pixels per axis, zero fill | pad, gather |
//! | cutout | zero a square of `ratio * size` (1/2) at a random centre | mul by a 0/1 mask |
//!
//! These follow the authors' reference code (`DiffAugment_pytorch.py`) exactly, including
//! its rounding of the shift and cutout sizes (`int(size * ratio + 0.5)`) and its cutout
//! centre range. Randomness comes from the caller's RNG, so a seeded run is reproducible.
//! Apply the same policy to real and fake batches alike (one call each).

use std::str::FromStr;

use agon_autodiff::Tensor;
use agon_tensor::{Indices, NdArray};
use rand::Rng;

use crate::error::DataError;

/// Which DiffAugment transforms to apply; [`DiffAugment::apply`] runs colour, then
/// translation, then cutout (the paper's `"color,translation,cutout"` policy).
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_data::DiffAugment;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let aug: DiffAugment = "color,translation,cutout".parse().unwrap();
/// let fake = Tensor::param(NdArray::rand_uniform(&[2, 3, 8, 8], -1.0, 1.0, &mut rng));
/// let seen = aug.apply(&fake, &mut rng);
/// assert_eq!(seen.shape(), &[2, 3, 8, 8]);
/// assert!(seen.requires_grad()); // gradients flow back to the generator's output
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DiffAugment {
    /// Random brightness, saturation and contrast.
    pub color: bool,
    /// Random translation with zero fill.
    pub translation: bool,
    /// Random cutout.
    pub cutout: bool,
    /// Largest shift as a fraction of the image size (1/8).
    pub translation_ratio: f32,
    /// Cutout side as a fraction of the image size (1/2).
    pub cutout_ratio: f32,
}

impl DiffAugment {
    /// All three transforms with the paper's ratios.
    pub fn all() -> Self {
        DiffAugment {
            color: true,
            translation: true,
            cutout: true,
            translation_ratio: 0.125,
            cutout_ratio: 0.5,
        }
    }

    /// No transform ([`apply`](Self::apply) returns its input).
    pub fn none() -> Self {
        DiffAugment {
            color: false,
            translation: false,
            cutout: false,
            ..Self::all()
        }
    }

    /// True when no transform is enabled.
    pub fn is_none(&self) -> bool {
        !(self.color || self.translation || self.cutout)
    }

    /// `x` (`[B, C, H, W]`) with the enabled transforms applied, each image drawing its own
    /// random parameters from `rng`.
    ///
    /// # Panics
    /// If `x` is not 4-D.
    #[track_caller]
    pub fn apply<R: Rng + ?Sized>(&self, x: &Tensor, rng: &mut R) -> Tensor {
        check_nchw("DiffAugment::apply", x);
        let mut y = x.clone();
        if self.color {
            y = rand_brightness(&y, rng);
            y = rand_saturation(&y, rng);
            y = rand_contrast(&y, rng);
        }
        if self.translation {
            y = rand_translation(&y, self.translation_ratio, rng);
        }
        if self.cutout {
            y = rand_cutout(&y, self.cutout_ratio, rng);
        }
        y
    }
}

impl Default for DiffAugment {
    /// [`DiffAugment::all`].
    fn default() -> Self {
        Self::all()
    }
}

impl FromStr for DiffAugment {
    type Err = DataError;

    /// A comma-separated policy as in the reference code: any of `color`, `translation`,
    /// `cutout`; `""` or `"none"` for nothing.
    fn from_str(policy: &str) -> Result<Self, DataError> {
        let mut aug = DiffAugment::none();
        for part in policy.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "color" | "colour" => aug.color = true,
                "translation" => aug.translation = true,
                "cutout" => aug.cutout = true,
                "none" => {}
                other => {
                    return Err(DataError::invalid(
                        std::path::Path::new("DiffAugment policy"),
                        format!(
                            "unknown transform '{other}' in '{policy}' (use color, \
                             translation, cutout, comma-separated)"
                        ),
                    ));
                }
            }
        }
        Ok(aug)
    }
}

#[track_caller]
fn check_nchw(op: &str, x: &Tensor) {
    assert_eq!(
        x.ndim(),
        4,
        "{op}: need [B, C, H, W] images, got shape {:?}",
        x.shape()
    );
}

/// One `U(low, high)` value per image, shaped `[B, 1, 1, 1]` to broadcast.
fn per_image<R: Rng + ?Sized>(x: &Tensor, low: f32, high: f32, rng: &mut R) -> Tensor {
    Tensor::constant(NdArray::rand_uniform(
        &[x.shape()[0], 1, 1, 1],
        low,
        high,
        rng,
    ))
}

/// `x + (u - 0.5)` with `u ~ U(0, 1)` per image.
///
/// # Panics
/// If `x` is not 4-D.
#[track_caller]
pub fn rand_brightness<R: Rng + ?Sized>(x: &Tensor, rng: &mut R) -> Tensor {
    check_nchw("rand_brightness", x);
    x.add(&per_image(x, -0.5, 0.5, rng))
}

/// `(x - m) * s + m` with `m` the mean over channels at each pixel and `s ~ U(0, 2)` per
/// image (a no-op on one-channel images).
///
/// # Panics
/// If `x` is not 4-D.
#[track_caller]
pub fn rand_saturation<R: Rng + ?Sized>(x: &Tensor, rng: &mut R) -> Tensor {
    check_nchw("rand_saturation", x);
    let m = x.mean(&[1], true);
    x.sub(&m).mul(&per_image(x, 0.0, 2.0, rng)).add(&m)
}

/// `(x - m) * s + m` with `m` the mean of each image and `s ~ U(0.5, 1.5)` per image.
///
/// # Panics
/// If `x` is not 4-D.
#[track_caller]
pub fn rand_contrast<R: Rng + ?Sized>(x: &Tensor, rng: &mut R) -> Tensor {
    check_nchw("rand_contrast", x);
    let m = x.mean(&[1, 2, 3], true);
    x.sub(&m).mul(&per_image(x, 0.5, 1.5, rng)).add(&m)
}

/// Each image shifted by an integer in `[-s, s]` per axis, `s = int(size * ratio + 0.5)`,
/// vacated pixels zero: `out[y, x] = x[y + ty, x + tx]` (0 outside). One `pad` and one
/// `gather` over the flattened padded image, so the gradient is a `scatter_add`.
///
/// # Panics
/// If `x` is not 4-D.
#[track_caller]
pub fn rand_translation<R: Rng + ?Sized>(x: &Tensor, ratio: f32, rng: &mut R) -> Tensor {
    check_nchw("rand_translation", x);
    let [b, c, h, w] = [0, 1, 2, 3].map(|a| x.shape()[a]);
    let sh = (h as f32 * ratio + 0.5) as usize;
    let sw = (w as f32 * ratio + 0.5) as usize;
    let shifts: Vec<(usize, usize)> = (0..b)
        .map(|_| (rng.random_range(0..=2 * sh), rng.random_range(0..=2 * sw)))
        .collect();
    if sh == 0 && sw == 0 {
        return x.clone();
    }
    let (hp, wp) = (h + 2 * sh, w + 2 * sw);
    let padded = x.pad(&[(0, 0), (0, 0), (sh, sh), (sw, sw)], 0.0);
    // With the pad, source row y + ty (ty in [-sh, sh]) sits at y + ty + sh = y + dy.
    let mut idx = Vec::with_capacity(b * c * h * w);
    for &(dy, dx) in &shifts {
        for _ in 0..c {
            for y in 0..h {
                idx.extend((0..w).map(|xx| (y + dy) * wp + xx + dx));
            }
        }
    }
    padded
        .reshape(&[b, c, hp * wp])
        .gather(2, &Indices::from_vec(idx, &[b, c, h * w]))
        .reshape(&[b, c, h, w])
}

/// Each image with a `int(H * ratio + 0.5) x int(W * ratio + 0.5)` square (clipped at the
/// border) set to zero, its centre uniform over the image as in the reference code:
/// `x * mask` with a constant 0/1 mask.
///
/// # Panics
/// If `x` is not 4-D.
#[track_caller]
pub fn rand_cutout<R: Rng + ?Sized>(x: &Tensor, ratio: f32, rng: &mut R) -> Tensor {
    check_nchw("rand_cutout", x);
    let [b, _, h, w] = [0, 1, 2, 3].map(|a| x.shape()[a]);
    let ch = (h as f32 * ratio + 0.5) as usize;
    let cw = (w as f32 * ratio + 0.5) as usize;
    let mut mask = vec![1.0f32; b * h * w];
    for i in 0..b {
        // Reference: offset in [0, size + (1 - cut % 2)), rows offset - cut/2 + [0, cut).
        let oy = rng.random_range(0..h + 1 - ch % 2) as isize - (ch / 2) as isize;
        let ox = rng.random_range(0..w + 1 - cw % 2) as isize - (cw / 2) as isize;
        let ys = oy.max(0) as usize..((oy + ch as isize).max(0) as usize).min(h);
        let xs = ox.max(0) as usize..((ox + cw as isize).max(0) as usize).min(w);
        for y in ys {
            for xx in xs.clone() {
                mask[(i * h + y) * w + xx] = 0.0;
            }
        }
    }
    let mask = NdArray::from_vec(mask, &[b, 1, h, w]).expect("mask size");
    x.mul(&Tensor::constant(mask))
}
