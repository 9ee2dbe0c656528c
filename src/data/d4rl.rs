//! D4RL-format HDF5 datasets (observations, actions, rewards, terminals, timeouts).

/// The arrays of a D4RL-format file, row-major, one row per logged step.
#[derive(Clone, Debug, Default)]
pub struct RawDataset {
    /// [n, obs_dim]
    pub observations: Vec<f32>,
    /// [n, act_dim]
    pub actions: Vec<f32>,
    /// [n]
    pub rewards: Vec<f32>,
    /// [n] the task ended after this step (no bootstrapping)
    pub terminals: Vec<bool>,
    /// [n] the episode was cut by a time limit after this step
    pub timeouts: Vec<bool>,
    /// [n, obs_dim], optional in the file
    pub next_observations: Option<Vec<f32>>,
    pub obs_dim: usize,
    pub act_dim: usize,
}

impl RawDataset {
    pub fn len(&self) -> usize {
        self.rewards.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
}
