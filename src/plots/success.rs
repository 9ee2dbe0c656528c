//! The success rate of a goal task against environment steps: evaluations and the
//! training episodes' rolling mean.
use super::{draw_legend, line_key};
use crate::run::MetricsRow;
use anyhow::Result;
use std::path::Path;

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
            .legend(line_key(c));
    }
    chart
        .draw_series(LineSeries::new(eval.iter().copied(), BLUE.stroke_width(2)))?
        .label("evaluation (deterministic policy)")
        .legend(line_key(BLUE));
    chart.draw_series(eval.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))?;
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 0.85)?;
    root.present()?;
    Ok(())
}
