//! Grouping runs by dataset × variant (refusing or splitting mixed settings) and
//! summarising each group over seeds, with per-domain totals.
use super::{Metric, RunInfo};
use anyhow::{bail, ensure, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

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

pub(super) fn unique(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

impl Report {
    pub(super) fn variants(&self) -> Vec<String> {
        unique(self.groups.iter().map(|g| g.variant.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
