//! `pars collect`: a maze dataset from the scripted controller, uniform random
//! actions in any environment, a saved policy's rollouts, or an online run's replay.
use super::common::{policy_and_env, Output};
use crate::data;
use crate::envs::make_env;
use crate::envs::maze::Layout;
use crate::recipes::scripted::{collect, rollout_policy, rollout_sampled, CollectConfig, Style};
use crate::run::RunPaths;
use crate::training::online::replay_dataset;
use anyhow::{ensure, Context, Result};
use clap::Args;
use std::path::PathBuf;

const DEFAULT_STEPS: usize = 1_000_000;

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// Environment, e.g. pointmaze-umaze-v0 or hopper-v2 (see `pars envs`).
    #[arg(long, default_value = "pointmaze-umaze-v0")]
    pub env: String,
    /// Mazes: diverse (random starts and goals, the default), play (hand-picked goals) or
    /// random (uniform random actions). Other environments: random (the default).
    #[arg(long)]
    pub style: Option<String>,
    /// Rows to collect.
    #[arg(long, default_value_t = DEFAULT_STEPS)]
    pub steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Std of the Gaussian noise on the controller's actions.
    #[arg(long, default_value_t = 0.3)]
    pub noise: f32,
    /// Output: the HDF5 file (D4RL layout), or with --format minari the dataset
    /// directory (default: <MINARI_DATASETS_PATH or ~/.minari/datasets>/<--dataset-id>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// d4rl (one HDF5 file, the default) or minari (a dataset directory that Minari's
    /// `load_dataset` opens, with metadata.json).
    #[arg(long, value_enum, default_value_t = Format::D4rl)]
    pub format: Format,
    /// The Minari dataset id to write (namespace/name-vN, e.g. pars/hopper-medium-v0;
    /// with --format minari).
    #[arg(long)]
    pub dataset_id: Option<String>,
    /// Roll out this saved policy (policy.safetensors or a run directory) in --env instead.
    #[arg(long, conflicts_with = "from_run")]
    pub policy: Option<PathBuf>,
    /// Std of the Gaussian noise on the policy's actions (with --policy).
    #[arg(long, default_value_t = 0.0)]
    pub policy_noise: f32,
    /// Act with samples of the policy's tanh-Gaussian (a SAC policy) instead of its
    /// mean, as D4RL's generation scripts do (with --policy).
    #[arg(long, requires = "policy")]
    pub stochastic: bool,
    /// Export the replay buffer of a finished `pars online`/`pars finetune` run instead
    /// (with --steps N only its first N rows: the buffer as it stood at step N).
    #[arg(long)]
    pub from_run: Option<PathBuf>,
    /// A D4RL-style dataset recipe instead: <env>-random, <env>-medium,
    /// <env>-medium-replay, <env>-medium-expert, <env>-expert for env hopper, walker2d or
    /// halfcheetah (SAC policies with sampled actions, as D4RL made them), the study's
    /// first files <env>-medium-td3, <env>-medium-replay-td3, <env>-random-net, and
    /// antmaze-umaze, antmaze-umaze-diverse, antmaze-medium-play, antmaze-medium-diverse,
    /// antmaze-large-play, antmaze-large-diverse (see docs/study.md); --steps overrides its
    /// size (default: D4RL's 1M rows; medium-replay: its whole training run;
    /// medium-expert: 2M), --seed its randomness.
    #[arg(long, conflicts_with_all = ["policy", "from_run", "style"])]
    pub recipe: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    D4rl,
    Minari,
}

/// Where the dataset goes, checked before anything is collected.
fn destination(a: &CollectArgs) -> Result<PathBuf> {
    match a.format {
        Format::D4rl => {
            ensure!(
                a.dataset_id.is_none(),
                "option --dataset-id goes with --format minari"
            );
            a.out
                .clone()
                .context("option --out is required (the HDF5 file to write)")
        }
        Format::Minari => {
            let id = a
                .dataset_id
                .as_deref()
                .context("--format minari needs --dataset-id (namespace/name-vN)")?;
            data::minari_writer::check_dataset_id(id)?;
            let dir = a
                .out
                .clone()
                .unwrap_or_else(|| data::locate::minari_root().join(id));
            ensure!(
                !dir.exists(),
                "{} exists; remove it or choose another --dataset-id / --out",
                dir.display()
            );
            Ok(dir)
        }
    }
}

/// Write `ds` (rows from environment `env`, made by `algorithm`) in the chosen format.
fn write_dataset(
    a: &CollectArgs,
    ds: &data::RawDataset,
    env: Option<&str>,
    algorithm: &str,
) -> Result<PathBuf> {
    let dest = destination(a)?;
    match a.format {
        Format::D4rl => data::write_d4rl(&dest, ds)?,
        Format::Minari => {
            let info = data::MinariInfo {
                dataset_id: a.dataset_id.as_deref().unwrap_or_default(),
                env_id: env,
                algorithm_name: Some(algorithm.to_string()),
                ref_scores: env.and_then(crate::eval::reference_returns),
            };
            data::write_minari(&dest, ds, &info)?;
        }
    }
    Ok(dest)
}

pub fn run(a: CollectArgs, out: &Output) -> Result<()> {
    let summary = collect_any(&a, out)?;
    if !out.quiet {
        println!("{summary}");
    }
    Ok(())
}

/// Collect and write the dataset; returns the one-line summary of what was written.
fn collect_any(a: &CollectArgs, out: &Output) -> Result<String> {
    destination(a)?;
    if let Some(name) = &a.recipe {
        return collect_recipe(a, name, out);
    }
    if let Some(run) = &a.from_run {
        return collect_replay(a, run);
    }
    if let Some(policy) = &a.policy {
        return collect_policy(a, policy);
    }
    ensure!(a.steps > 0, "option --steps must be positive");
    let layout = Layout::from_env_id(&a.env).or_else(|| Layout::from_name(&a.env));
    let style_name = a.style.as_deref().unwrap_or(if layout.is_some() {
        "diverse"
    } else {
        "random"
    });
    if style_name == "random" {
        return collect_random(a, out);
    }
    let Some(layout) = layout else {
        anyhow::bail!(
            "option --style {style_name}: environment {} has only --style random (or --policy)",
            a.env
        );
    };
    let style: Style = style_name
        .parse()
        .map_err(|e| anyhow::anyhow!("option --style: {e}"))?;
    let cfg = CollectConfig {
        action_noise: a.noise,
        ..CollectConfig::new(layout, style, a.steps, a.seed)
    };
    let ds = collect(&cfg)?;
    let dest = write_dataset(a, &ds, Some(&a.env), &format!("scripted {style_name}"))?;
    Ok(format!(
        "wrote {} ({} rows, {})",
        dest.display(),
        ds.len(),
        cfg.dataset_id()
    ))
}

/// Uniform random actions in any environment.
fn collect_random(a: &CollectArgs, out: &Output) -> Result<String> {
    use rand::{Rng, SeedableRng};
    let mut env = make_env(&a.env)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0x0005_eed0_fac7_10a5);
    let act_dim = env.act_dim();
    let bar = crate::run::progress_bar(a.steps as u64, "collect", out.progress());
    let mut n = 0u64;
    let ds = rollout_policy(
        env.as_mut(),
        |_| {
            n += 1;
            if n.is_multiple_of(1000) {
                bar.set_position(n);
            }
            (0..act_dim).map(|_| rng.gen_range(-1.0f32..=1.0)).collect()
        },
        a.steps,
        0.0,
        a.seed,
    )?;
    bar.finish_and_clear();
    let dest = write_dataset(a, &ds, Some(&a.env), "uniform random")?;
    Ok(format!(
        "wrote {} ({} rows of uniform random actions in {})",
        dest.display(),
        ds.len(),
        a.env
    ))
}

/// The replay buffer of a finished online run.
fn collect_replay(a: &CollectArgs, run: &std::path::Path) -> Result<String> {
    let paths = RunPaths::new(run);
    let state = paths.online_state();
    ensure!(
        paths.is_online_run() && state.is_file(),
        "{} is not a finished `pars online` / `pars finetune` run",
        run.display()
    );
    // an explicit --steps takes the buffer's first rows, as it stood at that step
    let first = (a.steps != DEFAULT_STEPS).then_some(a.steps);
    write_episodes(
        a,
        &replay_dataset(&state, first)?,
        None,
        "online replay buffer",
    )
}

/// Rollouts of a saved policy with Gaussian action noise.
fn collect_policy(a: &CollectArgs, policy: &std::path::Path) -> Result<String> {
    let (mut policy, mut env) = policy_and_env(policy, &a.env)?;
    ensure!(a.steps > 0, "option --steps must be positive");
    let ds = if a.stochastic {
        rollout_sampled(env.as_mut(), &mut policy, a.steps, a.policy_noise, a.seed)
            .context("option --stochastic")?
    } else {
        rollout_policy(
            env.as_mut(),
            |o| policy.act(o).to_vec(),
            a.steps,
            a.policy_noise,
            a.seed,
        )?
    };
    let how = if a.stochastic {
        "saved policy, sampled actions"
    } else {
        "saved policy"
    };
    write_episodes(a, &ds, Some(&a.env), how)
}

/// A D4RL-style recipe (`crate::recipes`).
fn collect_recipe(a: &CollectArgs, name: &str, out: &Output) -> Result<String> {
    let recipe = crate::recipes::recipe(name)?;
    // --steps and --seed keep clap defaults; only an explicit value changes the recipe
    let rows = (a.steps != DEFAULT_STEPS).then_some(a.steps);
    let ds = crate::recipes::build(&recipe, rows, a.seed, out.progress())?;
    let dest = write_dataset(
        a,
        &ds,
        Some(recipe.env),
        &format!("pars recipe {}", recipe.name),
    )?;
    if let crate::recipes::Kind::AntMaze(_) = recipe.kind {
        let (episodes, reached, rows) = crate::recipes::goal_summary(&ds);
        return Ok(format!(
            "wrote {} ({}: {} rows, {episodes} episodes, {reached} of them reach the \
             evaluation goal, {rows} rows with reward 1)",
            dest.display(),
            recipe.name,
            ds.len()
        ));
    }
    let s = data::summarize(&ds);
    Ok(format!(
        "wrote {} ({}: {} rows, {} episodes, return mean {:.1}, min {:.1}, max {:.1})",
        dest.display(),
        recipe.name,
        s.rows,
        s.episodes,
        s.return_mean,
        s.return_min,
        s.return_max
    ))
}

fn write_episodes(
    a: &CollectArgs,
    ds: &data::RawDataset,
    env: Option<&str>,
    algorithm: &str,
) -> Result<String> {
    let dest = write_dataset(a, ds, env, algorithm)?;
    let ends = ds
        .terminals
        .iter()
        .zip(&ds.timeouts)
        .filter(|(t, o)| **t || **o)
        .count();
    Ok(format!(
        "wrote {} ({} rows, {} episodes, {} reached a terminal)",
        dest.display(),
        ds.len(),
        ends,
        ds.terminals.iter().filter(|&&t| t).count()
    ))
}
