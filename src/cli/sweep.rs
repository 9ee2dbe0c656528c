//! `pars sweep GRID.toml` (run a grid locally or submit it to SLURM),
//! `pars sweep status DIR`, and the hidden `pars sweep run-cell DIR CELL` that both
//! backends start for each cell.
use super::common::Output;
use crate::sweep::local::{run_local, LocalOptions, BUSY_EXIT};
use crate::sweep::slurm::{self, SlurmOptions};
use crate::sweep::{
    cell_state, parse_grid, run_cell, validate_inputs, Cell, CellOutcome, CellState, SweepDir,
};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// Grid file: datasets, variants, seeds and shared settings (see docs/sweeps.md).
    #[arg(required = true)]
    pub grid: Option<PathBuf>,
    /// Sweep directory (default runs/<grid name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the cells run: a pool of local processes, or a SLURM job array.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Cells run at once (local backend; default: the CPUs divided by --threads).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Threads of each cell (default 1: on the development machine two 1-thread runs
    /// train faster in total than one 2-thread run; see docs/sweeps.md).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Validate the grid and list its cells with their state; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub slurm: SlurmFlags,
}

#[derive(Args, Debug, Default)]
pub struct SlurmFlags {
    /// SLURM partition (default: the cluster's default).
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of each array task, e.g. 04:00:00 (default: the partition's).
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per array task (default: --threads).
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// Extra #SBATCH line, e.g. --sbatch=--mem=8G or --sbatch '--account=abc' (repeatable).
    #[arg(long = "sbatch", value_name = "LINE", allow_hyphen_values = true)]
    pub sbatch: Vec<String>,
    /// Seconds before the time limit at which SLURM sends SIGTERM to a cell.
    #[arg(long, default_value_t = 120)]
    pub signal_secs: u32,
    /// Most array tasks running at once.
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// The pars executable the tasks run (default: this one; it must exist at the
    /// same path on the compute nodes).
    #[arg(long)]
    pub pars_bin: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Local,
    Slurm,
}

#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// Show done / running / queued / pending / failed per cell of a sweep directory.
    Status {
        dir: PathBuf,
        /// Wait until no cell is running or queued, printing a line at each change.
        #[arg(long)]
        wait: bool,
    },
    /// Run one cell (what the backends start; by name or index).
    #[command(hide = true)]
    RunCell { dir: PathBuf, cell: String },
}

pub fn run(a: SweepArgs, out: &Output) -> Result<()> {
    match a.command {
        Some(SweepCommand::Status { dir, wait }) => status(&dir, wait),
        Some(SweepCommand::RunCell { dir, cell }) => run_one(&dir, &cell, out),
        None => start(a, out),
    }
}

fn run_one(dir: &Path, which: &str, out: &Output) -> Result<()> {
    let sweep = SweepDir::new(dir);
    let cell = sweep.cell(which)?;
    match run_cell(&sweep, &cell, out.progress())? {
        CellOutcome::Finished => {
            if !out.quiet {
                println!("{}: finished", cell.name);
            }
        }
        CellOutcome::AlreadyDone => {
            if !out.quiet {
                println!("{}: already finished", cell.name);
            }
        }
        CellOutcome::Busy => {
            eprintln!("{}: another process is running this cell", cell.name);
            std::process::exit(BUSY_EXIT);
        }
        CellOutcome::Interrupted => {
            eprintln!(
                "{}: interrupted; the next `pars sweep` continues it",
                cell.name
            );
            std::process::exit(crate::run::signals::INTERRUPTED_EXIT);
        }
    }
    Ok(())
}

/// The state of every cell, with the SLURM queue's view where the sweep was submitted.
fn states(sweep: &SweepDir, cells: &[Cell]) -> Vec<CellState> {
    let q = slurm::query(sweep);
    cells
        .iter()
        .map(|c| slurm::merge(sweep, c, cell_state(sweep, c), q.get(&c.name)))
        .collect()
}

fn counts(st: &[CellState]) -> String {
    let n = |w: &str| st.iter().filter(|s| s.word() == w).count();
    let mut parts = vec![
        format!("{} done", n("done")),
        format!("{} running", n("running")),
    ];
    if n("queued") > 0 {
        parts.push(format!("{} queued", n("queued")));
    }
    parts.push(format!("{} pending", n("pending")));
    if n("interrupted") > 0 {
        parts.push(format!("{} interrupted", n("interrupted")));
    }
    parts.push(format!("{} failed", n("failed")));
    parts.join(", ")
}

fn final_score(dir: &Path) -> Option<f64> {
    let t = std::fs::read_to_string(crate::run::RunPaths::new(dir).final_eval()).ok()?;
    let v: serde_json::Value = serde_json::from_str(&t).ok()?;
    v.get("mean_score")?.as_f64()
}

fn print_table(sweep: &SweepDir, cells: &[Cell], st: &[CellState]) {
    let w = cells.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
    println!("{:<w$}  {:<11}  {:>13}  detail", "cell", "state", "steps");
    for (c, s) in cells.iter().zip(st) {
        let total = c.config.steps;
        let (steps, detail) = match s {
            CellState::Done => (
                format!("{total}/{total}"),
                final_score(&sweep.cell_dir(c))
                    .map(|x| format!("score {x:.1}"))
                    .unwrap_or_default(),
            ),
            CellState::Running { step } => (
                step.map(|x| format!("{x}/{total}")).unwrap_or_default(),
                String::new(),
            ),
            CellState::Queued { reason } => (String::new(), reason.clone()),
            CellState::Interrupted { step, note } => (
                step.map(|x| format!("{x}/{total}")).unwrap_or_default(),
                note.clone(),
            ),
            CellState::Failed { error } => (String::new(), error.clone()),
            CellState::Pending => (String::new(), String::new()),
        };
        println!("{:<w$}  {:<11}  {:>13}  {detail}", c.name, s.word(), steps);
    }
}

fn status(dir: &Path, wait: bool) -> Result<()> {
    let sweep = SweepDir::new(dir);
    let f = sweep.load()?;
    let backend = if slurm::read_jobs(&sweep).is_empty() {
        "local".to_string()
    } else {
        let jobs = slurm::read_jobs(&sweep);
        format!(
            "slurm, job{} {}",
            if jobs.len() > 1 { "s" } else { "" },
            jobs.iter()
                .map(|j| j.job_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut last = String::new();
    loop {
        let st = states(&sweep, &f.cells);
        let line = counts(&st);
        let active = st
            .iter()
            .any(|s| matches!(s, CellState::Running { .. } | CellState::Queued { .. }));
        if !wait || !active {
            println!(
                "sweep {} ({}, {} cells): {line}",
                f.name,
                backend,
                f.cells.len()
            );
            print_table(&sweep, &f.cells, &st);
            return Ok(());
        }
        if line != last {
            println!("{line}");
            last = line;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

fn start(a: SweepArgs, out: &Output) -> Result<()> {
    let grid_path = a.grid.clone().expect("clap requires the grid");
    let grid = parse_grid(&grid_path)?;
    validate_inputs(&grid.cells)?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&grid.name));
    let sweep = SweepDir::new(&dir);
    let st = states(&sweep, &grid.cells);
    if a.dry_run {
        println!(
            "sweep {} in {}: {} cells ({}); nothing run (--dry-run)",
            grid.name,
            dir.display(),
            grid.cells.len(),
            counts(&st)
        );
        print_table(&sweep, &grid.cells, &st);
        return Ok(());
    }
    anyhow::ensure!(a.threads > 0, "option --threads must be positive");
    sweep.prepare(&grid, &grid_path)?;
    let todo: Vec<Cell> = grid
        .cells
        .iter()
        .zip(&st)
        .filter(|(_, s)| s.needs_run())
        .map(|(c, _)| c.clone())
        .collect();
    let n = grid.cells.len();
    let skipped = st.iter().filter(|s| **s == CellState::Done).count();
    let busy = st
        .iter()
        .filter(|s| matches!(s, CellState::Running { .. } | CellState::Queued { .. }))
        .count();
    if !out.quiet {
        println!(
            "sweep {} in {}: {n} cells, {skipped} already done, {busy} running or queued elsewhere, {} to run",
            grid.name,
            dir.display(),
            todo.len()
        );
    }
    let exe = match &a.slurm.pars_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find the pars executable")?,
    };
    match a.backend {
        Backend::Local => {
            if todo.is_empty() {
                return Ok(());
            }
            let cpus = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            let jobs = a.jobs.unwrap_or((cpus / a.threads).max(1));
            if !out.quiet {
                println!(
                    "local pool: {jobs} cell(s) at once, {} thread(s) each",
                    a.threads
                );
            }
            let sum = run_local(
                &sweep,
                &todo,
                &LocalOptions {
                    jobs,
                    threads: a.threads,
                    exe,
                    show: !out.quiet,
                },
            )?;
            if !out.quiet {
                println!(
                    "{} finished, {} failed{}{}",
                    sum.finished.len(),
                    sum.failed.len(),
                    if sum.interrupted.is_empty() {
                        String::new()
                    } else {
                        format!(", {} interrupted", sum.interrupted.len())
                    },
                    if sum.busy.is_empty() {
                        String::new()
                    } else {
                        format!(", {} run by another process", sum.busy.len())
                    }
                );
            }
            for (c, e) in &sum.failed {
                eprintln!("failed {c}: {e}");
            }
            if sum.stopped {
                eprintln!(
                    "sweep stopped; run the same command again to continue ({} cells left)",
                    todo.len() - sum.finished.len()
                );
                std::process::exit(crate::run::signals::INTERRUPTED_EXIT);
            }
            if !sum.failed.is_empty() {
                bail!(
                    "{} of {} cells failed (listed above; logs in {}); `pars sweep status {}` shows them",
                    sum.failed.len(),
                    todo.len(),
                    sweep.path.join("logs").display(),
                    dir.display()
                );
            }
            if !out.quiet {
                println!("report: pars report {}", dir.display());
            }
            Ok(())
        }
        Backend::Slurm => {
            if todo.is_empty() {
                return Ok(());
            }
            let cells: Vec<&Cell> = todo.iter().collect();
            if slurm::local_only_path(&sweep.path) {
                tracing::warn!(
                    "the sweep directory {} is under /tmp: compute nodes other than this machine cannot see it",
                    sweep.path.display()
                );
            }
            let o = SlurmOptions {
                partition: a.slurm.partition.clone(),
                time: a.slurm.time.clone(),
                cpus_per_task: a.slurm.cpus_per_task.unwrap_or(a.threads),
                threads: a.threads,
                extra: a.slurm.sbatch.clone(),
                signal_secs: a.slurm.signal_secs,
                max_parallel: a.slurm.max_parallel,
                exe,
            };
            let job = slurm::submit(&sweep, &grid.name, &cells, &o)?;
            if !out.quiet {
                println!(
                    "submitted SLURM job {} ({} array tasks, script {}); follow it with `pars sweep status {}`",
                    job.job_id,
                    cells.len(),
                    job.script,
                    dir.display()
                );
            }
            Ok(())
        }
    }
}
