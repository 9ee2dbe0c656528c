//! The SLURM backend: one `sbatch` script per submission with a job array (one
//! task per cell, each `exec`-ing `pars sweep run-cell`), the submitted job ids in
//! `slurm/jobs.json`, and the queue's view of each cell (`squeue`, `sacct`).
use super::cell::{now_secs, progress_step, CellState};
use super::{Cell, SweepDir};
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct SlurmOptions {
    pub partition: Option<String>,
    /// `--time` of each array task (e.g. `04:00:00`).
    pub time: Option<String>,
    pub cpus_per_task: usize,
    /// Threads of each cell's process (`RAYON_NUM_THREADS`).
    pub threads: usize,
    /// Extra `#SBATCH` lines (`--mem=8G` or `#SBATCH --mem=8G`).
    pub extra: Vec<String>,
    /// Seconds before the time limit at which SLURM sends SIGTERM to the cell.
    pub signal_secs: u32,
    /// Most array tasks running at once (`--array=...%N`).
    pub max_parallel: Option<usize>,
    /// The `pars` executable the tasks run (must exist at this path on the nodes).
    pub exe: PathBuf,
}

/// One submission, in `slurm/jobs.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_id: String,
    pub submitted: u64,
    pub script: String,
    /// Cell of each array index.
    pub cells: Vec<String>,
}

pub const JOBS_FILE: &str = "slurm/jobs.json";

/// A program on PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn read_jobs(sweep: &SweepDir) -> Vec<JobRecord> {
    std::fs::read_to_string(sweep.path.join(JOBS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Quote for bash (single quotes).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn sbatch_line(extra: &str) -> Result<String> {
    let t = extra.trim();
    ensure!(
        !t.contains('\n') && !t.is_empty(),
        "extra #SBATCH line '{extra}' must be one non-empty line"
    );
    Ok(if t.starts_with("#SBATCH") {
        t.to_string()
    } else {
        format!("#SBATCH {t}")
    })
}

/// The job-array script for `cells`.
pub fn script_text(
    sweep: &SweepDir,
    name: &str,
    cells: &[&Cell],
    o: &SlurmOptions,
) -> Result<String> {
    ensure!(!cells.is_empty(), "no cells to submit");
    let dir = sweep.path.display().to_string();
    let logs = format!("{dir}/logs");
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "# Written by `pars sweep --backend slurm` for sweep {name}: one array task per cell.\n"
    ));
    s.push_str(&format!("#SBATCH --job-name=pars-{name}\n"));
    let mut array = format!("0-{}", cells.len() - 1);
    if let Some(m) = o.max_parallel {
        array.push_str(&format!("%{m}"));
    }
    s.push_str(&format!("#SBATCH --array={array}\n"));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", o.cpus_per_task));
    if let Some(p) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &o.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    // B: the signal goes to the batch shell, which `exec` below turns into pars
    s.push_str(&format!("#SBATCH --signal=B:TERM@{}\n", o.signal_secs));
    s.push_str(&format!("#SBATCH --output={logs}/slurm-%A_%a.out\n"));
    s.push_str("#SBATCH --open-mode=append\n");
    for e in &o.extra {
        s.push_str(&sbatch_line(e)?);
        s.push('\n');
    }
    s.push_str("\nCELLS=(\n");
    for c in cells {
        s.push_str(&format!("  {}\n", sh_quote(&c.name)));
    }
    s.push_str(")\n");
    s.push_str("CELL=${CELLS[$SLURM_ARRAY_TASK_ID]}\n");
    s.push_str(&format!("export RAYON_NUM_THREADS={}\n", o.threads));
    s.push_str(&format!("LOG={}/\"$CELL\".log\n", sh_quote(&logs)));
    s.push_str(
        "echo \"--- pars sweep run-cell $CELL (SLURM task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname), started $(date +%s))\" >> \"$LOG\"\n",
    );
    s.push_str("# exec: pars replaces this shell and receives SLURM's SIGTERM itself\n");
    s.push_str(&format!(
        "exec {} --quiet sweep run-cell {} \"$CELL\" >> \"$LOG\" 2>&1\n",
        sh_quote(&o.exe.display().to_string()),
        sh_quote(&dir)
    ));
    Ok(s)
}

/// Write the script for `cells` and submit it with `sbatch`; records the job id in
/// `slurm/jobs.json`. When `sbatch` is missing or fails nothing is recorded and the
/// script is removed again.
pub fn submit(
    sweep: &SweepDir,
    name: &str,
    cells: &[&Cell],
    o: &SlurmOptions,
) -> Result<JobRecord> {
    let sbatch = find_program("sbatch").context(
        "sbatch is not on PATH: the SLURM backend submits with sbatch (run it on a cluster's login node, or use --backend local)",
    )?;
    let text = script_text(sweep, name, cells, o)?;
    let slurm_dir = sweep.path.join("slurm");
    std::fs::create_dir_all(&slurm_dir)?;
    std::fs::create_dir_all(sweep.path.join("logs"))?;
    let n = read_jobs(sweep).len();
    let script = slurm_dir.join(format!("submit-{n}.sbatch"));
    crate::run::write_atomic(&script, text.as_bytes())?;
    let out = Command::new(&sbatch)
        .arg("--parsable")
        .arg(&script)
        .current_dir(&sweep.path)
        .output();
    let fail = |msg: String| -> Result<JobRecord> {
        let _ = std::fs::remove_file(&script);
        bail!("{msg}; nothing was submitted")
    };
    let out = match out {
        Ok(o) => o,
        Err(e) => return fail(format!("cannot run {}: {e}", sbatch.display())),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', " ");
        return fail(format!("sbatch failed ({}): {err}", out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let job_id = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "sbatch printed no job id ('{}'); check `squeue` before submitting again",
            stdout.trim()
        );
    }
    let rec = JobRecord {
        job_id,
        submitted: now_secs(),
        script: script.display().to_string(),
        cells: cells.iter().map(|c| c.name.clone()).collect(),
    };
    let mut jobs = read_jobs(sweep);
    jobs.push(rec.clone());
    crate::run::write_atomic(
        &sweep.path.join(JOBS_FILE),
        serde_json::to_string_pretty(&jobs)?.as_bytes(),
    )
    .with_context(|| format!("job {} was submitted but not recorded", rec.job_id))?;
    Ok(rec)
}

/// What SLURM says about one array task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskInfo {
    /// `<job>_<index>`
    pub task: String,
    /// `squeue` state (PENDING, RUNNING, ...) while queued or running.
    pub queue_state: Option<String>,
    pub queue_reason: Option<String>,
    /// `sacct` state (COMPLETED, FAILED, TIMEOUT, ...) when accounting is on.
    pub acct_state: Option<String>,
    pub exit_code: Option<String>,
}

fn run_lines(cmd: &mut Command) -> Vec<String> {
    match cmd.output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The latest submission of each cell and what `squeue` / `sacct` say about it.
/// Empty when the sweep was never submitted or the tools are missing.
pub fn query(sweep: &SweepDir) -> BTreeMap<String, TaskInfo> {
    let jobs = read_jobs(sweep);
    let mut map: BTreeMap<String, TaskInfo> = BTreeMap::new();
    for j in &jobs {
        for (i, c) in j.cells.iter().enumerate() {
            map.insert(
                c.clone(),
                TaskInfo {
                    task: format!("{}_{i}", j.job_id),
                    queue_state: None,
                    queue_reason: None,
                    acct_state: None,
                    exit_code: None,
                },
            );
        }
    }
    if map.is_empty() {
        return map;
    }
    let by_task: BTreeMap<String, String> = map
        .iter()
        .map(|(c, t)| (t.task.clone(), c.clone()))
        .collect();
    let ids: Vec<&str> = jobs.iter().map(|j| j.job_id.as_str()).collect();
    if find_program("squeue").is_some() {
        for id in &ids {
            for l in
                run_lines(Command::new("squeue").args(["-h", "-r", "-j", id, "-o", "%i|%T|%r"]))
            {
                let f: Vec<&str> = l.split('|').collect();
                if let Some(c) = by_task.get(f[0]) {
                    let t = map.get_mut(c).unwrap();
                    t.queue_state = f.get(1).map(|s| s.to_string());
                    t.queue_reason = f.get(2).map(|s| s.to_string());
                }
            }
        }
    }
    if find_program("sacct").is_some() {
        for id in &ids {
            for l in run_lines(Command::new("sacct").args([
                "-n",
                "-P",
                "-X",
                "-j",
                id,
                "-o",
                "JobID,State,ExitCode",
            ])) {
                let f: Vec<&str> = l.split('|').collect();
                if let Some(c) = by_task.get(f[0]) {
                    let t = map.get_mut(c).unwrap();
                    t.acct_state = f.get(1).map(|s| s.to_string());
                    t.exit_code = f.get(2).map(|s| s.to_string());
                }
            }
        }
    }
    map
}

/// A cell's state with the queue's view merged in: queued and running tasks come
/// from `squeue`; a task that ended without finishing its cell from `sacct`.
pub fn merge(
    sweep: &SweepDir,
    cell: &Cell,
    local: CellState,
    task: Option<&TaskInfo>,
) -> CellState {
    let Some(t) = task else { return local };
    if local == CellState::Done {
        return local;
    }
    if let Some(q) = &t.queue_state {
        match q.as_str() {
            "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED"
            | "SUSPENDED" => {
                return CellState::Queued {
                    reason: format!(
                        "job {} {}{}",
                        t.task,
                        q.to_lowercase(),
                        t.queue_reason
                            .as_deref()
                            .filter(|r| !r.is_empty() && *r != "None")
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                };
            }
            "RUNNING" | "COMPLETING" | "STAGE_OUT" => {
                return match local {
                    CellState::Running { .. } => local,
                    _ => CellState::Running {
                        step: progress_step(&sweep.cell_dir(cell)),
                    },
                };
            }
            _ => {}
        }
    }
    let acct = t.acct_state.as_deref().unwrap_or("");
    // the cell's current attempt ran as this task
    let ran_as_task = sweep
        .read_record(&cell.name)
        .and_then(|r| r.slurm_task)
        .as_deref()
        == Some(t.task.as_str());
    let log = format!("logs/slurm-{}.out", t.task);
    match local {
        // the record says running, but the queue no longer has its task
        CellState::Running { step } if ran_as_task && t.queue_state.is_none() => {
            CellState::Interrupted {
                step,
                note: format!(
                    "SLURM task {} ended{} while the cell ran",
                    t.task,
                    if acct.is_empty() {
                        String::new()
                    } else {
                        format!(" {acct}")
                    }
                ),
            }
        }
        CellState::Pending if !acct.is_empty() && !acct.starts_with("COMPLETED") => {
            CellState::Failed {
                error: format!(
                    "SLURM task {} ended {acct} (exit {}) before the cell ran; see {log}",
                    t.task,
                    t.exit_code.as_deref().unwrap_or("?")
                ),
            }
        }
        other => other,
    }
}

/// Cells that an active SLURM task (queued or running) will take care of.
pub fn active_cells(q: &BTreeMap<String, TaskInfo>) -> Vec<String> {
    q.iter()
        .filter(|(_, t)| t.queue_state.is_some())
        .map(|(c, _)| c.clone())
        .collect()
}

/// Whether `path` looks reachable from other machines: a warning for /tmp.
pub fn local_only_path(path: &Path) -> bool {
    path.starts_with("/tmp") || path.starts_with("/var/tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_has_array_signal_and_exec() {
        let g: super::super::grid::GridFile = toml::from_str(
            r#"
            seeds = 2
            [[dataset]]
            label = "u"
            path = "u.hdf5"
            env = "pointmaze-umaze-v0"
            [[variant]]
            label = "pars"
            preset = "pointmaze"
        "#,
        )
        .unwrap();
        let grid = super::super::grid::resolve_grid(&g, "t", Path::new("/d")).unwrap();
        let sweep = SweepDir::new(Path::new("/sw/t"));
        let cells: Vec<&Cell> = grid.cells.iter().collect();
        let o = SlurmOptions {
            partition: Some("gpu".into()),
            time: Some("01:00:00".into()),
            cpus_per_task: 2,
            threads: 2,
            extra: vec!["--mem=4G".into(), "#SBATCH --qos=low".into()],
            signal_secs: 90,
            max_parallel: Some(5),
            exe: PathBuf::from("/opt/pars"),
        };
        let s = script_text(&sweep, "t", &cells, &o).unwrap();
        for want in [
            "#SBATCH --array=0-1%5\n",
            "#SBATCH --cpus-per-task=2\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --time=01:00:00\n",
            "#SBATCH --signal=B:TERM@90\n",
            "#SBATCH --mem=4G\n",
            "#SBATCH --qos=low\n",
            "  'pars-u-s1'\n",
            "export RAYON_NUM_THREADS=2\n",
            "exec '/opt/pars' --quiet sweep run-cell '/sw/t' \"$CELL\"",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        assert!(script_text(&sweep, "t", &[], &o).is_err());
        let bad = SlurmOptions {
            extra: vec!["a\nb".into()],
            ..o
        };
        assert!(script_text(&sweep, "t", &cells, &bad).is_err());
    }
}
