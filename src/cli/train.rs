//! `pars train`: offline training on a dataset.
use super::common::{print_train_summary, Output, Overrides, RunFlags};
use crate::config::baselines::rebrac_preset_for;
use crate::config::presets::{preset_for, resolve_train_config, TrainSources};
use crate::config::Algorithm;
use crate::nn::Activation;
use crate::training::{default_run_dir, resume_run, train_run};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Default, Clone)]
pub struct TrainArgs {
    /// D4RL or Minari HDF5 file, Minari dataset directory, or Minari dataset id
    /// (e.g. mujoco/hopper/medium-v0, in MINARI_DATASETS_PATH or ~/.minari/datasets).
    #[arg(long, required_unless_present = "resume")]
    pub dataset: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint (after a kill, a
    /// signal or a failure). Only settings that do not change the networks or data
    /// may be changed (e.g. --steps, --set agent.alpha=...).
    #[arg(long, conflicts_with_all = ["dataset", "preset", "config", "out", "force"])]
    pub resume: Option<PathBuf>,
    /// Start over in an --out directory that holds another run (deleting it).
    #[arg(long)]
    pub force: bool,
    /// Resumable checkpoint every this many steps (default 50000; 0 = none by count).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// ... or every this many minutes, whichever comes first (default 10; 0 = never).
    #[arg(long)]
    pub checkpoint_minutes: Option<f32>,
    /// A Minari dataset's dict observation keys to concatenate, in order (e.g.
    /// observation,desired_goal; default: D4RL's layout, see docs/configuration.md).
    #[arg(long, value_delimiter = ',')]
    pub obs_keys: Option<Vec<String>>,
    /// Named preset (see `pars presets`); default "pars", or the preset named by --env
    /// (with --algo iql: "iql", or IQL's settings for the --env's domain).
    #[arg(long)]
    pub preset: Option<String>,
    /// The learner (default: the preset's): pars, td3bc (preset td3bc), rebrac
    /// (preset rebrac-<--env>, or --preset rebrac-<dataset>), iql, sac (preset sac;
    /// sac-n for SAC-N). Sets `algorithm`.
    #[arg(long, value_enum)]
    pub algo: Option<TrainAlgo>,
    /// TOML file with fields of the run config (top level) and `[agent]`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunFlags,
    /// c_reward.
    #[arg(long)]
    pub reward_scale: Option<f32>,
    /// L, distance of the infeasible region.
    #[arg(long)]
    pub infeasible_distance: Option<f32>,
    /// LayerNorm in the critic (true/false).
    #[arg(long)]
    pub layer_norm: Option<bool>,
    /// Ensemble size N.
    #[arg(long)]
    pub n_critics: Option<usize>,
    /// S_critic, members in the min of the TD target.
    #[arg(long)]
    pub critic_subset: Option<usize>,
    #[arg(long, value_enum)]
    pub activation: Option<Activation>,
    #[arg(long)]
    pub hidden: Option<usize>,
    #[arg(long)]
    pub critic_depth: Option<usize>,
    #[arg(long)]
    pub actor_depth: Option<usize>,
    #[arg(long)]
    pub gamma: Option<f32>,
    #[arg(long)]
    pub policy_noise: Option<f32>,
    /// Minimum reward of the task (default: the dataset's).
    #[arg(long)]
    pub r_min: Option<f32>,
}

/// `pars train --algo`: a learner, or a baseline that is a setting of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainAlgo {
    /// PARS (and its ablations): `algorithm = "pars"`.
    Pars,
    /// TD3+BC: the PARS learner with preset `td3bc`.
    Td3bc,
    /// ReBRAC: the PARS learner with a `rebrac-<dataset>` preset.
    Rebrac,
    Iql,
    /// SAC offline (preset `sac`; `sac-n` for SAC-N).
    Sac,
}

impl TrainAlgo {
    fn algorithm(self) -> Algorithm {
        match self {
            TrainAlgo::Pars | TrainAlgo::Td3bc | TrainAlgo::Rebrac => Algorithm::Pars,
            TrainAlgo::Iql => Algorithm::Iql,
            TrainAlgo::Sac => Algorithm::Sac,
        }
    }

    /// The preset this choice implies when none is given.
    fn default_preset(self, env: Option<&str>) -> Result<Option<String>> {
        Ok(match self {
            TrainAlgo::Td3bc => Some("td3bc".into()),
            TrainAlgo::Rebrac => {
                let env = env.context(
                    "option --algo rebrac needs --env (ReBRAC's preset for that dataset) or --preset rebrac-<dataset>",
                )?;
                Some(rebrac_preset_for(env).with_context(|| {
                    format!("ReBRAC has no preset for '{env}'; pass --preset rebrac-<dataset> (see pars presets)")
                })?)
            }
            _ => None,
        })
    }
}

impl TrainArgs {
    fn sources(&self) -> Result<TrainSources> {
        let mut o = Overrides::default();
        o.add("algorithm", &self.algo.map(TrainAlgo::algorithm))?;
        self.run.overrides(&mut o)?;
        o.add("agent.reward_scale", &self.reward_scale)?;
        o.add("agent.infeasible_distance", &self.infeasible_distance)?;
        o.add("agent.critic_layer_norm", &self.layer_norm)?;
        o.add("agent.n_critics", &self.n_critics)?;
        o.add("agent.critic_subset", &self.critic_subset)?;
        o.add("agent.activation", &self.activation)?;
        o.add("agent.hidden", &self.hidden)?;
        o.add("agent.critic_depth", &self.critic_depth)?;
        o.add("agent.actor_depth", &self.actor_depth)?;
        o.add("agent.gamma", &self.gamma)?;
        o.add("agent.policy_noise", &self.policy_noise)?;
        o.add("agent.r_min", &self.r_min)?;
        o.add("checkpoint_every", &self.checkpoint_every)?;
        o.add("checkpoint_minutes", &self.checkpoint_minutes)?;
        o.add("obs_keys", &self.obs_keys)?;
        let preset = match (&self.preset, self.algo) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(a)) if self.resume.is_none() => {
                a.default_preset(self.run.env.as_deref())?
            }
            _ => None,
        };
        Ok(TrainSources {
            preset,
            env: self.run.env.clone(),
            label: self.run.label.clone(),
            config_file: self.config.clone(),
            flags: o.0,
            sets: self.run.set.clone(),
        })
    }
}

pub fn run(a: TrainArgs, out: &Output) -> Result<()> {
    let src = a.sources()?;
    if let Some(dir) = &a.resume {
        let done = resume_run(dir, src.flags, &src.sets, out.progress())?;
        if !out.quiet {
            print_train_summary(&done.label, &done.result);
            println!("run directory: {}", done.dir.display());
        }
        return Ok(());
    }
    let dataset = a
        .dataset
        .clone()
        .expect("clap requires --dataset without --resume");
    let (name, from_env) = preset_for(&src);
    if from_env {
        eprintln!("using preset {name} (from --env; --preset overrides)");
    }
    let cfg = resolve_train_config(&src)?;
    let dir = a
        .run
        .out
        .clone()
        .unwrap_or_else(|| default_run_dir(&cfg, &dataset));
    let done = train_run(&cfg, &dataset, &dir, a.force, out.progress())?;
    if !out.quiet {
        print_train_summary(&cfg.algo, &done.result);
        println!("run directory: {}", done.dir.display());
    }
    Ok(())
}
