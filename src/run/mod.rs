//! Run directories and what goes in them, for offline, fine-tune and online runs
//! alike: every file's name (`paths`), the live directory with its status (`live`,
//! `status`), atomic writes, the resolved config, the metrics CSV (`metrics`) and the
//! progress bar (the figures are `crate::plots`).
//!
//! A run directory is built under a hidden staging name and renamed into place only
//! when the run finishes, so a failed run never leaves a half-written directory.
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub mod live;
pub mod metrics;
pub mod paths;
pub mod signals;
pub mod status;

pub use crate::formats::atomic::{temp_sibling, write_atomic};
pub use live::LiveRunDir;
pub use metrics::{line_scalars, parse_metrics_line, MetricsRow, METRICS_HEADER};
pub use paths::{DatasetRecord, RunPaths};
pub use status::{RunState, Status};

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

/// An output directory (analyses) built under a hidden staging name and moved into
/// place by `finish`; dropped without `finish`, it is removed.
pub struct OutputDir {
    staging: PathBuf,
    final_path: PathBuf,
    finished: bool,
}

impl OutputDir {
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
        std::fs::create_dir_all(staging.join(paths::CHECKPOINTS_DIR))
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

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// Until training runs move to `LiveRunDir` everywhere.
pub type RunDir = OutputDir;

/// A progress bar on stderr (hidden when `show` is false): position, rate as
/// "62 steps/s", and an ETA from the average rate since the start (steadier than
/// indicatif's recent-rate estimate, which jumps around evaluations).
pub fn progress_bar(len: u64, label: &str, show: bool) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressState, ProgressStyle};
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{prefix:>10} [{bar:30}] {pos}/{len} {rate:>13} eta {avg_eta} {msg}",
    )
    .expect("valid template")
    .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(
            w,
            "{} steps/s",
            rate_text(s.pos(), s.elapsed().as_secs_f64())
        );
    })
    .with_key(
        "avg_eta",
        |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let left = s.len().unwrap_or(0).saturating_sub(s.pos());
            let _ = write!(w, "{}", eta_text(s.pos(), left, s.elapsed().as_secs_f64()));
        },
    )
    .progress_chars("=> ");
    pb.set_style(style);
    pb.set_prefix(label.to_string());
    pb
}

/// Steps per second as a whole number (one decimal below 10).
pub fn rate_text(done: u64, secs: f64) -> String {
    if done == 0 || secs <= 0.0 {
        return "-".into();
    }
    let r = done as f64 / secs;
    if r < 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}

/// Time left at the average rate so far: "45s", "3m07s", "2h05m".
pub fn eta_text(done: u64, left: u64, secs: f64) -> String {
    if done == 0 {
        return "-".into();
    }
    let s = (left as f64 * secs / done as f64).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A config as TOML with its f32 fields written as the user gave them (`0.995`, not
/// `0.9950000047683716`): every float that is exactly an f32 is printed through
/// f32's shortest round-trip form, which reads back to the same f32.
pub fn config_toml<T: Serialize>(cfg: &T) -> Result<String> {
    let mut v = toml::Value::try_from(cfg)?;
    tidy_floats(&mut v);
    Ok(toml::to_string_pretty(&v)?)
}

/// A run directory's TOML config (`config.toml`, `online.toml`) read back as `T`.
pub fn read_config<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{}: invalid config", path.display()))
}

fn tidy_floats(v: &mut toml::Value) {
    match v {
        toml::Value::Float(f) => {
            let g = *f as f32;
            if g.is_finite() && g as f64 == *f {
                if let Ok(x) = g.to_string().parse::<f64>() {
                    *f = x;
                }
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(tidy_floats),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| tidy_floats(v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_text_is_rounded() {
        assert_eq!(super::rate_text(619, 10.0), "62");
        assert_eq!(super::rate_text(33, 10.0), "3.3");
        assert_eq!(super::rate_text(0, 1.0), "-");
        assert_eq!(super::eta_text(10, 35, 10.0), "35s");
        assert_eq!(super::eta_text(10, 187, 10.0), "3m07s");
        assert_eq!(super::eta_text(1, 7500, 1.0), "2h05m");
        assert_eq!(super::eta_text(0, 5, 1.0), "-");
    }

    #[test]
    fn config_toml_writes_f32_values_as_given() {
        #[derive(serde::Serialize)]
        struct C {
            gamma: f32,
            tau: f32,
            big: f64,
            n: u64,
        }
        let s = super::config_toml(&C {
            gamma: 0.995,
            tau: 0.005,
            big: 0.1,
            n: 3,
        })
        .unwrap();
        assert!(s.contains("gamma = 0.995\n"), "{s}");
        assert!(s.contains("tau = 0.005\n"), "{s}");
        assert!(s.contains("big = 0.1\n"), "{s}");
        #[derive(serde::Deserialize)]
        struct D {
            gamma: f32,
            tau: f32,
        }
        let d: D = toml::from_str(&s).unwrap();
        assert_eq!((d.gamma, d.tau), (0.995f32, 0.005f32));
    }
}
