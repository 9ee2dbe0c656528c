//! Panels of line plots side by side, and the learning-curve figure of a training
//! run built from them.
use super::{draw_legend, line_key, series_color, y_padding};
use crate::run::MetricsRow;
use anyhow::Result;
use std::path::Path;

/// A named series of (x, y) points for a plot panel.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
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
        let pad = y_padding(y0, y1);
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
                .legend(line_key(c));
            if pts.len() < 40 {
                chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))?;
            }
        }
        if series.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::MiddleRight, 0.8)?;
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
