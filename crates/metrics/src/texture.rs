//! Interior roughness: how much fine texture an image has *inside* its objects, edges left
//! out. A generator that matches the data's power spectrum can still put its high
//! frequencies in the wrong places: streaks and speckle across the body of a garment
//! instead of sharp outlines. The score finds the pixels whose whole 3x3 neighbourhood is
//! above a brightness threshold (inside an object, away from its outline) and averages the
//! squared discrete Laplacian there:
//!
//! `roughness = mean over interior pixels of (4 x[i,j] - x[i-1,j] - x[i+1,j] - x[i,j-1] - x[i,j+1])^2`.
//!
//! Compare a model's value with the real data's (their ratio is what `agon eval` prints):
//! 1 means as smooth inside as the data, above 1 rougher.

use agon_tensor::NdArray;

/// Interior roughness of a batch of images, and the share of pixels it averaged over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roughness {
    /// Mean squared Laplacian over the interior pixels (0 when there are none).
    pub roughness: f64,
    /// Interior pixels as a share of all pixels not on the image border.
    pub interior_share: f64,
}

/// [`Roughness`] of `images` `[N, C, H, W]` (each channel on its own), counting a pixel as
/// interior when it and its eight neighbours all exceed `threshold` (for images in
/// [-1, 1] with a dark background, as Fashion-MNIST's, -0.5).
///
/// ```
/// use agon_metrics::interior_roughness;
/// use agon_tensor::NdArray;
/// // A bright square, flat inside: no roughness; a checkerboard inside: plenty.
/// let flat = NdArray::full(&[1, 1, 6, 6], 1.0);
/// assert_eq!(interior_roughness(&flat, -0.5).roughness, 0.0);
/// let checker = NdArray::from_vec(
///     (0..36).map(|i| if (i / 6 + i % 6) % 2 == 0 { 1.0 } else { 0.5 }).collect(),
///     &[1, 1, 6, 6],
/// )
/// .unwrap();
/// let r = interior_roughness(&checker, -0.5);
/// assert_eq!(r.interior_share, 1.0);
/// assert!((r.roughness - 4.0).abs() < 1e-9); // (4 * 0.5)^2 at every pixel
/// ```
///
/// # Panics
/// If `images` is not `[N, C, H, W]` with H and W at least 3.
pub fn interior_roughness(images: &NdArray, threshold: f32) -> Roughness {
    let [n, c, h, w] = *images.shape() else {
        panic!(
            "interior_roughness: need [N, C, H, W], got {:?}",
            images.shape()
        );
    };
    assert!(
        h >= 3 && w >= 3,
        "interior_roughness: images of {h}x{w} have no interior (need at least 3x3)"
    );
    let x = images.to_vec();
    let (mut sum, mut count) = (0.0f64, 0usize);
    for plane in x.chunks_exact(h * w).take(n * c) {
        let at = |i: usize, j: usize| plane[i * w + j];
        for i in 1..h - 1 {
            for j in 1..w - 1 {
                let inside = (i - 1..=i + 1).all(|a| (j - 1..=j + 1).all(|b| at(a, b) > threshold));
                if inside {
                    let lap = 4.0 * at(i, j) as f64
                        - at(i - 1, j) as f64
                        - at(i + 1, j) as f64
                        - at(i, j - 1) as f64
                        - at(i, j + 1) as f64;
                    sum += lap * lap;
                    count += 1;
                }
            }
        }
    }
    let pixels = n * c * (h - 2) * (w - 2);
    Roughness {
        roughness: if count == 0 { 0.0 } else { sum / count as f64 },
        interior_share: count as f64 / pixels as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_do_not_count_and_noise_inside_does() {
        // A bright 6x6 square on a dark 10x10 background: its outline is a sharp edge
        // (large Laplacian), but no interior pixel touches the background.
        let mut v = vec![-1.0f32; 100];
        for i in 2..8 {
            for j in 2..8 {
                v[i * 10 + j] = 0.8;
            }
        }
        let square = NdArray::from_vec(v.clone(), &[1, 1, 10, 10]).unwrap();
        let r = interior_roughness(&square, -0.5);
        assert_eq!(r.roughness, 0.0);
        assert_eq!(r.interior_share, 16.0 / 64.0); // the inner 4x4
                                                   // One speckle in the middle raises it: the pixel and its four neighbours see it.
        v[4 * 10 + 4] = 0.4;
        let speckled = NdArray::from_vec(v, &[1, 1, 10, 10]).unwrap();
        let r = interior_roughness(&speckled, -0.5);
        // Laplacian 4 * -0.4 = -1.6 at the speckle, 0.4 at its four neighbours.
        let want = (1.6f64 * 1.6 + 4.0 * 0.4 * 0.4) / 16.0;
        assert!(
            (r.roughness - want).abs() < 1e-6,
            "{} vs {want}",
            r.roughness
        );
    }

    #[test]
    fn all_dark_images_have_no_interior() {
        let dark = NdArray::full(&[2, 1, 5, 5], -1.0);
        assert_eq!(
            interior_roughness(&dark, -0.5),
            Roughness {
                roughness: 0.0,
                interior_share: 0.0
            }
        );
    }
}
