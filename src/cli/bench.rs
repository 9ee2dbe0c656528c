//! `pars bench`: training-step, inference and simulation speed (see `crate::bench`).
use crate::bench::BenchSettings;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Configurations to time (A, B, C: PARS / TD3+BC; D: IQL; E: ReBRAC).
    #[arg(long, value_delimiter = ',', default_value = "A,B,C,D,E")]
    pub configs: Vec<String>,
    /// Timed steps per repeat.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Skip the 1-thread scaling run.
    #[arg(long)]
    pub no_scaling: bool,
    /// Also build a 1M-transition dataset and report peak resident memory.
    #[arg(long)]
    pub memory: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Environment steps of the UTD-20 online measurements on Hopper (PARS fine-tuning
    /// with the hopper-medium preset, RLPD); SAC at UTD 1 runs 20× as many. 0 skips them.
    #[arg(long, default_value_t = 150)]
    pub online_steps: u64,
    /// Online loops to time: pars (fine-tuning), sac, rlpd.
    #[arg(long, value_delimiter = ',', default_value = "pars,sac,rlpd")]
    pub online: Vec<String>,
    /// Time the MuJoCo environments instead (comma-separated ids; empty: all): env steps/s
    /// next to the raw MuJoCo rate on the same states and controls, single thread.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub envs: Option<Vec<String>>,
    /// Environment steps timed per environment (with --envs).
    #[arg(long, default_value_t = 5000)]
    pub env_steps: usize,
}

impl From<BenchArgs> for BenchSettings {
    fn from(a: BenchArgs) -> Self {
        BenchSettings {
            configs: a.configs,
            steps: a.steps,
            repeats: a.repeats,
            threads: a.threads,
            no_scaling: a.no_scaling,
            memory: a.memory,
            json: a.json,
            online_steps: a.online_steps,
            online: a.online,
            envs: a.envs,
            env_steps: a.env_steps,
        }
    }
}

pub fn run(a: BenchArgs) -> Result<()> {
    crate::bench::run_bench(a.into())
}
