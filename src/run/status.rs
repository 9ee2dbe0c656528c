//! `status.json`: what a run directory is doing, readable while the run goes on (by
//! `pars train --resume`, sweeps and reports, or a user with `cat`).
use super::write_atomic;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use super::paths::STATUS_FILE;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Finished,
    Failed,
    /// Stopped by SIGINT/SIGTERM after writing a checkpoint.
    Interrupted,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: RunState,
    /// `train`, `finetune` or `online`.
    pub command: String,
    /// Steps done (gradient steps offline, environment steps online).
    pub step: u64,
    pub total_steps: u64,
    /// Step of the last complete checkpoint, if any.
    pub last_checkpoint: Option<u64>,
    /// One-line error of a failed run.
    pub error: Option<String>,
    /// Process that wrote this status (a `running` run whose process is gone was killed).
    pub pid: u32,
    /// Seconds since the Unix epoch of this write.
    pub updated: u64,
}

impl Status {
    pub fn new(command: &str, total_steps: u64) -> Self {
        Status {
            state: RunState::Running,
            command: command.into(),
            step: 0,
            total_steps,
            last_checkpoint: None,
            error: None,
            pid: std::process::id(),
            updated: 0,
        }
    }

    /// Write `status.json` into `dir` atomically.
    pub fn write(&mut self, dir: &Path) -> Result<()> {
        self.pid = std::process::id();
        self.updated = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        write_atomic(
            &dir.join(STATUS_FILE),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }

    /// The status of the run in `dir`, `None` when it has no status file.
    pub fn read(dir: &Path) -> Result<Option<Status>> {
        let p = dir.join(STATUS_FILE);
        if !p.is_file() {
            return Ok(None);
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        let s = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a run status file", p.display()))?;
        Ok(Some(s))
    }

    /// Note in `dir`'s status (if it has one) that a checkpoint at `step` is complete.
    pub fn record_checkpoint(dir: &Path, step: u64) -> Result<()> {
        if let Some(mut s) = Status::read(dir)? {
            s.step = step;
            s.last_checkpoint = Some(step);
            s.write(dir)?;
        }
        Ok(())
    }

    /// Whether the process that wrote this status is still alive (same machine).
    pub fn process_alive(&self) -> bool {
        pid_alive(self.pid)
    }

    /// A `running` status whose process is gone: the run was killed. `local` says
    /// whether it was written on this machine; a process elsewhere cannot be checked,
    /// so it counts as alive.
    pub fn was_killed(&self, local: bool) -> bool {
        self.state == RunState::Running && local && !self.process_alive()
    }

    /// Fails when another live process is still running the run in `dir`.
    pub fn ensure_not_running_elsewhere(&self, dir: &Path) -> Result<()> {
        anyhow::ensure!(
            !(self.state == RunState::Running
                && self.pid != std::process::id()
                && self.process_alive()),
            "run {} is still running (process {}); stop it first",
            dir.display(),
            self.pid
        );
        Ok(())
    }
}

/// Whether process `pid` exists on this machine.
pub fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        // signal 0 checks existence without sending anything; pid 0 would mean our group
        pid > 0 && unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_and_names_its_state_in_lowercase() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(Status::read(d.path()).unwrap(), None);
        let mut s = Status::new("train", 100);
        s.step = 40;
        s.last_checkpoint = Some(40);
        s.state = RunState::Interrupted;
        s.write(d.path()).unwrap();
        let text = std::fs::read_to_string(d.path().join(STATUS_FILE)).unwrap();
        assert!(text.contains("\"state\": \"interrupted\""), "{text}");
        let back = Status::read(d.path()).unwrap().unwrap();
        assert_eq!(back, s);
        assert!(back.process_alive());
        std::fs::write(d.path().join(STATUS_FILE), "{").unwrap();
        assert!(Status::read(d.path()).is_err());
    }

    /// Only a `running` status on this machine whose process is gone counts as killed;
    /// a live holder other than us blocks a resume.
    #[test]
    fn a_running_status_with_a_dead_process_was_killed() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Status::new("train", 100);
        assert!(!s.was_killed(true), "our own process is alive");
        s.ensure_not_running_elsewhere(d.path()).unwrap();
        // a child that has exited and been reaped: its pid is free
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        s.pid = dead;
        assert!(!pid_alive(dead));
        assert!(s.was_killed(true));
        assert!(
            !s.was_killed(false),
            "a process elsewhere cannot be checked"
        );
        s.ensure_not_running_elsewhere(d.path()).unwrap();
        s.state = RunState::Interrupted;
        assert!(!s.was_killed(true));
        assert!(!pid_alive(0));
        // a live process that is not us (our parent) holds the run
        let mut held = Status::new("train", 100);
        held.pid = std::os::unix::process::parent_id();
        let err = held.ensure_not_running_elsewhere(d.path()).unwrap_err();
        assert!(err.to_string().contains("still running"), "{err}");
    }
}
