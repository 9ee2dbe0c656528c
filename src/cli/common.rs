//! What several commands share: the global output flags, the run flags of `train`,
//! `finetune` and `online` (flattened into each), and loading a policy for an env.
use crate::envs::{make_env, Env};
use crate::policy::Policy;
use anyhow::{ensure, Result};
use clap::Args;
use std::path::{Path, PathBuf};

/// Global flags: how much a command prints.
#[derive(Args, Debug, Clone, Default)]
pub struct Output {
    /// No progress bars or summaries (warnings and errors still print).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More log output (-v info, -vv debug); PARS_LOG=<filter> sets it exactly.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Output {
    /// Progress bars are drawn unless --quiet (and only on a terminal, by indicatif).
    pub fn progress(&self) -> bool {
        !self.quiet
    }
}

/// Flags of every training command (`train`, `finetune`, `online`). All default to
/// the preset's (or the command's) values; each maps to one config key.
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct RunFlags {
    /// Run directory to create (default under runs/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Environment id: evaluation for train (omit to skip evaluation), the task for
    /// online, default the offline run's for finetune.
    #[arg(long)]
    pub env: Option<String>,
    /// Gradient steps (train) or environment steps (finetune, online).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Seed of initialisation, sampling and exploration.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Batch size of the updates.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Evaluate every this many steps.
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Episodes per evaluation.
    #[arg(long)]
    pub eval_episodes: Option<usize>,
    /// Metrics row every this many steps.
    #[arg(long)]
    pub log_every: Option<u64>,
    /// α, weight of the infeasible-action penalty.
    #[arg(long)]
    pub alpha: Option<f32>,
    /// β, behaviour-cloning weight.
    #[arg(long)]
    pub beta: Option<f32>,
    /// Infeasible-action penalty (true/false).
    #[arg(long)]
    pub penalty: Option<bool>,
    /// Any config field, e.g. --set agent.tau=0.01 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Label for tables and plots (default: the preset name).
    #[arg(long)]
    pub label: Option<String>,
    /// No TensorBoard event file next to metrics.csv (sets `tensorboard = false`).
    #[arg(long)]
    pub no_tensorboard: bool,
}

/// Collects `(config key, value)` pairs from optional flag values.
#[derive(Default)]
pub struct Overrides(pub Vec<(String, toml::Value)>);

impl Overrides {
    pub fn add<T: serde::Serialize>(&mut self, key: &str, v: &Option<T>) -> Result<()> {
        if let Some(x) = v {
            self.0.push((key.to_string(), toml::Value::try_from(x)?));
        }
        Ok(())
    }
}

impl RunFlags {
    /// The flags' config keys (the same in offline and online configs).
    pub fn overrides(&self, o: &mut Overrides) -> Result<()> {
        o.add("steps", &self.steps)?;
        o.add("seed", &self.seed)?;
        o.add("eval_every", &self.eval_every)?;
        o.add("eval_episodes", &self.eval_episodes)?;
        o.add("log_every", &self.log_every)?;
        o.add("agent.batch_size", &self.batch_size)?;
        o.add("agent.alpha", &self.alpha)?;
        o.add("agent.beta", &self.beta)?;
        o.add("agent.penalty", &self.penalty)?;
        o.add("tensorboard", &self.no_tensorboard.then_some(false))?;
        Ok(())
    }
}

/// A saved policy (a `policy.safetensors` file, an agent checkpoint, or a run
/// directory holding `policy.safetensors`).
pub fn policy_file(p: &Path) -> PathBuf {
    if p.is_dir() {
        crate::run::RunPaths::new(p).policy()
    } else {
        p.to_path_buf()
    }
}

/// Load a saved policy and make `env_id`, checking that their dimensions agree.
pub fn policy_and_env(policy: &Path, env_id: &str) -> Result<(Policy, Box<dyn Env>)> {
    let path = policy_file(policy);
    let policy = Policy::load(&path)?;
    let env = make_env(env_id)?;
    ensure!(
        policy.obs_dim() == env.obs_dim() && policy.act_dim() == env.act_dim(),
        "policy {} has obs/action dimensions {}/{} but environment {} has {}/{}",
        path.display(),
        policy.obs_dim(),
        policy.act_dim(),
        env_id,
        env.obs_dim(),
        env.act_dim()
    );
    Ok((policy, env))
}

/// Flags of the online loop, shared by `finetune` and `online`.
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct OnlineFlags {
    /// Critic updates per environment step (finetune 20, online 1).
    #[arg(long)]
    pub utd: Option<usize>,
    /// One actor update every this many environment steps (finetune 1, online 2).
    #[arg(long)]
    pub actor_every: Option<u64>,
    /// Fraction of each batch drawn from the offline dataset (preset; 0.5 for most).
    #[arg(long)]
    pub offline_fraction: Option<f32>,
    /// σ of the Gaussian exploration noise (finetune: preset, online 0.1).
    #[arg(long)]
    pub exploration_noise: Option<f32>,
    /// Uniformly random actions for this many initial environment steps (online 25000).
    #[arg(long)]
    pub random_steps: Option<u64>,
    /// No updates before this many environment steps (finetune 0, online 25000).
    #[arg(long)]
    pub learning_starts: Option<u64>,
    /// Capacity of the online replay buffer (default 1000000).
    #[arg(long)]
    pub buffer_size: Option<usize>,
    /// Resumable checkpoint every this many environment steps (default 10000, 0 = none).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// S_actor: the actor maximises the mean of this many random critics.
    #[arg(long)]
    pub actor_subset: Option<usize>,
}

impl OnlineFlags {
    /// Config keys of `OnlineConfig`, with the run flags (label → algo, env → env).
    pub fn overrides(&self, run: &RunFlags) -> Result<Overrides> {
        let mut o = Overrides::default();
        o.add("algo", &run.label)?;
        o.add("env", &run.env)?;
        run.overrides(&mut o)?;
        o.add("utd", &self.utd)?;
        o.add("actor_every", &self.actor_every)?;
        o.add("offline_fraction", &self.offline_fraction)?;
        o.add("exploration_noise", &self.exploration_noise)?;
        o.add("random_steps", &self.random_steps)?;
        o.add("learning_starts", &self.learning_starts)?;
        o.add("buffer_size", &self.buffer_size)?;
        o.add("checkpoint_every", &self.checkpoint_every)?;
        o.add("agent.actor_subset", &self.actor_subset)?;
        Ok(o)
    }
}

/// `--resume` keeps a run's configuration: refuse any other option next to it.
pub fn check_resume_alone(
    run: &RunFlags,
    online: &OnlineFlags,
    others: bool,
) -> Result<Option<u64>> {
    let rest = RunFlags {
        steps: None,
        ..run.clone()
    };
    ensure!(
        rest == RunFlags::default() && *online == OnlineFlags::default() && !others,
        "option --resume takes no other options except --steps (a new length): the run keeps its configuration"
    );
    Ok(run.steps)
}

/// The summary printed after an online run (fine-tune or from scratch).
pub fn print_online_summary(
    cfg: &crate::config::OnlineConfig,
    res: &crate::training::online::OnlineResult,
    path: &Path,
    out: &Output,
) {
    if out.quiet {
        return;
    }
    if let Some(ev) = &res.final_eval {
        println!(
            "{}: after {} environment steps: normalised score {:.1} ± {:.1}{}",
            cfg.algo,
            cfg.steps,
            ev.mean_score,
            ev.std_score,
            ev.success_rate
                .map(|s| format!(", success {:.0}%", 100.0 * s))
                .unwrap_or_default()
        );
    }
    println!(
        "{} training episodes{}, {:.0} critic updates/s, {:.1} environment steps/s",
        res.episodes,
        res.train_success_rate
            .map(|s| format!(" ({:.0}% reached the goal)", 100.0 * s))
            .unwrap_or_default(),
        res.updates_per_s,
        res.env_steps_per_s
    );
    println!("run directory: {}", path.display());
}

/// The one-line summary printed after an offline run.
pub fn print_train_summary(label: &str, res: &crate::training::TrainResult) {
    match &res.final_eval {
        Some(ev) => println!(
            "{label}: normalised score {:.1} ± {:.1}, return {:.3}{} ({:.0} steps/s)",
            ev.mean_score,
            ev.std_score,
            ev.mean_return,
            ev.success_rate
                .map(|s| format!(", success {:.0}%", 100.0 * s))
                .unwrap_or_default(),
            res.steps_per_s
        ),
        None => println!(
            "{label}: trained ({:.0} steps/s), no evaluation environment",
            res.steps_per_s
        ),
    }
}
