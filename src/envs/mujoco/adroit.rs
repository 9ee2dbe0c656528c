//! Adroit (placeholder until the module lands).
use anyhow::{bail, Result};

use super::{Sim, SimEnv};
use crate::envs::{Env, Step};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Pen,
    Door,
    Hammer,
    Relocate,
}

impl Task {
    pub const ALL: [Task; 4] = [Task::Pen, Task::Door, Task::Hammer, Task::Relocate];
    pub fn env_id(self) -> &'static str {
        match self {
            Task::Pen => "pen-v1",
            Task::Door => "door-v1",
            Task::Hammer => "hammer-v1",
            Task::Relocate => "relocate-v1",
        }
    }
    pub fn obs_dim(self) -> usize {
        [45, 39, 46, 39][self as usize]
    }
    pub fn act_dim(self) -> usize {
        [24, 28, 26, 30][self as usize]
    }
    pub fn max_episode_steps(self) -> usize {
        [100, 200, 200, 200][self as usize]
    }
    pub fn from_env_id(id: &str) -> Option<Task> {
        let (domain, version) = super::domain_and_version(id);
        if !version.starts_with('v') || id == domain {
            return None;
        }
        Task::ALL
            .into_iter()
            .find(|t| t.env_id().starts_with(&format!("{domain}-")))
    }
}

pub struct Adroit {
    sim: Sim,
}

impl Adroit {
    pub fn new(task: Task) -> Result<Self> {
        bail!("{} is not implemented yet", task.env_id())
    }
}

impl Env for Adroit {
    fn id(&self) -> &str {
        ""
    }
    fn obs_dim(&self) -> usize {
        0
    }
    fn act_dim(&self) -> usize {
        0
    }
    fn max_episode_steps(&self) -> usize {
        0
    }
    fn reset(&mut self, _seed: u64) -> Vec<f32> {
        Vec::new()
    }
    fn step(&mut self, _action: &[f32]) -> Result<Step> {
        bail!("not implemented")
    }
}

impl SimEnv for Adroit {
    fn sim(&self) -> &Sim {
        &self.sim
    }
    fn sim_mut(&mut self) -> &mut Sim {
        &mut self.sim
    }
    fn set_episode_state(&mut self, _q: &[f64], _v: &[f64], _t: &[f64]) -> Result<Vec<f32>> {
        bail!("not implemented")
    }
    fn action_to_ctrl(&self, _action: &[f32]) -> Vec<f64> {
        Vec::new()
    }
}
