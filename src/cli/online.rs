//! `pars online`: learn online from scratch, with the TD3 or the PARS critic.
use super::common::{check_resume_alone, print_online_summary, OnlineFlags, Output, RunFlags};
use crate::algos::config::{ActorValue, TargetUpdate};
use crate::algos::online::{resolve_online_config, resume_run, start_run, OnlineConfig};
use crate::algos::presets::{preset, OnlineSettings};
use crate::algos::{Agent, AgentConfig};
use crate::envs::make_env;
use crate::nn::Init;
use anyhow::{ensure, Context, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnlineAlgo {
    /// TD3 on the PARS engine: two critics, no LayerNorm, no penalty, no reward
    /// scaling, β = 0; the actor maximises min(Q1, Q2), targets move after every
    /// critic update and networks start from the PARS initialisation.
    Td3,
    /// Textbook TD3 (Fujimoto et al.): as `td3`, but the actor maximises Q1, targets
    /// move only with the delayed actor update, and PyTorch's default initialisation.
    Td3Classic,
    /// The preset's PARS critic (LN, ensemble, c_reward, PA) with its online settings.
    Pars,
}

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
    /// Continue an interrupted run (its --out directory).
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
        check_resume_alone(
            &a.run,
            &a.online,
            a.hidden.is_some() || a.algo != OnlineAlgo::Td3,
        )?;
        let (cfg, res, path) = resume_run(dir, out.progress())?;
        print_online_summary(&cfg, &res, &path, out);
        return Ok(());
    }
    let env_id = a.run.env.clone().context("option --env is required")?;
    let probe = make_env(&env_id)?;
    let (cfg, label) = online_config(&a, &env_id)?;
    let q_min = cfg.agent.resolve_q_min(0.0);
    let agent = Agent::new(
        cfg.agent.clone(),
        probe.obs_dim(),
        probe.act_dim(),
        q_min,
        cfg.steps,
        cfg.seed,
    );
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
    let preset_name = a.preset.clone().unwrap_or_else(|| {
        if env_id.starts_with("pointmaze") {
            "pointmaze".into()
        } else {
            "pars".into()
        }
    });
    let p = preset(&preset_name)?;
    let mut agent = p.agent.clone();
    if let Some(h) = a.hidden {
        agent.hidden = h;
    }
    let td3 = |agent: AgentConfig| AgentConfig {
        critic_layer_norm: false,
        n_critics: 2,
        critic_subset: 2,
        actor_subset: None,
        reward_scale: 1.0,
        penalty: false,
        beta: Some(0.0),
        ..agent
    };
    let label = match a.algo {
        OnlineAlgo::Td3 => {
            agent = td3(agent);
            "TD3"
        }
        OnlineAlgo::Td3Classic => {
            agent = AgentConfig {
                actor_value: ActorValue::FirstCritic,
                target_update: TargetUpdate::WithActor,
                init: Init::Pytorch,
                ..td3(agent)
            };
            "TD3-classic"
        }
        OnlineAlgo::Pars => {
            let s = p.online.clone().unwrap_or(OnlineSettings {
                alpha: agent.alpha,
                beta: 0.0,
                actor_subset: 1,
                offline_fraction: 0.0,
                exploration_noise: 0.1,
            });
            agent.alpha = s.alpha;
            agent.beta = Some(s.beta);
            agent.actor_subset = Some(s.actor_subset.min(agent.n_critics));
            "PARS"
        }
    };
    // TD3's schedule: 25k random steps before learning, UTD 1, actor every
    // `policy_delay` steps, exploration σ 0.1
    let base = OnlineConfig {
        algo: format!("{label} online"),
        agent: agent.clone(),
        env: env_id.to_string(),
        utd: 1,
        actor_every: agent.policy_delay as u64,
        offline_fraction: 0.0,
        exploration_noise: 0.1,
        random_steps: 25_000,
        learning_starts: 25_000,
        steps: 100_000,
        eval_every: 5_000,
        ..OnlineConfig::default()
    };
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
