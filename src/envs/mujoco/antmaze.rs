//! AntMaze (placeholder until the module lands).
use anyhow::{bail, Result};

use super::{Sim, SimEnv};
use crate::envs::{Env, Step};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Umaze,
    Medium,
    Large,
    Ultra,
}

impl Layout {
    pub const ALL: [Layout; 4] = [Layout::Umaze, Layout::Medium, Layout::Large, Layout::Ultra];
    pub fn env_id(self) -> &'static str {
        match self {
            Layout::Umaze => "antmaze-umaze-v2",
            Layout::Medium => "antmaze-medium-v2",
            Layout::Large => "antmaze-large-v2",
            Layout::Ultra => "antmaze-ultra-v0",
        }
    }
    pub fn max_episode_steps(self) -> usize {
        match self {
            Layout::Umaze => 700,
            Layout::Ultra => 2000,
            _ => 1000,
        }
    }
    pub fn from_env_id(id: &str) -> Option<Layout> {
        let mut parts = id.split('-');
        if parts.next()? != "antmaze" {
            return None;
        }
        match parts.next()? {
            "umaze" => Some(Layout::Umaze),
            "medium" => Some(Layout::Medium),
            "large" => Some(Layout::Large),
            "ultra" => Some(Layout::Ultra),
            _ => None,
        }
    }
}

pub struct AntMaze {
    sim: Sim,
}

impl AntMaze {
    pub fn new(layout: Layout) -> Result<Self> {
        bail!("{} is not implemented yet", layout.env_id())
    }
}

impl Env for AntMaze {
    fn id(&self) -> &str {
        ""
    }
    fn obs_dim(&self) -> usize {
        29
    }
    fn act_dim(&self) -> usize {
        8
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

impl SimEnv for AntMaze {
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
