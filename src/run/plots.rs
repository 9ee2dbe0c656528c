//! Figures of a run: learning curves (offline and online) and the success rate of
//! goal tasks against environment steps.
use super::MetricsRow;
use anyhow::Result;
use std::path::Path;

/// A named series of (x, y) points for a plot panel.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// Colour of the i-th series: the six basic colours first, then six more, so that a
/// figure with up to 12 series (a sweep's variants) has no two alike.
pub fn series_color(i: usize) -> plotters::style::RGBColor {
    use plotters::style::{colors::*, RGBColor};
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

/// Draw panels of line plots into one PNG, side by side (in two rows when there are
/// more than four).
pub fn plot_panels(path: &Path, panels: &[(&str, &str, Vec<Series>)]) -> Result<()> {
    use plotters::prelude::*;
    let n = panels.len().max(1);
    let rows = if n > 4 { 2 } else { 1 };
    let cols = n.div_ceil(rows);
    let root = BitMapBackend::new(path, (420 * cols as u32, 360 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((rows, cols));
    for ((title, xlabel, series), area) in panels.iter().zip(areas.iter()) {
        let pts: Vec<&(f64, f64)> = series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.1.is_finite())
            .collect();
        if pts.is_empty() {
            continue;
        }
        let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
        for (x, y) in pts {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
            y0 = y0.min(*y);
            y1 = y1.max(*y);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let pad = if y1 - y0 > 1e-9 {
            (y1 - y0) * 0.05
        } else {
            y0.abs().max(1.0) * 0.1
        };
        let mut chart = ChartBuilder::on(area)
            .caption(*title, ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
        chart
            .configure_mesh()
            .x_desc(*xlabel)
            .x_labels(5)
            .y_labels(6)
            .draw()?;
        for (i, s) in series.iter().enumerate() {
            let c = series_color(i);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
                .label(s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            if pts.len() < 40 {
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
            }
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}

/// The standard learning-curve figure of a training run.
pub fn plot_learning_curves(path: &Path, rows: &[MetricsRow], x_label: &str) -> Result<()> {
    let pick = |f: &dyn Fn(&MetricsRow) -> Option<f64>| -> Vec<(f64, f64)> {
        rows.iter()
            .filter_map(|r| f(r).map(|y| (r.step as f64, y)))
            .collect()
    };
    let mut panels = vec![
        (
            "normalised score",
            x_label,
            vec![Series {
                name: "eval score",
                points: pick(&|r| r.eval_score),
            }],
        ),
        (
            "critic losses",
            x_label,
            vec![
                Series {
                    name: "TD",
                    points: pick(&|r| Some(r.td_loss)),
                },
                Series {
                    name: "PA",
                    points: pick(&|r| Some(r.pa_loss)),
                },
            ],
        ),
        (
            "mean Q",
            x_label,
            vec![
                Series {
                    name: "Q(s, a_data)",
                    points: pick(&|r| Some(r.q_data)),
                },
                Series {
                    name: "Q(s, a_inf)",
                    points: pick(&|r| Some(r.q_infeasible)),
                },
            ],
        ),
    ];
    // IQL: the value's expectile loss, the advantage Q̂ − V and the AWR actor loss
    if rows.iter().any(|r| r.v_loss.is_some()) {
        panels.push((
            "V loss (expectile)",
            x_label,
            vec![Series {
                name: "V",
                points: pick(&|r| r.v_loss),
            }],
        ));
        panels.push((
            "advantage Q̂ − V",
            x_label,
            vec![
                Series {
                    name: "mean",
                    points: pick(&|r| r.adv_mean),
                },
                Series {
                    name: "std",
                    points: pick(&|r| r.adv_std),
                },
            ],
        ));
        panels.push((
            "actor loss (weighted regression)",
            x_label,
            vec![Series {
                name: "actor",
                points: pick(&|r| r.actor_loss),
            }],
        ));
    }
    if rows.iter().any(|r| r.dormant_ratio.is_some()) {
        panels.push((
            "dormant ratio",
            x_label,
            vec![Series {
                name: "dormant",
                points: pick(&|r| r.dormant_ratio),
            }],
        ));
    }
    plot_panels(path, &panels)
}

/// Goal tasks: evaluation success rate and the success rate of the last 10 training
/// episodes (`episodes.csv` lines: env_step,length,return,success) against
/// environment steps. Draws nothing when no evaluation reported a success rate.
pub fn plot_success(
    path: &Path,
    title: &str,
    x_max: f64,
    metrics: &[MetricsRow],
    episode_lines: &[String],
) -> Result<()> {
    let eval: Vec<(f64, f64)> = metrics
        .iter()
        .filter_map(|r| r.eval_success.map(|s| (r.step as f64, 100.0 * s)))
        .collect();
    if eval.is_empty() {
        return Ok(());
    }
    let episodes: Vec<(f64, f64)> = episode_lines
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f[0].parse().ok()?, f.get(3)?.parse::<f64>().ok()?))
        })
        .collect();
    let rolling: Vec<(f64, f64)> = (0..episodes.len())
        .map(|i| {
            let w = &episodes[i.saturating_sub(9)..=i];
            let mean = w.iter().map(|e| e.1).sum::<f64>() / w.len() as f64;
            (episodes[i].0, 100.0 * mean)
        })
        .collect();
    plot_success_rate(path, title, x_max, &eval, &rolling)
}

/// Success rate (%) against environment steps on a fixed 0–100 axis.
fn plot_success_rate(
    path: &Path,
    title: &str,
    x_max: f64,
    eval: &[(f64, f64)],
    training: &[(f64, f64)],
) -> Result<()> {
    use plotters::prelude::*;
    let root = BitMapBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(48)
        // headroom above 100 % holds the legend clear of the curves
        .build_cartesian_2d(0.0..x_max.max(1.0), -2.0..128.0)?;
    chart
        .configure_mesh()
        .x_desc("environment steps")
        .y_desc("success rate (%)")
        .x_labels(6)
        .y_labels(14)
        .y_label_formatter(&|y| {
            if *y <= 100.0 && (*y as i64) % 20 == 0 {
                format!("{y:.0}")
            } else {
                String::new()
            }
        })
        .draw()?;
    if !training.is_empty() {
        let c = RGBColor(230, 120, 40);
        chart
            .draw_series(LineSeries::new(training.iter().copied(), c.stroke_width(1)))?
            .label("training episodes (mean of last 10, with exploration noise)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(eval.iter().copied(), BLUE.stroke_width(2)))?
        .label("evaluation (deterministic policy)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));
    chart.draw_series(eval.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::series_color;

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
}
