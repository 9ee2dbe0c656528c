//! Hopper, HalfCheetah and Walker2d with the semantics of the D4RL `-v2` datasets
//! (Gymnasium's v3/v4 environments): forward-velocity reward, control cost, a healthy
//! bonus and unhealthy termination for the two walkers, a 1000-step limit.
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

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Hopper, Kind::HalfCheetah, Kind::Walker2d];

    pub fn env_id(self) -> &'static str {
        match self {
            Kind::Hopper => "hopper-v2",
            Kind::HalfCheetah => "halfcheetah-v2",
            Kind::Walker2d => "walker2d-v2",
        }
    }

    /// Id, sizes and the 1000-step limit.
    pub fn spec(self) -> EnvSpec {
        EnvSpec::new(self.env_id(), self.obs_dim(), self.act_dim(), 1000)
    }

    /// `hopper-medium-v2`, `halfcheetah-expert-v2`, `walker2d-v2`, ...
    pub fn from_env_id(id: &str) -> Option<Kind> {
        let (domain, version) = super::domain_and_version(id);
        if !version.starts_with('v') || id == domain {
            return None;
        }
        Kind::ALL.into_iter().find(|k| k.name() == domain)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Hopper => "hopper",
            Kind::HalfCheetah => "halfcheetah",
            Kind::Walker2d => "walker2d",
        }
    }

    fn model_file(self) -> &'static str {
        match self {
            Kind::Hopper => "gymnasium/envs/mujoco/assets/hopper.xml",
            Kind::HalfCheetah => "gymnasium/envs/mujoco/assets/half_cheetah.xml",
            // walker2d_v5.xml changed the feet's friction; v2/v4 use this one.
            Kind::Walker2d => "gymnasium/envs/mujoco/assets/walker2d.xml",
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
    sim: Sim,
    episode: Episode,
}

impl Locomotion {
    pub fn new(kind: Kind) -> Result<Self> {
        let sim = Sim::from_file(&asset(kind.model_file())?, kind.frame_skip())?;
        anyhow::ensure!(
            sim.nu() == kind.act_dim() && sim.nq() - 1 + sim.nv() == kind.obs_dim(),
            "{}: the model has {} actuators and {} + {} state entries, expected {} actuators \
             and an observation of {}",
            kind.model_file(),
            sim.nu(),
            sim.nq(),
            sim.nv(),
            kind.act_dim(),
            kind.obs_dim()
        );
        Ok(Locomotion {
            kind,
            sim,
            episode: Episode::new(kind.spec()),
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
        let (healthy_reward, terminated) = match self.kind {
            Kind::HalfCheetah => (0.0, false),
            // The healthy bonus is paid on every step, the terminating one included.
            _ => (1.0, !self.is_healthy()),
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
        anyhow::ensure!(task.is_empty(), "{} has no task state", self.kind.env_id());
        self.sim.reset_data();
        self.sim.set_state(qpos, qvel)?;
        self.episode.start();
        Ok(self.observation())
    }

    fn action_to_ctrl(&self, action: &[f32]) -> Vec<f64> {
        action.iter().map(|&x| x.clamp(-1.0, 1.0) as f64).collect()
    }
}
