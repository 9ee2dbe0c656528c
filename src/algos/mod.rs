//! The learners: the math of one update each, in the paper's terms, behind one trait.
//!
//! - `pars.rs`: PARS and TD3+BC (one agent, a switch for every PARS component);
//! - `iql.rs`: IQL with the RS-LN and PA switches (paper §6.5);
//! - `sac.rs`: SAC with automatic entropy tuning on a critic ensemble (SAC, SAC-N and
//!   RLPD's learner).
//!
//! ReBRAC is a setting of `pars.rs` (its critic BC term `beta_critic`, LayerNorm
//! critics, no PA, c_reward 1), as TD3+BC is: the paper's own code is ReBRAC's with
//! PARS's changes added, and the update is the same equations. RLPD is SAC with its
//! presets and the online loop's symmetric sampling.
//!
//! A learner owns its networks, optimisers, targets, step count and random draws, and
//! writes and reads its own tensors (as CORL's `state_dict()` does). The training
//! loops (`crate::training`) only see the [`Learner`] trait; adding a learner means
//! one file here, its line in [`new_learner`] and [`read_learner`], and its presets
//! (docs/development.md, "Adding a learner").
pub mod iql;
pub mod pars;
pub mod sac;

pub use iql::IqlAgent;
pub use pars::Agent;
pub use sac::SacAgent;

use crate::config::{AgentConfig, Algorithm, OnlineConfig, TrainConfig};
use crate::data::Batch;
use crate::formats::{TensorReader, TensorWriter};
use crate::nn::EnsembleMlp;
use anyhow::{bail, Result};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Statistics of one update. Actor fields are `None` on steps without an actor
/// update; fields a learner does not have stay `None` (NaN for `q_infeasible`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct UpdateStats {
    pub td_loss: f32,
    pub pa_loss: f32,
    /// Mean Q over members and batch on dataset actions.
    pub q_data: f32,
    /// Mean Q over members and batch on infeasible actions (NaN without PA).
    pub q_infeasible: f32,
    pub target_mean: f32,
    pub actor_loss: Option<f32>,
    pub bc_loss: Option<f32>,
    pub lambda: Option<f32>,
    /// IQL: the expectile loss L_V and the batch mean and std of u = Q̂(s, a) − V(s).
    pub v_loss: Option<f32>,
    pub adv_mean: Option<f32>,
    pub adv_std: Option<f32>,
    /// SAC: −mean log π(a|s) of the actor step's sampled actions, and the temperature
    /// α the step used.
    pub entropy: Option<f32>,
    pub temperature: Option<f32>,
}

/// One learner, as the training loops drive it.
///
/// Offline a loop calls [`update`](Learner::update) once per gradient step. Online it
/// calls [`update_critic`](Learner::update_critic) `utd` times per environment step
/// and then, every `actor_every` steps, [`update_actor`](Learner::update_actor) on the
/// last batch; each method moves the targets by the learner's own rule and counts its
/// steps.
pub trait Learner: Send {
    /// The `algorithm` of the config that made it.
    fn algorithm(&self) -> Algorithm;
    /// The agent settings it runs with.
    fn agent_config(&self) -> &AgentConfig;
    fn obs_dim(&self) -> usize;
    fn act_dim(&self) -> usize;
    /// Q_min of the infeasible-action penalty.
    fn q_min(&self) -> f32;
    /// Gradient steps taken (critic updates online).
    fn steps(&self) -> u64;

    /// One offline gradient step on `batch`: every network, the targets, the step count.
    fn update(&mut self, batch: &Batch) -> UpdateStats;

    /// Whether the online loop can drive it (`update_critic` / `update_actor`).
    fn can_learn_online(&self) -> bool {
        false
    }
    /// Online: one critic step on `batch`, counted as a step.
    fn update_critic(&mut self, _batch: &Batch) -> UpdateStats {
        unreachable!("{} cannot learn online", self.algorithm().title())
    }
    /// Online: one actor step on `batch` (the critic step's last batch), adding its
    /// statistics to `stats`.
    fn update_actor(&mut self, _batch: &Batch, _stats: &mut UpdateStats) {
        unreachable!("{} cannot learn online", self.algorithm().title())
    }
    /// Take a learner trained offline to its online settings (`cfg`), keeping the
    /// network shapes.
    fn go_online(&mut self, _cfg: &AgentConfig) -> Result<()> {
        bail!(
            "{} runs cannot be fine-tuned online; pars finetune fine-tunes PARS and TD3+BC runs",
            self.algorithm().title()
        )
    }

    /// Whether a learning-rate schedule is tied to the run's length (a cosine decay),
    /// so that the run cannot be extended.
    fn schedule_tied_to_length(&self) -> bool;

    /// The deterministic actor: evaluated, and saved as the policy.
    fn actor(&self) -> &EnsembleMlp;
    /// The exploration action for `obs` into `out`, drawing its noise (σ = `noise`)
    /// from `rng`, the loop's action stream.
    fn explore(&mut self, obs: &[f32], noise: f32, rng: &mut ChaCha8Rng, out: &mut [f32]);

    /// Dormant-neuron ratio of the critic on the last batch, where it has one.
    fn dormant_ratio(&self) -> Option<f64> {
        None
    }
    /// Every parameter vector with its name (for divergence checks).
    fn named_params(&self) -> Vec<(&'static str, &[f32])>;

    /// Apply the settings a resumed offline run may change (`config::RESUMABLE_KEYS`).
    fn apply_resumable(&mut self, cfg: &TrainConfig);

    /// The whole learner as an agent file (format `pars-agent`; it also loads as a
    /// policy). `config` is the run's resolved configuration as JSON text.
    fn to_file(&self, config: Option<&str>) -> Result<TensorWriter>;
    /// Every state tensor under `prefix` (agent files and update traces share them).
    fn write_tensors(&self, w: &mut TensorWriter, prefix: &str);

    /// Record the random draws of each update, for update traces.
    fn record_draws(&mut self, on: bool);
    /// The `config` metadata of an update trace.
    fn trace_config(&self, total_steps: u64) -> Result<serde_json::Value>;
    /// The last update's draws and losses under `prefix` (`draw.*`, `loss.*`).
    fn write_trace_step(&self, w: &mut TensorWriter, prefix: &str, stats: &UpdateStats);

    fn clone_box(&self) -> Box<dyn Learner>;
    fn as_any(&self) -> &dyn std::any::Any;
}

impl Clone for Box<dyn Learner> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl dyn Learner {
    /// The PARS / TD3+BC agent, if this is one.
    pub fn as_pars(&self) -> Option<&Agent> {
        self.as_any().downcast_ref()
    }
    /// The IQL agent, if this is one.
    pub fn as_iql(&self) -> Option<&IqlAgent> {
        self.as_any().downcast_ref()
    }
    /// The SAC agent, if this is one.
    pub fn as_sac(&self) -> Option<&SacAgent> {
        self.as_any().downcast_ref()
    }
}

/// A fresh learner for `cfg` on data whose smallest reward is `r_min`.
pub fn new_learner(
    cfg: &TrainConfig,
    obs_dim: usize,
    act_dim: usize,
    r_min: f32,
) -> Box<dyn Learner> {
    match cfg.algorithm {
        Algorithm::Pars => Box::new(Agent::from_config(cfg, obs_dim, act_dim, r_min)),
        Algorithm::Iql => Box::new(IqlAgent::from_config(cfg, obs_dim, act_dim, r_min)),
        Algorithm::Sac => Box::new(SacAgent::from_config(cfg, obs_dim, act_dim, r_min)),
    }
}

/// A fresh learner for an online run from scratch: SAC when `cfg.sac` is set, else
/// the PARS / TD3 agent. Q_min comes from `agent.r_min` / `agent.q_min` (0 without).
pub fn new_online_learner(cfg: &OnlineConfig, obs_dim: usize, act_dim: usize) -> Box<dyn Learner> {
    let q_min = cfg.agent.resolve_q_min(0.0);
    match &cfg.sac {
        Some(sac) => Box::new(SacAgent::new(
            cfg.agent.clone(),
            sac.clone(),
            obs_dim,
            act_dim,
            q_min,
            cfg.seed,
        )),
        None => Box::new(Agent::new(
            cfg.agent.clone(),
            obs_dim,
            act_dim,
            q_min,
            cfg.steps,
            cfg.seed,
        )),
    }
}

/// Rebuild a learner from an agent file read into `r` (the file names its algorithm).
pub fn read_learner(r: &TensorReader) -> Result<Box<dyn Learner>> {
    Ok(match r.get_meta("algorithm") {
        Some(iql::FILE_ALGORITHM) => Box::new(IqlAgent::read(r)?),
        Some(sac::FILE_ALGORITHM) => Box::new(SacAgent::read(r)?),
        _ => Box::new(Agent::read(r)?),
    })
}

/// The entries every trace `config` adds to the learner's settings: `q_min`,
/// `actor_cosine_steps` (the cosine schedule's length in actor updates),
/// `gelu_approximate` (our GELU is the tanh approximation, as JAX's default) and
/// `step_offset` (updates taken before the trace).
fn trace_extras(
    m: &mut serde_json::Map<String, serde_json::Value>,
    q_min: f32,
    cosine_steps: u64,
    steps: u64,
) {
    m.insert("q_min".into(), (q_min as f64).into());
    m.insert("actor_cosine_steps".into(), cosine_steps.into());
    m.insert("gelu_approximate".into(), true.into());
    m.insert("step_offset".into(), steps.into());
}
