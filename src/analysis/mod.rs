//! The analyses the paper uses as evidence (SPEC §7), as `pars analyze ...` commands.
//! Each writes figures plus the numbers behind them (`numbers.json`, CSV) into a run
//! directory and has a `--fast` mode for tests.
pub mod ablation;
pub mod dormant;
pub mod maxq;
pub mod ntk;
pub mod toy;

use crate::data::{RawDataset, Transitions};
use crate::envs::maze::Layout;
use crate::recipes::scripted::{collect, CollectConfig, Style};
use crate::run::OutputDir;
use anyhow::{ensure, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (m, 0.0);
    }
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

/// Error unless every value is finite and > 0.
pub fn ensure_positive(option: &str, values: &[f32]) -> Result<()> {
    ensure!(
        !values.is_empty(),
        "option {option} needs at least one value"
    );
    for v in values {
        ensure!(
            v.is_finite() && *v > 0.0,
            "option {option} must be positive (got {v})"
        );
    }
    Ok(())
}

/// Rename the staging directory into place; analyses have no checkpoints.
pub fn finish(run: OutputDir) -> Result<PathBuf> {
    let _ = std::fs::remove_dir(run.path().join(crate::run::paths::CHECKPOINTS_DIR));
    run.finish()
}

/// Write a CSV file into the run directory from a header and rows.
pub fn write_csv(run: &OutputDir, name: &str, header: &str, rows: &[String]) -> Result<()> {
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    run.write_text(name, &s)
}

/// Where an RL analysis gets its data: a dataset file, or the built-in maze data
/// collected in memory.
#[derive(Debug, Clone)]
pub struct DataSettings {
    /// D4RL or Minari HDF5 dataset; `None` collects the built-in maze dataset in memory.
    pub dataset: Option<PathBuf>,
    /// Maze layout of the built-in dataset (umaze, medium, large, ultra).
    pub layout: String,
    /// Rows of the built-in dataset (default 200000, 20000 when fast).
    pub rows: Option<usize>,
    /// Environment for evaluation (default: the built-in maze's when no dataset is given).
    pub env: Option<String>,
    /// Seed of the built-in dataset's collection (independent of the training seeds).
    pub data_seed: u64,
}

/// Options every RL analysis shares: its data, how many seeds, how long and how
/// wide its runs are, and the fast mode the tests use. `None` takes the analysis's
/// default (they differ per analysis).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Short runs with small networks (for tests).
    pub fast: bool,
    pub data: DataSettings,
    /// Seeds per setting (seed, seed+1, ...; default 1, 3 for ablation, 1 when fast).
    pub seeds: Option<usize>,
    /// First seed.
    pub seed: u64,
    /// Gradient steps per run (default 20000; fewer when fast).
    pub steps: Option<u64>,
    /// Hidden width (default: the preset's; small when fast).
    pub hidden: Option<usize>,
    /// No progress bar, table or summary.
    pub quiet: bool,
}

/// A loaded dataset and what it is called.
pub struct LoadedData {
    pub name: String,
    pub raw: RawDataset,
    pub transitions: Transitions,
    /// Environment to evaluate in, if known.
    pub env: Option<String>,
}

#[derive(Serialize)]
pub struct DataInfo {
    pub name: String,
    pub transitions: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    pub env: Option<String>,
}

impl LoadedData {
    pub fn info(&self) -> DataInfo {
        DataInfo {
            name: self.name.clone(),
            transitions: self.transitions.len(),
            obs_dim: self.transitions.obs_dim,
            act_dim: self.transitions.act_dim,
            env: self.env.clone(),
        }
    }
}

impl DataSettings {
    pub fn load(&self, fast: bool) -> Result<LoadedData> {
        if let Some(path) = &self.dataset {
            ensure!(
                path.is_file(),
                "dataset file {} does not exist",
                path.display()
            );
            let (raw, tr) = crate::data::load_transitions(path)?;
            return Ok(LoadedData {
                name: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "dataset".into()),
                raw,
                transitions: tr,
                env: self.env.clone(),
            });
        }
        let layout = Layout::from_name(&self.layout)
            .with_context(|| format!("option --layout: unknown maze layout '{}'", self.layout))?;
        let rows = self.rows.unwrap_or(if fast { 20_000 } else { 200_000 });
        ensure!(rows > 0, "option --rows must be positive");
        let cfg = CollectConfig::new(layout, Style::Diverse, rows, self.data_seed);
        let raw = collect(&cfg)?;
        let tr = Transitions::from_raw(&raw)?;
        Ok(LoadedData {
            name: cfg.dataset_id(),
            raw,
            transitions: tr,
            env: Some(self.env.clone().unwrap_or_else(|| layout.env_id())),
        })
    }
}

/// Check an output directory before long work starts (OutputDir checks again).
pub fn check_out(out: &Path) -> Result<()> {
    ensure!(
        !out.exists(),
        "output directory {} already exists; choose another --out",
        out.display()
    );
    Ok(())
}

/// Progress bar used by all analyses (hidden when `show` is false).
pub fn progress(len: u64, label: &str, show: bool) -> indicatif::ProgressBar {
    crate::run::progress_bar(len, label, show)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_uses_the_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[4.0]), (4.0, 0.0));
        assert!(mean_std(&[]).0.is_nan());
    }

    #[test]
    fn positive_lists_are_checked() {
        assert!(ensure_positive("--c", &[1.0, 100.0]).is_ok());
        let e = ensure_positive("--c", &[1.0, -2.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--c") && e.contains("-2"));
        assert!(ensure_positive("--c", &[f32::NAN]).is_err());
        assert!(ensure_positive("--c", &[]).is_err());
    }
}
