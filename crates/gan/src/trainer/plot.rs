//! Curves a person reads: `losses.png` (D and G losses) and `eval.png` (the periodic
//! scores), drawn with plotters: axes with ticks and labels, a legend, and for each series
//! the raw values as a thin pale line under an exponentially smoothed one (as TensorBoard
//! does). Text uses the DejaVu Sans font shipped in `assets/` (Bitstream Vera licence,
//! beside it), so nothing depends on the fonts a machine has.

use std::path::Path;
use std::sync::OnceLock;

use agon_data::DataError;
use agon_tensor::NdArray;
use plotters::prelude::*;
use plotters::style::register_font;

const W: u32 = 800;
/// Height of one panel.
const PANEL_H: u32 = 360;
/// The exponential moving average spans about `1 / SMOOTH_SPAN` of a series (at least 10
/// points): 75 points of a 3,000-step history, 10 of a short one.
const SMOOTH_SPAN: f64 = 40.0;
/// Fewer points than this are drawn as they are: an average over a handful of evaluation
/// rows only lags.
const SMOOTH_FROM: usize = 20;
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// One named line of `(x, y)` points.
pub struct Series<'a> {
    /// Legend entry.
    pub name: &'a str,
    /// Points in x order; non-finite y values are skipped.
    pub points: Vec<(f64, f64)>,
}

/// One chart of a figure: its y label and its series.
pub struct Panel<'a> {
    /// Y-axis label.
    pub y_label: &'a str,
    /// Lines drawn in it.
    pub series: Vec<Series<'a>>,
}

fn font_registered() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| register_font("sans-serif", FontStyle::Normal, FONT).is_ok())
}

/// Exponential moving average of the y values, debiased as TensorBoard's smoothing is
/// (`a_t = (β a'_{t-1} + (1-β) y_t) / (1 - β^t)` with `a'` the biased average), so the
/// start is not pulled towards zero.
fn smoothed(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let window = (points.len() as f64 / SMOOTH_SPAN).max(10.0);
    let beta = 1.0 - 1.0 / window;
    let (mut biased, mut weight) = (0.0, 1.0);
    points
        .iter()
        .map(|&(x, y)| {
            biased = beta * biased + (1.0 - beta) * y;
            weight *= beta;
            (x, biased / (1.0 - weight))
        })
        .collect()
}

/// A pale version of `c` for the raw line under the smoothed one.
fn pale(c: RGBColor) -> RGBColor {
    let mix = |v: u8| ((u16::from(v) + 2 * 255) / 3) as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// Writes `panels` stacked vertically, sharing the x label, as a PNG at `path`
/// (atomically). Panels with no finite points are drawn empty.
///
/// # Errors
/// When the file cannot be written, or drawing fails.
pub fn save_figure(
    path: &Path,
    title: &str,
    x_label: &str,
    panels: &[Panel<'_>],
) -> Result<(), DataError> {
    let fail = |e: String| DataError::Invalid {
        path: path.to_path_buf(),
        reason: format!("drawing the plot: {e}"),
    };
    if !font_registered() {
        return Err(fail("the shipped font did not load".into()));
    }
    let h = PANEL_H * panels.len().max(1) as u32;
    let mut rgb = vec![255u8; (W * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (W, h)).into_drawing_area();
        let areas = root.split_evenly((panels.len().max(1), 1));
        for (i, (area, panel)) in areas.iter().zip(panels).enumerate() {
            draw_panel(area, panel, if i == 0 { title } else { "" }, x_label)
                .map_err(|e| fail(e.to_string()))?;
        }
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    // [3, H, W] in [-1, 1], as save_png expects.
    let plane = (W * h) as usize;
    let mut data = vec![0.0f32; 3 * plane];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            data[c * plane + i] = f32::from(px[c]) / 127.5 - 1.0;
        }
    }
    let image = NdArray::from_vec(data, &[3, h as usize, W as usize]).expect("3 * W * H values");
    agon_data::save_png(&image, path)
}

/// A series ready to draw: its finite points, colour and name.
type Line<'a> = (Vec<(f64, f64)>, RGBColor, &'a str);

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel<'_>,
    title: &str,
    x_label: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let finite: Vec<(f64, f64)> = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = finite.iter().fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    // No points: a unit frame; one x or one y value: a unit span around it.
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        (x0, x1) = (x0 - 0.5, x0 + 0.5);
    }
    if y1 <= y0 {
        (y0, y1) = (y0 - 0.5, y0 + 0.5);
    }
    let pad = 0.05 * (y1 - y0);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(panel.y_label)
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let lines: Vec<Line<'_>> = panel
        .series
        .iter()
        .zip(COLOURS.iter().cycle())
        .map(|(s, c)| {
            let points = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            (points, *c, s.name)
        })
        .collect();
    // Every raw line first, then the smoothed ones over all of them, so no series' pale
    // line hides another's smoothed one.
    for (points, c, _) in &lines {
        if points.len() >= SMOOTH_FROM {
            chart.draw_series(LineSeries::new(points.clone(), pale(*c)))?;
        }
    }
    for (points, c, name) in lines {
        let (line, label) = if points.len() >= SMOOTH_FROM {
            (smoothed(&points), format!("{name} (smoothed; raw pale)"))
        } else {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
            (points, name.to_string())
        };
        chart
            .draw_series(LineSeries::new(line, c.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// Draws the loss history (D and G losses against the step) to `path` as a PNG.
/// Non-finite values are skipped.
///
/// ```
/// let path = std::env::temp_dir().join(format!("agon-doc-losses-{}.png", std::process::id()));
/// agon_gan::trainer::save_loss_curve(&[1, 2, 3], &[1.4, 1.2, 1.3], &[0.7, 0.9, 0.8], &path).unwrap();
/// let png = agon_data::load_png(&path).unwrap();
/// assert_eq!(png.shape()[0], 3);
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Errors
/// When the file cannot be written.
pub fn save_loss_curve(steps: &[u64], d: &[f32], g: &[f32], path: &Path) -> Result<(), DataError> {
    let series = |name, v: &[f32]| Series {
        name,
        points: steps
            .iter()
            .zip(v)
            .map(|(&s, &y)| (s as f64, f64::from(y)))
            .collect(),
    };
    save_figure(
        path,
        "GAN losses",
        "step",
        &[Panel {
            y_label: "loss",
            series: vec![series("D loss", d), series("G loss", g)],
        }],
    )
}

/// Draws `eval.csv`'s columns against its `step` column, one panel per column (FID-style
/// distance, precision, recall; or mode counts; not the `seconds` column), to `path`.
///
/// # Errors
/// When the file cannot be written.
pub fn save_eval_curves(csv: &str, path: &Path) -> Result<(), DataError> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let panels: Vec<Panel<'_>> = header
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, name)| **name != "seconds")
        .map(|(i, name)| Panel {
            y_label: name,
            series: vec![Series {
                name,
                points: rows
                    .iter()
                    .filter(|r| r.len() > i)
                    .map(|r| (r[0], r[i]))
                    .collect(),
            }],
        })
        .collect();
    save_figure(path, "periodic evaluation", "step", &panels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_histories_still_draw_and_smoothing_is_debiased() {
        let dir = std::env::temp_dir().join(format!("agon-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("l.png");
        for (steps, d, g) in [
            (vec![], vec![], vec![]),
            (vec![5], vec![1.0], vec![1.0]),
            (
                vec![1, 2, 3],
                vec![f32::NAN, f32::INFINITY, 2.0],
                vec![0.5, 0.5, 0.5],
            ),
        ] {
            save_loss_curve(&steps, &d, &g, &path).unwrap();
            assert_eq!(agon_data::load_png(&path).unwrap().shape(), &[3, 360, 800]);
        }
        save_eval_curves("step,fid\n", &path).unwrap();
        // A constant series smooths to itself from the first point on.
        let flat: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, 2.0)).collect();
        assert!(smoothed(&flat)
            .iter()
            .all(|&(_, y)| (y - 2.0).abs() < 1e-12));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
