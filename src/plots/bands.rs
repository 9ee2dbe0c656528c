//! Mean ± std curves over seeds, each with a shaded band, on one chart (the report's
//! learning curves).
use super::{draw_legend, line_key, series_color, y_padding};
use anyhow::Result;
use std::path::Path;

/// One curve of a band figure.
pub struct Band {
    /// The legend entry.
    pub label: String,
    /// Its colour, as an index into `series_color` (so a variant keeps its colour
    /// across figures).
    pub color: usize,
    /// (x, mean, std), x increasing.
    pub points: Vec<(f64, f64, f64)>,
}

/// Draw `bands` into a 640 × 400 PNG, the legend in headroom above the curves. Returns
/// false, after leaving a blank image at `path`, when no band has a finite value.
pub fn plot_bands(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    bands: &[Band],
) -> Result<bool> {
    use plotters::prelude::*;
    let root = BitMapBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let (mut x1, mut y0, mut y1) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for b in bands {
        for &(x, m, sd) in &b.points {
            x1 = x1.max(x);
            y0 = y0.min(m - sd);
            y1 = y1.max(m + sd);
        }
    }
    if !y0.is_finite() {
        return Ok(false);
    }
    let pad = y_padding(y0, y1);
    // headroom above the curves holds the legend
    let top = y1 + pad + 0.12 * (bands.len() as f64 + 1.0) * (y1 - y0 + 2.0 * pad);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x1, (y0 - pad)..top)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for b in bands {
        let c = series_color(b.color);
        let mut band: Vec<(f64, f64)> = b.points.iter().map(|&(x, m, sd)| (x, m + sd)).collect();
        band.extend(b.points.iter().rev().map(|&(x, m, sd)| (x, m - sd)));
        chart.draw_series(std::iter::once(Polygon::new(band, c.mix(0.15).filled())))?;
        let line: Vec<(f64, f64)> = b.points.iter().map(|&(x, m, _)| (x, m)).collect();
        chart
            .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))?
            .label(b.label.as_str())
            .legend(line_key(c));
        if line.len() < 40 {
            chart.draw_series(line.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 0.8)?;
    root.present()?;
    Ok(true)
}
