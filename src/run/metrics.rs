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
    /// IQL: the expectile loss of V (empty for PARS / TD3+BC).
    pub v_loss: Option<f64>,
    /// IQL: mean and standard deviation over the batch of Q̂(s, a) − V(s).
    pub adv_mean: Option<f64>,
    pub adv_std: Option<f64>,
    /// SAC: the policy's entropy estimate −mean log π(a|s) and the temperature α.
    pub entropy: Option<f64>,
    pub temperature: Option<f64>,
}

/// The columns of `metrics.csv`. IQL's three columns come last, so files written
/// before they existed (13 columns) still parse.
pub const METRICS_HEADER: &str = "step,td_loss,pa_loss,q_data,q_infeasible,actor_loss,bc_loss,lambda,dormant_ratio,eval_return,eval_score,eval_score_std,eval_success,v_loss,adv_mean,adv_std,entropy,temperature";

/// Columns of `metrics.csv` before IQL's were added, and before SAC's.
const OLD_COLUMNS: usize = 13;
const IQL_COLUMNS: usize = 16;
const COLUMNS: usize = 18;

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6e}")).unwrap_or_default()
}

impl MetricsRow {
    pub fn csv_line(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{},{:.6e},{:.6e},{:.6e},{:.6e},{},{},{},{},{},{},{},{},{},{},{},{},{}",
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
            opt(self.eval_success),
            opt(self.v_loss),
            opt(self.adv_mean),
            opt(self.adv_std),
            opt(self.entropy),
            opt(self.temperature)
        );
        s
    }
}

/// The step and the non-empty, non-NaN values of a `metrics.csv` line, by column name
/// (TensorBoard's scalars, Python's row dicts).
pub fn line_scalars(line: &str) -> (u64, Vec<(&'static str, f64)>) {
    let mut fields = line.split(',');
    let step = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let values = METRICS_HEADER
        .split(',')
        .skip(1)
        .zip(fields)
        .filter_map(|(name, v)| Some((name, v.parse::<f64>().ok()?)))
        .filter(|(_, v)| !v.is_nan())
        .collect();
    (step, values)
}

fn csv_opt(s: &str) -> Result<Option<f64>> {
    Ok(if s.is_empty() { None } else { Some(s.parse()?) })
}

/// Parse a `metrics.csv` line back into a row (for plots after a resume). Lines of
/// the older 13-column files parse too (without IQL's columns).
pub fn parse_metrics_line(line: &str) -> Result<MetricsRow> {
    let f: Vec<&str> = line.split(',').collect();
    ensure!(
        [COLUMNS, IQL_COLUMNS, OLD_COLUMNS].contains(&f.len()),
        "metrics line has {} fields (expected {COLUMNS}): {line}",
        f.len()
    );
    let iql = |i: usize| match f.get(i) {
        Some(s) => csv_opt(s),
        None => Ok(None),
    };
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
        v_loss: iql(13)?,
        adv_mean: iql(14)?,
        adv_std: iql(15)?,
        entropy: iql(16)?,
        temperature: iql(17)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_old_files_still_parse() {
        let row = MetricsRow {
            step: 7,
            td_loss: 1.5,
            pa_loss: 0.25,
            q_data: 3.0,
            q_infeasible: f64::NAN,
            actor_loss: Some(-2.0),
            v_loss: Some(0.125),
            adv_mean: Some(-0.5),
            adv_std: Some(2.0),
            eval_score: Some(50.0),
            ..Default::default()
        };
        let line = row.csv_line();
        assert_eq!(line.split(',').count(), METRICS_HEADER.split(',').count());
        let back = parse_metrics_line(&line).unwrap();
        assert_eq!(back.csv_line(), line);
        assert_eq!(
            (back.v_loss, back.adv_mean, back.adv_std),
            (Some(0.125), Some(-0.5), Some(2.0))
        );
        // a 13-column line of an older run
        let old = parse_metrics_line("10,1,0,1,0,,,,,0.5,40,0,").unwrap();
        assert_eq!(
            (old.step, old.eval_score, old.v_loss),
            (10, Some(40.0), None)
        );
        assert!(parse_metrics_line("10,1,0").is_err());
    }
}
