//! `pars analyze dormant`.
use super::RunArgs;
use crate::analysis::dormant::DormantSettings;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct DormantArgs {
    #[arg(long, default_value = "runs/analysis-dormant")]
    pub out: PathBuf,
    #[command(flatten)]
    pub runs: RunArgs,
    /// Base preset (TD3+BC as in the paper's Fig. 7).
    #[arg(long, default_value = "pointmaze-td3bc")]
    pub preset: String,
    /// c_reward values (comma-separated).
    #[arg(long = "c", value_delimiter = ',', default_value = "1,10,100")]
    pub c_values: Vec<f32>,
    /// Probe rows for the inactive fraction (default 2048, 256 with --fast).
    #[arg(long)]
    pub probe_rows: Option<usize>,
    /// Measurement points per run.
    #[arg(long, default_value_t = 20)]
    pub points: u64,
    /// Evaluation episodes at the end of each run (0 = no evaluation; default 10, 2 with --fast).
    #[arg(long)]
    pub eval_episodes: Option<usize>,
}

impl DormantArgs {
    pub fn into_settings(self, quiet: bool) -> DormantSettings {
        DormantSettings {
            out: self.out,
            runs: self.runs.into_settings(quiet),
            preset: self.preset,
            c_values: self.c_values,
            probe_rows: self.probe_rows,
            points: self.points,
            eval_episodes: self.eval_episodes,
        }
    }
}
