//! `pars eval`: evaluate a saved policy in an environment.
use super::common::policy_and_env;
use crate::eval::evaluate;
use anyhow::{ensure, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A policy file (policy.safetensors), an agent checkpoint or a run directory.
    #[arg(long)]
    pub policy: PathBuf,
    #[arg(long)]
    pub env: String,
    #[arg(long, default_value_t = 10)]
    pub episodes: usize,
    #[arg(long, default_value_t = crate::eval::EVAL_SEED)]
    pub seed: u64,
    /// Print the full result as one JSON object instead of a line of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let (mut policy, mut env) = policy_and_env(&a.policy, &a.env)?;
    ensure!(a.episodes > 0, "option --episodes must be positive");
    let ev = evaluate(env.as_mut(), |o| policy.act(o).to_vec(), a.episodes, a.seed)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&ev)?);
    } else {
        println!(
            "{}: {} episodes, return {:.2} ± {:.2}, normalised score {:.1} ± {:.1}{}, mean length {:.1}",
            a.env,
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
