//! Algorithms: TD3+BC and PARS (one agent, switches for every PARS component), IQL
//! with the RS-LN and PA switches (paper §6.5), the offline training loop and the
//! named presets of the paper.
pub mod checkpoint;
pub mod config;
pub mod iql;
pub mod online;
pub mod pars;
pub mod presets;
pub mod trace;
pub mod train;

pub use config::{AgentConfig, Algorithm, IqlConfig, TrainConfig};
pub use iql::IqlAgent;
pub use pars::{Agent, UpdateStats};
