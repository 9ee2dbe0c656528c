//! Configuration in one place: the agent (networks + PARS/TD3+BC switches), IQL's
//! settings, an offline run (`TrainConfig`), `--set` overrides, the named presets
//! (`presets`), online runs with their defaults (`online`) and what a resumed run may
//! change (`resume`).
pub mod baselines;
pub mod online;
pub mod presets;
pub mod resume;

pub use online::{OnlineAlgo, OnlineConfig};
pub use presets::Preset;
pub use resume::RESUMABLE_KEYS;

use crate::nn::Activation;
use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};

/// Everything that defines one PARS / TD3+BC agent. The paper's ablations are fields:
/// `critic_layer_norm`, `penalty` (PA), `reward_scale`, `infeasible_distance`,
/// `n_critics`, `critic_subset`, `activation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Hidden width of actor and critics.
    pub hidden: usize,
    pub critic_depth: usize,
    pub actor_depth: usize,
    /// LayerNorm in the critic (the "LN" of RS-LN).
    pub critic_layer_norm: bool,
    pub activation: Activation,
    /// Ensemble size N.
    pub n_critics: usize,
    /// S_critic: members of the target ensemble whose minimum forms the TD target.
    pub critic_subset: usize,
    /// S_actor: members averaged for the actor's value online; `None` = min over all N.
    pub actor_subset: Option<usize>,
    pub gamma: f32,
    pub tau: f32,
    pub actor_lr: f32,
    pub critic_lr: f32,
    /// Cosine decay of the actor learning rate over the run (Adroit).
    pub actor_cosine: bool,
    pub batch_size: usize,
    /// c_reward: rewards are multiplied by this before the TD target.
    pub reward_scale: f32,
    /// PA on/off: penalty pushing Q(s, a_inf) towards Q_min.
    pub penalty: bool,
    /// α: weight of the PA loss.
    pub alpha: f32,
    /// L: infeasible actions are drawn from [−2L, −L] ∪ [L, 2L] per coordinate.
    pub infeasible_distance: f32,
    /// Minimum reward of the task; `None` = take it from the dataset.
    pub r_min: Option<f32>,
    /// Q_min override (paper Table 8); `None` = c_reward · r_min / (1 − γ).
    pub q_min: Option<f32>,
    /// β: behaviour-cloning weight; `None` = TD3+BC's α = 2.5, i.e. β = 0.4 / act_dim.
    pub beta: Option<f32>,
    /// β_critic: ReBRAC's behaviour-cloning penalty in the TD target,
    /// y = c·r + γ(1−d)(min Q̄(s', ā') − β_critic·Σ_d (ā'_d − a'_d)²) with a' the
    /// dataset's next action; 0 = off (PARS, TD3+BC). Absent from files when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub beta_critic: f32,
    /// σ of the target policy noise.
    pub policy_noise: f32,
    pub noise_clip: f32,
    pub policy_delay: usize,
    pub hidden_bias_init: f32,
    pub output_init_scale: f32,
    /// The value the actor maximises: the ensemble's (min over all N, or the mean of
    /// S_actor members online) or the first critic's alone (textbook TD3).
    #[serde(default)]
    pub actor_value: ActorValue,
    /// When targets move: after every critic update (SPEC §1) or only with the
    /// delayed actor update (textbook TD3).
    #[serde(default)]
    pub target_update: TargetUpdate,
    /// Weight initialisation: PARS's (He-uniform, biases `hidden_bias_init`, small
    /// output layer) or PyTorch's `nn.Linear` default (textbook TD3).
    #[serde(default)]
    pub init: crate::nn::Init,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorValue {
    #[default]
    Ensemble,
    FirstCritic,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetUpdate {
    #[default]
    EveryCritic,
    WithActor,
}

impl Default for AgentConfig {
    /// PARS with the paper's MuJoCo network shape.
    fn default() -> Self {
        Self {
            hidden: 256,
            critic_depth: 2,
            actor_depth: 2,
            critic_layer_norm: true,
            activation: Activation::Relu,
            n_critics: 10,
            critic_subset: 2,
            actor_subset: None,
            gamma: 0.99,
            tau: 5e-3,
            actor_lr: 3e-4,
            critic_lr: 3e-4,
            actor_cosine: false,
            batch_size: 256,
            reward_scale: 10.0,
            penalty: true,
            alpha: 0.001,
            infeasible_distance: 100.0,
            r_min: None,
            q_min: None,
            beta: Some(0.01),
            beta_critic: 0.0,
            policy_noise: 0.2,
            noise_clip: 0.5,
            policy_delay: 2,
            hidden_bias_init: 0.1,
            output_init_scale: 3e-3,
            actor_value: ActorValue::Ensemble,
            target_update: TargetUpdate::EveryCritic,
            init: crate::nn::Init::Pars,
        }
    }
}

impl AgentConfig {
    /// Plain TD3+BC: two critics without LayerNorm, no penalty, no reward scaling.
    pub fn td3bc() -> Self {
        Self {
            critic_layer_norm: false,
            n_critics: 2,
            critic_subset: 2,
            reward_scale: 1.0,
            penalty: false,
            beta: None,
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.batch_size > 0,
            "option batch_size must be positive (got {})",
            self.batch_size
        );
        ensure!(self.hidden > 0, "option hidden must be positive");
        ensure!(
            self.critic_depth > 0 && self.actor_depth > 0,
            "network depth must be at least 1"
        );
        ensure!(
            (1..=128).contains(&self.n_critics),
            "option n_critics must be in 1..=128 (got {})",
            self.n_critics
        );
        ensure!(
            (1..=self.n_critics).contains(&self.critic_subset),
            "option critic_subset must be in 1..={} (got {})",
            self.n_critics,
            self.critic_subset
        );
        if let Some(s) = self.actor_subset {
            ensure!(
                (1..=self.n_critics).contains(&s),
                "option actor_subset must be in 1..={}",
                self.n_critics
            );
        }
        ensure!(
            (0.0..1.0).contains(&self.gamma),
            "option gamma must be in [0, 1)"
        );
        ensure!(
            self.tau > 0.0 && self.tau <= 1.0,
            "option tau must be in (0, 1]"
        );
        ensure!(
            self.policy_delay > 0,
            "option policy_delay must be positive"
        );
        ensure!(
            self.infeasible_distance > 1.0,
            "option infeasible_distance must exceed 1 (the action box)"
        );
        for (name, v) in [
            ("beta_critic", self.beta_critic),
            ("reward_scale", self.reward_scale),
            ("alpha", self.alpha),
            ("actor_lr", self.actor_lr),
            ("critic_lr", self.critic_lr),
            ("policy_noise", self.policy_noise),
        ] {
            ensure!(
                v.is_finite() && v >= 0.0,
                "option {name} must be a finite non-negative number (got {v})"
            );
        }
        if let Some(b) = self.beta {
            ensure!(
                b.is_finite() && b >= 0.0,
                "option beta must be a finite non-negative number (got {b})"
            );
        }
        Ok(())
    }

    /// Q_min = c_reward · r_min / (1 − γ) unless overridden.
    pub fn resolve_q_min(&self, dataset_r_min: f32) -> f32 {
        self.q_min.unwrap_or_else(|| {
            self.reward_scale * self.r_min.unwrap_or(dataset_r_min) / (1.0 - self.gamma)
        })
    }

    pub fn resolve_beta(&self, act_dim: usize) -> f32 {
        self.beta.unwrap_or(0.4 / act_dim as f32)
    }
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

/// The learner of a run: PARS / TD3+BC / ReBRAC (`algos::pars`), IQL (`algos::iql`) or
/// SAC / RLPD (`algos::sac`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// PARS and TD3+BC (and their ablations): `algos::pars::Agent`.
    #[default]
    Pars,
    /// Implicit Q-learning with the RS-LN and PA switches: `algos::iql::IqlAgent`.
    Iql,
    /// Soft actor-critic with a critic ensemble (SAC, SAC-N, RLPD's learner):
    /// `algos::sac::SacAgent`.
    Sac,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Pars => "pars",
            Algorithm::Iql => "iql",
            Algorithm::Sac => "sac",
        }
    }

    /// The name in messages.
    pub fn title(self) -> &'static str {
        match self {
            Algorithm::Pars => "PARS / TD3+BC",
            Algorithm::Iql => "IQL",
            Algorithm::Sac => "SAC",
        }
    }
}

/// The policy IQL extracts by advantage-weighted regression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IqlPolicy {
    /// N(μ(s), diag σ²) with a state-independent log σ; weighted log-likelihood.
    /// Evaluation and `policy.safetensors` use the mean μ(s).
    #[default]
    Gaussian,
    /// a = μ(s); weighted squared error.
    Deterministic,
}

/// IQL's own settings (`[iql]`); networks, rates, γ, τ, c_reward and the PA switches
/// are the `[agent]` fields IQL shares with PARS (see `algos::iql`). Defaults: CORL's
/// IQL on MuJoCo/Adroit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IqlConfig {
    /// τ_e: expectile of the value regression on Q̂(s, a) − V(s), in (0, 1)
    /// (0.9 AntMaze, 0.7 MuJoCo/Adroit).
    pub expectile: f32,
    /// β_iql: temperature of the actor's weights exp(β_iql·(Q̂ − V)) (10 AntMaze,
    /// 3 MuJoCo/Adroit; 20 in the paper's §6.5).
    pub temperature: f32,
    /// The weights are clipped at this (CORL: 100).
    pub max_weight: f32,
    /// Learning rate of V.
    pub value_lr: f32,
    /// LayerNorm in V; unset = as the critics (`agent.critic_layer_norm`).
    pub value_layer_norm: Option<bool>,
    /// `gaussian` (state-independent log-std) or `deterministic`.
    pub policy: IqlPolicy,
    /// Added to every reward before the scale: the TD target uses
    /// c_reward·(r + reward_shift). 0 keeps the dataset's rewards (AntMaze {0, 1}, as
    /// PARS); CORL's IQL uses −1 on AntMaze.
    pub reward_shift: f32,
}

impl Default for IqlConfig {
    fn default() -> Self {
        Self {
            expectile: 0.7,
            temperature: 3.0,
            max_weight: 100.0,
            value_lr: 3e-4,
            value_layer_norm: None,
            policy: IqlPolicy::Gaussian,
            reward_shift: 0.0,
        }
    }
}

impl IqlConfig {
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.expectile > 0.0 && self.expectile < 1.0,
            "option iql.expectile must be in (0, 1) (got {})",
            self.expectile
        );
        ensure!(
            self.temperature.is_finite() && self.temperature >= 0.0,
            "option iql.temperature must be a finite non-negative number (got {})",
            self.temperature
        );
        ensure!(
            self.max_weight.is_finite() && self.max_weight > 0.0,
            "option iql.max_weight must be a finite positive number (got {})",
            self.max_weight
        );
        ensure!(
            self.value_lr.is_finite() && self.value_lr >= 0.0,
            "option iql.value_lr must be a finite non-negative number (got {})",
            self.value_lr
        );
        ensure!(
            self.reward_shift.is_finite(),
            "option iql.reward_shift must be a finite number (got {})",
            self.reward_shift
        );
        Ok(())
    }

    /// Whether V has LayerNorm, given the agent config.
    pub fn value_layer_norm(&self, agent: &AgentConfig) -> bool {
        self.value_layer_norm.unwrap_or(agent.critic_layer_norm)
    }

    /// Q_min of IQL's PA: the override, else c_reward·(r_min + reward_shift)/(1 − γ).
    pub fn resolve_q_min(&self, agent: &AgentConfig, dataset_r_min: f32) -> f32 {
        agent.q_min.unwrap_or_else(|| {
            agent.reward_scale * (agent.r_min.unwrap_or(dataset_r_min) + self.reward_shift)
                / (1.0 - agent.gamma)
        })
    }
}

/// SAC's own settings (`[sac]`); networks, rates, γ, τ, c_reward, the ensemble
/// (`n_critics`, the target's `critic_subset`) and the actor's value (`actor_subset`:
/// unset = min over all members, as SAC; k = the mean of k members, all of them when
/// k = N, as RLPD) are the `[agent]` fields SAC shares with PARS (see `algos::sac`).
/// Defaults: Haarnoja et al. (2018b) with automatic entropy tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SacConfig {
    /// α at the start (log α is learned).
    pub init_temperature: f32,
    /// H̄: the entropy the temperature steers towards; unset = −k·|A| with k =
    /// `target_entropy_scale`.
    pub target_entropy: Option<f32>,
    /// k of the default H̄ = −k·|A| (SAC 1, RLPD 0.5).
    pub target_entropy_scale: f32,
    /// Learning rate of log α (0 keeps α fixed).
    pub temperature_lr: f32,
    /// Subtract γ·α·log π(a'|s') in the TD target (RLPD turns it off on AntMaze).
    pub backup_entropy: bool,
    /// Added to every reward before the scale: y uses c_reward·(r + reward_shift)
    /// (RLPD uses −1 on AntMaze).
    pub reward_shift: f32,
}

impl Default for SacConfig {
    fn default() -> Self {
        Self {
            init_temperature: 1.0,
            target_entropy: None,
            target_entropy_scale: 1.0,
            temperature_lr: 3e-4,
            backup_entropy: true,
            reward_shift: 0.0,
        }
    }
}

impl SacConfig {
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.init_temperature.is_finite() && self.init_temperature > 0.0,
            "option sac.init_temperature must be a finite positive number (got {})",
            self.init_temperature
        );
        if let Some(h) = self.target_entropy {
            ensure!(
                h.is_finite(),
                "option sac.target_entropy must be a finite number (got {h})"
            );
        }
        ensure!(
            self.reward_shift.is_finite(),
            "option sac.reward_shift must be a finite number (got {})",
            self.reward_shift
        );
        ensure!(
            self.target_entropy_scale.is_finite(),
            "option sac.target_entropy_scale must be a finite number (got {})",
            self.target_entropy_scale
        );
        ensure!(
            self.temperature_lr.is_finite() && self.temperature_lr >= 0.0,
            "option sac.temperature_lr must be a finite non-negative number (got {})",
            self.temperature_lr
        );
        Ok(())
    }

    /// H̄ for an action space of `act_dim` dimensions.
    pub fn resolve_target_entropy(&self, act_dim: usize) -> f32 {
        self.target_entropy
            .unwrap_or(-self.target_entropy_scale * act_dim as f32)
    }

    /// The `[agent]` settings SAC cannot use, as an error.
    pub fn check_agent(agent: &AgentConfig) -> Result<()> {
        ensure!(
            !agent.penalty,
            "SAC does not use the infeasible-action penalty: set agent.penalty = false"
        );
        ensure!(
            agent.beta_critic == 0.0,
            "SAC has no critic BC penalty: set agent.beta_critic = 0"
        );
        Ok(())
    }
}

/// A whole offline training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Algorithm label used in tables and plots ("PARS", "TD3+BC", ...).
    pub algo: String,
    /// The learner: `pars` (PARS / TD3+BC) or `iql`.
    #[serde(default)]
    pub algorithm: Algorithm,
    pub agent: AgentConfig,
    /// IQL's settings (`algorithm = "iql"` only; absent: the defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iql: Option<IqlConfig>,
    /// SAC's settings (`algorithm = "sac"` only; absent: the defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sac: Option<SacConfig>,
    pub steps: u64,
    pub seed: u64,
    /// Evaluate every this many gradient steps (0 = only at the end).
    pub eval_every: u64,
    pub eval_episodes: usize,
    /// Write a metrics row every this many steps.
    pub log_every: u64,
    /// Environment id used for evaluation (None = no evaluation).
    pub env: Option<String>,
    /// Resumable checkpoint every this many steps (0 = none by count).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// ... or when this many minutes passed since the last one (0 = none by time).
    #[serde(default = "default_checkpoint_minutes")]
    pub checkpoint_minutes: f32,
    /// Also write the metrics rows as a TensorBoard event file (`--no-tensorboard`).
    #[serde(default = "default_tensorboard")]
    pub tensorboard: bool,
    /// A Minari dataset's dict observation keys, concatenated in this order (None: the
    /// default order of `data::default_obs_keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obs_keys: Option<Vec<String>>,
    /// Returns (random, expert) that normalise evaluation scores instead of D4RL's table:
    /// a Minari dataset's `ref_min_score` and `ref_max_score`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_reference: Option<[f64; 2]>,
}

/// A `score_reference` must be finite returns with random < expert.
pub(crate) fn check_score_reference(r: Option<[f64; 2]>) -> Result<()> {
    if let Some([lo, hi]) = r {
        ensure!(
            lo.is_finite() && hi.is_finite() && lo < hi,
            "score_reference = [{lo}, {hi}]: needs finite random < expert returns"
        );
    }
    Ok(())
}

fn default_checkpoint_every() -> u64 {
    50_000
}

pub(crate) fn default_tensorboard() -> bool {
    true
}

fn default_checkpoint_minutes() -> f32 {
    10.0
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            algo: "PARS".into(),
            algorithm: Algorithm::Pars,
            agent: AgentConfig::default(),
            iql: None,
            sac: None,
            steps: 1_000_000,
            seed: 0,
            eval_every: 50_000,
            eval_episodes: 10,
            log_every: 1000,
            env: None,
            checkpoint_every: default_checkpoint_every(),
            checkpoint_minutes: default_checkpoint_minutes(),
            tensorboard: default_tensorboard(),
            obs_keys: None,
            score_reference: None,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        self.agent.validate()?;
        check_score_reference(self.score_reference)?;
        if self.algorithm != Algorithm::Iql {
            ensure!(
                self.iql.is_none(),
                "the [iql] settings apply to algorithm = \"iql\" only (use --algo iql or an IQL preset)"
            );
        }
        if self.algorithm != Algorithm::Sac {
            ensure!(
                self.sac.is_none(),
                "the [sac] settings apply to algorithm = \"sac\" only (use --algo sac or a SAC preset)"
            );
        }
        match self.algorithm {
            Algorithm::Iql => self.iql_settings().validate()?,
            Algorithm::Sac => {
                self.sac_settings().validate()?;
                SacConfig::check_agent(&self.agent)?;
            }
            Algorithm::Pars => {}
        }
        ensure!(self.steps > 0, "option steps must be positive");
        ensure!(self.log_every > 0, "option log_every must be positive");
        ensure!(
            self.eval_episodes > 0,
            "option eval_episodes must be positive"
        );
        ensure!(
            self.checkpoint_minutes.is_finite() && self.checkpoint_minutes >= 0.0,
            "option checkpoint_minutes must be a non-negative number"
        );
        Ok(())
    }

    /// IQL's settings: the `[iql]` table, or the defaults.
    pub fn iql_settings(&self) -> IqlConfig {
        self.iql.clone().unwrap_or_default()
    }

    /// SAC's settings: the `[sac]` table, or the defaults.
    pub fn sac_settings(&self) -> SacConfig {
        self.sac.clone().unwrap_or_default()
    }
}

/// Merge `over` into `base` (tables recursively).
pub fn merge_toml(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => merge_toml(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Set a dotted key (`agent.tau`) in a config tree.
pub fn set_path(root: &mut toml::Value, key: &str, value: toml::Value) -> Result<()> {
    let mut cur = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let table = cur
            .as_table_mut()
            .with_context(|| format!("option --set {key}: '{p}' is not a table"))?;
        if i + 1 == parts.len() {
            table.insert(p.to_string(), value);
            return Ok(());
        }
        cur = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Ok(())
}

/// Parse one `--set KEY=VALUE` (the value as TOML, else as a string).
pub fn parse_set(kv: &str) -> Result<(String, toml::Value)> {
    let (k, v) = kv
        .split_once('=')
        .with_context(|| format!("option --set expects KEY=VALUE, got '{kv}'"))?;
    let doc: toml::Table =
        toml::from_str(&format!("v = {v}")).or_else(|_| toml::from_str(&format!("v = \"{v}\"")))?;
    Ok((k.trim().to_string(), doc["v"].clone()))
}

/// Apply flag values, then the `--set KEY=VALUE` strings, to a config tree.
pub fn apply_overrides(
    v: &mut toml::Value,
    flags: Vec<(String, toml::Value)>,
    sets: &[String],
) -> Result<()> {
    for (k, val) in flags {
        set_path(v, &k, val)?;
    }
    for s in sets {
        let (k, val) = parse_set(s)?;
        set_path(v, &k, val)?;
    }
    Ok(())
}
