//! Every figure the project draws (plotters, bitmap backend), one file per kind:
//! line panels and a run's learning curves (`panels`), a goal task's success rate
//! (`success`), mean ± std bands over seeds (`bands`, the report's curves), heatmap
//! grids (`heatmap`) and grouped bar charts (`bars`). This file holds what they share:
//! series colours, the legend box, axis padding and tick labels.
use anyhow::Result;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

mod bands;
mod bars;
mod heatmap;
mod panels;
mod success;

pub use bands::{plot_bands, Band};
pub use bars::{bar_charts, BarSeries};
pub use heatmap::{heatmap_grid, viridis, HeatPanel, Overlay};
pub use panels::{plot_learning_curves, plot_panels, Series};
pub use success::plot_success;

/// A chart with f64 axes on a bitmap, as every line and bar figure here uses.
type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Colour of the i-th series: the six basic colours first, then six more, so that a
/// figure with up to 12 series (a sweep's variants) has no two alike.
pub fn series_color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 12] = [
        BLUE,
        RED,
        GREEN,
        MAGENTA,
        BLACK,
        CYAN,
        RGBColor(255, 140, 0),
        RGBColor(140, 86, 75),
        RGBColor(128, 128, 0),
        RGBColor(128, 128, 128),
        RGBColor(0, 128, 128),
        RGBColor(128, 0, 160),
    ];
    COLORS[i % COLORS.len()]
}

/// The legend entry of a line series: a short stroke of its colour.
fn line_key(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
}

/// The legend box: the series labels on a white ground of the given opacity, framed in
/// black.
fn draw_legend<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    position: SeriesLabelPosition,
    opacity: f64,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(opacity))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Space above and below data spanning `y0..y1` (5 %; a flat line gets 10 % of its value).
fn y_padding(y0: f64, y1: f64) -> f64 {
    if y1 - y0 > 1e-9 {
        (y1 - y0) * 0.05
    } else {
        y0.abs().max(1.0) * 0.1
    }
}

/// Compact tick label: 3 significant digits, exponent form for very large/small.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else {
        let d = if a >= 100.0 {
            0
        } else if a >= 10.0 {
            1
        } else if a >= 1.0 {
            2
        } else {
            3
        };
        let s = format!("{v:.d$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Axis tick: at most two decimals, trailing zeros dropped.
pub fn fmt_tick(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_series_get_twelve_colours_then_repeat() {
        let first: Vec<_> = (0..12).map(series_color).collect();
        for i in 0..12 {
            for j in 0..i {
                assert_ne!(first[i], first[j], "series {i} and {j} share a colour");
            }
        }
        assert_eq!(series_color(12), series_color(0));
    }

    #[test]
    fn tick_labels() {
        assert_eq!(fmt_num(0.8), "0.8");
        assert_eq!(fmt_num(250.0), "250");
        assert_eq!(fmt_num(12345.0), "1.2e4");
        assert_eq!(fmt_tick(-0.5), "-0.5");
        assert_eq!(fmt_tick(2.0), "2");
        assert_eq!(fmt_tick(-0.001), "0");
    }
}
