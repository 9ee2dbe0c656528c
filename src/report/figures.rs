//! The report's figures: one learning-curve figure per dataset.
use super::group::unique;
use super::{GroupReport, Report};
use crate::plots::{plot_bands, Band};
use anyhow::Result;
use std::path::{Path, PathBuf};

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
