//! Replay of reference trajectories recorded from the Python environments
//! (`scripts/crosscheck.py`): start from the recorded state, apply the recorded actions,
//! compare observations, rewards and termination.
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;

use super::make_sim_env;

/// One recorded episode: its exact start state and what the reference returned.
#[derive(Deserialize)]
pub struct RefEpisode {
    pub qpos: Vec<f64>,
    pub qvel: Vec<f64>,
    /// The task's own start values (goal, target, ...), see `SimEnv::task_state_names`.
    #[serde(default)]
    pub task: Vec<f64>,
    /// obs[0] is the observation at the start state; obs[t+1] follows actions[t].
    pub obs: Vec<Vec<f64>>,
    pub actions: Vec<Vec<f32>>,
    pub rewards: Vec<f64>,
    pub terminated: Vec<bool>,
}

#[derive(Deserialize)]
pub struct Trace {
    /// Our environment id.
    pub env: String,
    /// What produced the trace (Python environment id and package versions).
    #[serde(default)]
    pub reference: String,
    pub episodes: Vec<RefEpisode>,
}

/// Largest deviations over a trace.
#[derive(Debug, Default)]
pub struct Report {
    pub env: String,
    pub steps: usize,
    pub episodes: usize,
    pub max_obs_err: f64,
    pub max_reward_err: f64,
    pub termination_mismatches: usize,
}

/// |a − b| / max(1, |b|): absolute near zero, relative for large values.
fn err(ours: f64, reference: f64) -> f64 {
    (ours - reference).abs() / reference.abs().max(1.0)
}

pub fn replay(trace: &Trace) -> Result<Report> {
    let mut env = make_sim_env(&trace.env)
        .with_context(|| format!("unknown MuJoCo environment '{}'", trace.env))??;
    let mut r = Report {
        env: trace.env.clone(),
        episodes: trace.episodes.len(),
        ..Default::default()
    };
    for (k, ep) in trace.episodes.iter().enumerate() {
        let n = ep.actions.len();
        if ep.obs.len() != n + 1 || ep.rewards.len() != n || ep.terminated.len() != n {
            bail!(
                "episode {k}: {n} actions need {} observations and {n} rewards",
                n + 1
            );
        }
        let obs0 = env.set_episode_state(&ep.qpos, &ep.qvel, &ep.task)?;
        compare_obs(&mut r, &obs0, &ep.obs[0], k, 0)?;
        for t in 0..n {
            let s = env.step(&ep.actions[t])?;
            compare_obs(&mut r, &s.obs, &ep.obs[t + 1], k, t + 1)?;
            r.max_reward_err = r.max_reward_err.max(err(s.reward as f64, ep.rewards[t]));
            if s.terminated != ep.terminated[t] {
                r.termination_mismatches += 1;
            }
            r.steps += 1;
            if s.terminated || s.truncated {
                if t + 1 != n {
                    bail!("episode {k}: ours ended at step {} of {n}", t + 1);
                }
                break;
            }
        }
    }
    Ok(r)
}

fn compare_obs(r: &mut Report, ours: &[f32], reference: &[f64], ep: usize, t: usize) -> Result<()> {
    if ours.len() != reference.len() {
        bail!(
            "episode {ep}, step {t}: observation has {} entries, the reference {}",
            ours.len(),
            reference.len()
        );
    }
    for (a, b) in ours.iter().zip(reference) {
        r.max_obs_err = r.max_obs_err.max(err(*a as f64, *b));
    }
    Ok(())
}

pub fn load_trace(path: &Path) -> Result<Trace> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing trace {}", path.display()))
}

/// Replay every trace; an error if any exceeds `tol` or disagrees on termination.
pub fn run(paths: &[std::path::PathBuf], tol: f64) -> Result<()> {
    println!(
        "{:<20} {:>8} {:>6} {:>12} {:>12} {:>6}  reference",
        "environment", "episodes", "steps", "max_obs_err", "max_rew_err", "term"
    );
    let mut failed = Vec::new();
    for p in paths {
        let trace = load_trace(p)?;
        let r = replay(&trace).with_context(|| format!("replaying {}", p.display()))?;
        println!(
            "{:<20} {:>8} {:>6} {:>12.2e} {:>12.2e} {:>6}  {}",
            r.env,
            r.episodes,
            r.steps,
            r.max_obs_err,
            r.max_reward_err,
            if r.termination_mismatches == 0 {
                "ok"
            } else {
                "DIFF"
            },
            trace.reference
        );
        if r.max_obs_err > tol || r.max_reward_err > tol || r.termination_mismatches > 0 {
            failed.push(r.env.clone());
        }
    }
    if !failed.is_empty() {
        bail!(
            "cross-check failed (tolerance {tol:e}) for: {}",
            failed.join(", ")
        );
    }
    Ok(())
}
