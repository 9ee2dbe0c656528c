//! `pars eval`: evaluate a saved policy in an environment.
use super::common::policy_and_env;
use crate::config::{OnlineConfig, TrainConfig};
use crate::eval::evaluate;
use crate::run::RunPaths;
use crate::training::offline::dataset_environment;
use anyhow::{ensure, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A policy file (policy.safetensors), an agent checkpoint or a run directory.
    #[arg(long)]
    pub policy: PathBuf,
    /// Environment id (default: the run directory's, or the --dataset's).
    #[arg(long)]
    pub env: Option<String>,
    /// A Minari dataset whose environment (without --env) and reference scores to use.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    #[arg(long, default_value_t = 10)]
    pub episodes: usize,
    #[arg(long, default_value_t = crate::eval::EVAL_SEED)]
    pub seed: u64,
    /// Print the full result as one JSON object instead of a line of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: EvalArgs) -> Result<()> {
    ensure!(a.episodes > 0, "option --episodes must be positive");
    let (env_id, reference) = environment(&a)?;
    let (mut policy, env) = policy_and_env(&a.policy, &env_id)?;
    let mut env = crate::envs::WithReference::wrap(env, reference);
    let ev = evaluate(env.as_mut(), |o| policy.act(o).to_vec(), a.episodes, a.seed)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&ev)?);
    } else {
        println!(
            "{}: {} episodes, return {:.2} ± {:.2}, normalised score {:.1} ± {:.1}{}, mean length {:.1}",
            env_id,
            ev.episodes,
            ev.mean_return,
            ev.std_return,
            ev.mean_score,
            ev.std_score,
            ev.success_rate
                .map(|s| format!(", success {:.0}%", 100.0 * s))
                .unwrap_or_default(),
            ev.mean_length
        );
    }
    Ok(())
}

/// The environment and score reference: `--dataset`'s (a Minari dataset's metadata), else
/// the run directory's (`config.toml` or `online.toml`: its env and score_reference, the
/// latter only when evaluating in that env), with `--env` overriding the environment.
fn environment(a: &EvalArgs) -> Result<(String, Option<[f64; 2]>)> {
    if let Some(d) = &a.dataset {
        let (env, reference) = dataset_environment(a.env.clone(), None, d)?;
        let env = env.with_context(|| {
            format!(
                "{}: the dataset names no environment; pass --env",
                d.display()
            )
        })?;
        return Ok((env, reference));
    }
    let (run_env, run_reference) = run_environment(&a.policy)?;
    let env = a.env.clone().or(run_env.clone()).with_context(|| {
        format!(
            "{}: no environment recorded with this policy; pass --env",
            a.policy.display()
        )
    })?;
    let reference = run_reference.filter(|_| run_env.as_ref() == Some(&env));
    Ok((env, reference))
}

/// A run directory's evaluation environment and score reference (none for a file).
fn run_environment(policy: &Path) -> Result<(Option<String>, Option<[f64; 2]>)> {
    let paths = RunPaths::new(policy);
    if !policy.is_dir() {
        return Ok((None, None));
    }
    if paths.config().is_file() {
        let cfg: TrainConfig = crate::run::read_config(&paths.config())?;
        let env = cfg.env.filter(|e| e != crate::training::offline::NO_ENV);
        return Ok((env, cfg.score_reference));
    }
    if paths.online_config().is_file() {
        let cfg: OnlineConfig = crate::run::read_config(&paths.online_config())?;
        return Ok((Some(cfg.env), cfg.score_reference));
    }
    Ok((None, None))
}
