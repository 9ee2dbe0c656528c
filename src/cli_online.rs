//! `pars finetune`, `pars online` and the policy/replay modes of `pars collect`.
use crate::algos::online::{
    apply_online_config, load_offline_run, replay_dataset, OnlineConfig, OnlineResult, OnlineRun,
    STATE_FILE,
};
use crate::algos::presets::{preset, OnlineSettings};
use crate::algos::{Agent, AgentConfig};
use crate::cli::{apply_overrides, load_transitions, CollectArgs};
use crate::data::{self, Transitions};
use crate::envs::collect::rollout_policy;
use crate::envs::make_env;
use crate::policy::Policy;
use crate::run::RunDir;
use anyhow::{bail, ensure, Context, Result};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// Options shared by `finetune` and `online` (all default to the preset's values).
#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct OnlineOpts {
    /// Run directory to create.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Environment id (finetune: default the offline run's).
    #[arg(long)]
    pub env: Option<String>,
    /// Environment steps (finetune 300000, online 100000).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Seed of exploration, sampling and episode starts (finetune: the offline run's).
    #[arg(long)]
    pub seed: Option<u64>,
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
    /// Evaluate every this many environment steps (finetune 10000, online 5000).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Episodes per evaluation (default 10).
    #[arg(long)]
    pub eval_episodes: Option<usize>,
    /// Metrics row every this many environment steps (default 1000).
    #[arg(long)]
    pub log_every: Option<u64>,
    /// Resumable checkpoint every this many environment steps (default 10000, 0 = none).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// α, weight of the infeasible-action penalty online (preset's online α).
    #[arg(long)]
    pub alpha: Option<f32>,
    /// β, behaviour-cloning weight online (preset's online β).
    #[arg(long)]
    pub beta: Option<f32>,
    /// S_actor: the actor maximises the mean of this many random critics.
    #[arg(long)]
    pub actor_subset: Option<usize>,
    /// Infeasible-action penalty (true/false; finetune keeps the offline setting).
    #[arg(long)]
    pub penalty: Option<bool>,
    /// Batch size of the updates.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Any config field, e.g. --set agent.tau=0.01 or --set utd=10 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Label for tables and plots.
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct FinetuneArgs {
    /// Offline run directory (from `pars train`) to continue online.
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    pub from: Option<PathBuf>,
    /// Continue an interrupted fine-tune (its --out directory).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Preset whose online settings to use (default: the offline run's preset).
    #[arg(long)]
    pub preset: Option<String>,
    /// Offline dataset to mix in (default: the one the run was trained on).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    #[command(flatten)]
    pub opts: OnlineOpts,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnlineAlgo {
    /// TD3: two critics, no LayerNorm, no penalty, no reward scaling, β = 0.
    Td3,
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
    pub opts: OnlineOpts,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// base → flags → --set, through TOML (so a resumed run reads identical values).
fn resolve(
    base: OnlineConfig,
    o: &OnlineOpts,
    extra: &[(&str, toml::Value)],
) -> Result<OnlineConfig> {
    let mut v = toml::Value::try_from(&base)?;
    let mut sets: Vec<(String, toml::Value)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    macro_rules! flag {
        ($field:ident, $key:expr) => {
            if let Some(x) = o.$field.clone() {
                sets.push(($key.to_string(), toml::Value::try_from(x)?));
            }
        };
    }
    flag!(label, "algo");
    flag!(env, "env");
    flag!(steps, "steps");
    flag!(seed, "seed");
    flag!(utd, "utd");
    flag!(actor_every, "actor_every");
    flag!(offline_fraction, "offline_fraction");
    flag!(exploration_noise, "exploration_noise");
    flag!(random_steps, "random_steps");
    flag!(learning_starts, "learning_starts");
    flag!(buffer_size, "buffer_size");
    flag!(eval_every, "eval_every");
    flag!(eval_episodes, "eval_episodes");
    flag!(log_every, "log_every");
    flag!(checkpoint_every, "checkpoint_every");
    flag!(alpha, "agent.alpha");
    flag!(beta, "agent.beta");
    flag!(actor_subset, "agent.actor_subset");
    flag!(penalty, "agent.penalty");
    flag!(batch_size, "agent.batch_size");
    apply_overrides(&mut v, sets, &o.set)?;
    let cfg: OnlineConfig = v.try_into().context("invalid configuration")?;
    cfg.validate()?;
    Ok(cfg)
}

fn load_offline(cfg: &OnlineConfig) -> Result<Option<Transitions>> {
    match &cfg.dataset {
        Some(p) => {
            let p = Path::new(p);
            ensure!(p.exists(), "dataset file {} does not exist", p.display());
            Ok(Some(load_transitions(p)?.1))
        }
        None => Ok(None),
    }
}

/// Start a fresh run in `out` (refusing to clobber an interrupted one).
fn start(cfg: OnlineConfig, agent: Agent, out: &Path, quiet: bool) -> Result<()> {
    let staging = crate::run::staging_path(out)?;
    ensure!(
        !staging.exists(),
        "an interrupted run exists for {}; continue it with --resume {} or delete {}",
        out.display(),
        out.display(),
        staging.display()
    );
    let offline = load_offline(&cfg)?;
    let mut env = make_env(&cfg.env)?;
    let mut eval_env = make_env(&cfg.env)?;
    if let Some(d) = &offline {
        ensure!(
            (d.obs_dim, d.act_dim) == (env.obs_dim(), env.act_dim()),
            "dataset has obs/action dimensions {}/{} but environment {} has {}/{}",
            d.obs_dim,
            d.act_dim,
            cfg.env,
            env.obs_dim(),
            env.act_dim()
        );
    }
    let run = RunDir::create(out)?;
    run.write_text("online.toml", &toml::to_string_pretty(&cfg)?)?;
    let mut online = OnlineRun::new(cfg, agent, offline.as_ref())?;
    let res = online.run(
        env.as_mut(),
        Some(eval_env.as_mut()),
        Some(run.path()),
        u64::MAX,
        !quiet,
    )?;
    let path = run.finish()?;
    report(&online.cfg, &res, &path, quiet);
    Ok(())
}

/// Continue the interrupted run of `out` from its last checkpoint.
fn resume(out: &Path, quiet: bool) -> Result<()> {
    let is_staging = out
        .file_name()
        .map(|n| {
            let n = n.to_string_lossy();
            n.starts_with('.') && n.ends_with(".partial")
        })
        .unwrap_or(false);
    let (staging, final_path) = if is_staging {
        let name = out.file_name().unwrap().to_string_lossy();
        let bare = &name[1..name.len() - ".partial".len()];
        (out.to_path_buf(), out.with_file_name(bare))
    } else {
        (crate::run::staging_path(out)?, out.to_path_buf())
    };
    let state = staging.join("checkpoints").join(STATE_FILE);
    if !state.is_file() {
        if final_path.join("online.toml").is_file() {
            bail!("run {} has already finished", final_path.display());
        }
        if staging.exists() {
            bail!(
                "run {} was interrupted before its first checkpoint; start it again (delete {})",
                final_path.display(),
                staging.display()
            );
        }
        bail!("no interrupted online run at {}", out.display());
    }
    ensure!(
        !final_path.exists(),
        "{} already exists; cannot finish the resumed run there",
        final_path.display()
    );
    let text = std::fs::read_to_string(staging.join("online.toml"))
        .with_context(|| format!("{}: no online.toml", staging.display()))?;
    let cfg: OnlineConfig = toml::from_str(&text)
        .with_context(|| format!("{}: invalid online.toml", staging.display()))?;
    let offline = load_offline(&cfg)?;
    let mut env = make_env(&cfg.env)?;
    let mut eval_env = make_env(&cfg.env)?;
    let mut online = OnlineRun::load(&state, cfg, offline.as_ref())?;
    if !quiet {
        println!(
            "resuming {} at environment step {}",
            final_path.display(),
            online.env_steps()
        );
    }
    let res = online.run(
        env.as_mut(),
        Some(eval_env.as_mut()),
        Some(&staging),
        u64::MAX,
        !quiet,
    )?;
    std::fs::rename(&staging, &final_path)
        .with_context(|| format!("cannot move the run to {}", final_path.display()))?;
    report(&online.cfg, &res, &final_path, quiet);
    Ok(())
}

fn report(cfg: &OnlineConfig, res: &OnlineResult, path: &Path, quiet: bool) {
    if quiet {
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

fn check_no_options(opts: &OnlineOpts, others: bool) -> Result<()> {
    ensure!(
        *opts == OnlineOpts::default() && !others,
        "option --resume cannot be combined with other options: the run keeps its configuration"
    );
    Ok(())
}

/// `pars finetune`: continue an offline run online (SPEC §4).
pub fn cmd_finetune(a: FinetuneArgs) -> Result<()> {
    if let Some(dir) = &a.resume {
        check_no_options(&a.opts, a.preset.is_some() || a.dataset.is_some())?;
        return resume(dir, a.quiet);
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
        if !a.quiet {
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
        .opts
        .env
        .clone()
        .or_else(|| train.env.clone())
        .with_context(|| {
            format!(
                "{} has no evaluation environment; pass --env",
                from.display()
            )
        })?;
    let agent_cfg = AgentConfig {
        alpha: settings.alpha,
        beta: Some(settings.beta),
        actor_subset: Some(settings.actor_subset.min(train.agent.n_critics)),
        ..train.agent.clone()
    };
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
    let cfg = resolve(base, &a.opts, &[])?;
    apply_online_config(&mut agent, &cfg.agent)?;
    let out = match &a.opts.out {
        Some(o) => o.clone(),
        None => crate::run::unique_run_dir(PathBuf::from(format!(
            "{}-finetune-s{}",
            from.display().to_string().trim_end_matches('/'),
            cfg.seed
        ))),
    };
    start(cfg, agent, &out, a.quiet)
}

/// `pars online`: learn from scratch with no offline data.
pub fn cmd_online(a: OnlineArgs) -> Result<()> {
    if let Some(dir) = &a.resume {
        check_no_options(&a.opts, a.hidden.is_some() || a.algo != OnlineAlgo::Td3)?;
        return resume(dir, a.quiet);
    }
    let env_id = a.opts.env.clone().context("option --env is required")?;
    let probe = make_env(&env_id)?;
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
    let label = match a.algo {
        OnlineAlgo::Td3 => {
            agent = AgentConfig {
                critic_layer_norm: false,
                n_critics: 2,
                critic_subset: 2,
                actor_subset: None,
                reward_scale: 1.0,
                penalty: false,
                beta: Some(0.0),
                ..agent
            };
            "TD3"
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
        env: env_id.clone(),
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
    let cfg = resolve(base, &a.opts, &[])?;
    ensure!(
        !cfg.agent.penalty || cfg.agent.q_min.is_some() || cfg.agent.r_min.is_some(),
        "the infeasible-action penalty needs Q_min: pass --set agent.r_min=<the task's minimum reward>"
    );
    let q_min = cfg.agent.resolve_q_min(0.0);
    let agent = Agent::new(
        cfg.agent.clone(),
        probe.obs_dim(),
        probe.act_dim(),
        q_min,
        cfg.steps,
        cfg.seed,
    );
    let out = match &a.opts.out {
        Some(o) => o.clone(),
        None => crate::run::unique_run_dir(PathBuf::from("runs").join(format!(
            "online-{}-{}-s{}",
            crate::run::sanitize_label(label).to_lowercase(),
            crate::run::sanitize_label(&env_id),
            cfg.seed
        ))),
    };
    start(cfg, agent, &out, a.quiet)
}

/// `pars collect --policy` (roll out a saved policy) and `--from-run` (export the
/// replay buffer of an online run).
pub fn collect_extra(a: &CollectArgs) -> Result<()> {
    let ds = if let Some(run) = &a.from_run {
        let state = run.join("checkpoints").join(STATE_FILE);
        ensure!(
            run.join("online.toml").is_file() && state.is_file(),
            "{} is not a finished `pars online` / `pars finetune` run",
            run.display()
        );
        replay_dataset(&state)?
    } else {
        let p = a.policy.as_ref().context("option --policy is required")?;
        let path = if p.is_dir() {
            p.join("policy.pnet")
        } else {
            p.clone()
        };
        let mut policy = Policy::load(&path)?;
        let mut env = make_env(&a.env)?;
        ensure!(
            policy.obs_dim() == env.obs_dim() && policy.act_dim() == env.act_dim(),
            "policy {} has obs/action dimensions {}/{} but environment {} has {}/{}",
            path.display(),
            policy.obs_dim(),
            policy.act_dim(),
            a.env,
            env.obs_dim(),
            env.act_dim()
        );
        ensure!(a.steps > 0, "option --steps must be positive");
        rollout_policy(
            env.as_mut(),
            |o| policy.act(o).to_vec(),
            a.steps,
            a.policy_noise,
            a.seed,
        )?
    };
    data::write_d4rl(&a.out, &ds)?;
    let ends = ds
        .terminals
        .iter()
        .zip(&ds.timeouts)
        .filter(|(t, o)| **t || **o)
        .count();
    println!(
        "wrote {} ({} rows, {} episodes, {} reached a terminal)",
        a.out.display(),
        ds.len(),
        ends,
        ds.terminals.iter().filter(|&&t| t).count()
    );
    Ok(())
}
