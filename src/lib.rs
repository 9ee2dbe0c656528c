//! pars: PARS (Penalizing infeasible Actions and Reward Scaling) for offline and
//! offline-to-online reinforcement learning.
pub mod algos;
pub mod analysis;
pub mod bench;
pub mod cli;
pub mod data;
pub mod envs;
pub mod eval;
pub mod nn;
pub mod plots;
pub mod policy;
pub mod recipes;
pub mod report;
pub mod run;
pub mod sweep;
