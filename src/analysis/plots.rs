//! Heatmap grids and grouped bar charts (plotters, bitmap backend).
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

/// One series of a grouped bar chart: a mean and a std error bar per group.
#[derive(Clone, Debug)]
pub struct BarSeries {
    pub name: String,
    pub means: Vec<f64>,
    pub stds: Vec<f64>,
}

fn bar_color(i: usize) -> RGBColor {
    const C: [(u8, u8, u8); 6] = [
        (150, 150, 150),
        (66, 133, 244),
        (244, 160, 0),
        (219, 68, 55),
        (15, 157, 88),
        (171, 71, 188),
    ];
    let c = C[i % C.len()];
    RGBColor(c.0, c.1, c.2)
}

/// Grouped bars with ± std error bars; one chart per `(title, x label, groups, series)`.
pub fn bar_charts(
    path: &Path,
    charts: &[(String, String, Vec<String>, Vec<BarSeries>)],
    y_label: &str,
) -> Result<()> {
    let n = charts.len().max(1);
    let root = BitMapBackend::new(path, (560 * n as u32, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, n));
    for ((title, xlabel, groups, series), area) in charts.iter().zip(areas.iter()) {
        let (mut lo, mut hi) = (0.0f64, f64::NEG_INFINITY);
        for s in series {
            for (m, sd) in s.means.iter().zip(&s.stds) {
                if m.is_finite() {
                    let sd = if sd.is_finite() { *sd } else { 0.0 };
                    hi = hi.max(m + sd);
                    lo = lo.min(m - sd);
                }
            }
        }
        if !hi.is_finite() || hi <= lo {
            hi = lo + 1.0;
        }
        let pad = 0.08 * (hi - lo);
        let ng = groups.len().max(1);
        let mut chart = ChartBuilder::on(area)
            .caption(title.as_str(), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(
                -0.5..ng as f64 - 0.5,
                (lo - if lo < 0.0 { pad } else { 0.0 })..hi + pad,
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_label_formatter(&|_| String::new())
            .y_desc(y_label)
            .y_labels(6)
            .y_label_formatter(&|v| fmt_num(*v))
            .draw()?;
        let ns = series.len().max(1);
        let slot = 0.8 / ns as f64;
        for (si, s) in series.iter().enumerate() {
            let col = bar_color(si);
            let x0 = |g: usize| g as f64 - 0.4 + si as f64 * slot;
            chart
                .draw_series(
                    s.means
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.is_finite())
                        .map(|(g, m)| {
                            Rectangle::new(
                                [(x0(g) + 0.05 * slot, 0.0), (x0(g) + 0.95 * slot, *m)],
                                col.filled(),
                            )
                        }),
                )?
                .label(s.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
            for (g, (m, sd)) in s.means.iter().zip(&s.stds).enumerate() {
                if !(m.is_finite() && sd.is_finite()) || *sd <= 0.0 {
                    continue;
                }
                let xc = x0(g) + 0.5 * slot;
                let cap = 0.2 * slot;
                for seg in [
                    vec![(xc, m - sd), (xc, m + sd)],
                    vec![(xc - cap, m - sd), (xc + cap, m - sd)],
                    vec![(xc - cap, m + sd), (xc + cap, m + sd)],
                ] {
                    chart.draw_series(std::iter::once(PathElement::new(
                        seg,
                        BLACK.stroke_width(1),
                    )))?;
                }
            }
        }
        // group labels under the axis, placed in pixels (outside the plotting area)
        let y_axis = chart.y_range().start;
        for (g, name) in groups.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(g as f64, y_axis));
            let style = TextStyle::from(("sans-serif", 13).into_font())
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw_text(name, &style, (px, py + 6))?;
        }
        let (px, py) = chart.backend_coord(&((ng as f64 - 1.0) / 2.0, y_axis));
        let style =
            TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw_text(xlabel, &style, (px, py + 24))?;
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_and_labels() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(fmt_num(0.8), "0.8");
        assert_eq!(fmt_num(250.0), "250");
        assert_eq!(fmt_num(12345.0), "1.2e4");
        assert_eq!(fmt_tick(-0.5), "-0.5");
        assert_eq!(fmt_tick(2.0), "2");
        assert_eq!(fmt_tick(-0.001), "0");
    }

    #[test]
    fn heatmaps_and_bars_render() {
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
        let b = dir.path().join("b.png");
        let s = BarSeries {
            name: "a".into(),
            means: vec![1.0, 2.0],
            stds: vec![0.1, 0.0],
        };
        bar_charts(
            &b,
            &[(
                "t".into(),
                "x".into(),
                vec!["g1".into(), "g2".into()],
                vec![s],
            )],
            "y",
        )
        .unwrap();
        assert!(std::fs::metadata(&b).unwrap().len() > 1000);
    }
}
