//! `pars finetune`: continue an offline run online (SPEC §4).
use super::common::{check_resume_alone, print_online_summary, OnlineFlags, Output, RunFlags};
use crate::algos::online::{
    apply_online_config, load_offline_run, resolve_online_config, resume_run, start_run,
    OnlineConfig,
};
use crate::algos::presets::{preset, OnlineSettings};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct FinetuneArgs {
    /// Offline run directory (from `pars train`) to continue online.
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    pub from: Option<PathBuf>,
    /// Continue an interrupted fine-tune (its --out directory); with --steps, to a new length.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Preset whose online settings to use (default: the offline run's preset).
    #[arg(long)]
    pub preset: Option<String>,
    /// Offline dataset to mix in (default: the one the run was trained on).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunFlags,
    #[command(flatten)]
    pub online: OnlineFlags,
}

/// `pars finetune`: continue an offline run online (SPEC §4).
pub fn run(a: FinetuneArgs, out: &Output) -> Result<()> {
    if let Some(dir) = &a.resume {
        let steps =
            check_resume_alone(&a.run, &a.online, a.preset.is_some() || a.dataset.is_some())?;
        let (cfg, res, path) = resume_run(dir, steps, out.progress())?;
        print_online_summary(&cfg, &res, &path, out);
        return Ok(());
    }
    let from = a.from.as_ref().context("option --from is required")?;
    let (train, mut agent) = load_offline_run(from)?;
    let preset_name = a.preset.clone().unwrap_or_else(|| train.algo.clone());
    let settings = match preset(&preset_name) {
        Ok(p) => p.online,
        Err(e) if a.preset.is_some() => return Err(e),
        Err(_) => None,
    };
    let settings = settings.unwrap_or_else(|| {
        if !out.quiet {
            println!(
                "note: preset '{preset_name}' has no online settings; keeping the offline α and β, S_actor = 1"
            );
        }
        OnlineSettings {
            alpha: train.agent.alpha,
            beta: train.agent.resolve_beta(agent.act_dim),
            actor_subset: 1,
            offline_fraction: 0.5,
            exploration_noise: 0.05,
        }
    });
    let dataset = match &a.dataset {
        Some(p) => p.clone(),
        None => {
            let j = std::fs::read_to_string(from.join("dataset.json"))
                .with_context(|| format!("{}: no dataset.json; pass --dataset", from.display()))?;
            let v: serde_json::Value = serde_json::from_str(&j)
                .with_context(|| format!("{}: malformed dataset.json", from.display()))?;
            PathBuf::from(
                v["path"]
                    .as_str()
                    .with_context(|| format!("{}: dataset.json has no path", from.display()))?,
            )
        }
    };
    let env = a
        .run
        .env
        .clone()
        .or_else(|| train.env.clone())
        .with_context(|| {
            format!(
                "{} has no evaluation environment; pass --env",
                from.display()
            )
        })?;
    let agent_cfg = settings.online_agent(&train.agent);
    let base = OnlineConfig {
        algo: format!("{} finetune", train.algo),
        agent: agent_cfg,
        env,
        seed: train.seed,
        offline_fraction: settings.offline_fraction,
        exploration_noise: settings.exploration_noise,
        from_run: Some(from.display().to_string()),
        dataset: Some(dataset.display().to_string()),
        ..OnlineConfig::default()
    };
    let cfg = resolve_online_config(base, a.online.overrides(&a.run)?.0, &a.run.set)?;
    apply_online_config(&mut agent, &cfg.agent)?;
    let dir = match &a.run.out {
        Some(o) => o.clone(),
        None => crate::run::unique_run_dir(PathBuf::from(format!(
            "{}-finetune-s{}",
            from.display().to_string().trim_end_matches('/'),
            cfg.seed
        ))),
    };
    let (cfg, res, path) = start_run(cfg, agent, &dir, out.progress())?;
    print_online_summary(&cfg, &res, &path, out);
    Ok(())
}
