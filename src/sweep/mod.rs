//! Sweeps: a grid of datasets × variants × seeds (`grid`), each cell an ordinary
//! offline run directory inside the sweep directory, run by a local pool of
//! processes (`local`) or as a SLURM job array (`slurm`); `cell` holds the state of
//! one cell and runs it (`pars sweep run-cell`, what both backends start).
//!
//! A sweep directory holds `sweep.json` (the resolved cells), `grid.toml` (the grid
//! as given), `state/` (the sweep's record of each cell, and its lock), `logs/` (each
//! cell's output), `slurm/` (job scripts and submitted job ids) and one run directory
//! per cell, named `<variant>-<dataset>-s<seed>`.
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod cell;
pub mod grid;
pub mod local;
pub mod slurm;

pub use cell::{cell_state, run_cell, CellOutcome, CellState};
pub use grid::{parse_grid, validate_inputs, Cell, CellInfo, Grid, CELL_FILE};

pub const SWEEP_FILE: &str = "sweep.json";

/// `sweep.json`: the sweep's resolved cells.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepFile {
    pub name: String,
    /// The grid file the cells came from, as given on the command line.
    pub grid: String,
    pub cells: Vec<Cell>,
}

/// A sweep directory on disk.
#[derive(Clone, Debug)]
pub struct SweepDir {
    pub path: PathBuf,
}

impl SweepDir {
    pub fn new(path: &Path) -> SweepDir {
        SweepDir {
            path: grid::absolute(path),
        }
    }

    pub fn is_sweep(path: &Path) -> bool {
        path.join(SWEEP_FILE).is_file()
    }

    pub fn load(&self) -> Result<SweepFile> {
        let p = self.path.join(SWEEP_FILE);
        if !p.is_file() {
            bail!(
                "{} is not a sweep directory (no {SWEEP_FILE})",
                self.path.display()
            );
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a sweep file", p.display()))
    }

    /// Find a cell by name or index.
    pub fn cell(&self, which: &str) -> Result<Cell> {
        let f = self.load()?;
        if let Some(c) = f.cells.iter().find(|c| c.name == which) {
            return Ok(c.clone());
        }
        if let Ok(i) = which.parse::<usize>() {
            if let Some(c) = f.cells.get(i) {
                return Ok(c.clone());
            }
        }
        bail!("sweep {} has no cell '{which}'", self.path.display())
    }

    /// Write (or update) `sweep.json` for `grid`. Refuses when a finished run of a
    /// cell was trained with a different configuration than the grid now gives it.
    pub fn prepare(&self, grid: &Grid, grid_path: &Path) -> Result<()> {
        for c in &grid.cells {
            let dir = self.cell_dir(c);
            if !cell::run_finished(&dir) {
                continue;
            }
            let p = crate::run::RunPaths::new(&dir).config();
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            let old: crate::config::TrainConfig = toml::from_str(&text)
                .with_context(|| format!("{} is not a training config", p.display()))?;
            if old != c.config {
                bail!(
                    "{}: the finished run in {} was trained with another configuration ({}); \
                     delete that directory to rerun it, or give the sweep another --out",
                    c.describe(),
                    dir.display(),
                    config_difference(&old, &c.config)
                );
            }
        }
        if self.path.is_dir() && !Self::is_sweep(&self.path) {
            let empty = std::fs::read_dir(&self.path)
                .with_context(|| format!("cannot read {}", self.path.display()))?
                .next()
                .is_none();
            if !empty {
                bail!(
                    "{} exists and is not a sweep directory; choose another --out",
                    self.path.display()
                );
            }
        }
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("cannot create {}", self.path.display()))?;
        let file = SweepFile {
            name: grid.name.clone(),
            grid: grid_path.display().to_string(),
            cells: grid.cells.clone(),
        };
        crate::run::write_atomic(
            &self.path.join(SWEEP_FILE),
            serde_json::to_string_pretty(&file)?.as_bytes(),
        )?;
        if let Ok(text) = std::fs::read_to_string(grid_path) {
            crate::run::write_atomic(&self.path.join("grid.toml"), text.as_bytes())?;
        }
        Ok(())
    }
}

/// Configuration keys (dotted) and values of a config, flattened.
pub fn flatten_config<T: Serialize>(cfg: &T) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            // most settings are f32: print 0.01, not the f64 0.009999999776482582
            toml::Value::Float(f) if (*f as f32) as f64 == *f => out.push((
                prefix.to_string(),
                toml::Value::Float((*f as f32).to_string().parse().unwrap()).to_string(),
            )),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = toml::Value::try_from(cfg) {
        walk("", &v, &mut out);
    }
    out
}

/// "key old → new" for the keys where two configs differ.
pub fn config_difference<T: Serialize>(a: &T, b: &T) -> String {
    let fa = flatten_config(a);
    let fb: std::collections::BTreeMap<String, String> = flatten_config(b).into_iter().collect();
    let mut diffs = Vec::new();
    for (k, va) in &fa {
        let vb = fb.get(k).map(String::as_str).unwrap_or("(unset)");
        if va != vb {
            diffs.push(format!("{k} {va} → {vb}"));
        }
    }
    for (k, vb) in &fb {
        if !fa.iter().any(|(ka, _)| ka == k) {
            diffs.push(format!("{k} (unset) → {vb}"));
        }
    }
    diffs.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_settings_print_f32_values_as_written() {
        let cfg = crate::config::TrainConfig::default();
        let mut c = cfg.clone();
        c.agent.beta = Some(0.01);
        c.agent.gamma = 0.995;
        let flat: std::collections::BTreeMap<_, _> = flatten_config(&c).into_iter().collect();
        assert_eq!(flat["agent.beta"], "0.01");
        assert_eq!(flat["agent.gamma"], "0.995");
        let diff = config_difference(&cfg, &c);
        assert!(
            diff.contains("0.995") && !diff.contains("0.99500"),
            "{diff}"
        );
    }
}
