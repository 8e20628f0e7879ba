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
    let [h, w] = [2, 3].map(|a| x.shape()[a]);
    let sh = (h as f32 * ratio + 0.5) as usize;
    let sw = (w as f32 * ratio + 0.5) as usize;
    translate(x, sh, sw, rng)
}

/// Each image shifted by an integer in `[-max_shift, max_shift]` per axis (clipped to the
/// image), vacated pixels zero: [`rand_translation`] with the largest shift in pixels
/// rather than as a fraction of the size.
///
/// # Panics
/// If `x` is not 4-D.
#[track_caller]
pub fn rand_shift<R: Rng + ?Sized>(x: &Tensor, max_shift: usize, rng: &mut R) -> Tensor {
    check_nchw("rand_shift", x);
    let [h, w] = [2, 3].map(|a| x.shape()[a]);
    translate(x, max_shift.min(h), max_shift.min(w), rng)
}

/// The shift of [`rand_translation`] and [`rand_shift`]: up to `sh` rows and `sw` columns.
fn translate<R: Rng + ?Sized>(x: &Tensor, sh: usize, sw: usize, rng: &mut R) -> Tensor {
    let [b, c, h, w] = [0, 1, 2, 3].map(|a| x.shape()[a]);
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

/// Each image mirrored left to right with probability 1/2 (`out[.., x] = in[.., W - 1 - x]`
/// for the mirrored ones): one `gather`, so the gradient is a `scatter_add`.
///
/// ```
/// use agon_autodiff::Tensor;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let x = Tensor::constant(NdArray::from_vec((0..8).map(|i| i as f32).collect(), &[4, 1, 1, 2]).unwrap());
/// let y = agon_data::rand_hflip(&x, &mut rand::rngs::StdRng::seed_from_u64(0)).data().to_vec();
/// for (i, pair) in y.chunks(2).enumerate() {
///     let (a, b) = (2.0 * i as f32, 2.0 * i as f32 + 1.0);
///     assert!(pair == [a, b] || pair == [b, a]); // each image as it was, or mirrored
/// }
/// ```
///
/// # Panics
/// If `x` is not 4-D.
#[track_caller]
pub fn rand_hflip<R: Rng + ?Sized>(x: &Tensor, rng: &mut R) -> Tensor {
    check_nchw("rand_hflip", x);
    let [b, c, h, w] = [0, 1, 2, 3].map(|a| x.shape()[a]);
    let flips: Vec<bool> = (0..b).map(|_| rng.random_bool(0.5)).collect();
    if !flips.contains(&true) {
        return x.clone();
    }
    let mut idx = Vec::with_capacity(b * c * h * w);
    for &flip in &flips {
        for _ in 0..c * h {
            if flip {
                idx.extend((0..w).rev());
            } else {
                idx.extend(0..w);
            }
        }
    }
    x.gather(3, &Indices::from_vec(idx, &[b, c, h, w]))
}

/// The classic augmentation of a classifier's training images (not DiffAugment's: nothing
/// here needs gradients): each image mirrored left to right with probability 1/2 when
/// [`flip`](Self::flip) is set, then shifted by up to [`max_shift`](Self::max_shift)
/// pixels per axis with the vacated pixels set to [`fill`](Self::fill) (the same as
/// padding by `max_shift` and cropping at random).
///
/// [`ClassicAugment::fashion_mnist`] is the policy of `agon eval --train-classifier
/// --augment classic`: Fashion-MNIST's clothes are left-right symmetric as classes (a shoe
/// pointing the other way is still a shoe), centred, on a black background.
///
/// ```
/// use agon_data::ClassicAugment;
/// use agon_tensor::NdArray;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let x = NdArray::rand_uniform(&[8, 1, 28, 28], -1.0, 1.0, &mut rng);
/// let y = ClassicAugment::fashion_mnist().apply(&x, &mut rng);
/// assert_eq!(y.shape(), &[8, 1, 28, 28]);
/// assert!(y.to_vec().iter().all(|v| (-1.0..=1.0).contains(v)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassicAugment {
    /// Mirror left to right with probability 1/2.
    pub flip: bool,
    /// The largest shift per axis, in pixels (0: none).
    pub max_shift: usize,
    /// The value of the pixels a shift uncovers (the background).
    pub fill: f32,
}

impl ClassicAugment {
    /// For Fashion-MNIST and similar centred images on a black background in `[-1, 1]`:
    /// flips, shifts of up to 2 pixels (1/14 of 28), fill -1.
    pub fn fashion_mnist() -> Self {
        ClassicAugment {
            flip: true,
            max_shift: 2,
            fill: -1.0,
        }
    }

    /// `x` (`[B, C, H, W]`) with each image's own random flip and shift from `rng`.
    ///
    /// # Panics
    /// If `x` is not 4-D.
    #[track_caller]
    pub fn apply<R: Rng + ?Sized>(&self, x: &NdArray, rng: &mut R) -> NdArray {
        assert_eq!(
            x.ndim(),
            4,
            "ClassicAugment::apply: need [B, C, H, W] images, got shape {:?}",
            x.shape()
        );
        agon_autodiff::no_grad(|| {
            let mut y = Tensor::constant(x.clone());
            if self.flip {
                y = rand_hflip(&y, rng);
            }
            if self.max_shift > 0 {
                // The shift fills with zero: shift `y - fill`, then add `fill` back.
                y = rand_shift(&y.add_scalar(-self.fill), self.max_shift, rng)
                    .add_scalar(self.fill);
            }
            y.data().clone()
        })
    }
}

#[cfg(test)]
mod classic_tests {
    use super::*;
    use rand::SeedableRng;

    fn ramp(b: usize, h: usize, w: usize) -> NdArray {
        let n = b * h * w;
        NdArray::from_vec((0..n).map(|i| i as f32).collect(), &[b, 1, h, w]).unwrap()
    }

    #[test]
    fn flips_mirror_whole_images_about_half_the_time() {
        let x = ramp(200, 3, 4);
        let y = rand_hflip(
            &Tensor::constant(x.clone()),
            &mut rand::rngs::StdRng::seed_from_u64(1),
        )
        .data()
        .to_vec();
        let xs = x.to_vec();
        let mut flipped = 0;
        for (xi, yi) in xs.chunks(12).zip(y.chunks(12)) {
            let mirrored: Vec<f32> = xi.chunks(4).flat_map(|r| r.iter().rev().copied()).collect();
            if yi == mirrored.as_slice() {
                flipped += 1;
            } else {
                assert_eq!(xi, yi);
            }
        }
        assert!((70..130).contains(&flipped), "{flipped} of 200 mirrored");
    }

    #[test]
    fn shifts_stay_within_the_limit_and_fill_with_the_background() {
        // One bright pixel in the middle of a -1 background moves by at most 2 per axis.
        let (h, w) = (9, 9);
        let mut v = vec![-1.0f32; 50 * h * w];
        for i in 0..50 {
            v[i * h * w + 4 * w + 4] = 1.0;
        }
        let x = NdArray::from_vec(v, &[50, 1, h, w]).unwrap();
        let aug = ClassicAugment {
            flip: false,
            max_shift: 2,
            fill: -1.0,
        };
        let y = aug
            .apply(&x, &mut rand::rngs::StdRng::seed_from_u64(2))
            .to_vec();
        let mut moved = 0;
        for img in y.chunks(h * w) {
            let bright: Vec<usize> = (0..h * w).filter(|&p| img[p] > 0.5).collect();
            assert_eq!(bright.len(), 1, "the pixel is kept");
            let (r, c) = (bright[0] / w, bright[0] % w);
            assert!(r.abs_diff(4) <= 2 && c.abs_diff(4) <= 2, "moved to {r},{c}");
            moved += usize::from((r, c) != (4, 4));
            // Everything else is background, uncovered pixels included.
            assert!(img
                .iter()
                .enumerate()
                .all(|(p, &v)| p == bright[0] || v == -1.0));
        }
        assert!(moved > 30, "only {moved} of 50 moved");
        // The same seed, the same augmentation.
        let again = aug
            .apply(&x, &mut rand::rngs::StdRng::seed_from_u64(2))
            .to_vec();
        assert_eq!(y, again);
        // Nothing to do: the input itself.
        let none = ClassicAugment {
            flip: false,
            max_shift: 0,
            fill: 0.0,
        };
        let r = ramp(2, 3, 3);
        assert_eq!(
            none.apply(&r, &mut rand::rngs::StdRng::seed_from_u64(0))
                .to_vec(),
            r.to_vec()
        );
    }
}
