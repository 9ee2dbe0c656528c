//! The local backend: a pool of `jobs` processes, each running one cell
//! (`pars sweep run-cell`) with `threads` threads, a live progress line, and a clean
//! stop on Ctrl-C / SIGTERM (forwarded to the cells, which record themselves as
//! interrupted; a second signal kills them).
use super::cell::{now_secs, progress_step};
use super::{Cell, SweepDir};
use crate::run::eta_text;
use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Exit status of `pars sweep run-cell` when another process is running the cell.
pub const BUSY_EXIT: i32 = 75;

pub struct LocalOptions {
    /// Cells run at once.
    pub jobs: usize,
    /// Threads of each cell's process (`RAYON_NUM_THREADS`).
    pub threads: usize,
    /// The `pars` executable the cells run.
    pub exe: PathBuf,
    /// Progress line (on a terminal) and one line per finished cell.
    pub show: bool,
}

/// How the cells of one local sweep ended.
#[derive(Debug, Default)]
pub struct LocalSummary {
    pub finished: Vec<String>,
    /// (cell, one-line error)
    pub failed: Vec<(String, String)>,
    pub interrupted: Vec<String>,
    /// Cells another process was already running.
    pub busy: Vec<String>,
    /// The sweep was stopped by a signal.
    pub stopped: bool,
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

fn install_signal_counter() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // only an atomic increment runs in the handler (async-signal-safe)
            let _ = unsafe {
                signal_hook::low_level::register(sig, || {
                    SIGNALS.fetch_add(1, Ordering::SeqCst);
                })
            };
        }
    });
}

struct Running {
    cell: Cell,
    child: Child,
}

fn spawn(sweep: &SweepDir, cell: &Cell, opts: &LocalOptions) -> Result<Child> {
    let log_path = sweep.log_path(&cell.name);
    std::fs::create_dir_all(log_path.parent().unwrap())?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    writeln!(
        log,
        "--- pars sweep run-cell {} (local, {} thread(s), started {})",
        cell.name,
        opts.threads,
        now_secs()
    )?;
    let err = log.try_clone()?;
    use std::os::unix::process::CommandExt;
    let child = Command::new(&opts.exe)
        .args(["--quiet", "sweep", "run-cell"])
        .arg(&sweep.path)
        .arg(&cell.name)
        .env("RAYON_NUM_THREADS", opts.threads.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        // its own process group: a Ctrl-C reaches the pool only, which forwards it once
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", opts.exe.display()))?;
    Ok(child)
}

/// The one-line error of a failed cell: the sweep's record, else the log's last line.
fn failure_text(sweep: &SweepDir, name: &str, status: std::process::ExitStatus) -> String {
    if let Some(e) =
        sweep
            .read_record(name)
            .and_then(|r| if r.state == "failed" { r.error } else { None })
    {
        return e;
    }
    let last = std::fs::read_to_string(sweep.log_path(name))
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty() && !l.starts_with("--- "))
                .map(|l| l.trim_start_matches("error: ").to_string())
        });
    match last {
        Some(l) => l,
        None => format!("the cell's process ended with {status}"),
    }
}

fn signal_children(running: &[Running], sig: libc::c_int) {
    for r in running {
        unsafe {
            libc::kill(r.child.id() as libc::pid_t, sig);
        }
    }
}

/// Run `cells` of `sweep` with a pool of processes; returns when all have ended (or
/// the pool was stopped by a signal and the running cells have stopped).
pub fn run_local(sweep: &SweepDir, cells: &[Cell], opts: &LocalOptions) -> Result<LocalSummary> {
    install_signal_counter();
    let jobs = opts.jobs.max(1);
    let total_steps: u64 = cells.iter().map(|c| c.config.steps).sum();
    let pb = if opts.show {
        indicatif::ProgressBar::new(total_steps.max(1))
    } else {
        indicatif::ProgressBar::hidden()
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix("sweep");
    let say = |line: String| {
        if opts.show {
            pb.suspend(|| println!("{line}"));
        }
    };
    let mut queue: VecDeque<Cell> = cells.iter().cloned().collect();
    let mut running: Vec<Running> = Vec::new();
    let mut sum = LocalSummary::default();
    let mut handled_signals = 0;
    let mut done_steps = 0u64;
    let start = Instant::now();
    let mut last_poll = Instant::now() - Duration::from_secs(10);
    let mut running_steps = 0u64;
    let n = cells.len();
    loop {
        let sig = SIGNALS.load(Ordering::SeqCst);
        if sig > handled_signals {
            if handled_signals == 0 {
                sum.stopped = true;
                say(format!(
                    "stopping: waiting for {} running cell(s) to stop (a second Ctrl-C kills them)",
                    running.len()
                ));
                signal_children(&running, libc::SIGTERM);
            } else {
                signal_children(&running, libc::SIGKILL);
            }
            handled_signals = sig;
        }
        while running.len() < jobs && !sum.stopped {
            let Some(cell) = queue.pop_front() else { break };
            match spawn(sweep, &cell, opts) {
                Ok(child) => running.push(Running { cell, child }),
                Err(e) => {
                    let msg = format!("{e:#}");
                    say(format!("failed {}: {msg}", cell.name));
                    sum.failed.push((cell.name.clone(), msg));
                }
            }
        }
        let mut i = 0;
        while i < running.len() {
            match running[i].child.try_wait()? {
                None => i += 1,
                Some(status) => {
                    let r = running.swap_remove(i);
                    let name = r.cell.name.clone();
                    match status.code() {
                        Some(0) => {
                            done_steps += r.cell.config.steps;
                            sum.finished.push(name.clone());
                            say(format!(
                                "done {name} ({}/{n})",
                                sum.finished.len() + sum.failed.len()
                            ));
                        }
                        Some(BUSY_EXIT) => {
                            say(format!("skipped {name}: another process is running it"));
                            sum.busy.push(name);
                        }
                        Some(crate::run::signals::INTERRUPTED_EXIT) => {
                            say(format!("interrupted {name}"));
                            sum.interrupted.push(name);
                        }
                        _ if sum.stopped && status.code().is_none() => {
                            say(format!("interrupted {name}"));
                            sum.interrupted.push(name);
                        }
                        _ => {
                            let msg = failure_text(sweep, &name, status);
                            say(format!("failed {name}: {msg}"));
                            sum.failed.push((name, msg));
                        }
                    }
                    // count the cell's steps now rather than at the next poll
                    last_poll = Instant::now() - Duration::from_secs(10);
                }
            }
        }
        if running.is_empty() && (queue.is_empty() || sum.stopped) {
            break;
        }
        if last_poll.elapsed() >= Duration::from_secs(1) {
            last_poll = Instant::now();
            running_steps = running
                .iter()
                .map(|r| progress_step(&sweep.cell_dir(&r.cell)).unwrap_or(0))
                .sum();
        }
        let pos = done_steps + running_steps;
        pb.set_position(pos);
        pb.set_message(format!(
            "{}/{n} done, {} running, {} failed, eta {}",
            sum.finished.len(),
            running.len(),
            sum.failed.len(),
            eta_text(
                pos,
                total_steps.saturating_sub(pos),
                start.elapsed().as_secs_f64()
            )
        ));
        std::thread::sleep(Duration::from_millis(100));
    }
    pb.finish_and_clear();
    Ok(sum)
}
