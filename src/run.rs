//! Run directories: resolved config, metrics CSV, checkpoints, learning-curve plots.
//!
//! A run directory is built under a hidden staging name and renamed into place only
//! when the run finishes, so a failed run never leaves a half-written directory.
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The hidden temporary sibling a file is written to before its atomic rename.
pub fn temp_sibling(path: &Path) -> Result<PathBuf> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("output path has no file name")?
        .to_string_lossy();
    Ok(dir.join(format!(".{name}.tmp{}", std::process::id())))
}

/// Write a file atomically: a temporary sibling, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_sibling(path)?;
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The hidden staging name a run directory is written under: `<parent>/.<name>.partial`.
pub fn staging_path(path: &Path) -> Result<PathBuf> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .context("run directory has no name")?
        .to_string_lossy();
    Ok(parent.join(format!(".{name}.partial")))
}

/// `base`, or `base-1`, `base-2`, ... : the first name with neither a finished nor a
/// staging run directory.
pub fn unique_run_dir(base: PathBuf) -> PathBuf {
    let mut p = base.clone();
    let mut i = 1;
    while p.exists() || staging_path(&p).map(|s| s.exists()).unwrap_or(false) {
        p = PathBuf::from(format!("{}-{i}", base.display()));
        i += 1;
    }
    p
}

/// A label made safe for a directory name.
pub fn sanitize_label(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A run directory being written. Dropped without `finish`, it is removed.
pub struct RunDir {
    staging: PathBuf,
    final_path: PathBuf,
    finished: bool,
}

impl RunDir {
    /// Fails if `path` already exists (runs are never overwritten).
    pub fn create(path: &Path) -> Result<Self> {
        anyhow::ensure!(
            !path.exists(),
            "run directory {} already exists; choose another --out",
            path.display()
        );
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let staging = staging_path(path)?;
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(staging.join("checkpoints"))
            .with_context(|| format!("cannot create {}", staging.display()))?;
        Ok(Self {
            staging,
            final_path: path.to_path_buf(),
            finished: false,
        })
    }

    /// Where files go while the run is in progress.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        write_atomic(
            &self.staging.join(name),
            serde_json::to_string_pretty(value)?.as_bytes(),
        )
    }

    pub fn write_text(&self, name: &str, text: &str) -> Result<()> {
        write_atomic(&self.staging.join(name), text.as_bytes())
    }

    pub fn finish(mut self) -> Result<PathBuf> {
        std::fs::rename(&self.staging, &self.final_path)
            .with_context(|| format!("cannot move the run to {}", self.final_path.display()))?;
        self.finished = true;
        Ok(self.final_path.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// One row of `metrics.csv`: means over the logging interval, plus the evaluation
/// done at this step if any. Contains no wall-clock values, so identical runs give
/// identical files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MetricsRow {
    pub step: u64,
    pub td_loss: f64,
    pub pa_loss: f64,
    pub q_data: f64,
    pub q_infeasible: f64,
    pub actor_loss: Option<f64>,
    pub bc_loss: Option<f64>,
    pub lambda: Option<f64>,
    pub dormant_ratio: Option<f64>,
    pub eval_return: Option<f64>,
    pub eval_score: Option<f64>,
    pub eval_score_std: Option<f64>,
    pub eval_success: Option<f64>,
}

pub const METRICS_HEADER: &str = "step,td_loss,pa_loss,q_data,q_infeasible,actor_loss,bc_loss,lambda,dormant_ratio,eval_return,eval_score,eval_score_std,eval_success";

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6e}")).unwrap_or_default()
}

impl MetricsRow {
    pub fn csv_line(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{},{:.6e},{:.6e},{:.6e},{:.6e},{},{},{},{},{},{},{},{}",
            self.step,
            self.td_loss,
            self.pa_loss,
            self.q_data,
            self.q_infeasible,
            opt(self.actor_loss),
            opt(self.bc_loss),
            opt(self.lambda),
            opt(self.dormant_ratio),
            opt(self.eval_return),
            opt(self.eval_score),
            opt(self.eval_score_std),
            opt(self.eval_success)
        );
        s
    }
}

/// A named series of (x, y) points for a plot panel.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// Draw panels of line plots into one PNG, side by side.
pub fn plot_panels(path: &Path, panels: &[(&str, &str, Vec<Series>)]) -> Result<()> {
    use plotters::prelude::*;
    let n = panels.len().max(1);
    let root = BitMapBackend::new(path, (420 * n as u32, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, n));
    let colors = [&BLUE, &RED, &GREEN, &MAGENTA, &BLACK, &CYAN];
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
            let c = colors[i % colors.len()];
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
