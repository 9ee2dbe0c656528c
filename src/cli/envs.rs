//! `pars envs` and `pars envs crosscheck`.
use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum EnvsCommand {
    /// Replay reference trajectories recorded from the Python environments
    /// (scripts/crosscheck.py) and compare observations, rewards and termination.
    #[cfg(feature = "mujoco")]
    Crosscheck {
        /// Trace files (JSON) written by scripts/crosscheck.py.
        #[arg(required = true)]
        traces: Vec<std::path::PathBuf>,
        /// Largest allowed |ours − reference| / max(1, |reference|).
        #[arg(long, default_value_t = 1e-5)]
        tol: f64,
    },
}

pub fn run(cmd: Option<EnvsCommand>) -> Result<()> {
    match cmd {
        #[cfg(feature = "mujoco")]
        Some(EnvsCommand::Crosscheck { traces, tol }) => {
            crate::envs::mujoco::crosscheck::run(&traces, tol)
        }
        _ => {
            println!(
                "{:<28} {:>7} {:>7} {:>13}",
                "environment", "obs_dim", "act_dim", "episode_limit"
            );
            for e in crate::envs::list_envs() {
                println!(
                    "{:<28} {:>7} {:>7} {:>13}",
                    e.id, e.obs_dim, e.act_dim, e.max_episode_steps
                );
            }
            Ok(())
        }
    }
}
