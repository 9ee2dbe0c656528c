//! Algorithms: TD3+BC and PARS (one agent, switches for every PARS component),
//! the offline training loop and the named presets of the paper.
pub mod checkpoint;
pub mod config;
pub mod online;
pub mod pars;
pub mod presets;
pub mod trace;
pub mod train;

pub use config::{AgentConfig, TrainConfig};
pub use pars::{Agent, UpdateStats};
