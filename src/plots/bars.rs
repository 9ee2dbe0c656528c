//! Grouped bar charts with ± std error bars (the ablation grid, the max-Q norms).
use super::{draw_legend, fmt_num};
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

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
            draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 0.85)?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_render() {
        let dir = tempfile::tempdir().unwrap();
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
