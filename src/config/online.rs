//! Configuration of an online run (`online.toml`): fine-tuning after offline training
//! (SPEC §4) and learning from scratch, with their defaults.
use super::presets::{preset, OnlineSettings};
use super::{apply_overrides, ActorValue, AgentConfig, SacConfig, TargetUpdate, TrainConfig};
use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};

/// A whole online run (stored as `online.toml` in the run directory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineConfig {
    /// Label for tables and plots.
    pub algo: String,
    /// The agent as trained online (online α, β, S_actor, PA switch applied).
    pub agent: AgentConfig,
    pub env: String,
    /// Environment steps.
    pub steps: u64,
    pub seed: u64,
    /// Critic updates per environment step.
    pub utd: usize,
    /// One actor update after the critic updates of every `actor_every`-th env step.
    pub actor_every: u64,
    /// Fraction of each batch drawn from the offline dataset (ignored without one).
    pub offline_fraction: f32,
    /// σ of the Gaussian exploration noise.
    pub exploration_noise: f32,
    /// Uniformly random actions for this many initial steps.
    pub random_steps: u64,
    /// No updates before this many environment steps.
    pub learning_starts: u64,
    /// Capacity of the online replay buffer.
    pub buffer_size: usize,
    /// Evaluate every this many env steps (0 = only at the start and end).
    pub eval_every: u64,
    pub eval_episodes: usize,
    pub log_every: u64,
    /// Write a resumable checkpoint every this many env steps (0 = never).
    pub checkpoint_every: u64,
    /// Offline run the agent came from (None = random initialisation).
    pub from_run: Option<String>,
    /// Offline dataset mixed into the batches (None = online data only).
    pub dataset: Option<String>,
    /// SAC's settings; present = the learner is SAC (`--algo sac`, `--algo rlpd`),
    /// absent = PARS / TD3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sac: Option<SacConfig>,
    /// Also write the metrics rows as a TensorBoard event file (`--no-tensorboard`).
    #[serde(default = "super::default_tensorboard")]
    pub tensorboard: bool,
    /// The offline dataset's dict observation keys, in order (as `TrainConfig::obs_keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obs_keys: Option<Vec<String>>,
    /// Returns (random, expert) that normalise scores instead of D4RL's table (as
    /// `TrainConfig::score_reference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_reference: Option<[f64; 2]>,
}

impl Default for OnlineConfig {
    /// Fine-tuning settings of SPEC §4.
    fn default() -> Self {
        Self {
            algo: "PARS".into(),
            agent: AgentConfig::default(),
            env: String::new(),
            steps: 300_000,
            seed: 0,
            utd: 20,
            actor_every: 1,
            offline_fraction: 0.5,
            exploration_noise: 0.05,
            random_steps: 0,
            learning_starts: 0,
            buffer_size: 1_000_000,
            eval_every: 10_000,
            eval_episodes: 10,
            log_every: 1000,
            checkpoint_every: 10_000,
            from_run: None,
            dataset: None,
            sac: None,
            tensorboard: true,
            obs_keys: None,
            score_reference: None,
        }
    }
}

impl OnlineConfig {
    pub fn validate(&self) -> Result<()> {
        self.agent.validate()?;
        if let Some(sac) = &self.sac {
            sac.validate()?;
            SacConfig::check_agent(&self.agent)?;
        }
        super::check_score_reference(self.score_reference)?;
        ensure!(self.steps > 0, "option steps must be positive");
        ensure!(self.utd > 0, "option utd must be positive");
        ensure!(self.actor_every > 0, "option actor_every must be positive");
        ensure!(
            (0.0..=1.0).contains(&self.offline_fraction),
            "option offline_fraction must be in [0, 1] (got {})",
            self.offline_fraction
        );
        ensure!(
            self.exploration_noise.is_finite() && self.exploration_noise >= 0.0,
            "option exploration_noise must be a finite non-negative number"
        );
        ensure!(self.buffer_size > 0, "option buffer_size must be positive");
        ensure!(self.log_every > 0, "option log_every must be positive");
        ensure!(
            self.eval_episodes > 0,
            "option eval_episodes must be positive"
        );
        Ok(())
    }

    /// Batch rows drawn from the offline dataset.
    pub fn offline_rows(&self, has_offline: bool) -> usize {
        if has_offline {
            (self.offline_fraction * self.agent.batch_size as f32).round() as usize
        } else {
            0
        }
    }
}

/// base → flags → `--set`, through TOML (so a resumed run reads identical values).
pub fn resolve_online_config(
    base: OnlineConfig,
    flags: Vec<(String, toml::Value)>,
    sets: &[String],
) -> Result<OnlineConfig> {
    let mut v = toml::Value::try_from(&base)?;
    apply_overrides(&mut v, flags, sets)?;
    let cfg: OnlineConfig = v.try_into().context("invalid configuration")?;
    cfg.validate()?;
    Ok(cfg)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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
    /// SAC with automatic entropy tuning (Haarnoja et al. 2018b): twin critics, min
    /// target, tanh-Gaussian actor, UTD 1, 10k random steps first.
    Sac,
    /// RLPD (Ball et al. 2023): SAC with 10 LayerNorm critics (target: min of a random
    /// pair), UTD 20, each batch half offline (`--dataset`), half online; no pretraining.
    Rlpd,
}

/// The base config of learning online from scratch (before flags and `--set`): the
/// preset's networks (default `pointmaze` for maze tasks, else `pars`), the algorithm's
/// critic and TD3's schedule (random actions and no updates for the first 25k steps,
/// UTD 1, the actor every `policy_delay` steps, exploration σ 0.1). Returns the label.
pub fn scratch_config(
    algo: OnlineAlgo,
    preset_name: Option<&str>,
    hidden: Option<usize>,
    env_id: &str,
) -> Result<(OnlineConfig, &'static str)> {
    let preset_name = preset_name.map(str::to_string).unwrap_or_else(|| {
        if env_id.starts_with("pointmaze") {
            "pointmaze".into()
        } else {
            "pars".into()
        }
    });
    let p = preset(&preset_name)?;
    let mut agent = p.agent.clone();
    if let Some(h) = hidden {
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
    let label = match algo {
        OnlineAlgo::Td3 => {
            agent = td3(agent);
            "TD3"
        }
        OnlineAlgo::Td3Classic => {
            agent = AgentConfig {
                actor_value: ActorValue::FirstCritic,
                target_update: TargetUpdate::WithActor,
                init: crate::nn::Init::Pytorch,
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
        OnlineAlgo::Sac | OnlineAlgo::Rlpd => return Ok(sac_config(algo, agent, env_id)),
    };
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
    Ok((base, label))
}

/// SAC's and RLPD's base configs on the preset's network widths and γ. SAC: two
/// critics without LayerNorm, min over both for target and actor, 10k uniformly
/// random steps before learning (Haarnoja et al. 2018b), α₀ = 1, H̄ = −|A|. RLPD: the
/// defaults of its official configs (docs/baselines.md): 10 LayerNorm critics, target
/// min over 2, actor on the mean of all 10, UTD 20, α₀ = 1, H̄ = −|A|/2, 5k random
/// steps, half of each batch offline; on AntMaze no entropy backup, one critic in
/// the target's min, three hidden layers and rewards shifted by −1. Both: Adam 3e-4, batch 256, τ 5e-3, c_reward 1, no PA, no BC.
fn sac_config(algo: OnlineAlgo, base: AgentConfig, env_id: &str) -> (OnlineConfig, &'static str) {
    let rlpd = algo == OnlineAlgo::Rlpd;
    let antmaze = env_id.starts_with("antmaze");
    let agent = AgentConfig {
        critic_layer_norm: rlpd,
        n_critics: if rlpd { 10 } else { 2 },
        critic_subset: if rlpd && antmaze { 1 } else { 2 },
        critic_depth: if rlpd && antmaze { 3 } else { 2 },
        actor_depth: if rlpd && antmaze { 3 } else { 2 },
        actor_subset: rlpd.then_some(10),
        reward_scale: 1.0,
        penalty: false,
        beta: Some(0.0),
        beta_critic: 0.0,
        actor_lr: 3e-4,
        critic_lr: 3e-4,
        batch_size: 256,
        tau: 5e-3,
        policy_delay: 1,
        actor_cosine: false,
        ..base
    };
    let sac = SacConfig {
        init_temperature: 1.0,
        target_entropy: None,
        target_entropy_scale: if rlpd { 0.5 } else { 1.0 },
        temperature_lr: 3e-4,
        backup_entropy: !(rlpd && antmaze),
        reward_shift: if rlpd && antmaze { -1.0 } else { 0.0 },
    };
    let start = if rlpd { 5_000 } else { 10_000 };
    let label = if rlpd { "RLPD" } else { "SAC" };
    let cfg = OnlineConfig {
        algo: label.into(),
        agent,
        env: env_id.to_string(),
        utd: if rlpd { 20 } else { 1 },
        actor_every: 1,
        offline_fraction: if rlpd { 0.5 } else { 0.0 },
        exploration_noise: 0.0,
        random_steps: start,
        learning_starts: start,
        steps: 100_000,
        eval_every: 5_000,
        sac: Some(sac),
        ..OnlineConfig::default()
    };
    (cfg, label)
}

/// The base config of fine-tuning an offline run (before flags and `--set`): the
/// online settings of `preset_name` (default: the run's own preset) applied to the
/// run's agent, its seed, environment `env`, the offline dataset mixed in. A preset
/// without online settings keeps the offline α and β with S_actor = 1; then the
/// second value is a note saying so.
pub fn finetune_config(
    train: &TrainConfig,
    act_dim: usize,
    preset_name: Option<&str>,
    env: String,
    from_run: String,
    dataset: String,
) -> Result<(OnlineConfig, Option<String>)> {
    let name = preset_name.unwrap_or(&train.algo);
    let settings = match preset(name) {
        Ok(p) => p.online,
        Err(e) if preset_name.is_some() => return Err(e),
        Err(_) => None,
    };
    let note = settings.is_none().then(|| {
        format!(
            "note: preset '{name}' has no online settings; keeping the offline α and β, S_actor = 1"
        )
    });
    let settings = settings.unwrap_or_else(|| OnlineSettings {
        alpha: train.agent.alpha,
        beta: train.agent.resolve_beta(act_dim),
        actor_subset: 1,
        offline_fraction: 0.5,
        exploration_noise: 0.05,
    });
    // The offline run's reference scores hold only in its own environment.
    let score_reference = train
        .score_reference
        .filter(|_| train.env.as_ref() == Some(&env));
    let base = OnlineConfig {
        algo: format!("{} finetune", train.algo),
        agent: settings.online_agent(&train.agent),
        env,
        seed: train.seed,
        offline_fraction: settings.offline_fraction,
        exploration_noise: settings.exploration_noise,
        from_run: Some(from_run),
        dataset: Some(dataset),
        obs_keys: train.obs_keys.clone(),
        score_reference,
        ..OnlineConfig::default()
    };
    Ok((base, note))
}
