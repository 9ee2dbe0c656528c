//! `pars online`: learn online from scratch, with the TD3 or the PARS critic.
use super::common::{check_resume_alone, print_online_summary, OnlineFlags, Output, RunFlags};
use crate::algos::new_online_learner;
use crate::config::online::{resolve_online_config, scratch_config};
use crate::config::{OnlineAlgo, OnlineConfig};
use crate::envs::make_env;
use crate::training::offline::dataset_environment;
use crate::training::online::{resume_run, start_run};
use anyhow::{ensure, Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct OnlineArgs {
    #[arg(long, value_enum, default_value = "td3")]
    pub algo: OnlineAlgo,
    /// Network shapes and γ (default: pointmaze for maze envs, else pars).
    #[arg(long)]
    pub preset: Option<String>,
    /// Hidden width of actor and critics.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Offline dataset (D4RL/Minari HDF5) whose rows join every batch (RLPD's
    /// symmetric sampling: `offline_fraction` of each batch, 0.5 by default).
    /// A Minari dataset with `env_spec` also gives the environment (without --env) and
    /// its reference scores.
    #[arg(long, conflicts_with = "resume")]
    pub dataset: Option<PathBuf>,
    /// A Minari dataset's dict observation keys to concatenate, in order (as for train).
    #[arg(long, value_delimiter = ',', requires = "dataset")]
    pub obs_keys: Option<Vec<String>>,
    /// Continue an interrupted run (its --out directory); with --steps, to a new length.
    #[arg(long, conflicts_with = "preset")]
    pub resume: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunFlags,
    #[command(flatten)]
    pub online: OnlineFlags,
}

/// `pars online`: learn from scratch with no offline data.
pub fn run(a: OnlineArgs, out: &Output) -> Result<()> {
    if let Some(dir) = &a.resume {
        let steps = check_resume_alone(
            &a.run,
            &a.online,
            a.hidden.is_some() || a.algo != OnlineAlgo::Td3,
        )?;
        let (cfg, res, path) = resume_run(dir, steps, out.progress())?;
        print_online_summary(&cfg, &res, &path, out);
        return Ok(());
    }
    let (env_id, reference) = match &a.dataset {
        Some(d) => dataset_environment(a.run.env.clone(), None, d)?,
        None => (a.run.env.clone(), None),
    };
    let env_id = env_id.context("option --env is required")?;
    let probe = make_env(&env_id)?;
    let (mut cfg, label) = online_config(&a, &env_id)?;
    if cfg.score_reference.is_none() {
        cfg.score_reference = reference;
    }
    let agent = new_online_learner(&cfg, probe.obs_dim(), probe.act_dim());
    let dir = match &a.run.out {
        Some(o) => o.clone(),
        None => crate::run::unique_run_dir(PathBuf::from("runs").join(format!(
            "online-{}-{}-s{}",
            crate::run::sanitize_label(label).to_lowercase(),
            crate::run::sanitize_label(&env_id),
            cfg.seed
        ))),
    };
    let (cfg, res, path) = start_run(cfg, agent, &dir, out.progress())?;
    print_online_summary(&cfg, &res, &path, out);
    Ok(())
}

/// The resolved config of a fresh `pars online` run, and its label.
fn online_config(a: &OnlineArgs, env_id: &str) -> Result<(OnlineConfig, &'static str)> {
    let (mut base, label) = scratch_config(a.algo, a.preset.as_deref(), a.hidden, env_id)?;
    base.dataset = a.dataset.as_ref().map(|d| d.display().to_string());
    base.obs_keys = a.obs_keys.clone();
    ensure!(
        a.algo != OnlineAlgo::Rlpd || base.dataset.is_some(),
        "RLPD learns with offline data in every batch: pass --dataset FILE (or use --algo sac)"
    );
    if base.dataset.is_some() && base.offline_fraction == 0.0 {
        base.offline_fraction = 0.5;
    }
    let cfg = resolve_online_config(base, a.online.overrides(&a.run)?.0, &a.run.set)?;
    ensure!(
        !cfg.agent.penalty || cfg.agent.q_min.is_some() || cfg.agent.r_min.is_some(),
        "the infeasible-action penalty needs Q_min: pass --set agent.r_min=<the task's minimum reward>"
    );
    Ok((cfg, label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentConfig;
    use crate::config::{ActorValue, TargetUpdate};
    use crate::nn::Init;
    use clap::Parser;

    fn config(algo: &str) -> AgentConfig {
        let cli = crate::cli::Cli::try_parse_from([
            "pars",
            "online",
            "--env",
            "pointmaze-umaze-v0",
            "--algo",
            algo,
        ])
        .unwrap();
        let crate::cli::Command::Online(a) = cli.command else {
            panic!("not the online command")
        };
        online_config(&a, "pointmaze-umaze-v0").unwrap().0.agent
    }

    #[test]
    fn td3_classic_changes_exactly_the_three_textbook_settings() {
        let (ours, classic) = (config("td3"), config("td3-classic"));
        assert_eq!(ours.actor_value, ActorValue::Ensemble);
        assert_eq!(ours.target_update, TargetUpdate::EveryCritic);
        assert_eq!(ours.init, Init::Pars);
        assert_eq!(classic.actor_value, ActorValue::FirstCritic);
        assert_eq!(classic.target_update, TargetUpdate::WithActor);
        assert_eq!(classic.init, Init::Pytorch);
        let back = AgentConfig {
            actor_value: ours.actor_value,
            target_update: ours.target_update,
            init: ours.init,
            ..classic
        };
        assert_eq!(
            back, ours,
            "td3-classic differs from td3 in more than the three settings"
        );
    }
}
