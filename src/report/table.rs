//! The report as text: the paper-style Markdown table and the CSV.
use super::group::unique;
use super::{GroupReport, Metric, Report};
use std::fmt::Write as _;

impl Report {
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
