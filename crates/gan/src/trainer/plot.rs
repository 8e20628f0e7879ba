//! A loss-curve PNG: two polylines on a white canvas with a frame and zero line. Small and
//! dependency-free on purpose: it only has to show whether training is going anywhere.

use std::path::Path;

use agon_data::DataError;
use agon_tensor::NdArray;

const W: usize = 640;
const H: usize = 320;
const MARGIN: usize = 24;

/// RGB colours in [0, 1].
const BLUE: [f32; 3] = [0.12, 0.47, 0.71];
const ORANGE: [f32; 3] = [1.0, 0.5, 0.05];
const GREY: [f32; 3] = [0.75, 0.75, 0.75];
const BLACK: [f32; 3] = [0.0, 0.0, 0.0];

struct Canvas {
    px: Vec<[f32; 3]>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: [f32; 3]) {
        if (0..W as i64).contains(&x) && (0..H as i64).contains(&y) {
            self.px[y as usize * W + x as usize] = c;
        }
    }

    /// Bresenham's line.
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [f32; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }
}

/// Draws `d` (blue) and `g` (orange) losses against `steps` into a PNG at `path`: a frame,
/// a grey zero line when 0 is in range, and the y range printed nowhere (read the CSV for
/// numbers). Non-finite values are skipped.
///
/// # Errors
/// When the file cannot be written.
pub fn save_loss_curve(steps: &[u64], d: &[f32], g: &[f32], path: &Path) -> Result<(), DataError> {
    let mut canvas = Canvas {
        px: vec![[1.0; 3]; W * H],
    };
    let finite = d.iter().chain(g).copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (lo.min(0.0), lo.max(0.0) + 1.0)
    };
    let (x_lo, x_hi) = (
        *steps.first().unwrap_or(&0) as f32,
        (*steps.last().unwrap_or(&1) as f32).max(*steps.first().unwrap_or(&0) as f32 + 1.0),
    );
    let to_px = |s: u64, v: f32| -> (i64, i64) {
        let fx = (s as f32 - x_lo) / (x_hi - x_lo);
        let fy = (v - lo) / (hi - lo);
        (
            (MARGIN as f32 + fx * (W - 2 * MARGIN) as f32) as i64,
            (H as f32 - MARGIN as f32 - fy * (H - 2 * MARGIN) as f32) as i64,
        )
    };
    if lo < 0.0 && hi > 0.0 {
        let (_, y0) = to_px(0, 0.0);
        canvas.line((MARGIN as i64, y0), ((W - MARGIN) as i64, y0), GREY);
    }
    let (l, r, t, b) = (
        MARGIN as i64,
        (W - MARGIN) as i64,
        MARGIN as i64,
        (H - MARGIN) as i64,
    );
    for (p, q) in [
        ((l, t), (r, t)),
        ((r, t), (r, b)),
        ((r, b), (l, b)),
        ((l, b), (l, t)),
    ] {
        canvas.line(p, q, BLACK);
    }
    for (series, colour) in [(d, BLUE), (g, ORANGE)] {
        let points: Vec<(i64, i64)> = steps
            .iter()
            .zip(series)
            .filter(|(_, v)| v.is_finite())
            .map(|(&s, &v)| to_px(s, v))
            .collect();
        for pair in points.windows(2) {
            canvas.line(pair[0], pair[1], colour);
        }
    }
    // [3, H, W] in [-1, 1], as save_png expects.
    let mut data = vec![0.0f32; 3 * W * H];
    for (i, p) in canvas.px.iter().enumerate() {
        for c in 0..3 {
            data[c * W * H + i] = p[c] * 2.0 - 1.0;
        }
    }
    let image = NdArray::from_vec(data, &[3, H, W]).expect("3 * W * H values");
    agon_data::save_png(&image, path)
}
