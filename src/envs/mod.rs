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
    /// Returns (random, expert) that normalise this environment's scores, where they differ
    /// from D4RL's table for its id (`eval::reference_returns`); e.g. a Minari dataset's.
    fn reference_returns(&self) -> Option<(f64, f64)> {
        None
    }
}

/// An environment whose scores are normalised by given reference returns (a Minari
/// dataset's `ref_min_score` and `ref_max_score`) instead of D4RL's table.
pub struct WithReference {
    inner: Box<dyn Env>,
    returns: (f64, f64),
}

impl WithReference {
    pub fn new(inner: Box<dyn Env>, returns: (f64, f64)) -> Self {
        WithReference { inner, returns }
    }

    /// `inner`, normalised by `reference` (random, expert returns) when given.
    pub fn wrap(inner: Box<dyn Env>, reference: Option<[f64; 2]>) -> Box<dyn Env> {
        match reference {
            Some([lo, hi]) => Box::new(WithReference::new(inner, (lo, hi))),
            None => inner,
        }
    }
}

impl Env for WithReference {
    fn spec(&self) -> &EnvSpec {
        self.inner.spec()
    }
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        self.inner.reset(seed)
    }
    fn step(&mut self, action: &[f32]) -> Result<Step> {
        self.inner.step(action)
    }
    fn success(&self) -> Option<bool> {
        self.inner.success()
    }
    fn reference_returns(&self) -> Option<(f64, f64)> {
        Some(self.returns)
    }
}

/// `make_env`, its scores normalised by `reference` (random, expert returns) when given.
pub fn make_env_with_reference(id: &str, reference: Option<[f64; 2]>) -> Result<Box<dyn Env>> {
    Ok(WithReference::wrap(make_env(id)?, reference))
}

/// The native environment that simulates a Gymnasium environment spec (a Minari dataset's
/// `eval_env_spec` or `env_spec`, as JSON): Gymnasium's `Hopper-v5`, `Walker2d-v5`,
/// `HalfCheetah-v5` → `hopper-v5`, ...; their v2–v4 → the D4RL-semantics `hopper-v2`, ...
/// (v4 is what `hopper-v2` is checked against); Gymnasium-Robotics' `PointMaze_*-v3` → the
/// spec itself with the arguments that shape the task (its map, reward type, goal
/// handling and time limit), which `make_env` takes; `pars_rl/<id>` (our own environments
/// registered in Gymnasium by the Python module, as `pars collect --format minari` records
/// them) → `<id>`. Other ids are an error that says to pass `--env`.
pub fn native_env_for(spec: &serde_json::Value) -> Result<String> {
    let gym_id = spec.get("id").and_then(|v| v.as_str()).unwrap_or_default();
    #[cfg(feature = "mujoco")]
    if let Some(c) = mujoco::gym_maze::Config::from_spec(spec)? {
        return Ok(c.to_spec().to_string());
    }
    if let Some(own) = gym_id.strip_prefix("pars_rl/") {
        if list_envs().iter().any(|e| e.id == own) {
            return Ok(own.to_string());
        }
    }
    #[cfg(feature = "mujoco")]
    if let Some(t) = mujoco::adroit::Task::from_gym_id(gym_id) {
        return Ok(t.gym_id().to_string());
    }
    let lower = gym_id.to_ascii_lowercase();
    let (name, version) = lower.split_once("-v").unwrap_or((lower.as_str(), ""));
    let loco = ["hopper", "walker2d", "halfcheetah"];
    if loco.contains(&name) {
        match version {
            "5" => return Ok(format!("{name}-v5")),
            "2" | "3" | "4" => return Ok(format!("{name}-v2")),
            _ => {}
        }
    }
    anyhow::bail!(
        "the dataset was recorded in the Gymnasium environment '{gym_id}', which has no native \
         counterpart here (known: Hopper, Walker2d and HalfCheetah v2–v5, PointMaze_*-v3, AntMaze_*-v4, \
         AdroitHand*-v1); \
         pass --env ID to \
         evaluate in one of `pars envs`, or --env none to train without evaluation"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gymnasium_ids_map_to_native_environments() {
        for (gym, ours) in [
            ("Hopper-v5", "hopper-v5"),
            ("Walker2d-v5", "walker2d-v5"),
            ("HalfCheetah-v5", "halfcheetah-v5"),
            ("Hopper-v4", "hopper-v2"),
            ("Walker2d-v3", "walker2d-v2"),
            ("pars_rl/pointmaze-umaze-v0", "pointmaze-umaze-v0"),
            ("AdroitHandDoor-v1", "AdroitHandDoor-v1"),
            ("PointMaze_UMaze-v3", r#"{"id":"PointMaze_UMaze-v3","#),
            (
                "AntMaze_Medium_Diverse_GR-v4",
                r#"{"id":"AntMaze_Medium_Diverse_GR-v4","#,
            ),
        ] {
            let spec = serde_json::json!({ "id": gym });
            let native = native_env_for(&spec).unwrap();
            assert!(native.starts_with(ours), "{gym}: {native}");
        }
        for gym in [
            "Humanoid-v5",
            "Hopper-v1",
            "pars_rl/nothing-v0",
            "AntMaze_UMaze-v5",
        ] {
            let spec = serde_json::json!({ "id": gym });
            let e = native_env_for(&spec).unwrap_err().to_string();
            assert!(
                e.contains(&format!("'{gym}'")) && e.contains("--env"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_reference_replaces_the_d4rl_table_in_scores() {
        let maze = || make_env("pointmaze-umaze-v0").unwrap();
        let mut env = WithReference::new(maze(), (-1.0, 3.0));
        assert_eq!(env.spec(), maze().spec());
        let ep = crate::eval::run_episodes(&mut env, |_| vec![0.0, 0.0], 1, 0).unwrap();
        assert_eq!(ep.reference, Some((-1.0, 3.0)));
        assert_eq!(ep.scores(), vec![100.0 * (ep.returns[0] + 1.0) / 4.0]);
        let plain = crate::eval::run_episodes(maze().as_mut(), |_| vec![0.0, 0.0], 1, 0).unwrap();
        assert_eq!(plain.returns, ep.returns);
        assert_eq!(plain.scores(), vec![100.0 * plain.returns[0]]);
    }
}
