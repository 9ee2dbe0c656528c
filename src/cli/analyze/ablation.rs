//! `pars analyze ablation`.
use super::RunArgs;
use crate::analysis::ablation::AblationSettings;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct AblationArgs {
    #[arg(long, default_value = "runs/analysis-ablation")]
    pub out: PathBuf,
    #[command(flatten)]
    pub runs: RunArgs,
    /// Base preset (PARS settings for the dataset).
    #[arg(long, default_value = "pointmaze")]
    pub preset: String,
    /// c_reward values of the LN/PA grid (comma-separated).
    #[arg(long = "c", value_delimiter = ',', default_value = "1,10,100")]
    pub c_values: Vec<f32>,
    /// |L_I| values of the distance sweep (comma-separated, each > 1).
    #[arg(long, value_delimiter = ',', default_value = "2,10,100,1000")]
    pub distances: Vec<f32>,
    /// c_reward of the distance sweep (default: the preset's).
    #[arg(long)]
    pub sweep_c: Option<f32>,
    /// Evaluation episodes at the end of each run (default 10, 2 with --fast).
    #[arg(long)]
    pub eval_episodes: Option<usize>,
    /// Skip the distance sweep.
    #[arg(long)]
    pub no_distance: bool,
}

impl AblationArgs {
    pub fn into_settings(self, quiet: bool) -> AblationSettings {
        AblationSettings {
            out: self.out,
            runs: self.runs.into_settings(quiet),
            preset: self.preset,
            c_values: self.c_values,
            distances: self.distances,
            sweep_c: self.sweep_c,
            eval_episodes: self.eval_episodes,
            no_distance: self.no_distance,
        }
    }
}
