//! The paper's benchmark environments on the official MuJoCo library: locomotion
//! (Hopper, HalfCheetah, Walker2d), AntMaze (umaze/medium/large/ultra) and Adroit
//! (pen/door/hammer/relocate). Physics is MuJoCo 3.17 through `mujoco-rs`; the model files
//! come from installed copies of the `gymnasium` and `gymnasium-robotics` Python packages;
//! observations, rewards, resets and limits are ours, with D4RL's semantics.
use anyhow::{bail, ensure, Context, Result};
use mujoco_rs::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Env, EnvSpec};

pub mod adroit;
pub mod antgoal;
pub mod antmaze;
pub mod crosscheck;
pub mod gym_maze;
pub mod locomotion;

/// What to tell a user whose model files are missing.
const INSTALL_HINT: &str =
    "install them with `bash scripts/setup.sh` (runs `pip install --no-deps \
     --target .mujoco/py mujoco==3.17.0 gymnasium==1.4.0 gymnasium-robotics==1.4.2`), or set \
     PARS_MUJOCO_PACKAGES to a site-packages folder that holds `gymnasium` and \
     `gymnasium_robotics`";

/// Folders searched for the Python packages that hold the model files, in order:
/// `$PARS_MUJOCO_PACKAGES` (':'-separated), the set-up script's `.mujoco/py` of this
/// checkout, then the packages the system `python3` imports.
fn package_roots() -> &'static [PathBuf] {
    static ROOTS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots: Vec<PathBuf> = Vec::new();
        if let Some(v) = std::env::var_os("PARS_MUJOCO_PACKAGES") {
            roots.extend(std::env::split_paths(&v));
            // An explicit setting is the only place searched, so a wrong one is not masked.
            return roots;
        }
        roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".mujoco/py"));
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import importlib.util as u, os\nfor m in ('gymnasium','gymnasium_robotics'):\n s=u.find_spec(m)\n if s and s.origin: print(os.path.dirname(os.path.dirname(s.origin)))",
            ])
            .stderr(std::process::Stdio::null())
            .output();
        if let Ok(out) = out {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                roots.push(PathBuf::from(line.trim()));
            }
        }
        roots
    })
}

/// Locate a model file inside an installed Python package, e.g.
/// `asset("gymnasium/envs/mujoco/assets/hopper.xml")`.
pub fn asset(rel: &str) -> Result<PathBuf> {
    for root in package_roots() {
        let p = root.join(rel);
        if p.is_file() {
            return Ok(p);
        }
    }
    let searched: Vec<String> = package_roots()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    bail!(
        "MuJoCo model file `{rel}` not found (searched: {}); {INSTALL_HINT}",
        if searched.is_empty() {
            "nothing".to_string()
        } else {
            searched.join(", ")
        }
    )
}

/// Send MuJoCo's messages to `tracing` instead of stdout and a MUJOCO_LOG.TXT file in the
/// working directory. Deprecation notes about the packaged model files are not the user's
/// to fix, so they are debug-level; simulation warnings stay warnings.
fn route_mujoco_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    fn handler(m: &MjLogMessage) {
        let text = m.subject();
        if m.level() == MjtLogLevel::mjLOG_WARNING && !text.contains("deprecated") {
            tracing::warn!("MuJoCo: {text}");
        } else if m.level() == MjtLogLevel::mjLOG_ERROR {
            tracing::error!("MuJoCo: {text}");
        } else {
            tracing::debug!("MuJoCo: {text}");
        }
    }
    // SAFETY: every model is loaded through `Sim`, which calls this first, so the handler is
    // set before any of our MuJoCo calls; `Once` makes concurrent first loads wait for it.
    ONCE.call_once(|| unsafe { set_log_handler(handler) });
}

/// A MuJoCo model and its simulation state, stepped `frame_skip` physics steps per
/// environment step (Gymnasium's `MujocoEnv`).
pub struct Sim {
    data: MjData<Box<MjModel>>,
    pub frame_skip: usize,
    init_qpos: Vec<f64>,
    init_qvel: Vec<f64>,
}

impl Sim {
    /// Load a model from an XML file.
    pub fn from_file(path: &Path, frame_skip: usize) -> Result<Self> {
        route_mujoco_log();
        let model = MjModel::from_xml(path)
            .map_err(|e| anyhow::anyhow!("MuJoCo could not load {}: {e}", path.display()))?;
        Ok(Self::from_model(model, frame_skip))
    }

    /// Load a model from XML text (models without external mesh or texture files).
    pub fn from_xml_text(xml: &str, frame_skip: usize) -> Result<Self> {
        route_mujoco_log();
        let model = MjModel::from_xml_string(xml)
            .map_err(|e| anyhow::anyhow!("MuJoCo could not compile the generated model: {e}"))?;
        Ok(Self::from_model(model, frame_skip))
    }

    fn from_model(model: MjModel, frame_skip: usize) -> Self {
        let data = MjData::new(Box::new(model));
        let init_qpos = data.qpos().to_vec();
        let init_qvel = data.qvel().to_vec();
        Sim {
            data,
            frame_skip,
            init_qpos,
            init_qvel,
        }
    }

    pub fn model(&self) -> &MjModel {
        self.data.model()
    }

    /// The model, for edits made before an episode (e.g. moving a target body).
    pub fn model_mut(&mut self) -> &mut MjModel {
        // SAFETY: the data stays attached to this same model; edits touch only parameter
        // arrays (positions, gains), never sizes.
        unsafe { self.data.model_mut() }
    }

    pub fn data(&self) -> &MjData<Box<MjModel>> {
        &self.data
    }

    /// Environment time step: physics time step × frame skip.
    pub fn dt(&self) -> f64 {
        self.data.model_opt().timestep * self.frame_skip as f64
    }

    pub fn init_qpos(&self) -> &[f64] {
        &self.init_qpos
    }

    pub fn init_qvel(&self) -> &[f64] {
        &self.init_qvel
    }

    pub fn qpos(&self) -> &[f64] {
        self.data.qpos()
    }

    pub fn qvel(&self) -> &[f64] {
        self.data.qvel()
    }

    pub fn nq(&self) -> usize {
        self.init_qpos.len()
    }

    pub fn nv(&self) -> usize {
        self.init_qvel.len()
    }

    pub fn nu(&self) -> usize {
        self.data.ctrl().len()
    }

    /// `mj_resetData`: model defaults, zero time, zero controls.
    pub fn reset_data(&mut self) {
        self.data.reset();
    }

    /// Write positions and velocities, then `mj_forward` (Gymnasium's `set_state`).
    pub fn set_state(&mut self, qpos: &[f64], qvel: &[f64]) -> Result<()> {
        if qpos.len() != self.nq() || qvel.len() != self.nv() {
            bail!(
                "state has {} positions and {} velocities; the model has {} and {}",
                qpos.len(),
                qvel.len(),
                self.nq(),
                self.nv()
            );
        }
        self.data.qpos_mut().copy_from_slice(qpos);
        self.data.qvel_mut().copy_from_slice(qvel);
        self.data.forward();
        Ok(())
    }

    /// Recompute derived quantities (positions of sites and bodies) after model edits.
    pub fn forward(&mut self) {
        self.data.forward();
    }

    /// Set the controls and advance `frame_skip` physics steps.
    pub fn step(&mut self, ctrl: &[f64]) {
        self.data.ctrl_mut().copy_from_slice(ctrl);
        for _ in 0..self.frame_skip {
            self.data.step();
        }
    }

    /// Id of a named body/site/geom/joint; an error names the model's missing part.
    pub fn id(&self, kind: MjtObjBase, name: &str) -> Result<usize> {
        self.model()
            .name_to_id(kind, name)
            .with_context(|| format!("the MuJoCo model has no {kind:?} named `{name}`"))
    }

    pub fn body_xpos(&self, body: usize) -> [f64; 3] {
        self.data.xpos()[body]
    }

    pub fn body_xquat(&self, body: usize) -> [f64; 4] {
        self.data.xquat()[body]
    }

    pub fn site_xpos(&self, site: usize) -> [f64; 3] {
        self.data.site_xpos()[site]
    }

    /// Control range (lo, hi) of each actuator.
    pub fn ctrl_range(&self) -> Vec<(f64, f64)> {
        self.model()
            .actuator_ctrlrange()
            .iter()
            .map(|r| (r[0], r[1]))
            .collect()
    }
}

/// `init + U(-scale, scale)` per entry (Gymnasium's `np_random.uniform`).
pub fn uniform_noise(rng: &mut ChaCha8Rng, init: &[f64], scale: f64) -> Vec<f64> {
    init.iter()
        .map(|x| x + rng.gen_range(-scale..=scale))
        .collect()
}

/// `init + scale · N(0, 1)` per entry.
pub fn normal_noise(rng: &mut ChaCha8Rng, init: &[f64], scale: f64) -> Vec<f64> {
    use rand_distr::{Distribution, StandardNormal};
    init.iter()
        .map(|x| {
            let z: f64 = StandardNormal.sample(rng);
            x + scale * z
        })
        .collect()
}

/// A MuJoCo environment whose full state can be written, for replaying a reference
/// trajectory (the cross-check against the Python environments) and for benchmarks.
pub trait SimEnv: Env {
    fn sim(&self) -> &Sim;
    fn sim_mut(&mut self) -> &mut Sim;
    /// Start an episode from an exact state: `qpos`, `qvel` and the task's own values
    /// (`task_state_names` says which; e.g. the goal), returning the observation.
    fn set_episode_state(&mut self, qpos: &[f64], qvel: &[f64], task: &[f64]) -> Result<Vec<f32>>;
    /// Names of the task values `set_episode_state` takes, in order.
    fn task_state_names(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// The current task values, in `task_state_names` order.
    fn task_state(&self) -> Vec<f64> {
        Vec::new()
    }
    /// The physics controls an action maps to (what `step` passes to MuJoCo).
    fn action_to_ctrl(&self, action: &[f32]) -> Vec<f64>;
}

/// Every MuJoCo environment id with (obs_dim, act_dim, episode limit). Static facts, so
/// listing needs no model files.
pub fn list_envs() -> Vec<EnvSpec> {
    let loco = locomotion::Version::ALL
        .into_iter()
        .flat_map(|v| locomotion::Kind::ALL.iter().map(move |k| k.spec(v)));
    let ant = antmaze::Layout::ALL.iter().map(|l| l.spec());
    let adroit = [adroit::Semantics::D4rl, adroit::Semantics::GymRobotics]
        .into_iter()
        .flat_map(|s| adroit::Task::ALL.iter().map(move |t| t.spec_for(s)));
    loco.chain(ant)
        .chain(std::iter::once(antgoal::spec()))
        .chain(adroit)
        .chain(gym_maze::list_envs())
        .collect()
}

/// Build a MuJoCo environment from a D4RL-style id (`hopper-medium-v2`,
/// `antmaze-large-diverse-v2`, `pen-human-v1`, ...); `None` if the id is not one.
pub fn make_sim_env(id: &str) -> Option<Result<Box<dyn SimEnv>>> {
    if id.trim_start().starts_with('{') {
        return gym_spec_env(id);
    }
    let lower = match minari_to_d4rl(&id.to_ascii_lowercase()) {
        Ok(Some(d4rl)) => d4rl,
        Ok(None) => id.to_ascii_lowercase(),
        Err(e) => return Some(Err(e)),
    };
    if let Some(t) = adroit::Task::from_gym_id(&lower) {
        let env = adroit::Adroit::with_semantics(t, adroit::Semantics::GymRobotics);
        return Some(env.map(|e| Box::new(e) as Box<dyn SimEnv>));
    }
    if let Some(c) = gym_maze::Config::registered(&lower) {
        return Some(gym_maze::GymMaze::new(c).map(|e| Box::new(e) as Box<dyn SimEnv>));
    }
    if let Some((k, v)) = locomotion::Kind::from_env_id(&lower) {
        return Some(locomotion::Locomotion::new(k, v).map(|e| Box::new(e) as Box<dyn SimEnv>));
    }
    if let Some(l) = antmaze::Layout::from_env_id(&lower) {
        return Some(antmaze::AntMaze::new(l).map(|e| Box::new(e) as Box<dyn SimEnv>));
    }
    if lower == antgoal::ENV_ID {
        return Some(antgoal::AntGoal::new().map(|e| Box::new(e) as Box<dyn SimEnv>));
    }
    if let Some(t) = adroit::Task::from_env_id(&lower) {
        return Some(adroit::Adroit::new(t).map(|e| Box::new(e) as Box<dyn SimEnv>));
    }
    None
}

/// A Gymnasium environment spec as JSON (`{"id": "PointMaze_UMaze-v3", "kwargs": {...}}`,
/// what `envs::native_env_for` gives for a Minari maze dataset): the environment with the
/// spec's arguments; `None` if its id is none of ours.
fn gym_spec_env(text: &str) -> Option<Result<Box<dyn SimEnv>>> {
    let spec: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(Err(anyhow::anyhow!("environment spec is not JSON: {e}"))),
    };
    match gym_maze::Config::from_spec(&spec) {
        Ok(Some(c)) => Some(gym_maze::GymMaze::new(c).map(|e| Box::new(e) as Box<dyn SimEnv>)),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

/// Minari dataset ids (`mujoco/hopper/medium-v0`, `D4RL/pen/human-v2`) as the D4RL-style
/// id of the same simulator; `None` for ids without a namespace.
fn minari_to_d4rl(id: &str) -> Result<Option<String>> {
    let parts: Vec<&str> = id.split('/').collect();
    let [ns, name, rest] = parts[..] else {
        return Ok(None);
    };
    match (ns, name) {
        // Minari's MuJoCo datasets were collected in Gymnasium's v5 environments.
        ("mujoco", "hopper" | "halfcheetah" | "walker2d") => Ok(Some(format!("{name}-v5"))),
        // ... and its Adroit datasets name gymnasium-robotics' AdroitHand*-v1.
        ("d4rl", "pen" | "door" | "hammer" | "relocate") => {
            let t = adroit::Task::from_env_id(&format!("{name}-{rest}"));
            Ok(t.map(|t| t.gym_id().to_string()))
        }
        // ... and its mazes gymnasium-robotics' PointMaze_*-v3 (`umaze-dense-v2`: dense).
        ("d4rl", "pointmaze") => {
            let map = rest.rsplit_once('-').map_or(rest, |(m, _)| m);
            let (map, dense) = map
                .strip_suffix("-dense")
                .map_or((map, ""), |m| (m, "dense"));
            Ok(Some(format!("pointmaze_{map}{dense}-v3")))
        }
        // ... and its AntMazes gymnasium-robotics' AntMaze_*-v4 of the same size; a local
        // dataset's eval_env_spec also brings its goal and reset cells.
        ("d4rl", "antmaze") => {
            let size = rest.split('-').next().unwrap_or("");
            ensure!(
                ["umaze", "medium", "large"].contains(&size),
                "Minari's {id}: no AntMaze of size '{size}' (umaze, medium or large)"
            );
            Ok(Some(format!("antmaze_{size}-v4")))
        }
        _ => Ok(None),
    }
}

/// The task state of a goal-conditioned environment (`set_episode_state`), checked: the
/// goal (x, y), finite.
pub(crate) fn goal_of(env_id: &str, task: &[f64]) -> Result<[f64; 2]> {
    ensure!(
        task.len() == 2 && task.iter().all(|g| g.is_finite()),
        "{env_id}: the task state is the goal (goal_x, goal_y), finite, got {task:?}"
    );
    Ok([task[0], task[1]])
}

/// The first `-`-separated token of an id and its last (the version), e.g.
/// `hopper-medium-replay-v2` → (`hopper`, `v2`).
pub(crate) fn domain_and_version(id: &str) -> (&str, &str) {
    let first = id.split('-').next().unwrap_or("");
    let last = id.rsplit('-').next().unwrap_or("");
    (first, last)
}

/// Step counting shared by the MuJoCo environments: the time limit and the
/// no-step-after-the-end rule.
#[derive(Clone, Debug)]
pub(crate) struct Episode {
    /// Id, sizes and the step limit of the environment.
    pub spec: EnvSpec,
    pub steps: usize,
    pub done: bool,
}

impl Episode {
    pub fn new(spec: EnvSpec) -> Self {
        Episode {
            spec,
            steps: 0,
            done: true,
        }
    }

    pub fn start(&mut self) {
        self.steps = 0;
        self.done = false;
    }

    /// Validate an action before it reaches the simulator (`SimEnv::action_to_ctrl` then
    /// clips it to the box).
    pub fn check(&self, action: &[f32]) -> Result<()> {
        let id = &self.spec.id;
        super::check_action(id, self.spec.act_dim, action)?;
        if self.done {
            bail!("environment {id}: step after the episode ended; call reset");
        }
        Ok(())
    }

    /// Count a step; returns `truncated` (the limit was hit without termination).
    pub fn finish_step(&mut self, terminated: bool) -> bool {
        self.steps += 1;
        let truncated = !terminated && self.steps >= self.spec.max_episode_steps;
        self.done = terminated || truncated;
        truncated
    }
}

/// f64 simulator values as the f32 observation vector.
pub(crate) fn to_f32(v: impl IntoIterator<Item = f64>) -> Vec<f32> {
    v.into_iter().map(|x| x as f32).collect()
}
