//! `metrics.csv`: one row per logging interval, written line by line as a run goes.
use super::write_atomic;
use crate::eval::EvalResult;
use anyhow::{ensure, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One row of `metrics.csv`: means over the logging interval, plus the evaluation
/// done at this step if any. Contains no wall-clock values, so identical runs give
/// identical files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MetricsRow {
    pub step: u64,
    pub td_loss: f64,
    pub pa_loss: f64,
    pub q_data: f64,
    pub q_infeasible: f64,
    pub actor_loss: Option<f64>,
    pub bc_loss: Option<f64>,
    pub lambda: Option<f64>,
    pub dormant_ratio: Option<f64>,
    pub eval_return: Option<f64>,
    pub eval_score: Option<f64>,
    pub eval_score_std: Option<f64>,
    pub eval_success: Option<f64>,
}

pub const METRICS_HEADER: &str = "step,td_loss,pa_loss,q_data,q_infeasible,actor_loss,bc_loss,lambda,dormant_ratio,eval_return,eval_score,eval_score_std,eval_success";

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6e}")).unwrap_or_default()
}

impl MetricsRow {
    pub fn csv_line(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{},{:.6e},{:.6e},{:.6e},{:.6e},{},{},{},{},{},{},{},{}",
            self.step,
            self.td_loss,
            self.pa_loss,
            self.q_data,
            self.q_infeasible,
            opt(self.actor_loss),
            opt(self.bc_loss),
            opt(self.lambda),
            opt(self.dormant_ratio),
            opt(self.eval_return),
            opt(self.eval_score),
            opt(self.eval_score_std),
            opt(self.eval_success)
        );
        s
    }
}

fn csv_opt(s: &str) -> Result<Option<f64>> {
    Ok(if s.is_empty() { None } else { Some(s.parse()?) })
}

/// Parse a `metrics.csv` line back into a row (for plots after a resume).
pub fn parse_metrics_line(line: &str) -> Result<MetricsRow> {
    let f: Vec<&str> = line.split(',').collect();
    ensure!(f.len() == 13, "metrics line has {} fields: {line}", f.len());
    Ok(MetricsRow {
        step: f[0].parse()?,
        td_loss: f[1].parse()?,
        pa_loss: f[2].parse()?,
        q_data: f[3].parse()?,
        q_infeasible: f[4].parse()?,
        actor_loss: csv_opt(f[5])?,
        bc_loss: csv_opt(f[6])?,
        lambda: csv_opt(f[7])?,
        dormant_ratio: csv_opt(f[8])?,
        eval_return: csv_opt(f[9])?,
        eval_score: csv_opt(f[10])?,
        eval_score_std: csv_opt(f[11])?,
        eval_success: csv_opt(f[12])?,
    })
}

pub fn write_lines(path: &Path, header: &str, lines: &[String]) -> Result<std::fs::File> {
    let mut text = String::with_capacity(64 * (lines.len() + 1));
    text.push_str(header);
    text.push('\n');
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())?;
    Ok(std::fs::OpenOptions::new().append(true).open(path)?)
}

impl MetricsRow {
    /// Fill the evaluation columns.
    pub fn set_eval(&mut self, ev: &EvalResult) {
        self.eval_return = Some(ev.mean_return);
        self.eval_score = Some(ev.mean_score);
        self.eval_score_std = Some(ev.std_score);
        self.eval_success = ev.success_rate;
    }
}
