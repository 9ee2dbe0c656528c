//! Finding finished runs under the given directories (sweeps in grid order) and
//! reading what the report needs from each: labels, settings and evaluations.
use crate::config::TrainConfig;
use crate::run::paths::{DATASET_FILE, METRICS_FILE};
use crate::run::{DatasetRecord, RunPaths};
use crate::sweep::{cell::run_finished, flatten_config, CellInfo, SweepDir, CELL_FILE};
use anyhow::{ensure, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A finished offline run as the report sees it.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub dir: PathBuf,
    pub dataset: String,
    pub variant: String,
    pub seed: u64,
    pub env: Option<String>,
    pub steps: u64,
    /// Everything that must agree within a group: config keys but seed and label,
    /// and the dataset's size.
    pub settings: BTreeMap<String, String>,
    /// (step, normalised score) of every evaluation.
    pub evals: Vec<(u64, f64)>,
}

fn is_run_dir(d: &Path) -> bool {
    RunPaths::new(d).is_offline_run()
}

fn sorted_subdirs(d: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d)
        .with_context(|| format!("cannot read directory {}", d.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    // a sweep lists its cells in grid order: keep that order
    if SweepDir::is_sweep(d) {
        if let Ok(f) = SweepDir::new(d).load() {
            let pos = |p: &PathBuf| {
                let n = p.file_name().map(|n| n.to_string_lossy().to_string());
                f.cells
                    .iter()
                    .position(|c| Some(&c.name) == n.as_ref())
                    .unwrap_or(usize::MAX)
            };
            v.sort_by_key(pos);
        }
    }
    Ok(v)
}

fn walk(d: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    if is_run_dir(d) {
        out.push(d.to_path_buf());
        return Ok(());
    }
    if depth == 0 {
        return Ok(());
    }
    for s in sorted_subdirs(d)? {
        walk(&s, depth - 1, out)?;
    }
    Ok(())
}

/// The finished run directories in or under `dirs`, in order, without repeats.
/// Unfinished runs are skipped with a note; a directory without any finished run is
/// an error naming it.
pub fn find_runs(dirs: &[PathBuf], notes: &mut Vec<String>) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for d in dirs {
        ensure!(d.is_dir(), "{} is not a directory", d.display());
        let mut found = Vec::new();
        walk(d, 8, &mut found)?;
        let mut finished = 0;
        for r in found {
            if !run_finished(&r) {
                let state = match crate::run::Status::read(&r) {
                    Ok(Some(s)) if s.was_killed(true) => "interrupted".into(),
                    Ok(Some(s)) => format!("{:?}", s.state).to_lowercase(),
                    _ => "unfinished".into(),
                };
                notes.push(format!("skipping {} ({state})", r.display()));
                continue;
            }
            finished += 1;
            let key = r.canonicalize().unwrap_or_else(|_| r.clone());
            if seen.insert(key) {
                out.push(r);
            }
        }
        ensure!(
            finished > 0,
            "no finished offline runs in {} (a run directory holds config.toml, metrics.csv and the policy)",
            d.display()
        );
    }
    Ok(out)
}

/// Read what the report needs from a finished run directory.
pub fn read_run(dir: &Path) -> Result<RunInfo> {
    let paths = RunPaths::new(dir);
    let cfg_path = paths.config();
    let text = std::fs::read_to_string(&cfg_path)
        .with_context(|| format!("cannot read {}", cfg_path.display()))?;
    let cfg: TrainConfig = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not an offline training configuration",
            cfg_path.display()
        )
    })?;
    let record = DatasetRecord::read(dir).ok().flatten();
    let cell: Option<CellInfo> = std::fs::read_to_string(dir.join(CELL_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let (dataset, variant, seed) = match cell {
        Some(c) => (c.dataset, c.variant, c.seed),
        None => {
            let stem = record
                .as_ref()
                .map(|r| crate::data::dataset_label(&r.dataset()))
                .with_context(|| {
                    format!(
                        "run {} has neither {CELL_FILE} nor {DATASET_FILE}: cannot tell its dataset",
                        dir.display()
                    )
                })?;
            (stem, cfg.algo.clone(), cfg.seed)
        }
    };
    let mpath = paths.metrics();
    ensure!(
        mpath.is_file(),
        "run {} has no {METRICS_FILE}: its scores are missing",
        dir.display()
    );
    let mtext = std::fs::read_to_string(&mpath)
        .with_context(|| format!("cannot read {}", mpath.display()))?;
    let mut evals = Vec::new();
    for (i, line) in mtext.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let row = crate::run::parse_metrics_line(line)
            .with_context(|| format!("{} line {}", mpath.display(), i + 1))?;
        if let Some(s) = row.eval_score {
            evals.push((row.step, s));
        }
    }
    ensure!(
        !evals.is_empty(),
        "run {} has no evaluation scores in metrics.csv (trained without --env?)",
        dir.display()
    );
    let last = evals.last().unwrap().0;
    ensure!(
        last == cfg.steps,
        "run {}: the last evaluation in metrics.csv is at step {last} of {}: the metrics are incomplete",
        dir.display(),
        cfg.steps
    );
    let mut settings: BTreeMap<String, String> = flatten_config(&cfg)
        .into_iter()
        .filter(|(k, _)| k != "seed" && k != "algo")
        .collect();
    if let Some(r) = &record {
        settings.insert("dataset.transitions".into(), r.transitions.to_string());
    }
    Ok(RunInfo {
        dir: dir.to_path_buf(),
        dataset,
        variant,
        seed,
        env: cfg.env.clone(),
        steps: cfg.steps,
        settings,
        evals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Status;

    /// A run left `running` by a process that is gone is reported as interrupted.
    #[test]
    fn a_killed_run_is_skipped_as_interrupted() {
        let root = tempfile::tempdir().unwrap();
        let run = root.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::fs::write(run.join("config.toml"), "").unwrap();
        let mut st = Status::new("train", 100);
        st.write(&run).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let mut dead = Status::read(&run).unwrap().unwrap();
        dead.pid = child.id();
        std::fs::write(
            run.join("status.json"),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let note_of = || {
            let mut notes = Vec::new();
            assert!(find_runs(&[root.path().to_path_buf()], &mut notes).is_err());
            notes.join("\n")
        };
        assert!(note_of().ends_with("(interrupted)"), "{}", note_of());
        st.write(&run).unwrap(); // this process: alive
        assert!(note_of().ends_with("(running)"), "{}", note_of());
    }
}
