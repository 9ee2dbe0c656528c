//! Environments: the `Env` trait and the native environments.
use anyhow::Result;

pub mod maze;
#[cfg(feature = "mujoco")]
pub mod mujoco;

/// Result of one environment step (Gymnasium semantics).
#[derive(Clone, Debug)]
pub struct Step {
    pub obs: Vec<f32>,
    pub reward: f32,
    /// The task ended (bootstrapping stops).
    pub terminated: bool,
    /// The time limit was hit (bootstrapping continues).
    pub truncated: bool,
}

impl Step {
    /// A sparse goal task's step: reward 1 exactly when the goal ends the episode.
    pub fn goal(obs: Vec<f32>, reached: bool, truncated: bool) -> Step {
        Step {
            obs,
            reward: if reached { 1.0 } else { 0.0 },
            terminated: reached,
            truncated,
        }
    }
}

/// What identifies an environment to the rest of the crate: id, sizes, time limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvSpec {
    /// Environment id, e.g. `pointmaze-umaze-v0`.
    pub id: String,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// Episode limit after which `truncated` is set.
    pub max_episode_steps: usize,
}

impl EnvSpec {
    pub fn new(id: impl Into<String>, obs_dim: usize, act_dim: usize, limit: usize) -> Self {
        EnvSpec {
            id: id.into(),
            obs_dim,
            act_dim,
            max_episode_steps: limit,
        }
    }
}

/// A continuous-control environment with a box action space of [-1, 1]^act_dim.
pub trait Env: Send {
    /// Id, sizes and episode limit.
    fn spec(&self) -> &EnvSpec;
    fn id(&self) -> &str {
        &self.spec().id
    }
    fn obs_dim(&self) -> usize {
        self.spec().obs_dim
    }
    fn act_dim(&self) -> usize {
        self.spec().act_dim
    }
    fn max_episode_steps(&self) -> usize {
        self.spec().max_episode_steps
    }
    /// Start a new episode; the same seed gives the same initial observation.
    fn reset(&mut self, seed: u64) -> Vec<f32>;
    /// Advance one step. Rejects actions of the wrong dimension or with NaN.
    fn step(&mut self, action: &[f32]) -> Result<Step>;
    /// For goal tasks: whether the goal was reached in the current episode.
    fn success(&self) -> Option<bool> {
        None
    }
}

/// Check an action before it reaches any simulator.
pub fn check_action(env_id: &str, act_dim: usize, action: &[f32]) -> Result<()> {
    if action.len() != act_dim {
        anyhow::bail!(
            "environment {env_id}: action has dimension {} but the environment expects {act_dim}",
            action.len()
        );
    }
    if let Some(i) = action.iter().position(|a| !a.is_finite()) {
        anyhow::bail!(
            "environment {env_id}: action component {i} is not finite ({})",
            action[i]
        );
    }
    Ok(())
}

/// Every environment `make_env` knows.
pub fn list_envs() -> Vec<EnvSpec> {
    #[allow(unused_mut)]
    let mut v: Vec<EnvSpec> = maze::Layout::ALL.iter().map(|l| l.spec()).collect();
    #[cfg(feature = "mujoco")]
    v.extend(mujoco::list_envs());
    v
}

/// Build an environment from its id. Dataset-style suffixes are accepted and
/// ignored (`pointmaze-umaze-diverse-v0` → `pointmaze-umaze-v0`), like D4RL names.
pub fn make_env(id: &str) -> Result<Box<dyn Env>> {
    if let Some(layout) = maze::Layout::from_env_id(id) {
        return Ok(Box::new(maze::PointMaze::new(layout)));
    }
    #[cfg(feature = "mujoco")]
    if let Some(env) = mujoco::make_sim_env(id) {
        return env.map(|e| e as Box<dyn Env>);
    }
    #[cfg(not(feature = "mujoco"))]
    if is_mujoco_id(id) {
        anyhow::bail!(
            "environment '{id}' runs on MuJoCo, but this build has no MuJoCo: build with the              default `mujoco` feature after `bash scripts/setup.sh`"
        );
    }
    let known: Vec<String> = list_envs().into_iter().map(|e| e.id).collect();
    anyhow::bail!("unknown environment '{id}'; known: {}", known.join(", "))
}

/// Whether an id names one of the MuJoCo benchmark environments.
#[cfg(not(feature = "mujoco"))]
fn is_mujoco_id(id: &str) -> bool {
    let d = id.split('-').next().unwrap_or("").to_ascii_lowercase();
    [
        "hopper",
        "halfcheetah",
        "walker2d",
        "antmaze",
        "pen",
        "door",
        "hammer",
        "relocate",
    ]
    .contains(&d.as_str())
}
