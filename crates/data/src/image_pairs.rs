//! Transforms that turn one image into the input of an image-to-image task: a lower
//! resolution copy (super-resolution), its bicubic upsampling (the classical baseline), an
//! edge map (sketch to image), and masks with holes (inpainting). Batches are `[N, C, H, W]`
//! in `[-1, 1]`.

use agon_tensor::NdArray;
use rand::Rng;

/// The batch's `(N, C, H, W)`.
#[track_caller]
fn dims(x: &NdArray, what: &str) -> (usize, usize, usize, usize) {
    match *x.shape() {
        [n, c, h, w] => (n, c, h, w),
        ref s => panic!("{what}: need [N, C, H, W], got {s:?}"),
    }
}

/// Each `factor x factor` block averaged into one pixel (`F.avg_pool2d(x, factor)`, which
/// for integer factors is also `F.interpolate(mode="area")`): the low-resolution input of
/// super-resolution, 28 -> 14 (x2) or 7 (x4).
///
/// ```
/// use agon_data::downsample_area;
/// use agon_tensor::NdArray;
/// let x = NdArray::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]);
/// assert_eq!(downsample_area(&x, 2).to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
/// ```
///
/// # Panics
/// If `factor` is 0 or does not divide both sides.
#[track_caller]
pub fn downsample_area(x: &NdArray, factor: usize) -> NdArray {
    let (n, c, h, w) = dims(x, "downsample_area");
    assert!(
        factor > 0 && h % factor == 0 && w % factor == 0,
        "downsample_area: factor {factor} must divide the {h}x{w} images"
    );
    let (oh, ow) = (h / factor, w / factor);
    let v = x.to_vec();
    let norm = 1.0 / (factor * factor) as f32;
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for plane in v.chunks(h * w) {
        for y in 0..oh {
            for xo in 0..ow {
                let mut s = 0.0;
                for dy in 0..factor {
                    let row = (y * factor + dy) * w + xo * factor;
                    s += plane[row..row + factor].iter().sum::<f32>();
                }
                out.push(s * norm);
            }
        }
    }
    NdArray::from_vec(out, &[n, c, oh, ow]).expect("sizes computed above")
}

/// PyTorch's cubic convolution coefficient (`F.interpolate(mode="bicubic")`; PIL and
/// Matlab use -0.5).
const CUBIC_A: f32 = -0.75;

/// The four cubic-convolution weights for taps at offsets -1, 0, 1, 2 from the sample
/// `t` in [0, 1) past the left tap (Keys 1981).
fn cubic_weights(t: f32) -> [f32; 4] {
    let a = CUBIC_A;
    let near = |d: f32| ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0;
    let far = |d: f32| ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

/// One axis of bicubic resampling of `len` samples to `len * factor`, as (first tap,
/// weights) per output position; taps beyond the border are clamped to it, as PyTorch.
fn cubic_taps(len: usize, factor: usize) -> Vec<([usize; 4], [f32; 4])> {
    (0..len * factor)
        .map(|i| {
            // align_corners = False: pixel centres line up.
            let src = (i as f32 + 0.5) / factor as f32 - 0.5;
            let x0 = src.floor();
            let idx = [-1.0, 0.0, 1.0, 2.0].map(|d| (x0 + d).clamp(0.0, len as f32 - 1.0) as usize);
            (idx, cubic_weights(src - x0))
        })
        .collect()
}

/// Bicubic upsampling by an integer `factor` (`F.interpolate(x, scale_factor=factor,
/// mode="bicubic", align_corners=False)`): super-resolution's classical baseline. Values
/// may overshoot `[-1, 1]` near edges, as PyTorch's do.
///
/// ```
/// use agon_data::upsample_bicubic;
/// use agon_tensor::NdArray;
/// // A constant image stays constant (the weights sum to 1).
/// let y = upsample_bicubic(&NdArray::full(&[1, 1, 3, 3], 0.5), 2);
/// assert!(y.to_vec().iter().all(|v| (v - 0.5).abs() < 1e-6));
/// ```
///
/// # Panics
/// If `factor` is 0.
#[track_caller]
pub fn upsample_bicubic(x: &NdArray, factor: usize) -> NdArray {
    let (n, c, h, w) = dims(x, "upsample_bicubic");
    assert!(factor > 0, "upsample_bicubic: factor must be at least 1");
    let (oh, ow) = (h * factor, w * factor);
    let (rows, cols) = (cubic_taps(h, factor), cubic_taps(w, factor));
    let v = x.to_vec();
    let mut out = Vec::with_capacity(n * c * oh * ow);
    let mut wide = vec![0.0f32; h * ow];
    for plane in v.chunks(h * w) {
        for y in 0..h {
            for (xo, (idx, wt)) in cols.iter().enumerate() {
                wide[y * ow + xo] = (0..4).map(|k| wt[k] * plane[y * w + idx[k]]).sum();
            }
        }
        for (idx, wt) in &rows {
            for xo in 0..ow {
                out.push((0..4).map(|k| wt[k] * wide[idx[k] * ow + xo]).sum());
            }
        }
    }
    NdArray::from_vec(out, &[n, c, oh, ow]).expect("sizes computed above")
}

/// A sketch of each image: the Sobel gradient magnitude of its luminance (the channel
/// mean), border pixels replicated, mapped to `[-1, 1]` with `-1` for flat regions and `1`
/// for gradients of magnitude 4 or more (an edge from black to white in `[-1, 1]` images
/// measures 8). The input of sketch-to-image (pix2pix's edges -> photo). One channel out.
///
/// ```
/// use agon_data::sobel_edges;
/// use agon_tensor::NdArray;
/// let mut v = vec![-1.0f32; 36];
/// for y in 0..6 { for x in 3..6 { v[y * 6 + x] = 1.0; } } // a vertical edge
/// let e = sobel_edges(&NdArray::from_vec(v, &[1, 1, 6, 6]).unwrap());
/// assert_eq!(e.get(&[0, 0, 2, 0]), -1.0); // flat
/// assert_eq!(e.get(&[0, 0, 2, 3]), 1.0); // on the edge
/// ```
pub fn sobel_edges(x: &NdArray) -> NdArray {
    let (n, c, h, w) = dims(x, "sobel_edges");
    let v = x.to_vec();
    let mut out = Vec::with_capacity(n * h * w);
    for img in v.chunks(c * h * w) {
        let lum: Vec<f32> = (0..h * w)
            .map(|p| (0..c).map(|ch| img[ch * h * w + p]).sum::<f32>() / c as f32)
            .collect();
        let at = |y: isize, x: isize| {
            let (y, x) = (y.clamp(0, h as isize - 1), x.clamp(0, w as isize - 1));
            lum[y as usize * w + x as usize]
        };
        for y in 0..h as isize {
            for x in 0..w as isize {
                let gx = at(y - 1, x + 1) + 2.0 * at(y, x + 1) + at(y + 1, x + 1)
                    - at(y - 1, x - 1)
                    - 2.0 * at(y, x - 1)
                    - at(y + 1, x - 1);
                let gy = at(y + 1, x - 1) + 2.0 * at(y + 1, x) + at(y + 1, x + 1)
                    - at(y - 1, x - 1)
                    - 2.0 * at(y - 1, x)
                    - at(y - 1, x + 1);
                let mag = (gx * gx + gy * gy).sqrt();
                out.push((mag / 4.0).min(1.0) * 2.0 - 1.0);
            }
        }
    }
    NdArray::from_vec(out, &[n, 1, h, w]).expect("sizes computed above")
}

/// The kinds of hole [`hole_masks`] cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoleKind {
    /// The centred square of half the side (the fixed evaluation mask).
    Centre,
    /// One axis-aligned rectangle of random position and size (a quarter to a half of each
    /// side).
    Rectangle,
    /// Free-form strokes: a few random walks of a thick brush (Yu et al. 2019's
    /// free-form masks, simplified).
    Strokes,
}

/// `n` masks `[n, 1, h, w]`: 1 where a pixel is missing (the hole), 0 where it is known.
///
/// ```
/// use agon_data::{hole_masks, HoleKind};
/// let m = hole_masks(2, 28, 28, HoleKind::Centre, &mut rand::rng());
/// assert_eq!(m.to_vec().iter().sum::<f32>(), 2.0 * 14.0 * 14.0);
/// ```
pub fn hole_masks(n: usize, h: usize, w: usize, kind: HoleKind, rng: &mut impl Rng) -> NdArray {
    let mut out = vec![0.0f32; n * h * w];
    for m in out.chunks_mut(h * w) {
        let mut fill = |y0: usize, y1: usize, x0: usize, x1: usize| {
            for y in y0..y1.min(h) {
                m[y * w + x0..y * w + x1.min(w)].fill(1.0);
            }
        };
        match kind {
            HoleKind::Centre => fill(h / 4, h / 4 + h / 2, w / 4, w / 4 + w / 2),
            HoleKind::Rectangle => {
                let rh = rng.random_range((h / 4).max(1)..=(h / 2).max(1));
                let rw = rng.random_range((w / 4).max(1)..=(w / 2).max(1));
                let (y, x) = (rng.random_range(0..=h - rh), rng.random_range(0..=w - rw));
                fill(y, y + rh, x, x + rw);
            }
            HoleKind::Strokes => {
                let brush = (h.min(w) / 10).max(1);
                for _ in 0..rng.random_range(1..=3) {
                    let (mut y, mut x) =
                        (rng.random_range(0..h) as f32, rng.random_range(0..w) as f32);
                    let mut angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
                    for _ in 0..rng.random_range(4..=10) {
                        let (yi, xi) = (y as usize, x as usize);
                        fill(
                            yi.saturating_sub(brush),
                            yi + brush + 1,
                            xi.saturating_sub(brush),
                            xi + brush + 1,
                        );
                        angle += rng.random_range(-1.0..1.0);
                        y = (y + 2.0 * angle.sin()).clamp(0.0, h as f32 - 1.0);
                        x = (x + 2.0 * angle.cos()).clamp(0.0, w as f32 - 1.0);
                    }
                }
            }
        }
    }
    NdArray::from_vec(out, &[n, 1, h, w]).expect("sizes computed above")
}
