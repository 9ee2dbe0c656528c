//! `pars finetune`: continue an offline run online (SPEC §4).
use super::common::{check_resume_alone, print_online_summary, OnlineFlags, Output, RunFlags};
use crate::config::online::{finetune_config, resolve_online_config};
use crate::run::DatasetRecord;
use crate::training::online::{load_offline_run, resume_run, start_run};
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
    let dataset = match &a.dataset {
        Some(p) => p.clone(),
        None => DatasetRecord::read(from)?
            .with_context(|| {
                format!(
                    "{}: no {}; pass --dataset",
                    from.display(),
                    crate::run::paths::DATASET_FILE
                )
            })?
            .dataset(),
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
    let (base, note) = finetune_config(
        &train,
        agent.act_dim(),
        a.preset.as_deref(),
        env,
        from.display().to_string(),
        dataset.display().to_string(),
    )?;
    if let Some(note) = note.filter(|_| !out.quiet) {
        println!("{note}");
    }
    let cfg = resolve_online_config(base, a.online.overrides(&a.run)?.0, &a.run.set)?;
    agent.go_online(&cfg.agent)?;
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
