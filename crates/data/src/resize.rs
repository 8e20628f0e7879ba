//! Bringing one decoded image to the dataset's shape: channels converted, centre-cropped to
//! the target's aspect ratio, resized (area averaging down, bilinear up), scaled to
//! `[-1, 1]`. The methods are described in the [`image_folder`](crate::image_folder)
//! module docs.
//!
//! Memory stays linear in the target: samples are read from the 8- or 16-bit frame as
//! needed, one intermediate `[h, crop width]` plane is kept (at most the crop window or
//! the target plane, whichever is larger), and an axis's taps are computed per output
//! position rather than tabulated.

use std::path::Path;

use crate::decoded::Decoded;
use crate::error::DataError;

/// One decoded image: channels converted, centre-cropped, resized, scaled to `[-1, 1]`;
/// CHW order, appended to `out` (the dataset's buffer, so the result is not held twice).
/// Samples are read from `img` as they are needed (no `f32` copy of the frame).
///
/// The caller has checked `channels * size[0] * size[1]` against
/// [`MAX_DATASET_BYTES`](crate::MAX_DATASET_BYTES), which keeps every product here in
/// range.
pub(crate) fn resized(
    path: &Path,
    img: Decoded,
    size: [usize; 2],
    channels: usize,
    out: &mut Vec<f32>,
) -> Result<(), DataError> {
    let (h0, w0) = (img.height, img.width);
    if h0 == 0 || w0 == 0 {
        return Err(DataError::unsupported(path, format!("a {w0}x{h0} image")));
    }
    let [h, w] = size;
    // Largest centred window with the target's aspect ratio h:w. The products fit: w0, h0
    // are below MAX_IMAGE_PIXELS and h * w below MAX_DATASET_BYTES / 4.
    let (ch, cw) = if w0 * h > h0 * w {
        (h0, ((h0 * w) as f64 / h as f64).round().max(1.0) as usize)
    } else {
        (((w0 * h) as f64 / w as f64).round().max(1.0) as usize, w0)
    };
    let (top, left) = ((h0 - ch) / 2, (w0 - cw) / 2);
    let color = img.channels >= 3;
    // Gray to RGB: resize the gray plane once, then repeat it.
    let planes = if color { channels } else { 1 };
    let value = |i: usize, c: usize| -> f32 {
        match (channels, color) {
            (1, true) => 0.299 * img.get(i, 0) + 0.587 * img.get(i, 1) + 0.114 * img.get(i, 2),
            (_, true) => img.get(i, c),
            (_, false) => img.get(i, 0),
        }
    };
    let start = out.len();
    out.resize(start + channels * h * w, 0.0);
    let out = &mut out[start..];
    let mut tmp = vec![0.0f32; h * cw];
    let mut taps = Vec::new();
    for c in 0..planes {
        // Rows first: [ch, cw] window -> [h, cw].
        for y in 0..h {
            axis_taps(ch, h, y, &mut taps);
            for x in 0..cw {
                tmp[y * cw + x] = taps
                    .iter()
                    .map(|&(sy, wt)| wt * value((top + sy) * w0 + left + x, c))
                    .sum();
            }
        }
        // Then columns: [h, cw] -> [h, w], and [0, 1] -> [-1, 1].
        let plane = &mut out[c * h * w..(c + 1) * h * w];
        for x in 0..w {
            axis_taps(cw, w, x, &mut taps);
            for y in 0..h {
                let v: f32 = taps.iter().map(|&(sx, wt)| wt * tmp[y * cw + sx]).sum();
                plane[y * w + x] = v * 2.0 - 1.0;
            }
        }
    }
    let plane = h * w;
    for c in planes..channels {
        out.copy_within(..plane, c * plane);
    }
    Ok(())
}

/// Sets `taps` to the `(source index, weight)` taps that make output position `i` of `dst`
/// along an axis from `src` input positions: area averaging when shrinking, bilinear with
/// half-pixel centres when growing or equal. Weights sum to 1. Computed per position, not
/// stored for the whole axis, so a 1 x 30,000,000 image costs no table of that length.
fn axis_taps(src: usize, dst: usize, i: usize, taps: &mut Vec<(usize, f32)>) {
    taps.clear();
    let scale = src as f64 / dst as f64;
    if src > dst {
        let (lo, hi) = (i as f64 * scale, (i + 1) as f64 * scale);
        let mut j = lo.floor() as usize;
        while (j as f64) < hi && j < src {
            let overlap = hi.min(j as f64 + 1.0) - lo.max(j as f64);
            if overlap > 0.0 {
                taps.push((j, (overlap / scale) as f32));
            }
            j += 1;
        }
    } else {
        let x = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
        let j = (x.floor() as usize).min(src - 1);
        let t = (x - j as f64) as f32;
        if t == 0.0 || j + 1 >= src {
            taps.push((j, 1.0));
        } else {
            taps.extend([(j, 1.0 - t), (j + 1, t)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::axis_taps;

    fn weights(s: usize, d: usize) -> Vec<Vec<(usize, f32)>> {
        let mut taps = Vec::new();
        (0..d)
            .map(|i| {
                axis_taps(s, d, i, &mut taps);
                taps.clone()
            })
            .collect()
    }

    #[test]
    fn weights_sum_to_one_and_equal_size_is_identity() {
        for (s, d) in [(7, 3), (3, 7), (28, 28), (100, 32), (5, 1)] {
            for taps in weights(s, d) {
                let sum: f32 = taps.iter().map(|t| t.1).sum();
                assert!((sum - 1.0).abs() < 1e-5, "{s}->{d}: {taps:?}");
            }
        }
        let id = weights(4, 4);
        assert!(id.iter().enumerate().all(|(i, t)| t == &vec![(i, 1.0)]));
        // 4 -> 2: each output averages two inputs.
        assert_eq!(weights(4, 2)[1], vec![(2, 0.5), (3, 0.5)]);
    }
}
