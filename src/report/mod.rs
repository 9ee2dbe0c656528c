//! `pars report`: gather finished offline runs (sweeps and single runs alike), group
//! them by dataset × variant, and summarise each group's normalised score over seeds
//! as a Markdown table in the style of the paper's Table 2, as CSV and JSON, and as
//! one learning-curve figure per dataset (mean ± std bands over seeds).
//!
//! Grouping labels come from `cell.json` (sweep cells); a run from `pars train` is
//! labelled by the stem of its dataset file and its config's `algo`. Runs of one group
//! must agree on every setting but the seed (and on the dataset size); otherwise the
//! report refuses, or with `split` reports each configuration as its own row.
//!
//! The work is split by job: `discover` finds and reads runs, `group` groups and
//! summarises them, `table` renders Markdown and CSV, `figures` draws the curves, and
//! `metric` says which evaluation counts.
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

mod discover;
mod figures;
mod group;
mod metric;
mod table;

pub use discover::{find_runs, read_run, RunInfo};
pub use figures::plot_report;
pub use group::{build_report, domain, GroupReport, Report, TotalReport};
pub use metric::{Metric, DEFAULT_LAST_K};

/// Everything `pars report` writes: `report.md`, `report.csv`, `report.json` and the
/// figures, into `out`. Returns the Markdown and the figure paths.
pub fn write_report(report: &Report, metric: Metric, out: &Path) -> Result<(String, Vec<PathBuf>)> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let md = report.markdown(metric);
    crate::run::write_atomic(&out.join("report.md"), md.as_bytes())?;
    crate::run::write_atomic(&out.join("report.csv"), report.csv().as_bytes())?;
    crate::run::write_atomic(
        &out.join("report.json"),
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;
    let figs = plot_report(report, out)?;
    Ok((md, figs))
}
