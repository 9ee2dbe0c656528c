//! `pars report DIR...`: a paper-style table of finished offline runs.
use super::common::Output;
use crate::report::{build_report, find_runs, read_run, write_report, Metric};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Run directories, sweep directories, or directories holding runs (searched
    /// recursively), in any mix.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Score of a run: final (last evaluation), best, last-k (mean of the last 5
    /// evaluations) or last-N.
    #[arg(long, default_value = "final")]
    pub metric: Metric,
    /// Report runs of one dataset × variant with different settings as separate
    /// rows instead of refusing.
    #[arg(long)]
    pub split: bool,
    /// Where report.md, report.csv, report.json and the figures go (default
    /// DIR/report for a single directory of runs, else runs/report).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: ReportArgs, out: &Output) -> Result<()> {
    let mut notes = Vec::new();
    let dirs = find_runs(&a.dirs, &mut notes)?;
    for n in &notes {
        eprintln!("note: {n}");
    }
    let runs = dirs
        .iter()
        .map(|d| read_run(d))
        .collect::<Result<Vec<_>>>()?;
    let report = build_report(&runs, a.metric, a.split)?;
    let dest = match &a.out {
        Some(o) => o.clone(),
        None if a.dirs.len() == 1 && !crate::run::RunPaths::new(&a.dirs[0]).is_offline_run() => {
            a.dirs[0].join("report")
        }
        None => PathBuf::from("runs").join("report"),
    };
    let (md, figs) = write_report(&report, a.metric, &dest)?;
    print!("{md}");
    if !out.quiet {
        println!(
            "\n{} runs in {} groups; wrote report.md, report.csv, report.json and {} figure(s) to {}",
            runs.len(),
            report.groups.len(),
            figs.len(),
            dest.display()
        );
    }
    Ok(())
}
