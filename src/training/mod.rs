//! The run shell: every training run — offline (`offline`), fine-tune and online
//! (`online`) — goes through one start / resume / drive path, and writes its metrics,
//! evaluations, actor snapshots, checkpoints, final policy, figures and status through
//! one [`Shell`]. The loops drive a learner only through `crate::algos::Learner`.
//!
//! - `offline.rs`: sample → update → log → evaluate → checkpoint, over a dataset;
//! - `online.rs`: act → store → update → log → evaluate → checkpoint, in an environment;
//! - `stats.rs`: the logged statistics and divergence checks;
//! - `trace.rs`: update traces for the independent reference.
pub mod offline;
pub mod online;
pub mod stats;
pub mod trace;

pub use offline::{
    default_run_dir, resume_run, resume_run_hooked, train_offline, train_run, train_run_hooked,
    train_run_in_memory, FinishedRun, OfflineRun, RowHook, TrainResult,
};
pub use online::{OnlineResult, OnlineRun};

use crate::algos::Learner;
use crate::eval::EvalResult;
use crate::formats::tensorboard::EventLog;
use crate::policy::save_policy;
use crate::run::metrics::write_lines;
use crate::run::{line_scalars, LiveRunDir, MetricsRow, RunPaths, METRICS_HEADER};
use anyhow::Result;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How a call to a loop's `run` ended.
pub enum Outcome<T> {
    /// The run reached its length (at this step).
    Finished(T, u64),
    /// A signal asked to stop; a checkpoint was written at this step.
    Interrupted(u64),
}

impl<T> Outcome<T> {
    /// The result of a run that must finish (an interruption is an error).
    pub fn finished(self) -> Result<T> {
        match self {
            Outcome::Finished(r, _) => Ok(r),
            Outcome::Interrupted(step) => Err(Interrupted { step }.into()),
        }
    }
}

/// What a loop writes into its run directory (none when it trains in memory): metrics
/// row by row, actor snapshots, checkpoints with status updates, and at the end the
/// policy, the final evaluation and the figures.
pub struct Shell<'a> {
    dir: Option<&'a mut LiveRunDir>,
    paths: Option<RunPaths>,
    /// The resolved config as JSON, stored in every policy file.
    config_json: String,
    metrics: Option<File>,
    /// The same rows as TensorBoard scalars.
    events: Option<EventLog>,
    last_checkpoint: Instant,
}

impl<'a> Shell<'a> {
    /// Open the shell over `dir` (if any). `metrics.csv` (and, with `tensorboard`, the
    /// event file) is rewritten from `metrics_lines`, so a resumed run drops rows
    /// written after its checkpoint.
    pub fn open<C: serde::Serialize>(
        dir: Option<&'a mut LiveRunDir>,
        config: &C,
        metrics_lines: &[String],
        tensorboard: bool,
    ) -> Result<Self> {
        let paths = dir.as_ref().map(|d| RunPaths::new(d.path()));
        let (mut metrics, mut events) = (None, None);
        if let Some(p) = &paths {
            std::fs::create_dir_all(p.checkpoints())?;
            metrics = Some(write_lines(&p.metrics(), METRICS_HEADER, metrics_lines)?);
            if tensorboard {
                let mut log = EventLog::create(&p.tensorboard())?;
                for line in metrics_lines {
                    let (step, values) = line_scalars(line);
                    log.scalars(step, &values)?;
                }
                events = Some(log);
            } else if p.tensorboard().exists() {
                // turned off on resume: a file with rows past the checkpoint would mislead
                std::fs::remove_file(p.tensorboard())?;
            }
        }
        Ok(Self {
            dir,
            paths,
            config_json: serde_json::to_string(config)?,
            metrics,
            events,
            last_checkpoint: Instant::now(),
        })
    }

    pub fn paths(&self) -> Option<&RunPaths> {
        self.paths.as_ref()
    }

    /// Append a metrics row to the run's lines and file.
    pub fn log(&mut self, lines: &mut Vec<String>, row: &MetricsRow) -> Result<()> {
        let line = row.csv_line();
        if let Some(f) = self.metrics.as_mut() {
            writeln!(f, "{line}")?;
        }
        if let Some(log) = self.events.as_mut() {
            let (step, values) = line_scalars(&line);
            log.scalars(step, &values)?;
        }
        lines.push(line);
        Ok(())
    }

    /// Save the actor evaluated at `step` (a behaviour policy can be picked from these
    /// at the step it reached a wanted level: recipes).
    pub fn snapshot(
        &self,
        step: u64,
        actor: &crate::nn::EnsembleMlp,
        info: &[(&str, String)],
    ) -> Result<()> {
        match &self.paths {
            Some(p) => save_policy(
                &p.actor_snapshot(step),
                actor,
                Some(&self.config_json),
                info,
            ),
            None => Ok(()),
        }
    }

    /// The end of step `step` of `total`: a checkpoint (written by `save` to `path`)
    /// when one is due — every `every.0` steps or `every.1` minutes after the last —
    /// or a signal asked to stop, else a status update every `every.2` steps. Returns
    /// whether to stop (a checkpoint is then written). Without a run directory only
    /// the signal counts.
    pub fn end_step(
        &mut self,
        step: u64,
        total: u64,
        every: (u64, f32, u64),
        path: impl Fn(&RunPaths) -> PathBuf,
        save: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<bool> {
        let (steps, minutes, log_every) = every;
        let stop = crate::run::signals::stop_requested() && step < total;
        let due = (steps > 0 && step.is_multiple_of(steps))
            || (minutes > 0.0
                && self.last_checkpoint.elapsed().as_secs_f64() >= 60.0 * minutes as f64);
        let (Some(d), Some(p)) = (self.dir.as_deref_mut(), &self.paths) else {
            return Ok(stop);
        };
        if (due || stop) && step < total {
            let path = path(p);
            let t0 = Instant::now();
            save(&path)?;
            tracing::info!(
                "checkpoint at step {step}: {:.1} MiB in {:.0} ms",
                std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0,
                1e3 * t0.elapsed().as_secs_f64()
            );
            self.last_checkpoint = Instant::now();
            d.progress(step, Some(step))?;
        } else if step.is_multiple_of(log_every) {
            d.progress(step, None)?;
        }
        Ok(stop)
    }

    /// The end of a run: the deployable policy (with `info` as metadata), the final
    /// evaluation and the learning curves over `x_label`.
    pub fn save_final(
        &self,
        learner: &dyn Learner,
        info: &[(&str, String)],
        final_eval: Option<&EvalResult>,
        metrics: &[MetricsRow],
        x_label: &str,
    ) -> Result<()> {
        let Some(p) = &self.paths else {
            return Ok(());
        };
        save_policy(&p.policy(), learner.actor(), Some(&self.config_json), info)?;
        if let Some(ev) = final_eval {
            crate::run::write_atomic(
                &p.final_eval(),
                serde_json::to_string_pretty(ev)?.as_bytes(),
            )?;
        }
        if let Err(e) = crate::plots::plot_learning_curves(&p.learning_curves(), metrics, x_label) {
            tracing::warn!("could not draw the learning-curve plot: {e}");
        }
        Ok(())
    }

    /// The resolved config as JSON text (agent files store it too).
    pub fn config_json(&self) -> &str {
        &self.config_json
    }
}

/// Run a loop in `dir` to its end and keep the directory's status: finished, failed
/// (with the error and the last good checkpoint) or interrupted (with how to resume).
/// `unit` names a step in messages ("step", "environment step").
pub fn drive<T>(
    mut dir: LiveRunDir,
    unit: &str,
    run: impl FnOnce(&mut LiveRunDir) -> Result<Outcome<T>>,
) -> Result<(T, PathBuf)> {
    crate::run::signals::install();
    let command = dir.status().command.clone();
    let path = dir.path().to_path_buf();
    match run(&mut dir) {
        Ok(Outcome::Finished(result, step)) => {
            dir.progress(step, None)?;
            Ok((result, dir.finish()?))
        }
        Ok(Outcome::Interrupted(step)) => {
            dir.interrupt(step)?;
            eprintln!(
                "interrupted at {unit} {step}; checkpoint written. Resume with: pars {command} --resume {}",
                path.display()
            );
            Err(Interrupted { step }.into())
        }
        Err(e) => {
            let last = dir.status().last_checkpoint;
            let e = match dir.fail(&e) {
                Ok(()) => e,
                Err(s) => e.context(format!(
                    "its {} could not be updated either ({s:#}); it may still say running",
                    crate::run::paths::STATUS_FILE
                )),
            };
            Err(match last {
                Some(c) if command == "train" => e.context(format!(
                    "run {} failed; its last good checkpoint is at step {c} (pars train --resume {} --set ...)",
                    path.display(),
                    path.display()
                )),
                Some(c) => e.context(format!(
                    "run {} failed; its last good checkpoint is at {unit} {c} (pars {command} --resume {})",
                    path.display(),
                    path.display()
                )),
                None => e.context(format!("run {} failed", path.display())),
            })
        }
    }
}

/// Refuse to resume a run whose status says it finished, or that is still running; a
/// run with no checkpoint yet cannot be resumed (`restart` says how to start it again).
pub fn check_resumable(dir: &Path, state: &Path, restart: &str) -> Result<()> {
    use crate::run::{RunState, Status};
    if let Some(s) = Status::read(dir)? {
        anyhow::ensure!(
            s.state != RunState::Finished,
            "run {} has already finished",
            dir.display()
        );
        s.ensure_not_running_elsewhere(dir)?;
    }
    anyhow::ensure!(
        state.is_file(),
        "run {} has no checkpoint to resume from (it stopped before its first); {restart}",
        dir.display()
    );
    Ok(())
}

/// The error of a run stopped by a signal (the binary exits with status 130).
#[derive(Debug)]
pub struct Interrupted {
    pub step: u64,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted at step {}", self.step)
    }
}

impl std::error::Error for Interrupted {}

/// Test-only fault injection: `PARS_TEST_ABORT=<point>:<n>` aborts the process (like a
/// SIGKILL: no cleanup) the n-th time it reaches `point`: `checkpoint` (leaving a
/// half-written temporary file beside the checkpoint) or `eval` (inside an
/// evaluation). The kill-and-resume tests use it to stop at exact places.
pub(crate) mod test_hooks {
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};

    static CHECKPOINTS: AtomicU64 = AtomicU64::new(0);
    static EVALS: AtomicU64 = AtomicU64::new(0);

    pub fn maybe_abort(point: &str, path: Option<&Path>) {
        let Ok(spec) = std::env::var("PARS_TEST_ABORT") else {
            return;
        };
        let Some((p, n)) = spec.split_once(':') else {
            return;
        };
        if p != point {
            return;
        }
        let counter = if point == "checkpoint" {
            &CHECKPOINTS
        } else {
            &EVALS
        };
        let k = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if n.parse::<u64>().ok() == Some(k) {
            if let Some(path) = path {
                if let Ok(tmp) = crate::run::temp_sibling(path) {
                    let _ = std::fs::write(tmp, b"PARSCKP1 half-written");
                }
            }
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose process is alive is "still running", with or without a checkpoint.
    #[test]
    fn a_live_run_is_still_running_whether_or_not_it_has_a_checkpoint() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("run");
        drop(LiveRunDir::create(&dir, "train", 10, false).unwrap());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let p = RunPaths::new(&dir);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.status()).unwrap()).unwrap();
        v["state"] = "running".into();
        v["pid"] = child.id().into();
        std::fs::write(p.status(), v.to_string()).unwrap();
        let state = p.train_state();
        let e = check_resumable(&dir, &state, "start it again").unwrap_err();
        assert!(e.to_string().contains("still running"), "{e}");
        std::fs::write(&state, b"x").unwrap();
        let e = check_resumable(&dir, &state, "start it again").unwrap_err();
        assert!(e.to_string().contains("still running"), "{e}");
        child.kill().unwrap();
        child.wait().unwrap();
        // once the process is gone, a run without a checkpoint says so
        std::fs::remove_file(&state).unwrap();
        let e = check_resumable(&dir, &state, "start it again").unwrap_err();
        assert!(e.to_string().contains("no checkpoint"), "{e}");
    }
}
