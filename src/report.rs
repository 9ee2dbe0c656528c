//! `pars report`: gather finished offline runs (sweeps and single runs alike), group
//! them by dataset × variant, and summarise each group's normalised score over seeds
//! as a Markdown table in the style of the paper's Table 2, as CSV and JSON, and as
//! one learning-curve figure per dataset (mean ± std bands over seeds).
//!
//! Grouping labels come from `cell.json` (sweep cells); a run from `pars train` is
//! labelled by the stem of its dataset file and its config's `algo`. Runs of one group
//! must agree on every setting but the seed (and on the dataset size); otherwise the
//! report refuses, or with `split` reports each configuration as its own row.
use crate::algos::config::TrainConfig;
use crate::plots::{plot_bands, Band};
use crate::sweep::{cell::run_finished, flatten_config, CellInfo, SweepDir, CELL_FILE};
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Which evaluation of a run counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// The last evaluation (at the final step).
    Final,
    /// The best evaluation during training.
    Best,
    /// The mean of the last k evaluations.
    LastK(usize),
}

pub const DEFAULT_LAST_K: usize = 5;

impl std::str::FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "final" => Ok(Metric::Final),
            "best" => Ok(Metric::Best),
            "last-k" => Ok(Metric::LastK(DEFAULT_LAST_K)),
            _ => match s
                .strip_prefix("last-")
                .and_then(|k| k.parse::<usize>().ok())
            {
                Some(k) if k > 0 => Ok(Metric::LastK(k)),
                _ => Err(format!(
                    "unknown metric '{s}': use final, best, last-k (k = {DEFAULT_LAST_K}) or last-N"
                )),
            },
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Metric::Final => write!(f, "final"),
            Metric::Best => write!(f, "best"),
            Metric::LastK(k) => write!(f, "last-{k}"),
        }
    }
}

impl Metric {
    fn describe(&self) -> String {
        match self {
            Metric::Final => "final evaluation".into(),
            Metric::Best => "best evaluation during training".into(),
            Metric::LastK(k) => format!("mean of the last {k} evaluations"),
        }
    }

    /// The value of a run's evaluations (step, score), oldest first, non-empty.
    pub fn of(&self, evals: &[(u64, f64)]) -> f64 {
        match self {
            Metric::Final => evals.last().map(|e| e.1).unwrap_or(f64::NAN),
            Metric::Best => evals.iter().map(|e| e.1).fold(f64::NEG_INFINITY, f64::max),
            Metric::LastK(k) => {
                let tail = &evals[evals.len().saturating_sub(*k)..];
                tail.iter().map(|e| e.1).sum::<f64>() / tail.len() as f64
            }
        }
    }
}

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
    d.join("config.toml").is_file()
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
    let cfg_path = dir.join("config.toml");
    let text = std::fs::read_to_string(&cfg_path)
        .with_context(|| format!("cannot read {}", cfg_path.display()))?;
    let cfg: TrainConfig = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not an offline training configuration",
            cfg_path.display()
        )
    })?;
    let dataset_json: Option<serde_json::Value> = std::fs::read_to_string(dir.join("dataset.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let cell: Option<CellInfo> = std::fs::read_to_string(dir.join(CELL_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let (dataset, variant, seed) = match cell {
        Some(c) => (c.dataset, c.variant, c.seed),
        None => {
            let stem = dataset_json
                .as_ref()
                .and_then(|v| v.get("path")?.as_str().map(PathBuf::from))
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
                .with_context(|| {
                    format!(
                        "run {} has neither cell.json nor dataset.json: cannot tell its dataset",
                        dir.display()
                    )
                })?;
            (stem, cfg.algo.clone(), cfg.seed)
        }
    };
    let mpath = dir.join("metrics.csv");
    ensure!(
        mpath.is_file(),
        "run {} has no metrics.csv: its scores are missing",
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
    if let Some(n) = dataset_json
        .as_ref()
        .and_then(|v| v.get("transitions")?.as_u64())
    {
        settings.insert("dataset.transitions".into(), n.to_string());
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

/// One row of the report: a dataset × variant over its seeds.
#[derive(Clone, Debug, Serialize)]
pub struct GroupReport {
    pub domain: String,
    pub dataset: String,
    pub variant: String,
    pub env: Option<String>,
    pub steps: u64,
    pub n_seeds: usize,
    pub seeds: Vec<u64>,
    /// The metric of each run, in `seeds` order.
    pub scores: Vec<f64>,
    pub mean: f64,
    /// Standard deviation over seeds (population: divided by n).
    pub std: f64,
    pub runs: Vec<String>,
    /// (step, mean, std, runs) of the evaluations over seeds.
    pub curve: Vec<(u64, f64, f64, usize)>,
}

/// The sum of a variant's means over the datasets of a domain (`None` when the
/// variant lacks one of them).
#[derive(Clone, Debug, Serialize)]
pub struct TotalReport {
    pub domain: String,
    pub variant: String,
    pub total: Option<f64>,
    pub datasets: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub metric: String,
    pub groups: Vec<GroupReport>,
    pub totals: Vec<TotalReport>,
}

/// The benchmark family of an environment id (rows of a total).
pub fn domain(env: Option<&str>) -> String {
    let Some(env) = env else {
        return "no environment".into();
    };
    let base = env.split('-').next().unwrap_or(env).to_ascii_lowercase();
    match base.as_str() {
        "antmaze" => "AntMaze".into(),
        "halfcheetah" | "hopper" | "walker2d" => "MuJoCo".into(),
        "pen" | "door" | "hammer" | "relocate" => "Adroit".into(),
        "pointmaze" => "PointMaze".into(),
        _ => base,
    }
}

fn short(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| p.display().to_string())
}

/// Group runs by dataset × variant (in order of first appearance) and summarise.
pub fn build_report(runs: &[RunInfo], metric: Metric, split: bool) -> Result<Report> {
    ensure!(!runs.is_empty(), "no runs to report");
    let mut order: Vec<(String, String)> = Vec::new();
    let mut by: BTreeMap<(String, String), Vec<&RunInfo>> = BTreeMap::new();
    for r in runs {
        let k = (r.dataset.clone(), r.variant.clone());
        if !by.contains_key(&k) {
            order.push(k.clone());
        }
        by.entry(k).or_default().push(r);
    }
    let mut groups = Vec::new();
    for k in &order {
        let members = &by[k];
        // partition by settings
        let mut parts: Vec<(BTreeMap<String, String>, Vec<&RunInfo>)> = Vec::new();
        for r in members {
            match parts.iter_mut().find(|(s, _)| *s == r.settings) {
                Some((_, v)) => v.push(r),
                None => parts.push((r.settings.clone(), vec![r])),
            }
        }
        // keys whose values differ within the group
        let differing: Vec<String> = {
            let mut keys: std::collections::BTreeSet<String> = Default::default();
            for (s, _) in &parts {
                keys.extend(s.keys().cloned());
            }
            keys.into_iter()
                .filter(|key| {
                    let first = parts[0].0.get(key);
                    parts.iter().any(|(s, _)| s.get(key) != first)
                })
                .collect()
        };
        if parts.len() > 1 && !split {
            let mut msg = format!("dataset {}, variant {}: the runs differ in", k.0, k.1);
            for key in &differing {
                let vals: Vec<String> = parts
                    .iter()
                    .map(|(s, rs)| {
                        format!(
                            "{} ({})",
                            s.get(key).map(String::as_str).unwrap_or("unset"),
                            rs.iter()
                                .map(|r| short(&r.dir))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                    .collect();
                let _ = write!(msg, " {key}: {};", vals.join(" vs "));
            }
            msg.push_str(" averaging them would mix configurations: pass only comparable runs, or --split to report each configuration as its own row");
            bail!(msg);
        }
        for (settings, rs) in &parts {
            let variant = if parts.len() > 1 {
                let tag: Vec<String> = differing
                    .iter()
                    .map(|key| {
                        format!(
                            "{}={}",
                            key.trim_start_matches("agent."),
                            settings.get(key).map(String::as_str).unwrap_or("unset")
                        )
                    })
                    .collect();
                format!("{} [{}]", k.1, tag.join(", "))
            } else {
                k.1.clone()
            };
            let mut rs: Vec<&RunInfo> = rs.clone();
            rs.sort_by_key(|r| r.seed);
            for w in rs.windows(2) {
                ensure!(
                    w[0].seed != w[1].seed,
                    "dataset {}, variant {}: seed {} appears twice ({} and {}); identical runs would be counted twice",
                    k.0,
                    variant,
                    w[0].seed,
                    w[0].dir.display(),
                    w[1].dir.display()
                );
            }
            let scores: Vec<f64> = rs.iter().map(|r| metric.of(&r.evals)).collect();
            let (mean, std) = crate::eval::mean_std(&scores);
            let mut steps: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
            for r in &rs {
                for (s, y) in &r.evals {
                    steps.entry(*s).or_default().push(*y);
                }
            }
            let curve = steps
                .into_iter()
                .map(|(s, ys)| {
                    let (m, sd) = crate::eval::mean_std(&ys);
                    (s, m, sd, ys.len())
                })
                .collect();
            groups.push(GroupReport {
                domain: domain(rs[0].env.as_deref()),
                dataset: k.0.clone(),
                variant,
                env: rs[0].env.clone(),
                steps: rs[0].steps,
                n_seeds: rs.len(),
                seeds: rs.iter().map(|r| r.seed).collect(),
                scores,
                mean,
                std,
                runs: rs.iter().map(|r| r.dir.display().to_string()).collect(),
                curve,
            });
        }
    }
    // totals per domain and variant
    let mut totals = Vec::new();
    for dom in unique(groups.iter().map(|g| g.domain.clone())) {
        let datasets = unique(
            groups
                .iter()
                .filter(|g| g.domain == dom)
                .map(|g| g.dataset.clone()),
        );
        for v in unique(
            groups
                .iter()
                .filter(|g| g.domain == dom)
                .map(|g| g.variant.clone()),
        ) {
            let means: Vec<f64> = groups
                .iter()
                .filter(|g| g.domain == dom && g.variant == v)
                .map(|g| g.mean)
                .collect();
            totals.push(TotalReport {
                domain: dom.clone(),
                variant: v,
                total: (means.len() == datasets.len()).then(|| means.iter().sum()),
                datasets: datasets.len(),
            });
        }
    }
    Ok(Report {
        metric: metric.to_string(),
        groups,
        totals,
    })
}

fn unique(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

impl Report {
    fn variants(&self) -> Vec<String> {
        unique(self.groups.iter().map(|g| g.variant.clone()))
    }

    /// The Markdown table: one row per dataset, one column per variant, a total row
    /// per domain.
    pub fn markdown(&self, metric: Metric) -> String {
        let variants = self.variants();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Normalised score ({}): mean ± std over seeds (number of seeds).\n",
            metric.describe()
        );
        let _ = write!(s, "| dataset | steps |");
        for v in &variants {
            let _ = write!(s, " {v} |");
        }
        s.push('\n');
        s.push_str("|---|---:|");
        for _ in &variants {
            s.push_str("---:|");
        }
        s.push('\n');
        for dom in unique(self.groups.iter().map(|g| g.domain.clone())) {
            let datasets = unique(
                self.groups
                    .iter()
                    .filter(|g| g.domain == dom)
                    .map(|g| g.dataset.clone()),
            );
            for d in &datasets {
                let row: Vec<&GroupReport> = self
                    .groups
                    .iter()
                    .filter(|g| g.domain == dom && &g.dataset == d)
                    .collect();
                let steps = unique(row.iter().map(|g| g.steps.to_string()));
                let uniform = steps.len() == 1;
                let _ = write!(
                    s,
                    "| {d} | {} |",
                    if uniform {
                        steps[0].clone()
                    } else {
                        "mixed".into()
                    }
                );
                for v in &variants {
                    match row.iter().find(|g| &g.variant == v) {
                        Some(g) => {
                            let _ = write!(s, " {:.1} ± {:.1} ({})", g.mean, g.std, g.n_seeds);
                            if !uniform {
                                let _ = write!(s, " @{}", g.steps);
                            }
                            s.push_str(" |");
                        }
                        None => s.push_str(" – |"),
                    }
                }
                s.push('\n');
            }
            let _ = write!(s, "| **total {dom}** | |");
            for v in &variants {
                match self
                    .totals
                    .iter()
                    .find(|t| t.domain == dom && &t.variant == v)
                    .and_then(|t| t.total)
                {
                    Some(t) => {
                        let _ = write!(s, " **{t:.1}** |");
                    }
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        s
    }

    /// One row per group and one per total.
    pub fn csv(&self) -> String {
        let mut s =
            String::from("domain,dataset,variant,env,steps,n_seeds,metric,mean,std,seeds,scores\n");
        let q = |x: &str| {
            if x.contains([',', '"', '\n']) {
                format!("\"{}\"", x.replace('"', "\"\""))
            } else {
                x.to_string()
            }
        };
        for g in &self.groups {
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{}",
                q(&g.domain),
                q(&g.dataset),
                q(&g.variant),
                q(g.env.as_deref().unwrap_or("")),
                g.steps,
                g.n_seeds,
                self.metric,
                g.mean,
                g.std,
                g.seeds
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(";"),
                g.scores
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(";")
            );
        }
        for t in &self.totals {
            let _ = writeln!(
                s,
                "{},total,{},,,,{},{},,,",
                q(&t.domain),
                q(&t.variant),
                self.metric,
                t.total.map(|x| x.to_string()).unwrap_or_default()
            );
        }
        s
    }
}

/// File name for a label.
fn file_label(s: &str) -> String {
    crate::run::sanitize_label(s)
}

/// One figure per dataset: each variant's evaluation curve, mean ± std over seeds.
pub fn plot_report(report: &Report, out: &Path) -> Result<Vec<PathBuf>> {
    let variants = report.variants();
    let mut files = Vec::new();
    for d in unique(report.groups.iter().map(|g| g.dataset.clone())) {
        let gs: Vec<&GroupReport> = report.groups.iter().filter(|g| g.dataset == d).collect();
        let path = out.join(format!("curves-{}.png", file_label(&d)));
        let env = gs[0].env.clone().unwrap_or_default();
        let bands: Vec<Band> = gs
            .iter()
            .map(|g| Band {
                label: format!("{} ({} seeds)", g.variant, g.n_seeds),
                color: variants.iter().position(|v| v == &g.variant).unwrap_or(0),
                points: g
                    .curve
                    .iter()
                    .map(|&(s, m, sd, _)| (s as f64, m, sd))
                    .collect(),
            })
            .collect();
        let title = format!("{d} ({env})");
        if plot_bands(&path, &title, "gradient steps", "normalised score", &bands)? {
            files.push(path);
        }
    }
    Ok(files)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dataset: &str, variant: &str, seed: u64, steps: u64, scores: &[f64]) -> RunInfo {
        let n = scores.len() as u64;
        RunInfo {
            dir: PathBuf::from(format!("{variant}-{dataset}-s{seed}")),
            dataset: dataset.into(),
            variant: variant.into(),
            seed,
            env: Some(format!("pointmaze-{dataset}-v0")),
            steps,
            settings: [("steps".to_string(), steps.to_string())].into(),
            evals: scores
                .iter()
                .enumerate()
                .map(|(i, s)| ((i as u64 + 1) * steps / n, *s))
                .collect(),
        }
    }

    #[test]
    fn metrics_pick_the_right_evaluations() {
        let e = [(1, 10.0), (2, 50.0), (3, 20.0), (4, 30.0)];
        assert_eq!(Metric::Final.of(&e), 30.0);
        assert_eq!(Metric::Best.of(&e), 50.0);
        assert_eq!(Metric::LastK(2).of(&e), 25.0);
        assert_eq!(Metric::LastK(9).of(&e), 27.5);
        assert_eq!("last-3".parse::<Metric>().unwrap(), Metric::LastK(3));
        assert_eq!(
            "last-k".parse::<Metric>().unwrap(),
            Metric::LastK(DEFAULT_LAST_K)
        );
        assert!("last-0".parse::<Metric>().is_err() && "mean".parse::<Metric>().is_err());
    }

    #[test]
    fn groups_totals_and_table() {
        let runs = vec![
            run("umaze", "pars", 0, 100, &[0.0, 40.0]),
            run("umaze", "pars", 1, 100, &[0.0, 60.0]),
            run("umaze", "td3bc", 0, 100, &[0.0, 10.0]),
            run("medium", "pars", 0, 100, &[0.0, 20.0]),
        ];
        let r = build_report(&runs, Metric::Final, false).unwrap();
        assert_eq!(r.groups.len(), 3);
        let g = &r.groups[0];
        assert_eq!((g.mean, g.std, g.n_seeds), (50.0, 10.0, 2));
        assert_eq!(g.curve, vec![(50, 0.0, 0.0, 2), (100, 50.0, 10.0, 2)]);
        let pars = r.totals.iter().find(|t| t.variant == "pars").unwrap();
        assert_eq!(pars.total, Some(70.0));
        let td3 = r.totals.iter().find(|t| t.variant == "td3bc").unwrap();
        assert_eq!(td3.total, None);
        let md = r.markdown(Metric::Final);
        assert!(
            md.contains("| umaze | 100 | 50.0 ± 10.0 (2) | 10.0 ± 0.0 (1) |"),
            "{md}"
        );
        assert!(md.contains("| medium | 100 | 20.0 ± 0.0 (1) | – |"), "{md}");
        assert!(
            md.contains("| **total PointMaze** | | **70.0** | – |"),
            "{md}"
        );
        let csv = r.csv();
        assert!(
            csv.contains("PointMaze,umaze,pars,pointmaze-umaze-v0,100,2,final,50,10,0;1,40;60\n"),
            "{csv}"
        );
    }

    #[test]
    fn mixed_settings_are_refused_or_split() {
        let runs = vec![
            run("umaze", "pars", 0, 100, &[40.0]),
            run("umaze", "pars", 1, 200, &[60.0]),
        ];
        let e = build_report(&runs, Metric::Final, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("steps: 100 (pars-umaze-s0) vs 200 (pars-umaze-s1)"),
            "{e}"
        );
        let r = build_report(&runs, Metric::Final, true).unwrap();
        let names: Vec<&str> = r.groups.iter().map(|g| g.variant.as_str()).collect();
        assert_eq!(names, ["pars [steps=100]", "pars [steps=200]"]);
        let dup = vec![
            run("umaze", "pars", 0, 100, &[40.0]),
            run("umaze", "pars", 0, 100, &[60.0]),
        ];
        let e = build_report(&dup, Metric::Final, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("seed 0 appears twice"), "{e}");
    }
}
