//! Hopper, HalfCheetah and Walker2d in two versions: the semantics of the D4RL `-v2`
//! datasets (Gymnasium's v3/v4 environments; ids `hopper-v2`, ...) and Gymnasium's v5
//! ones that Minari's `mujoco/*` datasets were collected in (ids `hopper-v5`, ...).
//! Both: forward-velocity reward, control cost, a healthy bonus and unhealthy termination
//! for the two walkers, a 1000-step limit. v5 differs in two places (Gymnasium 1.x
//! `hopper_v5.py`, `walker2d_v5.py`): the healthy bonus is paid only while healthy (so not
//! on the terminating step), and Walker2d's left foot has friction 1.9 (`walker2d_v5.xml`).
//! HalfCheetah-v5 equals v4.
use anyhow::Result;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{asset, normal_noise, to_f32, uniform_noise, Episode, Sim, SimEnv};
use crate::envs::{Env, EnvSpec, Step};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Hopper,
    HalfCheetah,
    Walker2d,
}

/// Which environment version's semantics (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// D4RL's `-v2` datasets: Gymnasium v4.
    D4rl,
    /// Gymnasium v5 (Minari's `mujoco/*` datasets).
    V5,
}

impl Version {
    pub const ALL: [Version; 2] = [Version::D4rl, Version::V5];
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Hopper, Kind::HalfCheetah, Kind::Walker2d];

    /// `hopper-v2` (D4RL) or `hopper-v5` (Gymnasium v5), ...
    pub fn env_id(self, version: Version) -> String {
        let v = match version {
            Version::D4rl => "v2",
            Version::V5 => "v5",
        };
        format!("{}-{v}", self.name())
    }

    /// Id, sizes and the 1000-step limit.
    pub fn spec(self, version: Version) -> EnvSpec {
        EnvSpec::new(self.env_id(version), self.obs_dim(), self.act_dim(), 1000)
    }

    /// `hopper-medium-v2`, `halfcheetah-expert-v2`, `walker2d-v2` (D4RL semantics, any
    /// version but v5), `hopper-v5` (Gymnasium v5; also Gymnasium's `Hopper-v5`).
    pub fn from_env_id(id: &str) -> Option<(Kind, Version)> {
        let id = id.to_ascii_lowercase();
        let (domain, version) = super::domain_and_version(&id);
        if !version.starts_with('v') || id == domain {
            return None;
        }
        let v = if version == "v5" {
            Version::V5
        } else {
            Version::D4rl
        };
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == domain)
            .map(|k| (k, v))
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hopper => "hopper",
            Kind::HalfCheetah => "halfcheetah",
            Kind::Walker2d => "walker2d",
        }
    }

    fn model_file(self, version: Version) -> &'static str {
        match (self, version) {
            (Kind::Hopper, _) => "gymnasium/envs/mujoco/assets/hopper.xml",
            (Kind::HalfCheetah, _) => "gymnasium/envs/mujoco/assets/half_cheetah.xml",
            // walker2d_v5.xml changed the left foot's friction; v2/v4 use the older file.
            (Kind::Walker2d, Version::D4rl) => "gymnasium/envs/mujoco/assets/walker2d.xml",
            (Kind::Walker2d, Version::V5) => "gymnasium/envs/mujoco/assets/walker2d_v5.xml",
        }
    }

    fn frame_skip(self) -> usize {
        match self {
            Kind::HalfCheetah => 5,
            _ => 4,
        }
    }

    pub fn obs_dim(self) -> usize {
        match self {
            Kind::Hopper => 11,
            _ => 17,
        }
    }

    pub fn act_dim(self) -> usize {
        match self {
            Kind::Hopper => 3,
            _ => 6,
        }
    }

    fn ctrl_cost_weight(self) -> f64 {
        match self {
            Kind::HalfCheetah => 0.1,
            _ => 1e-3,
        }
    }
}

pub struct Locomotion {
    kind: Kind,
    version: Version,
    sim: Sim,
    episode: Episode,
}

impl Locomotion {
    pub fn new(kind: Kind, version: Version) -> Result<Self> {
        let file = kind.model_file(version);
        let sim = Sim::from_file(&asset(file)?, kind.frame_skip())?;
        anyhow::ensure!(
            sim.nu() == kind.act_dim() && sim.nq() - 1 + sim.nv() == kind.obs_dim(),
            "{}: the model has {} actuators and {} + {} state entries, expected {} actuators \
             and an observation of {}",
            file,
            sim.nu(),
            sim.nq(),
            sim.nv(),
            kind.act_dim(),
            kind.obs_dim()
        );
        Ok(Locomotion {
            kind,
            version,
            sim,
            episode: Episode::new(kind.spec(version)),
        })
    }

    /// qpos without the x position, then qvel (clipped to ±10 for the walkers).
    fn observation(&self) -> Vec<f32> {
        let qpos = &self.sim.qpos()[1..];
        let clip = if self.kind == Kind::HalfCheetah {
            f64::INFINITY
        } else {
            10.0
        };
        let qvel = self.sim.qvel().iter().map(|v| v.clamp(-clip, clip));
        to_f32(qpos.iter().copied().chain(qvel))
    }

    fn is_healthy(&self) -> bool {
        let q = self.sim.qpos();
        let (z, angle) = (q[1], q[2]);
        match self.kind {
            Kind::HalfCheetah => true,
            Kind::Hopper => {
                // state_vector()[2:] = qpos[2:] ++ qvel, all inside (-100, 100)
                let state_ok = q[2..]
                    .iter()
                    .chain(self.sim.qvel())
                    .all(|s| s.abs() < 100.0);
                state_ok && z > 0.7 && angle.abs() < 0.2
            }
            Kind::Walker2d => z > 0.8 && z < 2.0 && angle.abs() < 1.0,
        }
    }
}

impl Env for Locomotion {
    fn spec(&self) -> &EnvSpec {
        &self.episode.spec
    }

    /// Initial state: the model's qpos/qvel plus uniform noise of ±0.005 (walkers) or
    /// ±0.1 on positions and 0.1·N(0,1) on velocities (HalfCheetah).
    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (qpos, qvel) = match self.kind {
            Kind::HalfCheetah => (
                uniform_noise(&mut rng, self.sim.init_qpos(), 0.1),
                normal_noise(&mut rng, self.sim.init_qvel(), 0.1),
            ),
            _ => (
                uniform_noise(&mut rng, self.sim.init_qpos(), 5e-3),
                uniform_noise(&mut rng, self.sim.init_qvel(), 5e-3),
            ),
        };
        self.set_episode_state(&qpos, &qvel, &[])
            .expect("state sizes come from the model")
    }

    fn step(&mut self, action: &[f32]) -> Result<Step> {
        self.episode.check(action)?;
        let ctrl = self.action_to_ctrl(action);
        let x_before = self.sim.qpos()[0];
        self.sim.step(&ctrl);
        let x_velocity = (self.sim.qpos()[0] - x_before) / self.sim.dt();
        let ctrl_cost = self.kind.ctrl_cost_weight() * ctrl.iter().map(|c| c * c).sum::<f64>();
        let (healthy_reward, terminated) = match (self.kind, self.version) {
            (Kind::HalfCheetah, _) => (0.0, false),
            // v4: the healthy bonus is paid on every step, the terminating one included.
            (_, Version::D4rl) => (1.0, !self.is_healthy()),
            // v5: only while healthy.
            (_, Version::V5) => {
                let healthy = self.is_healthy();
                (if healthy { 1.0 } else { 0.0 }, !healthy)
            }
        };
        let reward = x_velocity + healthy_reward - ctrl_cost;
        let truncated = self.episode.finish_step(terminated);
        Ok(Step {
            obs: self.observation(),
            reward: reward as f32,
            terminated,
            truncated,
        })
    }
}

impl SimEnv for Locomotion {
    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }

    fn set_episode_state(&mut self, qpos: &[f64], qvel: &[f64], task: &[f64]) -> Result<Vec<f32>> {
        anyhow::ensure!(
            task.is_empty(),
            "{} has no task state",
            self.episode.spec.id
        );
        self.sim.reset_data();
        self.sim.set_state(qpos, qvel)?;
        self.episode.start();
        Ok(self.observation())
    }

    fn action_to_ctrl(&self, action: &[f32]) -> Vec<f64> {
        action.iter().map(|&x| x.clamp(-1.0, 1.0) as f64).collect()
    }
}
