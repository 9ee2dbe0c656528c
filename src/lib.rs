//! pars: PARS (Penalizing infeasible Actions and Reward Scaling) for offline and
//! offline-to-online reinforcement learning.
//!
//! Layers, bottom up: `nn` (the engine), `data`, `formats` (file formats), `config`,
//! `envs`, `algos` (the learners' math), `policy`, `eval`, `run` (run directories),
//! `training` (the loops and their shell), `recipes`, `analysis`, `sweep`, `report`,
//! `bench`, `cli`.
pub mod algos;
pub mod analysis;
pub mod bench;
pub mod cli;
pub mod config;
pub mod data;
pub mod envs;
pub mod eval;
pub mod formats;
pub mod nn;
pub mod plots;
pub mod policy;
pub mod recipes;
pub mod report;
pub mod run;
pub mod sweep;
pub mod training;
