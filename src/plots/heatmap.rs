//! Heatmap grids: panels of a scalar field over a square, each with its colour bar
//! (the toy fits and the NTK maps).
use super::{fmt_num, fmt_tick};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// Something drawn on top of a heatmap, in data coordinates.
#[derive(Clone, Debug)]
pub enum Overlay {
    Circle { cx: f64, cy: f64, r: f64 },
    Square { lo: f64, hi: f64 },
    Point { x: f64, y: f64 },
}

/// One heatmap: `values[iy * n + ix]` is the value of the cell centred at
/// (lo + (ix + ½)·h, lo + (iy + ½)·h), h = (hi − lo)/n.
#[derive(Clone, Debug)]
pub struct HeatPanel {
    pub title: String,
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
    pub values: Vec<f64>,
    /// Fixed colour range; `None` = the panel's min..max.
    pub range: Option<(f64, f64)>,
    pub overlays: Vec<Overlay>,
}

/// Viridis, by linear interpolation between 9 anchors.
pub fn viridis(t: f64) -> RGBColor {
    const A: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (A.len() - 1) as f64;
    let i = (x.floor() as usize).min(A.len() - 2);
    let f = x - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    RGBColor(
        mix(A[i].0, A[i + 1].0),
        mix(A[i].1, A[i + 1].1),
        mix(A[i].2, A[i + 1].2),
    )
}

fn value_range(p: &HeatPanel) -> (f64, f64) {
    if let Some(r) = p.range {
        return r;
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in p.values.iter().filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * lo.abs().max(1.0) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

fn draw_heat_panel(area: &Area, p: &HeatPanel) -> Result<()> {
    assert_eq!(p.values.len(), p.n * p.n, "heatmap has the wrong size");
    let area = area.titled(&p.title, ("sans-serif", 15))?;
    let (w, h) = area.dim_in_pixel();
    let (bar_w, margin, xlab, ylab) = (66u32, 4u32, 20u32, 34u32);
    // a square plotting area, centred in what is left of the panel
    let side = (w.saturating_sub(bar_w + ylab + 2 * margin))
        .min(h.saturating_sub(xlab + 2 * margin))
        .max(10);
    let used_w = side + ylab + 2 * margin + bar_w;
    let left = (w.saturating_sub(used_w) / 2) as i32;
    let area = area.margin(0, h.saturating_sub(side + xlab + 2 * margin), left, 0);
    let (main, rest) = area.split_horizontally(side + ylab + 2 * margin);
    let (bar, _) = rest.split_horizontally(bar_w);
    let (vmin, vmax) = value_range(p);
    let mut chart = ChartBuilder::on(&main)
        .margin(margin)
        .x_label_area_size(xlab)
        .y_label_area_size(ylab)
        .build_cartesian_2d(p.lo..p.hi, p.lo..p.hi)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(5)
        .y_labels(5)
        .label_style(("sans-serif", 11))
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_tick(*v))
        .draw()?;
    // colour every pixel from its cell: no seams between cells
    let plot = chart.plotting_area().strip_coord_spec();
    let (pw, ph) = plot.dim_in_pixel();
    let span = p.hi - p.lo;
    for py in 0..ph {
        let y = p.hi - (py as f64 + 0.5) / ph as f64 * span;
        let iy = (((y - p.lo) / span * p.n as f64) as usize).min(p.n - 1);
        for px in 0..pw {
            let x = p.lo + (px as f64 + 0.5) / pw as f64 * span;
            let ix = (((x - p.lo) / span * p.n as f64) as usize).min(p.n - 1);
            let v = p.values[iy * p.n + ix];
            let c = viridis((v - vmin) / (vmax - vmin));
            plot.draw_pixel((px as i32, py as i32), &c)?;
        }
    }
    let line = WHITE.stroke_width(1);
    for o in &p.overlays {
        match *o {
            Overlay::Circle { cx, cy, r } => {
                let pts: Vec<(f64, f64)> = (0..=120)
                    .map(|k| {
                        let t = k as f64 / 120.0 * std::f64::consts::TAU;
                        (cx + r * t.cos(), cy + r * t.sin())
                    })
                    .collect();
                chart.draw_series(std::iter::once(PathElement::new(pts, line)))?;
            }
            Overlay::Square { lo, hi } => {
                let pts = vec![(lo, lo), (hi, lo), (hi, hi), (lo, hi), (lo, lo)];
                chart.draw_series(std::iter::once(PathElement::new(pts, line)))?;
            }
            Overlay::Point { x, y } => {
                chart.draw_series(std::iter::once(Circle::new((x, y), 4, RED.filled())))?;
            }
        }
    }
    // colour bar, in pixels, level with the plotting area; labels to its right
    let (_, ys) = chart.plotting_area().get_pixel_range();
    let (_, by) = bar.get_base_pixel();
    let (top, bottom) = (ys.start - by, ys.end - by);
    let (x0, x1) = (6, 20);
    let levels = 64;
    for k in 0..levels {
        let ya = bottom - (k * (bottom - top)) / levels;
        let yb = bottom - ((k + 1) * (bottom - top)) / levels;
        bar.draw(&Rectangle::new(
            [(x0, yb), (x1, ya)],
            viridis((k as f64 + 0.5) / levels as f64).filled(),
        ))?;
    }
    bar.draw(&Rectangle::new(
        [(x0, top), (x1, bottom)],
        BLACK.stroke_width(1),
    ))?;
    let style =
        TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for k in 0..=4 {
        let y = bottom - (k * (bottom - top)) / 4;
        bar.draw(&PathElement::new(
            vec![(x1, y), (x1 + 3, y)],
            BLACK.stroke_width(1),
        ))?;
        let v = vmin + (vmax - vmin) * k as f64 / 4.0;
        bar.draw_text(&fmt_num(v), &style, (x1 + 5, y))?;
    }
    Ok(())
}

/// Draw `panels` row by row into a `rows × cols` grid under a figure title.
pub fn heatmap_grid(
    path: &Path,
    title: &str,
    cols: usize,
    panels: &[HeatPanel],
    panel_size: (u32, u32),
) -> Result<()> {
    let cols = cols.max(1);
    let rows = panels.len().div_ceil(cols).max(1);
    let size = (panel_size.0 * cols as u32, panel_size.1 * rows as u32 + 36);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let body = root.titled(title, ("sans-serif", 20))?;
    let areas = body.split_evenly((rows, cols));
    for (p, a) in panels.iter().zip(areas.iter()) {
        draw_heat_panel(&a.margin(2, 6, 2, 6), p)?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }

    #[test]
    fn heatmaps_render() {
        let dir = tempfile::tempdir().unwrap();
        let n = 8;
        let panel = HeatPanel {
            title: "t".into(),
            lo: -1.0,
            hi: 1.0,
            n,
            values: (0..n * n).map(|i| i as f64).collect(),
            range: None,
            overlays: vec![
                Overlay::Circle {
                    cx: 0.0,
                    cy: 0.0,
                    r: 0.5,
                },
                Overlay::Point { x: 0.1, y: 0.1 },
            ],
        };
        let p = dir.path().join("h.png");
        heatmap_grid(&p, "title", 2, &[panel.clone(), panel], (300, 260)).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() > 1000);
    }
}
