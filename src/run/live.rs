//! The directory of a training run (`train`, `finetune`, `online`). It lives at its
//! final name from the start, with a `status.json` saying whether the run is running,
//! finished, failed or interrupted, so a killed run can be found and resumed.
use super::paths::{CHECKPOINTS_DIR, CONFIG_FILE, ONLINE_CONFIG_FILE, STATUS_FILE};
use super::status::{RunState, Status};
use super::write_atomic;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Files that mark a directory as holding a run.
const RUN_MARKERS: [&str; 3] = [STATUS_FILE, CONFIG_FILE, ONLINE_CONFIG_FILE];

pub struct LiveRunDir {
    path: PathBuf,
    status: Status,
    /// Finished, failed or interrupted explicitly (Drop leaves the status alone).
    closed: bool,
}

impl LiveRunDir {
    /// Create `path` for a new run. A directory holding another run is refused
    /// (pointing at `--resume`) unless `force`, which deletes it first; an existing
    /// directory with other files is refused; an empty one is used.
    pub fn create(path: &Path, command: &str, total_steps: u64, force: bool) -> Result<Self> {
        if path.exists() {
            let holds_run = RUN_MARKERS.iter().any(|m| path.join(m).exists());
            if holds_run && force {
                std::fs::remove_dir_all(path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            } else if holds_run {
                let state = Status::read(path)
                    .ok()
                    .flatten()
                    .map(|s| format!("{:?}", s.state).to_lowercase())
                    .unwrap_or_else(|| "unknown state".into());
                bail!(
                    "{} holds another run ({state}); continue it with --resume {} or start over with --force",
                    path.display(),
                    path.display()
                );
            } else if std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .next()
                .is_some()
            {
                bail!(
                    "{} exists and is not a run directory; choose another --out",
                    path.display()
                );
            }
        }
        std::fs::create_dir_all(path.join(CHECKPOINTS_DIR))
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut status = Status::new(command, total_steps);
        status.write(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            status,
            closed: false,
        })
    }

    /// Reopen the run in `path` to continue it: its status must say it did not
    /// finish, and no live process may still be running it.
    pub fn reopen(path: &Path) -> Result<Self> {
        let Some(mut status) = Status::read(path)? else {
            bail!("{} is not a run directory (no status.json)", path.display());
        };
        if status.state == RunState::Finished {
            bail!("run {} has already finished", path.display());
        }
        status.ensure_not_running_elsewhere(path)?;
        status.state = RunState::Running;
        status.error = None;
        status.write(path)?;
        // temporary files of a checkpoint write that a kill cut short
        if let Ok(entries) = std::fs::read_dir(path.join(CHECKPOINTS_DIR)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with('.') && name.contains(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            status,
            closed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        write_atomic(
            &self.path.join(name),
            serde_json::to_string_pretty(value)?.as_bytes(),
        )
    }

    pub fn write_text(&self, name: &str, text: &str) -> Result<()> {
        write_atomic(&self.path.join(name), text.as_bytes())
    }

    /// Record progress in `status.json` (the step, and the last checkpoint if one was
    /// just written).
    pub fn progress(&mut self, step: u64, checkpoint: Option<u64>) -> Result<()> {
        self.status.step = step;
        if checkpoint.is_some() {
            self.status.last_checkpoint = checkpoint;
        }
        self.status.write(&self.path)
    }

    /// A resumed run was given a new length (`--resume DIR --steps N`).
    pub fn set_total_steps(&mut self, total_steps: u64) -> Result<()> {
        self.status.total_steps = total_steps;
        self.status.write(&self.path)
    }

    /// The run ended normally.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.close(RunState::Finished, None)?;
        Ok(self.path.clone())
    }

    /// The run stopped on an error; the directory and its last checkpoint stay. Errs
    /// when the status itself cannot be written (a full disk).
    pub fn fail(mut self, error: &anyhow::Error) -> Result<()> {
        let msg = format!("{error:#}").replace('\n', " ");
        self.close(RunState::Failed, Some(msg))
    }

    /// A signal stopped the run after a checkpoint at `step`.
    pub fn interrupt(mut self, step: u64) -> Result<()> {
        self.status.step = step;
        self.status.last_checkpoint = Some(step);
        self.close(RunState::Interrupted, None)
    }

    fn close(&mut self, state: RunState, error: Option<String>) -> Result<()> {
        self.closed = true;
        self.status.state = state;
        self.status.error = error;
        self.status.write(&self.path)
    }
}

impl Drop for LiveRunDir {
    /// A run dropped without an outcome (a panic) is marked failed; its files stay.
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.close(
                RunState::Failed,
                Some("stopped without finishing (internal error)".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_holding_a_run_is_refused_unless_forced() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run");
        let r = LiveRunDir::create(&p, "train", 10, false).unwrap();
        assert_eq!(Status::read(&p).unwrap().unwrap().state, RunState::Running);
        let e = LiveRunDir::create(&p, "train", 10, false).err().unwrap();
        assert!(e.to_string().contains("--resume"), "{e}");
        r.fail(&anyhow::anyhow!("boom\nsecond line")).unwrap();
        let s = Status::read(&p).unwrap().unwrap();
        assert_eq!(s.state, RunState::Failed);
        assert_eq!(s.error.as_deref(), Some("boom second line"));
        // a failed run can be reopened, a finished one cannot
        let r = LiveRunDir::reopen(&p).unwrap();
        r.finish().unwrap();
        let e = LiveRunDir::reopen(&p).err().unwrap();
        assert!(e.to_string().contains("already finished"), "{e}");
        // --force starts over
        std::fs::write(p.join("metrics.csv"), "x").unwrap();
        let _r = LiveRunDir::create(&p, "train", 10, true).unwrap();
        assert!(!p.join("metrics.csv").exists());
        // a directory with other files is not taken
        let q = d.path().join("other");
        std::fs::create_dir_all(&q).unwrap();
        std::fs::write(q.join("notes.txt"), "x").unwrap();
        assert!(LiveRunDir::create(&q, "train", 10, true).is_err());
    }
}
