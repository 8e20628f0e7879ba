//! Full-reference image quality: PSNR and SSIM, the scores of super-resolution and
//! inpainting (how close an output is to its target, pixel by pixel and in local
//! structure). Both match scikit-image's `peak_signal_noise_ratio` and
//! `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`,
//! the setting of Wang et al. 2004 (`tests/image_quality.rs` checks a committed fixture).

use agon_tensor::NdArray;

/// SSIM's stabilising constants `K1`, `K2` (Wang et al. 2004).
const K1: f64 = 0.01;
const K2: f64 = 0.03;
/// The Gaussian window's standard deviation and radius (11x11: scipy's truncation at
/// 3.5 sigma, as scikit-image uses).
const SIGMA: f64 = 1.5;
const RADIUS: usize = 5;

/// Checks two batches `[N, C, H, W]` (or one image `[C, H, W]`) have the same shape and
/// returns `(N, C, H, W)`.
#[track_caller]
fn dims(a: &NdArray, b: &NdArray, what: &str) -> (usize, usize, usize, usize) {
    assert_eq!(
        a.shape(),
        b.shape(),
        "{what}: the images differ in shape ({:?} vs {:?})",
        a.shape(),
        b.shape()
    );
    match *a.shape() {
        [n, c, h, w] => (n, c, h, w),
        [c, h, w] => (1, c, h, w),
        ref s => panic!("{what}: need [N, C, H, W] or [C, H, W], got {s:?}"),
    }
}

/// Peak signal-to-noise ratio of each image of `output` against `target`, in dB:
/// `10 log10(data_range^2 / MSE)`, `data_range` being the span of valid pixel values (2 for
/// images in [-1, 1], 1 for [0, 1]). Infinite for identical images.
///
/// ```
/// use agon_metrics::psnr;
/// use agon_tensor::NdArray;
/// let target = NdArray::zeros(&[1, 1, 4, 4]);
/// let output = NdArray::full(&[1, 1, 4, 4], 0.1);
/// // MSE 0.01 on a range of 1: 20 dB.
/// assert!((psnr(&output, &target, 1.0)[0] - 20.0).abs() < 1e-5); // 0.1 as f32
/// ```
///
/// # Panics
/// If the shapes differ or are not images.
#[track_caller]
pub fn psnr(output: &NdArray, target: &NdArray, data_range: f32) -> Vec<f64> {
    let (n, c, h, w) = dims(output, target, "psnr");
    let per = c * h * w;
    let (o, t) = (output.to_vec(), target.to_vec());
    let range = f64::from(data_range);
    (0..n)
        .map(|i| {
            let mse = o[i * per..(i + 1) * per]
                .iter()
                .zip(&t[i * per..(i + 1) * per])
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum::<f64>()
                / per as f64;
            10.0 * (range * range / mse).log10()
        })
        .collect()
}

/// The normalised 1-D Gaussian taps, `2 RADIUS + 1` of them.
fn gaussian_taps() -> Vec<f64> {
    let taps: Vec<f64> = (0..=2 * RADIUS)
        .map(|i| {
            let x = i as f64 - RADIUS as f64;
            (-0.5 * x * x / (SIGMA * SIGMA)).exp()
        })
        .collect();
    let sum: f64 = taps.iter().sum();
    taps.into_iter().map(|t| t / sum).collect()
}

/// The Gaussian-weighted mean of `plane` (`h x w`, row-major) over every window that fits
/// entirely inside it: a `(h - 2R) x (w - 2R)` map (the separable filter, rows then
/// columns).
fn window_means(plane: &[f64], h: usize, w: usize, taps: &[f64]) -> Vec<f64> {
    let (oh, ow) = (h - 2 * RADIUS, w - 2 * RADIUS);
    let mut rows = vec![0.0; h * ow];
    for y in 0..h {
        for x in 0..ow {
            rows[y * ow + x] = taps
                .iter()
                .enumerate()
                .map(|(k, t)| t * plane[y * w + x + k])
                .sum();
        }
    }
    let mut out = vec![0.0; oh * ow];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = taps
                .iter()
                .enumerate()
                .map(|(k, t)| t * rows[(y + k) * ow + x])
                .sum();
        }
    }
    out
}

/// Structural similarity of each image of `output` against `target` (Wang et al. 2004),
/// averaged over channels: local means, variances and covariance under an 11x11 Gaussian
/// window (sigma 1.5), combined as `((2 mu_x mu_y + C1)(2 s_xy + C2)) / ((mu_x^2 + mu_y^2 +
/// C1)(s_x^2 + s_y^2 + C2))` with `C1 = (0.01 L)^2`, `C2 = (0.03 L)^2`, `L = data_range`,
/// and averaged over the windows that fit inside the image (scikit-image crops the same
/// border, so its padding never enters the score). 1 for identical images.
///
/// ```
/// use agon_metrics::ssim;
/// use agon_tensor::NdArray;
/// let a = NdArray::arange(0.0, 256.0, 1.0).reshape(&[1, 1, 16, 16]).mul_scalar(1.0 / 255.0);
/// assert!((ssim(&a, &a, 1.0)[0] - 1.0).abs() < 1e-12);
/// let b = a.add_scalar(0.2); // the same structure, brighter: below 1
/// assert!(ssim(&b, &a, 1.0)[0] < 0.99);
/// ```
///
/// # Panics
/// If the shapes differ, are not images, or a side is under 11 pixels (the window).
#[track_caller]
pub fn ssim(output: &NdArray, target: &NdArray, data_range: f32) -> Vec<f64> {
    let (n, c, h, w) = dims(output, target, "ssim");
    assert!(
        h > 2 * RADIUS && w > 2 * RADIUS,
        "ssim: images of {h}x{w} are smaller than the 11x11 window"
    );
    let taps = gaussian_taps();
    let l = f64::from(data_range);
    let (c1, c2) = ((K1 * l).powi(2), (K2 * l).powi(2));
    let (o, t) = (output.to_vec(), target.to_vec());
    let plane = h * w;
    (0..n)
        .map(|i| {
            let mut total = 0.0;
            for ch in 0..c {
                let at = (i * c + ch) * plane;
                let x: Vec<f64> = o[at..at + plane].iter().map(|&v| f64::from(v)).collect();
                let y: Vec<f64> = t[at..at + plane].iter().map(|&v| f64::from(v)).collect();
                let prod = |a: &[f64], b: &[f64]| -> Vec<f64> {
                    a.iter().zip(b).map(|(p, q)| p * q).collect()
                };
                let mean = |p: &[f64]| window_means(p, h, w, &taps);
                let (mx, my) = (mean(&x), mean(&y));
                let (mxx, myy, mxy) = (
                    mean(&prod(&x, &x)),
                    mean(&prod(&y, &y)),
                    mean(&prod(&x, &y)),
                );
                let map: f64 = (0..mx.len())
                    .map(|k| {
                        let (ux, uy) = (mx[k], my[k]);
                        let (vx, vy, vxy) = (mxx[k] - ux * ux, myy[k] - uy * uy, mxy[k] - ux * uy);
                        ((2.0 * ux * uy + c1) * (2.0 * vxy + c2))
                            / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
                    })
                    .sum();
                total += map / mx.len() as f64;
            }
            total / c as f64
        })
        .collect()
}
