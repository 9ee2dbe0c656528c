//! One cell of a sweep on disk: its state (from the run directory and the sweep's own
//! record of the cell), and running it (`pars sweep run-cell`, what both backends
//! start for each cell).
use super::grid::{Cell, CELL_FILE};
use super::SweepDir;
use crate::run::signals;
use crate::run::status::{pid_alive, RunState, Status};
use crate::run::{staging_path, write_atomic, RunPaths};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the sweep knows about a cell beyond its run directory: who ran it last and
/// how that ended (`<sweep>/state/<cell>.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    /// `running`, `finished`, `failed` or `interrupted`.
    pub state: String,
    pub pid: u32,
    pub host: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub ended: Option<u64>,
    /// One-line error of a failed attempt.
    pub error: Option<String>,
    /// Attempts so far (restarts after an interruption or failure count).
    pub attempts: u32,
    /// `<job>_<task>` when the attempt ran as a SLURM array task.
    pub slurm_task: Option<String>,
    /// The checkpoint step the attempt continued from (`None`: from scratch).
    #[serde(default)]
    pub resumed_from: Option<u64>,
}

/// The state of a cell as `pars sweep status` shows it.
#[derive(Clone, Debug, PartialEq)]
pub enum CellState {
    Done,
    /// Being trained; the step reached if known.
    Running {
        step: Option<u64>,
    },
    /// Waiting in the SLURM queue.
    Queued {
        reason: String,
    },
    /// Started but stopped before finishing (killed, preempted, timed out): it is
    /// resumed (today: restarted) by the next `pars sweep`.
    Interrupted {
        step: Option<u64>,
        note: String,
    },
    Failed {
        error: String,
    },
    /// Not started.
    Pending,
}

impl CellState {
    pub fn word(&self) -> &'static str {
        match self {
            CellState::Done => "done",
            CellState::Running { .. } => "running",
            CellState::Queued { .. } => "queued",
            CellState::Interrupted { .. } => "interrupted",
            CellState::Failed { .. } => "failed",
            CellState::Pending => "pending",
        }
    }

    /// Whether a sweep should (re)start this cell.
    pub fn needs_run(&self) -> bool {
        matches!(
            self,
            CellState::Pending | CellState::Interrupted { .. } | CellState::Failed { .. }
        )
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) } == 0;
    if !ok {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).to_string()
}

impl SweepDir {
    pub fn record_path(&self, name: &str) -> PathBuf {
        self.path.join("state").join(format!("{name}.json"))
    }

    pub fn read_record(&self, name: &str) -> Option<CellRecord> {
        let text = std::fs::read_to_string(self.record_path(name)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn write_record(&self, name: &str, rec: &CellRecord) -> Result<()> {
        let p = self.record_path(name);
        std::fs::create_dir_all(p.parent().unwrap())?;
        write_atomic(&p, serde_json::to_string_pretty(rec)?.as_bytes())
    }

    /// The final run directory of a cell.
    pub fn cell_dir(&self, cell: &Cell) -> PathBuf {
        self.path.join(&cell.name)
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.path.join("logs").join(format!("{name}.log"))
    }
}

/// Whether `dir` holds a finished offline run: config, policy, and (where the run
/// writes one) a `finished` status.
pub fn run_finished(dir: &Path) -> bool {
    let paths = RunPaths::new(dir);
    if !paths.config().is_file() || !paths.policy().is_file() {
        return false;
    }
    match Status::read(dir) {
        Ok(Some(s)) => s.state == RunState::Finished,
        Ok(None) => true,
        Err(_) => false,
    }
}

/// The directories an unfinished run of `dir` may live in: `dir` itself, and its
/// hidden staging directory.
fn live_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if dir.is_dir() {
        v.push(dir.to_path_buf());
    }
    if let Ok(s) = staging_path(dir) {
        if s.is_dir() {
            v.push(s);
        }
    }
    v
}

/// The last step a run in progress reported: the later of its status file's step
/// (written at checkpoints) and the last row of its metrics.
pub fn progress_step(dir: &Path) -> Option<u64> {
    let mut best: Option<u64> = None;
    for d in live_dirs(dir) {
        if let Ok(Some(s)) = Status::read(&d) {
            best = best.max(Some(s.step));
        }
        if let Ok(text) = std::fs::read_to_string(RunPaths::new(d).metrics()) {
            let last = text
                .lines()
                .rev()
                .find_map(|l| l.split(',').next()?.parse::<u64>().ok())
                .unwrap_or(0);
            best = best.max(Some(last));
        }
    }
    best
}

/// The state of a cell from its run directory and the sweep's record, on this
/// machine (SLURM queue information is merged in by `slurm::merge_queue`).
pub fn cell_state(sweep: &SweepDir, cell: &Cell) -> CellState {
    let dir = sweep.cell_dir(cell);
    if run_finished(&dir) {
        return CellState::Done;
    }
    let rec = sweep.read_record(&cell.name);
    let here = hostname();
    let local_pid_dead = |host: &str, pid: u32| host == here && !pid_alive(pid);
    let live = live_dirs(&dir);
    let step = progress_step(&dir);
    // an attempt in progress: `run_cell` holds the cell while its record says running
    // (a process on another host cannot be checked here; the SLURM queue can)
    if let Some(r) = &rec {
        if r.state == "running" && !local_pid_dead(&r.host, r.pid) {
            return CellState::Running { step };
        }
    }
    // the run directory's status file says most
    if let Some(st) = live.iter().find_map(|d| Status::read(d).ok().flatten()) {
        let host = rec.as_ref().map(|r| r.host.as_str()).unwrap_or(&here);
        return match st.state {
            RunState::Running if st.was_killed(host == here) => CellState::Interrupted {
                step: st.last_checkpoint,
                note: match st.last_checkpoint {
                    Some(c) => format!("killed; checkpoint at step {c}"),
                    None => "killed before its first checkpoint".into(),
                },
            },
            RunState::Running => CellState::Running { step },
            RunState::Interrupted => CellState::Interrupted {
                step: Some(st.step),
                note: match st.last_checkpoint {
                    Some(c) => format!("checkpoint at step {c}"),
                    None => "no checkpoint".into(),
                },
            },
            RunState::Failed => CellState::Failed {
                error: st
                    .error
                    .or_else(|| rec.and_then(|r| r.error))
                    .unwrap_or_else(|| "failed".into()),
            },
            // finished status but no policy: the directory is damaged
            RunState::Finished => CellState::Interrupted {
                step: Some(st.step),
                note: "incomplete run directory".into(),
            },
        };
    }
    if let Some(r) = rec {
        match r.state.as_str() {
            "running" if local_pid_dead(&r.host, r.pid) => {
                return CellState::Interrupted {
                    step,
                    note: "its process is gone".into(),
                }
            }
            "failed" => {
                return CellState::Failed {
                    error: r.error.unwrap_or_else(|| "failed".into()),
                }
            }
            "interrupted" => {
                return CellState::Interrupted {
                    step,
                    note: r.error.unwrap_or_else(|| "stopped by a signal".into()),
                }
            }
            // "finished" with no run directory: it was deleted, run it again
            _ => {}
        }
    }
    if !live.is_empty() {
        return CellState::Interrupted {
            step,
            note: "unfinished run directory".into(),
        };
    }
    CellState::Pending
}

/// How `resume_or_start` began the cell's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Fresh,
    /// Continued from the checkpoint at this step.
    Resumed(u64),
}

/// The checkpoint step an unfinished run in `dir` can continue from: it was
/// interrupted (or killed: still marked running) rather than failed, has a checkpoint,
/// and was trained with exactly the configuration the cell now has. Called while
/// holding the cell's lock, so no other process is running it.
pub fn resumable(dir: &Path, cell: &Cell) -> Option<u64> {
    let st = Status::read(dir).ok().flatten()?;
    let stopped = matches!(st.state, RunState::Interrupted | RunState::Running);
    let step = st.last_checkpoint?;
    let paths = RunPaths::new(dir);
    let state = paths.train_state();
    let saved: crate::config::TrainConfig =
        toml::from_str(&std::fs::read_to_string(paths.config()).ok()?).ok()?;
    (stopped && state.is_file() && saved == cell.config).then_some(step)
}

/// Start the cell's run, or continue an interrupted one from its last checkpoint.
/// A run that failed, has no checkpoint, or was trained with another configuration
/// than the cell's is started over (its directory is replaced).
pub fn resume_or_start(
    sweep: &SweepDir,
    cell: &Cell,
    show_progress: bool,
) -> Result<(PathBuf, Start)> {
    let dir = sweep.cell_dir(cell);
    if let Some(step) = resumable(&dir, cell) {
        let done = crate::training::resume_run(&dir, Vec::new(), &[], show_progress)?;
        return Ok((done.dir, Start::Resumed(step)));
    }
    remove_unfinished(&dir)?;
    let done =
        crate::training::train_run(&cell.config, &cell.dataset_path, &dir, true, show_progress)?;
    Ok((done.dir, Start::Fresh))
}

/// Delete the unfinished run directories of `dir` (never a finished run).
fn remove_unfinished(dir: &Path) -> Result<()> {
    if run_finished(dir) {
        bail!("{} holds a finished run", dir.display());
    }
    for d in live_dirs(dir) {
        std::fs::remove_dir_all(&d)
            .with_context(|| format!("cannot remove the unfinished run {}", d.display()))?;
    }
    Ok(())
}

/// An exclusive lock on a cell (`state/<cell>.lock`, flock), held while it runs, so
/// two sweeps (or a sweep and a SLURM task) never train the same cell at once.
pub struct CellLock {
    _file: std::fs::File,
}

impl CellLock {
    /// `None` when another process holds the lock.
    pub fn try_acquire(sweep: &SweepDir, name: &str) -> Result<Option<CellLock>> {
        let p = sweep.path.join("state").join(format!("{name}.lock"));
        std::fs::create_dir_all(p.parent().unwrap())?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .with_context(|| format!("cannot open {}", p.display()))?;
        use std::os::unix::io::AsRawFd;
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        Ok((r == 0).then_some(CellLock { _file: file }))
    }
}

/// How `run_cell` ended (the process exit status follows it).
#[derive(Debug, PartialEq, Eq)]
pub enum CellOutcome {
    Finished,
    AlreadyDone,
    /// Another process is running this cell.
    Busy,
    Interrupted,
}

/// The SLURM array task this process runs as, if any.
fn slurm_task() -> Option<String> {
    let job = std::env::var("SLURM_ARRAY_JOB_ID").ok()?;
    let task = std::env::var("SLURM_ARRAY_TASK_ID").ok()?;
    Some(format!("{job}_{task}"))
}

/// Run one cell to the end in this process: lock it, record the attempt, start (or
/// resume) its run, write `cell.json` and record how it ended. A failure is recorded
/// with its one-line error and returned. SIGINT/SIGTERM (SLURM's warning before a
/// time limit or preemption): a run that writes a status file is left to checkpoint
/// and stop; otherwise the attempt is recorded as interrupted at once and the process
/// exits with status 130.
pub fn run_cell(sweep: &SweepDir, cell: &Cell, show_progress: bool) -> Result<CellOutcome> {
    let Some(_lock) = CellLock::try_acquire(sweep, &cell.name)? else {
        return Ok(CellOutcome::Busy);
    };
    let dir = sweep.cell_dir(cell);
    if run_finished(&dir) {
        write_cell_info(&dir, cell)?;
        return Ok(CellOutcome::AlreadyDone);
    }
    let prev = sweep.read_record(&cell.name).unwrap_or_default();
    let mut rec = CellRecord {
        state: "running".into(),
        pid: std::process::id(),
        host: hostname(),
        started: now_secs(),
        ended: None,
        error: None,
        attempts: prev.attempts + 1,
        slurm_task: slurm_task(),
        resumed_from: resumable(&dir, cell),
    };
    sweep.write_record(&cell.name, &rec)?;
    watch_signals(sweep.clone(), cell.name.clone(), rec.clone(), dir.clone());
    // already inside the process's pool of RAYON_NUM_THREADS workers (main.rs)
    let res = resume_or_start(sweep, cell, show_progress);
    rec.ended = Some(now_secs());
    if signals::stop_requested() {
        rec.state = "interrupted".into();
        rec.error = Some("stopped by a signal".into());
        sweep.write_record(&cell.name, &rec)?;
        return Ok(CellOutcome::Interrupted);
    }
    match res {
        Ok((final_dir, _)) => {
            write_cell_info(&final_dir, cell)?;
            rec.state = "finished".into();
            sweep.write_record(&cell.name, &rec)?;
            Ok(CellOutcome::Finished)
        }
        Err(e) => {
            rec.state = "failed".into();
            rec.error = Some(format!("{e:#}").replace('\n', " "));
            sweep.write_record(&cell.name, &rec)?;
            Err(e)
        }
    }
}

/// Write `cell.json` into a finished cell's run directory (if missing).
pub fn write_cell_info(dir: &Path, cell: &Cell) -> Result<()> {
    let p = dir.join(CELL_FILE);
    if !p.is_file() {
        write_atomic(&p, serde_json::to_string_pretty(&cell.info())?.as_bytes())?;
    }
    Ok(())
}

/// Install the SIGINT/SIGTERM handlers and a thread that reacts to them: a run that
/// keeps a status file is trusted to checkpoint and return (the main thread then
/// records it); otherwise nothing would be saved by waiting, so the attempt is
/// recorded as interrupted and the process exits with status 130 at once.
fn watch_signals(sweep: SweepDir, name: String, mut rec: CellRecord, dir: PathBuf) {
    signals::install();
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if !signals::stop_requested() {
            continue;
        }
        let checkpoints = live_dirs(&dir)
            .iter()
            .any(|d| matches!(Status::read(d), Ok(Some(_))));
        if checkpoints {
            return;
        }
        rec.state = "interrupted".into();
        rec.ended = Some(now_secs());
        rec.error = Some("stopped by a signal".into());
        let _ = sweep.write_record(&name, &rec);
        eprintln!("{name}: interrupted by a signal; the next `pars sweep` starts it again");
        std::process::exit(signals::INTERRUPTED_EXIT);
    });
}
